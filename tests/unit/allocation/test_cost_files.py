"""Cost files: the fast block reader agrees with the exact row-by-row reader."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.allocation.tables import CostTable
from finops.errors import InputError
from finops.formats import costfile
from finops.formats.costblocks import open_blocks, read_blocks
from finops.formats.costfile import load_costs
from finops.formats.costs_ahead import read_costs_ahead
from finops.formats.inputfiles import costs_slowly

AMOUNTS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=9, allow_nan=False
)
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["2025-01-01", "2025-01-02", "2024-12-31"]),
        st.sampled_from(["compute", "storage"]),
        AMOUNTS,
    ),
    min_size=1,
    max_size=30,
)


def _as_dict(table: CostTable) -> dict[tuple[str, int, str], int]:
    return {
        (table.node_ids[n], int(d), table.dimensions[k]): int(m)
        for n, d, k, m in zip(
            table.node, table.day, table.dimension, table.micros, strict=True
        )
    }


@settings(max_examples=60, deadline=None)
@given(ROWS)
def test_fast_reader_sums_exactly_like_the_row_reader(
    rows: list[tuple[str, str, str, Decimal]],
) -> None:
    lines = ["node,date,dimension,amount"] + [f"{n},{d},{k},{a}" for n, d, k, a in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_text("\n".join(lines) + "\n")
        assert _as_dict(load_costs(path)) == _as_dict(costs_slowly(path, None))


def test_a_bad_name_first_seen_in_a_later_block_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Names are checked once, when a block brings them first: a bad one in the
    # tenth block is still caught, and the row reader names its line.
    monkeypatch.setattr(costfile, "_BLOCK", 1 << 10)
    rows = [f"n{i % 7},2025-01-{1 + i % 28:02d},compute,1.25" for i in range(400)]
    rows.insert(300, "bad\x01name,2025-01-02,compute,1")
    path = tmp_path / "c.csv"
    path.write_text("node,date,dimension,amount\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as caught:
        load_costs(path)
    assert (caught.value.line, caught.value.field) == (302, "node")


def test_rows_in_key_order_and_shuffled_give_the_same_table(tmp_path: Path) -> None:
    rows = [
        f"n{n},2025-01-{d:02d},{k},{n * 100 + d}.{k[0] == 's':d}5"
        for n in range(3)
        for d in range(1, 5)
        for k in ("compute", "storage")
    ]
    ordered, shuffled = tmp_path / "o.csv", tmp_path / "s.csv"
    ordered.write_text("node,date,dimension,amount\n" + "\n".join(rows) + "\n")
    mixed = rows[1::2] + rows[::2] + rows[:3]  # the last three twice: summed
    shuffled.write_text("node,date,dimension,amount\n" + "\n".join(mixed) + "\n")
    once, again = _as_dict(load_costs(ordered)), _as_dict(load_costs(shuffled))
    assert once == _as_dict(costs_slowly(ordered, None))
    assert again == _as_dict(costs_slowly(shuffled, None))
    assert {
        key: 2 * v if key in list(once)[:3] else v for key, v in once.items()
    } == again


@pytest.mark.parametrize(
    "text",
    [
        "node,date,dimension,amount\na,2025-01-01,compute,1.5\nb,2025-01-02,storage,2\n",
        "node,date,dimension,amount\na,2025-01-01,compute,1.123456789\n",
        "node,date,dimension,amount\na,2025-13-01,compute,1\n",  # bad date
        "node,date,dimension\na,2025-01-01,compute\n",  # no amount column
        "node,date,dimension,amount\na,2025-01-01,compute\n",  # a short line
    ],
)
def test_costs_read_ahead_give_what_load_costs_gives(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    ahead = read_costs_ahead(path)
    shape = ahead.shape.result(timeout=60)
    try:
        table = load_costs(path)
    except InputError as exc:
        with pytest.raises(InputError) as caught:
            ahead.table.result(timeout=60)
        assert str(caught.value) == str(exc)
        assert shape is None  # a bad date or a missing column gives no shape
    else:
        assert _as_dict(ahead.table.result(timeout=60)) == _as_dict(table)
        assert shape is not None
        assert shape.dimensions == tuple(sorted(table.dimensions))
        days = {(date(1970, 1, 1) + timedelta(days=int(d))) for d in table.day}
        assert (shape.first, shape.last) == (min(days), max(days))


def test_a_cost_file_with_a_day_out_of_range_gives_no_shape(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("node,date,dimension,amount\na,2025-01-01,x,1\na,1900-01-01,x,1\n")
    ahead = read_costs_ahead(path)
    assert ahead.shape.result(timeout=60) is None
    with pytest.raises(InputError, match=r"c\.csv:3"):
        ahead.table.result(timeout=60)


def test_costs_read_ahead_of_a_missing_file_fail_as_load_costs(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_costs_ahead(tmp_path / "none.csv").table.result(timeout=60)
    assert "cannot read file" in str(caught.value)


_ODD = st.sampled_from(
    ["", "NA", "NaN", "null", "inf", "1,5", "--1", "0x10", "1_0", "\xa01", "1e40"]
)
_NUMBER = st.builds(
    lambda pad, sign, whole, places, exp: f"{pad}{sign}{whole}{places}{exp}{pad}",
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(["", "+", "-"]),
    st.sampled_from(["0", "7", "123", "99999999999999", "9" * 30]),
    st.sampled_from(["", ".", ".5", ".000001", ".1234567", ".0000005", ".25"]),
    st.sampled_from(["", "e2", "E-3", "e-7", "e+0"]),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(_NUMBER, _ODD), min_size=1, max_size=6))
def test_amounts_parsed_ahead_as_micro_units_give_what_text_gives(
    amounts: list[str],
) -> None:
    # The reader parses amounts itself (six places) ahead of the sum; a value it
    # takes differently from the cast of text, or refuses, must end as load_costs
    # reading the same file from scratch ends: the same table or the same error.
    rows = [
        f'n{i % 2},2025-01-0{1 + i % 3},compute,"{a}"' for i, a in enumerate(amounts)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_text("node,date,dimension,amount\n" + "\n".join(rows) + "\n")
        ahead = read_costs_ahead(path).table
        try:
            table = load_costs(path)
        except InputError as exc:
            with pytest.raises(InputError) as caught:
                ahead.result(timeout=60)
            assert str(caught.value) == str(exc)
        else:
            assert _as_dict(ahead.result(timeout=60)) == _as_dict(table)


@pytest.mark.parametrize("micro", [True, False])
def test_blocks_parsed_together_are_the_streamed_blocks(
    tmp_path: Path, micro: bool
) -> None:
    rows = [
        f"n{i % 13},2025-02-{1 + i % 28:02d},d{i % 3},{i}.{i % 97:02d}"
        for i in range(3000)
    ]
    path = tmp_path / "c.csv"
    path.write_text("node,date,dimension,amount\n" + "\n".join(rows) + "\n")
    together = pa.Table.from_batches(read_blocks(path, 1 << 12, micro_amounts=micro))
    streamed = list(open_blocks(path, 1 << 12, micro_amounts=micro))
    assert len(streamed) > 10
    assert together.equals(pa.Table.from_batches(streamed))
