"""Flow rows in binary COPY format: laid out by numpy, they carry the same rows as
encoded one by one."""

from __future__ import annotations

import random

from allocator.compute.daydelta import DayDelta
from allocator.compute.encoding import encode_flows_from
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.flows import encode_flows
from tests.support.pgcopy_reader import decode_flows, encode_by_arrays


def test_rows_laid_out_by_numpy_are_the_rows_encoded_one_by_one() -> None:
    rng = random.Random(4)
    names = [
        "db",
        "shared-postgres-cluster-eu-west-1",
        "żółw-ünïcode",
        *(f"res-{i:05d}" for i in range(40)),
    ]
    flows = {
        (rng.choice(names), rng.choice(names), rng.choice(["compute", "ml"])): (
            rng.randint(-(10**15), 10**15),
            rng.choice(["equal", "proportional", "capped_proportional"]),
            rng.random(),
        )
        for _ in range(3000)
    }
    by_arrays, one_by_one = encode_by_arrays(flows), encode_flows(flows)
    assert decode_flows(by_arrays) == decode_flows(one_by_one) == flows
    assert len(by_arrays.data) == len(one_by_one.data)
    assert (by_arrays.count, by_arrays.dimensions) == (
        len(flows),
        frozenset({"compute", "ml"}),
    )


def test_a_delta_with_encoded_flows_counts_and_names_them_as_plain_rows() -> None:
    flows = {
        ("db", "shop", "compute"): (5, "equal", 0.5),
        ("db", "blog", "compute"): (5, "equal", 0.5),
        ("net", "shop", "storage"): (-1, "proportional", 1.0),
    }
    plain = EncodedDelta(DayDelta({}, flows, [], [("db", "x", "ml")], complete=False))
    encoded = encode_flows_from(plain, len(flows))
    assert encoded.flow_copy is not None and not encoded.plain.flows
    assert decode_flows(encoded.flow_copy) == flows
    for delta in (plain, encoded):
        assert (delta.flows_written, delta.nodes_written) == (3, 0)
        assert delta.writes_flows and not delta.is_empty
        assert delta.dimensions == ["compute", "ml", "storage"]
    assert encode_flows_from(plain, len(flows) + 1) is plain  # too few to encode
