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
from tests.support.allocation_builders import usage_patch

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


def _redrawn(
    rows: list[UsageRecord], nodes: list[str], rng: random.Random
) -> dict[str, list[UsageRecord]]:
    """New rows for some nodes: values moved, rows dropped, rows added on other
    days and in cells that already had one (with labels, so a cell sums several)."""
    new: dict[str, list[UsageRecord]] = {n: [] for n in nodes}
    for u in rows:
        if u.node not in new or rng.random() < 0.2:
            continue
        factor = rng.choice([1.0, 1.0, 0.1, 3.0, 1e12])
        new[u.node].append(u.model_copy(update={"value": u.value * factor}))
        if rng.random() < 0.3:
            labels = {"env": rng.choice(["prod", "dev"])}
            extra = UsageRecord(
                node=u.node, date=u.date, metric=u.metric, value=0.1, labels=labels
            )
            new[u.node].append(extra)
    return new


@pytest.mark.parametrize("changed", [1, 3, 120])
def test_usage_patches_give_what_a_fresh_engine_gives(org: Org, changed: int) -> None:
    """Some nodes' rows replaced by a patch: the plans and flows of a fresh engine
    over the new usage, bit for bit, over several patches in a row."""
    spec, costs, usage, day = org
    engine = _engine(spec, costs, usage, day)
    rng = random.Random(changed)
    current = list(usage)
    for _ in range(3):
        nodes = rng.sample(sorted({u.node for u in usage}), changed)
        new = _redrawn(current, nodes, rng)
        engine.update([], usage_patch=usage_patch(engine, current, new))
        current = [u for u in current if u.node not in new]
        current += [u for rows in new.values() for u in rows]
        _assert_same(engine, _engine(spec, costs, current, day))


def test_a_patch_rebuilds_only_plans_that_see_its_days(org: Org) -> None:
    """A change of usage on a day before the range moves only the plans of
    weighted averages whose window reaches it; every other plan object stays."""
    spec, costs, usage, day = org
    engine = _engine(spec, costs, usage, day)
    earlier = day - timedelta(days=3)
    nodes = sorted({u.node for u in usage})[:200]
    new = {
        n: [
            u.model_copy(update={"value": u.value * 2}) if u.date == earlier else u
            for u in usage
            if u.node == n
        ]
        for n in nodes
    }
    before = dict(engine.state.plans)
    engine.update([], usage_patch=usage_patch(engine, usage, new))
    replaced = {p for p, plan in before.items() if engine.state.plans[p] is not plan}
    weighted = {
        p
        for p, plan in before.items()
        if any(r.strategy == "weighted_average" for g in plan.config_rules for r in g)
    }
    assert replaced and replaced <= weighted
    changed = [u for u in usage if u.node not in new]
    changed += [u for rows in new.values() for u in rows]
    _assert_same(engine, _engine(spec, costs, changed, day))


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
