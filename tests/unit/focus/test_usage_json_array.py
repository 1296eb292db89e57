"""A JSON array usage file is read element by element (issue 16), with the row
checks of every usage format and errors naming the file and line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.focus import jsonarray
from finops.domain.focus.jsonarray import iter_json_array
from finops.domain.focus.rejects import Reject
from finops.domain.focus.usage import read_combined_usage, read_usage
from finops.errors import InputError

ROW = '{"node": "n%d", "date": "2025-01-%02d", "metric": "cpu", "value": %d}'


class CountingText(io.StringIO):
    """A text file that counts the characters read from it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.chars_read = 0

    def read(self, size: int | None = -1) -> str:
        chunk = super().read(size)
        self.chars_read += len(chunk)
        return chunk


def _array(rows: int) -> str:
    body = ",\n".join(ROW % (i % 50, i // 50 % 28 + 1, i) for i in range(rows))
    return f"[\n{body}\n]"


def test_elements_are_read_one_chunk_at_a_time() -> None:
    text = _array(100_000)  # 6.4 MB
    data = CountingText(text)
    elements = iter_json_array(data, file="usage.json")
    assert next(elements)[:2] == (1, 2)
    assert data.chars_read <= 2 * 65_536  # not the whole file
    read_after_first = data.chars_read
    rest = sum(1 for _ in elements)
    assert rest == 99_999 and data.chars_read == len(text) > 40 * read_after_first


def test_a_large_array_combines_into_few_records(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    path.write_text(_array(60_000))
    read = read_combined_usage(path)
    assert read.rows_read == 60_000 and read.rejects == []
    # 50 nodes x 28 days, values summed per key
    assert len(read.records) == 1_400
    assert sum(r.value for r in read.records) == sum(range(60_000))


def test_rows_are_checked_as_in_every_usage_format(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    rows: list[Any] = [
        {"node": "a", "date": "2025-01-01", "metric": "m", "value": 2},
        {"node": "a", "date": "2025-01-01", "metric": "m", "value": -1},
        "not an object",
        {"node": "a\u0001b", "date": "2025-01-01", "metric": "m", "value": 1},
        {"node": "b", "date": "9999-12-31", "metric": "m", "value": 1},
    ]
    path.write_text(json.dumps(rows, indent=1))
    records, rejects = read_usage(path)
    assert [(r.node, r.value) for r in records] == [("a", 2.0)]
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (2, "value is negative"),
        (3, "missing node or metric"),
        (4, "node"),
        (5, "date 9999-12-31 is outside 2000-01-01..2099-12-31"),
    ]
    assert all(r.file == str(path) for r in rejects)
    assert isinstance(rejects[0], Reject)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[{"node": "a"},\n {"node": "b"}\n {"node": "c"}]', 3, "expected ','"),
        ('[{"node": "a"},\n\n {"node": }]', 3, "element 2 is not valid JSON"),
        ('[{"node": "a"}', 1, "expected ',' or ']'"),
        ('[{"node": "a"}] [', 1, "text after the array"),
        ('[{"node": "a"},]', 1, "element 2 is not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_json_array_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "usage.json"
    path.write_text(text)
    with pytest.raises(InputError, match=reason) as refused:
        read_combined_usage(path)
    assert refused.value.file == str(path) and refused.value.line == line


def test_an_element_past_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonarray, "MAX_ELEMENT_CHARS", 100)
    data = io.StringIO('[{"node": "' + "x" * 70_000 + '"}]')
    with pytest.raises(InputError, match="longer than 100 characters"):
        list(iter_json_array(data, file="big.json"))


def test_an_empty_array_has_no_elements() -> None:
    assert list(iter_json_array(io.StringIO(" [ ] \n"), file="e.json")) == []


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200)
@given(st.lists(values, max_size=12), st.sampled_from([1, 2, 3, 7, 64]), st.booleans())
def test_any_array_reads_as_json_loads_whatever_the_chunks(
    items: list[Any], chunk: int, indent: bool
) -> None:
    text = json.dumps(items, indent=1 if indent else None)
    original = jsonarray._CHUNK
    jsonarray._CHUNK = chunk  # type: ignore[misc]
    try:
        got = [v for _, _, v in iter_json_array(io.StringIO(text), file="f.json")]
    finally:
        jsonarray._CHUNK = original  # type: ignore[misc]
    assert got == items
