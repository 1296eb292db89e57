"""Ids with control characters are refused at every edge, naming where they were.

Regression: a node id holding the allocator's key separator (U+001F) made every
recompute pass fail and, after a restart, a date was rewritten without its other
sources while health answered 200.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import NodeCostsReported, UsageReported
from finops.domain.dag import EdgeSpec, NodeSpec
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.usage import read_usage
from finops.domain.identifiers import identifier_problem
from finops.domain.records import NodeCost, UsageRecord
from finops.errors import EventDecodeError, GraphError, InputError
from finops.formats.costfile import load_costs
from finops.formats.graphfile import load_graph
from finops.formats.inputfiles import load_usage
from tests.unit.focus.batches import costs_of, run

CONTROLS = ["\x1f", "\x00", "\n", "\t", "\x7f"]


@pytest.mark.parametrize("char", CONTROLS)
def test_identifier_problem_names_the_character_and_position(char: str) -> None:
    problem = identifier_problem(f"ab{char}c")
    assert problem is not None
    assert f"U+{ord(char):04X} at position 2" in problem


@pytest.mark.parametrize("text", ["prd-00001", "Amazon EC2", "ünïcode", "a/b:c", ""])
def test_printable_text_is_an_identifier(text: str) -> None:
    assert identifier_problem(text) is None


@pytest.mark.parametrize("char", CONTROLS)
def test_records_and_graph_models_refuse_control_characters(char: str) -> None:
    day = date(2025, 3, 1)
    bad = f"vm{char}"
    with pytest.raises(ValidationError):
        NodeCost(node=bad, date=day, dimension="compute", amount_micros=1)
    with pytest.raises(ValidationError):
        NodeCost(node="vm", date=day, dimension=bad, amount_micros=1)
    with pytest.raises(ValidationError):
        UsageRecord(node="vm", date=day, metric=bad, value=1.0)
    with pytest.raises(ValidationError):
        NodeSpec.model_validate({"id": bad, "type": "resource"})
    with pytest.raises(ValidationError):
        EdgeSpec.model_validate({"from": bad, "to": "shop", "strategy": "equal"})


def _costs_event(node: str, source: str) -> bytes:
    """A node-costs message as another producer could write it (not validated)."""
    good = NodeCostsReported(
        event_id=uuid.uuid4(),
        occurred_at=datetime(2025, 3, 2, tzinfo=UTC),
        source="ok",
        costs=[
            NodeCost(node="vm", date=date(2025, 3, 1), dimension="x", amount_micros=1)
        ],
    )
    payload = json.loads(encode_event(good))
    payload["source"] = source
    payload["costs"][0]["node"] = node
    return json.dumps(payload).encode()


def test_a_message_with_such_an_id_does_not_decode() -> None:
    assert isinstance(decode_event(_costs_event("vm", "ok")), NodeCostsReported)
    with pytest.raises(EventDecodeError, match=r"costs\.0\.node: control char"):
        decode_event(_costs_event("v\x1fm", "ok"))
    with pytest.raises(EventDecodeError, match=r"source: control character U\+001F"):
        decode_event(_costs_event("vm", "a\x1fb"))


def test_usage_event_source_is_an_identifier() -> None:
    with pytest.raises(ValidationError):
        UsageReported(
            event_id=uuid.uuid4(),
            occurred_at=datetime(2025, 3, 2, tzinfo=UTC),
            source="s\x1f",
            usage=[],
        )


def test_cost_file_names_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(
        "node,date,dimension,amount\n"
        "vm,2025-03-01,compute,1.5\n"
        "vm,2025-03-01,com\x1fpute,2\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_costs(path)
    assert caught.value.line == 3
    assert caught.value.field == "dimension"
    assert "U+001F" in str(caught.value)


def test_usage_file_names_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "node,date,metric,value\nshop,2025-03-01,req,1\nsh\x01op,2025-03-01,req,2\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_usage(path)
    assert (caught.value.line, caught.value.field) == (3, "node")
    assert "U+0001" in str(caught.value)


def test_graph_file_names_the_node(tmp_path: Path) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text(
        'nodes:\n  - {id: shop, type: product}\n  - {id: "vm\\x1f", type: resource}\n',
        encoding="utf-8",
    )
    with pytest.raises(GraphError, match=r"nodes\.1\.id: control character U\+001F"):
        load_graph(path)


def test_a_mapped_node_rendered_from_a_tag_is_rejected_per_row(
    tmp_path: Path,
) -> None:
    header = (
        "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,"
        "ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceCategory,Tags"
    )
    period = "2025-04-01T00:00:00Z,2025-04-01T00:00:00Z,2025-04-02T00:00:00Z"

    def row(cost: str, product: str) -> str:
        tags = json.dumps({"product": product}).replace('"', '""')
        return f'{cost},acct,USD,{period},AWS,Compute,"{tags}"'

    path = tmp_path / "bill.csv"
    path.write_text(
        "\n".join([header, row("1", "shop"), row("2", "sh\x1fop"), row("4", "blog")])
        + "\n",
        encoding="utf-8",
    )
    rules = MappingRules.model_validate(
        {"rules": [{"when": {"Tags.product": "*"}, "node": "{Tags.product}"}]}
    )
    batches = run(path, rules)
    rejects = [r for b in batches for r in b.rejects]
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (3, "mapped node holds a control character")
    ]
    assert costs_of(batches) == {
        ("shop", "2025-04-01", "Compute"): 1_000_000,
        ("blog", "2025-04-01", "Compute"): 4_000_000,
    }


def test_uploaded_usage_rows_with_such_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "node,date,metric,value\nshop,2025-03-01,req,1\n"
        "shop,2025-03-01,r\x1feq,2\nbl\x7fog,2025-03-01,req,3\n",
        encoding="utf-8",
    )
    records, rejects = read_usage(path)
    assert [r.node for r in records] == ["shop"]
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (3, "metric"),
        (4, "node"),
    ]
    assert "U+001F" in rejects[0].reason


def test_a_control_character_at_either_end_is_refused_not_stripped(
    tmp_path: Path,
) -> None:
    """str.strip() takes U+001C-U+001F for white space: an id ending in one was
    silently shortened instead of refused, offline and at ingest."""
    path = tmp_path / "usage.csv"
    path.write_text(
        "node,date,metric,value\n shop ,2025-03-01,req,1\n"
        "shop\x1f,2025-03-01,req,2\nshop,2025-03-01,\x1creq,3\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_usage(path)
    assert (caught.value.line, caught.value.field) == (3, "node")
    assert "U+001F" in str(caught.value)
    records, rejects = read_usage(path)
    assert [r.node for r in records] == ["shop"]
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (3, "node"),
        (4, "metric"),
    ]
