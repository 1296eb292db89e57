"""Streaming readers: header quirks, progress, bounded batches, running totals."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from finops.domain.focus import aggregate
from finops.domain.focus.aggregate import CostTotals, to_node_costs
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.readers import iter_batches, read_header
from finops.domain.records import NodeCost
from finops.errors import InputError
from tests.unit.focus.batches import costs_of, run
from tests.unit.focus.conftest import DATA


def test_a_bom_and_crlf_line_ends_are_read(rules: MappingRules, tmp_path: Path) -> None:
    text = (DATA / "focus_1_1.csv").read_text().replace("\n", "\r\n")
    path = tmp_path / "windows.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_header(path)[0] == "BilledCost"
    assert costs_of(run(path, rules)) == costs_of(run(DATA / "focus_1_1.csv", rules))


def test_progress_reaches_the_end_of_a_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "bill.csv.gz"
    path.write_bytes(gzip.compress((DATA / "focus_1_2.csv").read_bytes()))
    seen: list[float] = []
    batches = list(iter_batches(path, ["BilledCost"], on_progress=seen.append))
    assert sum(b.table.num_rows for b in batches) == 2
    assert seen and seen[-1] == pytest.approx(1.0)


def test_a_header_only_file_gives_no_costs(rules: MappingRules, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text((DATA / "focus_1_1.csv").read_text().splitlines()[0] + "\n")
    assert costs_of(run(path, rules)) == {}


def test_an_empty_file_has_an_unknown_layout(
    rules: MappingRules, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="unknown layout"):
        run(path, rules)


def test_a_broken_parquet_file_is_refused(rules: MappingRules, tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a Parquet file"):
        run(path, rules)


def test_running_totals_merge_partial_sums_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregate, "_MERGE_ROWS", 1)
    totals = CostTotals()
    for amount in (5, -2, 7):
        totals.add(
            pa.table(
                {
                    "source": ["s", "s"],
                    "period": pa.array([date(2025, 1, 1)] * 2, pa.date32()),
                    "node": ["a", "b"],
                    "date": pa.array([date(2025, 1, 1)] * 2, pa.date32()),
                    "dimension": ["x", "x"],
                    "amount_micros": pa.array([amount, 1], pa.int64()),
                    "amount_picos": pa.array([0, 400_000], pa.int64()),
                }
            )
        )
    assert to_node_costs(totals.result()) == [
        NodeCost(node="a", date=date(2025, 1, 1), dimension="x", amount_micros=10),
        # 3 x 1.4 micro-units, rounded once: 4 (not 3 x 1)
        NodeCost(node="b", date=date(2025, 1, 1), dimension="x", amount_micros=4),
    ]


def test_a_file_that_is_not_utf8_is_refused(
    rules: MappingRules, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    text = (DATA / "focus_1_2.csv").read_text().replace(",Storage,", ",Stockage é,")
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError, match="cannot read the file"):
        run(path, rules)


def test_a_broken_gzip_file_is_refused(rules: MappingRules, tmp_path: Path) -> None:
    path = tmp_path / "bill.csv.gz"
    packed = gzip.compress((DATA / "focus_1_2.csv").read_bytes())
    path.write_bytes(packed[: len(packed) // 2] + b"garbage")
    with pytest.raises(InputError):
        run(path, rules)
