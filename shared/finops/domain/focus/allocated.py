"""Allocated charges: where one node's direct cost ended up, and a bill line split
over those places exactly.

A node passes its holistic cost (direct + received) on in proportion: the flow to a
child is `amount / holistic` of everything the node holds, and `retained / holistic`
stays. So the part of an origin node's direct cost that ends at node `t` is the sum,
over the paths from the origin to `t`, of the products of those fractions, times
`retained(t) / holistic(t)`. Over every `t` the parts add up to 1 (the allocator
conserves cost). A bill line mapped to the origin is split by those parts in integer
micro-units with the largest remainders, so the allocated charges of a line always
sum to the line, exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import floor
from typing import Final

__all__ = ["DayAllocation", "apportion"]

_TINY: Final = 1e-15  # parts below this are rounding noise of the propagation


@dataclass
class DayAllocation:
    """One day and dimension of stored results: each node's holistic and retained
    cost and the flows between nodes (micro-units)."""

    holistic: dict[str, int] = field(default_factory=dict)
    retained: dict[str, int] = field(default_factory=dict)
    flows: dict[str, list[tuple[str, int, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _parts: dict[str, dict[str, float]] = field(default_factory=dict)

    def add_node(self, node: str, holistic: int, retained: int) -> None:
        self.holistic[node], self.retained[node] = holistic, retained

    def add_flow(self, parent: str, child: str, amount: int, strategy: str) -> None:
        self.flows[parent].append((child, amount, strategy))

    def parts(self, origin: str) -> dict[str, float]:
        """Where the origin's direct cost ended: node -> fraction (sums to 1). A node
        without holistic cost that day keeps its lines itself."""
        found = self._parts.get(origin)
        if found is None:
            found = self._parts[origin] = self._propagate(origin)
        return found

    def _propagate(self, origin: str) -> dict[str, float]:
        order = self._reachable_in_order(origin)
        mass: dict[str, float] = defaultdict(float)
        mass[origin] = 1.0
        ends: dict[str, float] = defaultdict(float)
        for node in order:
            held = mass.pop(node, 0.0)
            total = self.holistic.get(node, 0)
            if not held:
                continue
            if total == 0:
                ends[node] += held
                continue
            keep = held * self.retained.get(node, 0) / total
            if abs(keep) > _TINY:
                ends[node] += keep
            for child, amount, _strategy in self.flows.get(node, ()):
                mass[child] += held * amount / total
        return {n: v for n, v in ends.items() if abs(v) > _TINY} or {origin: 1.0}

    def _reachable_in_order(self, origin: str) -> list[str]:
        """The nodes reachable from the origin, parents before children."""
        seen, stack = {origin}, [origin]
        while stack:
            for child, _a, _s in self.flows.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        parents: dict[str, int] = dict.fromkeys(seen, 0)
        for node in seen:
            for child, _a, _s in self.flows.get(node, ()):
                parents[child] += 1
        ready, order = [origin], []
        while ready:
            node = ready.pop()
            order.append(node)
            for child, _a, _s in self.flows.get(node, ()):
                parents[child] -= 1
                if parents[child] == 0:
                    ready.append(child)
        return order

    def strategies_into(self, node: str) -> list[str]:
        """The strategies of the flows that reached `node` that day."""
        found = {
            strategy
            for children in self.flows.values()
            for child, _a, strategy in children
            if child == node
        }
        return sorted(found)


def apportion(amount: int, parts: Mapping[str, float]) -> dict[str, int]:
    """Split `amount` micro-units by the parts, largest remainders first: the pieces
    are integers and sum to `amount` exactly (a negative amount splits the same way,
    mirrored)."""
    weight = sum(parts.values())
    if not parts or weight == 0:
        raise ValueError("nothing to apportion to")
    sign, whole = (1, amount) if amount >= 0 else (-1, -amount)
    exact = {name: whole * w / weight for name, w in parts.items()}
    pieces = {name: floor(x) for name, x in exact.items()}
    ranked = sorted(exact, key=lambda n: (floor(exact[n]) - exact[n], n))
    left = whole - sum(pieces.values())
    step = 1 if left > 0 else -1
    for index in range(abs(left)):  # float error may leave a few either way
        pieces[
            ranked[index % len(ranked) if step > 0 else -1 - index % len(ranked)]
        ] += step
    return {name: sign * value for name, value in pieces.items()}
