"""Pure parts of ingest: delivery keys, formats, node-cost files, events by date."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path

from finops.contracts.dated_events import node_cost_events
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import normalize_file
from finops.domain.records import CostRecord, NodeCost
from finops.formats.costlines import records_to_focus_csv
from ingest.formats import IngestFormat, node_cost_batches, sniff_format
from ingest.statements import delivery_key

DATA = Path(__file__).resolve().parents[2] / "data" / "focus"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_delivery_key_changes_with_rules_source_and_format() -> None:
    base = delivery_key("h", fmt="focus", source="s", rules_id="r")
    assert base == delivery_key("h", fmt="focus", source="s", rules_id="r")
    assert base != delivery_key("h", fmt="focus", source="s", rules_id="other")
    assert base != delivery_key("h", fmt="focus", source=None, rules_id="r")
    assert base != delivery_key("h", fmt="node-costs", source="s", rules_id="r")


def test_formats_are_sniffed_from_name_and_header(tmp_path: Path) -> None:
    costs = tmp_path / "c.csv"
    costs.write_text("node,date,dimension,amount\n")
    assert sniff_format(costs) is IngestFormat.NODE_COSTS
    assert sniff_format(DATA / "usage.csv") is IngestFormat.USAGE
    assert sniff_format(DATA / "usage.jsonl") is IngestFormat.USAGE
    assert sniff_format(DATA / "focus_1_1.csv") is IngestFormat.FOCUS


def test_node_cost_rows_are_checked_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "node,date,dimension,amount\na,2024-09-01,c,1.5\n"
        "b,2024-09-31,c,1\n,2024-09-01,c,1\nd,2024-10-02,c,-0.000001\n"
    )
    [batch] = node_cost_batches(path, source="s")
    assert [(r.line, r.reason.split(":")[0]) for r in batch.rejects] == [
        (3, "date is not a valid date"),
        (4, "missing node"),
    ]
    assert batch.costs.to_pylist() == [
        {
            "node": "a",
            "date": date(2024, 9, 1),
            "dimension": "c",
            "amount_micros": 1_500_000,
        },
        {"node": "d", "date": date(2024, 10, 2), "dimension": "c", "amount_micros": -1},
    ]
    assert batch.partitions == {("s", date(2024, 9, 1)), ("s", date(2024, 10, 1))}


def test_only_the_first_event_of_a_date_replaces_it() -> None:
    ids = count()
    costs = {
        date(2024, 9, 1): [
            NodeCost(node=n, date=date(2024, 9, 1), dimension="c", amount_micros=1)
            for n in "abc"
        ]
    }
    events = list(
        node_cost_events(
            "s",
            costs,
            [date(2024, 9, 1), date(2024, 9, 2)],
            chunk=2,
            now=NOW,
            new_id=lambda: uuid.UUID(int=next(ids)),
        )
    )
    assert [(d, e.replaces is not None, len(e.costs)) for d, e in events] == [
        (date(2024, 9, 1), True, 2),
        (date(2024, 9, 1), False, 1),
        (date(2024, 9, 2), True, 0),
    ]


def test_topic_records_read_back_as_focus_lines_in_order(tmp_path: Path) -> None:
    start = datetime(2024, 9, 3, tzinfo=UTC)
    records = [
        CostRecord(
            source="x",
            line=n,
            provider="AWS",
            billing_account_id="1",
            billing_period_start=datetime(2024, 9, 1, tzinfo=UTC),
            charge_period_start=start,
            charge_period_end=start,
            billed_cost=Decimal(cost),
            tags={"k": "v"},
        )
        for n, cost in ((10, "1.5"), (11, "-2"))
    ]
    path = tmp_path / "lines.csv"
    path.write_bytes(records_to_focus_csv(records))
    [batch] = normalize_file(path, MappingRules(), keep_lines=True)
    assert batch.lines is not None
    assert batch.lines["line"].to_pylist() == [2, 3]
    assert batch.lines["cost_micros"].to_pylist() == [1_500_000, -2_000_000]
    assert batch.lines["tags"].to_pylist() == ['{"k": "v"}'] * 2


def test_node_cost_ids_with_control_characters_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "node,date,dimension,amount\na,2024-09-01,c,1.5\n"
        "a\x1fb,2024-09-01,c,1\na,2024-09-01,c\x00,1\nd,2024-09-02,c,2\n"
    )
    [batch] = node_cost_batches(path, source="s")
    assert [(r.line, r.reason.split(":")[0]) for r in batch.rejects] == [
        (3, "node holds a control character"),
        (4, "dimension holds a control character"),
    ]
    assert {r["node"] for r in batch.costs.to_pylist()} == {"a", "d"}
