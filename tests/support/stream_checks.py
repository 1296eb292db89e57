"""Helpers of the allocator's end-to-end tests: data, batch runs, waiting for results"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from finops.adapters.input_feed import (
    cost_events,
    cost_records,
    publish_events,
    usage_events,
    usage_records,
)
from finops.adapters.stored_results import fetch_document
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.domain.allocation.synth import SynthOptions, generate_org
from finops.formats.costfile import load_costs
from finops.formats.engine_files import write_org
from finops.formats.inputfiles import load_usage
from tests.support.cli import finops

__all__ = [
    "batch_document",
    "differences",
    "edit_csv",
    "finops",
    "make_org",
    "publish_day",
    "wait_for_document",
]


def make_org(out: Path, *, days: int = 8, seed: int = 3) -> Path:
    """A small synthetic organisation (graph.json, costs.csv, usage.csv)."""
    options = SynthOptions(nodes=30, edges=80, days=days, dimensions=2, seed=seed)
    write_org(generate_org(options), out)
    return out


def batch_document(env: dict[str, str], org: Path, out: Path) -> dict[str, Any]:
    """What `finops allocate --output` writes for the organisation's files."""
    finops(
        env,
        "allocate",
        "--graph",
        str(org / "graph.json"),
        "--costs",
        str(org / "costs.csv"),
        "--usage",
        str(org / "usage.csv"),
        "--output",
        str(out),
    )
    return dict(json.loads(out.read_text()))


def _flow_key(row: dict[str, Any]) -> tuple[str, ...]:
    return (row["from"], row["to"], row["date"], row["dimension"])


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """What differs; shares may differ in the last bits of a float, nothing else may."""
    problems = []
    if got["summary"] != want["summary"]:
        problems.append(f"summary {got['summary']} != {want['summary']}")
    if got["nodes"] != want["nodes"]:
        problems.append(f"{len(got['nodes'])} node rows vs {len(want['nodes'])}")
    flows = {_flow_key(r): r for r in got["flows"]}
    expected = {_flow_key(r): r for r in want["flows"]}
    if flows.keys() != expected.keys():
        problems.append(f"{len(flows)} flows vs {len(expected)}")
    for key, row in expected.items():
        have = flows.get(key)
        if have is None:
            continue
        same = {k: v for k, v in have.items() if k != "share"} == {
            k: v for k, v in row.items() if k != "share"
        }
        if not same or abs(have["share"] - row["share"]) > 1e-12:
            problems.append(f"flow {key}: {have} != {row}")
            break
    return problems


def wait_for_document(
    postgres: PostgresSettings, want: dict[str, Any], *, timeout_s: float = 180
) -> dict[str, Any]:
    """Poll the stored results until they equal `want`; fail with the differences."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = asyncio.run(fetch_document(postgres, None, None))
        problems = differences(got, want)
        if not problems:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("stored results differ: " + "; ".join(problems[:3]))
        time.sleep(0.5)


def edit_csv(path: Path, row_index: int, column: str, value: str) -> dict[str, str]:
    """Change one cell of a CSV file; returns the changed row."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[row_index][column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows[row_index]


def publish_day(
    kafka: KafkaSettings, org: Path, day: date, *, what: str, source: str = "files"
) -> None:
    """Publish one day of costs or usage from the files, replacing what was said."""
    if what == "costs":
        records: list[Any] = cost_records(load_costs(org / "costs.csv", None))
        events: list[Any] = cost_events(
            [r for r in records if r.date == day], source=source
        )
    else:
        records = usage_records(load_usage(org / "usage.csv", None))
        events = usage_events([r for r in records if r.date == day], source=source)
    asyncio.run(publish_events(kafka, events))


def first_day(org: Path) -> date:
    """The first day of the organisation's costs."""
    with (org / "costs.csv").open(newline="") as handle:
        return min(date.fromisoformat(r["date"]) for r in csv.DictReader(handle))


def plus(day: date, days: int) -> date:
    """A day some days later."""
    return day + timedelta(days=days)
