"""What PostgreSQL holds for a date after the allocator's writes, and the flows the
allocation_contributions view derives from it (deploy/migrations/0070, 0080), in
Python: the view's split, step by step, over the stored shares and retained share.
The store keeps one set per parent and dimension and replaces it whole with the rows
written for it (0080), so a set written in part would lose its other rows here too."""

from __future__ import annotations

import math
from collections import defaultdict

from allocator.pgcopy.delta import EncodedDelta
from tests.support.pgcopy_reader import decode_share_sets, written_rows

ShareKey = tuple[str, str]  # parent, dimension
ShareRow = tuple[str, str, float]  # to_node ('' retained), strategy, share
Flows = dict[tuple[str, str, str], tuple[int, str, float]]

__all__ = ["Flows", "StoredDay", "split_as_the_view"]


class StoredDay:
    """A date's stored node rows and shares after the deltas so far."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, str], tuple[int, ...]] = {}
        self.shares: dict[ShareKey, dict[int, ShareRow]] = {}
        self.encoded_nodes = 0  # writes whose node rows came encoded for binary COPY
        self.share_rows = 0  # share rows written

    def write(self, delta: EncodedDelta) -> None:
        if delta.complete:
            self.nodes = {}
        for node_key in delta.plain.nodes_removed:
            del self.nodes[node_key]
        self.encoded_nodes += delta.node_copy is not None
        self.nodes.update(written_rows(delta))
        shares = delta.shares
        if shares.complete or delta.complete:
            self.shares = {}
        gone = set(shares.parents)
        self.shares = {k: v for k, v in self.shares.items() if k[0] not in gone}
        if shares.rows is not None:
            self.share_rows += shares.rows.count
            rows: dict[ShareKey, dict[int, ShareRow]] = defaultdict(dict)
            for (parent, child, dim), (position, strategy, share) in decode_share_sets(
                shares.rows
            ):
                rows[(parent, dim)][position] = (child, strategy, share)
            for key, positions in rows.items():  # each set replaced whole
                assert sorted(positions) == list(range(len(positions))), key
                assert positions[len(positions) - 1][0] == "", key  # retained last
                self.shares[key] = positions

    def flows(self) -> Flows:
        """What the view lists: flows with an amount or a positive share."""
        found: Flows = {}
        for (parent, dim), rows in self.shares.items():
            holistic = self.nodes.get((parent, dim), (0, 0, 0))[2]
            ordered = [rows[i] for i in range(len(rows))]
            assert ordered[-1][0] == ""  # the retained row comes last
            amounts = split_as_the_view(holistic, [s for _, _, s in ordered])
            for (child, strategy, share), amount in zip(ordered, amounts, strict=True):
                if child and (amount != 0 or share > 0):
                    found[(parent, child, dim)] = (amount, strategy, share)
        return found


def split_as_the_view(amount: int, shares: list[float]) -> list[int]:
    """The view's split of `amount` by shares (the retained one last)."""
    exact = [s * float(amount) for s in shares]
    low = [math.floor(e) for e in exact]
    leftover = amount - sum(low)
    slots = len(shares)
    order = sorted(
        range(slots),
        key=lambda i: (-(-1.0 if shares[i] == 0 else exact[i] - low[i]), i),
    )
    rank = {i: r for r, i in enumerate(order)}
    whole = leftover // slots
    extra = leftover - whole * slots
    return [low[i] + whole + (1 if rank[i] < extra else 0) for i in range(slots)]
