"""Share rows in binary COPY format: laid out by numpy, they decode to the rows
given; a delta counts and names what it writes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from numpy.typing import NDArray

from allocator.compute.daydelta import DayDelta
from allocator.compute.shares import ShareRows
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.sets import TextPool, encode_share_sets
from tests.support.pgcopy_reader import (
    decode_flows,
    decode_share_sets,
    encode_by_arrays,
)


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


def _sets(
    dimension_of_a: int,
) -> tuple[tuple[NDArray[np.int64], ...], NDArray[np.float64]]:
    """Two sets of parent 'p': one for compute and storage (mask 0b101, under its
    first dimension), one for ml alone."""
    rows = [  # parent, child, dimension, position, strategy, group; share
        (0, 1, dimension_of_a, 0, 0, 0b101, 0.25),
        (0, 2, dimension_of_a, 1, 0, 0b101, 0.75),
        (0, 3, dimension_of_a, 2, 1, 0b101, 0.0),  # retained
        (0, 2, 1, 0, 0, 0b010, 1.0),
        (0, 3, 1, 1, 1, 0b010, 0.0),
    ]
    columns = tuple(np.array([r[i] for r in rows], dtype=np.int64) for i in range(6))
    return columns, np.array([r[6] for r in rows], dtype=np.float64)


_DIMS = ("compute", "ml", "storage")
_TEXTS = (TextPool(["p", "a", "b", ""]), TextPool(_DIMS), TextPool(["equal", ""]))


def test_a_set_is_encoded_once_for_its_group_of_dimensions() -> None:
    columns, shares = _sets(dimension_of_a=0)
    encoded = encode_share_sets(columns, shares, _TEXTS, _DIMS)
    assert encoded.count == 2  # rows stored: one per set, not per dimension
    assert encoded.dimensions == frozenset(_DIMS)
    found = decode_share_sets(encoded)  # one row per dimension, as the view lists
    by_dimension = {d: [r for r in found if r[0][2] == d] for d in _DIMS}
    assert by_dimension["compute"] == [
        (("p", "a", "compute"), (0, "equal", 0.25)),
        (("p", "b", "compute"), (1, "equal", 0.75)),
        (("p", "", "compute"), (2, "", 0.0)),
    ]
    assert [r[1] for r in by_dimension["storage"]] == [
        r[1] for r in by_dimension["compute"]
    ]
    assert [r[1] for r in by_dimension["ml"]] == [(0, "equal", 1.0), (1, "", 0.0)]


def test_a_set_stored_under_another_than_its_groups_first_dimension_is_refused() -> (
    None
):
    columns, shares = _sets(dimension_of_a=2)  # storage: not the group's first
    with pytest.raises(ValueError, match="first of its group"):
        encode_share_sets(columns, shares, _TEXTS, _DIMS)
