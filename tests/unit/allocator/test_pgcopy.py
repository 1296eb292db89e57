"""Share rows in binary COPY format: laid out by numpy, they decode to the rows
given; a delta counts and names what it writes."""

from __future__ import annotations

import random

from allocator.compute.daydelta import DayDelta
from allocator.compute.shares import ShareRows
from allocator.pgcopy.delta import EncodedDelta
from tests.support.pgcopy_reader import decode_flows, encode_by_arrays


def test_rows_laid_out_by_numpy_decode_to_the_rows_given() -> None:
    rng = random.Random(4)
    names = [
        "db",
        "shared-postgres-cluster-eu-west-1",
        "żółw-ünïcode",
        "",  # the retained row's to_node
        *(f"res-{i:05d}" for i in range(40)),
    ]
    rows = {
        (rng.choice(names), rng.choice(names), rng.choice(["compute", "ml"])): (
            rng.randint(-(10**15), 10**15),
            rng.choice(["equal", "proportional", "capped_proportional", ""]),
            rng.random(),
        )
        for _ in range(3000)
    }
    by_arrays = encode_by_arrays(rows)
    assert decode_flows(by_arrays) == rows
    assert (by_arrays.count, by_arrays.dimensions) == (
        len(rows),
        frozenset({"compute", "ml"}),
    )


def test_a_delta_counts_its_share_rows_and_names_its_node_dimensions() -> None:
    rows = {("db", "shop", "compute"): (0, "equal", 0.5)}
    shares = ShareRows(False, ["db"], encode_by_arrays(rows))
    nodes = {("db", "compute"): (1, 0, 1, 1, 0)}
    delta = EncodedDelta(DayDelta(nodes, [("x", "ml")], complete=False), None, shares)
    assert (delta.shares_written, delta.nodes_written) == (1, 1)
    assert not delta.is_empty and delta.dimensions == ["compute", "ml"]
    only_shares = EncodedDelta(DayDelta({}, [], complete=False), None, shares)
    assert not only_shares.is_empty and only_shares.dimensions == []
    assert EncodedDelta(DayDelta({}, [], complete=False)).is_empty
