"""AllocationEngine.update with usage changes on a synthetic organisation: whether
few parents' plans change (their changed cells are propagated) or many (one full
pass), the engine equals one built afresh from the same inputs."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from finops.adapters.input_feed import cost_records, usage_records
from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.synth import SynthOptions, generate_org
from finops.domain.allocation.tables import UsageTable
from finops.domain.dag import GraphSpec
from finops.domain.periods import DayRange
from finops.domain.records import NodeCost, UsageRecord
from finops.formats.costfile import load_costs
from finops.formats.engine_files import write_org
from finops.formats.inputfiles import load_usage

# The graph, the last day's costs, all usage, and that day.
Org = tuple[GraphSpec, list[NodeCost], list[UsageRecord], date]


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    options = SynthOptions(nodes=300, edges=900, days=10, dimensions=2, seed=5)
    org = generate_org(options)
    folder: Path = tmp_path_factory.mktemp("org")
    write_org(org, folder)
    costs = cost_records(load_costs(folder / "costs.csv"))
    usage = usage_records(load_usage(folder / "usage.csv"))
    day = options.start + timedelta(days=options.days - 1)
    return org.spec, [c for c in costs if c.date == day], usage, day


def _engine(
    spec: GraphSpec, costs: list[NodeCost], usage: list[UsageRecord], day: date
) -> AllocationEngine:
    return AllocationEngine.from_records(
        spec, costs, usage, days=DayRange(first=day, last=day)
    )


def _assert_same(kept: AllocationEngine, fresh: AllocationEngine) -> None:
    assert np.array_equal(kept.state.direct, fresh.state.direct)
    assert np.array_equal(kept.state.received, fresh.state.received)
    assert kept.state.flows.keys() == fresh.state.flows.keys()
    for parent, flows in fresh.state.flows.items():
        assert np.array_equal(kept.state.flows[parent], flows), parent
        new, old = kept.state.plans[parent], fresh.state.plans[parent]
        assert np.array_equal(new.shares, old.shares), parent


@pytest.mark.parametrize("changed", [1, 3, 120])
def test_usage_changes_give_what_a_fresh_engine_gives(org: Org, changed: int) -> None:
    spec, costs, usage, day = org
    engine = _engine(spec, costs, usage, day)
    rng = random.Random(changed)
    nodes = rng.sample(sorted({u.node for u in usage}), changed)
    parents = {p for n in nodes for p in engine.graph.parents(n)}
    assert (len(parents) > 32) == (changed == 120)  # both ways are taken
    new_usage = [
        UsageRecord(
            node=u.node,
            date=u.date,
            metric=u.metric,
            value=u.value * rng.uniform(0.1, 3.0),
            labels=u.labels,
        )
        if u.node in nodes
        else u
        for u in usage
    ]
    cost = costs[0]
    engine.update(
        [(cost.node, day, cost.dimension, cost.amount_micros + 7)],
        UsageTable.from_records(new_usage),
        nodes,
    )
    moved = cost.model_copy(update={"amount_micros": cost.amount_micros + 7})
    _assert_same(engine, _engine(spec, [moved, *costs[1:]], new_usage, day))


@pytest.mark.parametrize("changed", [3, 120])
def test_a_rebuilt_plan_equal_to_the_old_keeps_the_old_object(
    org: Org, changed: int
) -> None:
    """Naming nodes whose usage did not change rebuilds their parents' plans; each
    equals the old one, so the old object stays (consumers compare by identity)."""
    spec, costs, usage, day = org
    engine = _engine(spec, costs, usage, day)
    nodes = random.Random(changed).sample(sorted({u.node for u in usage}), changed)
    before = dict(engine.state.plans)
    engine.update([], UsageTable.from_records(usage), nodes)
    assert all(engine.state.plans[p] is plan for p, plan in before.items())
    _assert_same(engine, _engine(spec, costs, usage, day))


def test_each_day_of_a_range_gets_the_bits_a_one_day_engine_gives(
    tmp_path: Path,
) -> None:
    """Shares and flows of every day of a multi-day range equal those of an engine
    over that day alone, bit for bit (capped_proportional stops per day: decision
    0320), so `finops allocate` and the stream split alike."""
    options = SynthOptions(nodes=300, edges=900, days=6, dimensions=2, seed=11)
    generated = generate_org(options)
    write_org(generated, tmp_path)
    costs = cost_records(load_costs(tmp_path / "costs.csv"))
    usage = usage_records(load_usage(tmp_path / "usage.csv"))
    first = options.start
    last = first + timedelta(days=options.days - 1)
    whole = AllocationEngine.from_records(
        generated.spec, costs, usage, days=DayRange(first=first, last=last)
    )
    capped = [
        p
        for p, plan in whole.state.plans.items()
        if any(r.strategy == "capped_proportional" for r in plan.config_rules[0])
    ]
    assert capped  # the organisation has some
    for t in range(options.days):
        day = first + timedelta(days=t)
        alone = _engine(generated.spec, [c for c in costs if c.date == day], usage, day)
        assert np.array_equal(whole.state.received[:, t], alone.state.received[:, 0])
        for parent, plan in alone.state.plans.items():
            shares = whole.state.plans[parent].shares[:, t : t + 1]
            assert np.array_equal(shares, plan.shares), (day, parent)
