"""Allocation rules: a strategy and its validated parameters, per edge and dimension."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

from finops.domain.costgraph import CostGraph, EdgeFields
from finops.errors import GraphError

__all__ = [
    "USAGE_BASED",
    "AllocationRule",
    "Fallback",
    "SegmentFilter",
    "StrategyName",
    "check_graph_rules",
    "check_parent_rules",
    "check_rules",
    "parse_rule",
    "rule_for",
]


class StrategyName(StrEnum):
    """Every strategy an edge may name (plus the alias `proportional_on`)."""

    FIXED_PERCENT = "fixed_percent"
    EQUAL = "equal"
    PROPORTIONAL = "proportional"
    WEIGHTED_AVERAGE = "weighted_average"
    SEGMENT_FILTERED_PROPORTIONAL = "segment_filtered_proportional"
    CAPPED_PROPORTIONAL = "capped_proportional"
    HYBRID_FIXED_PROPORTIONAL = "hybrid_fixed_proportional"
    MIN_FLOOR_PROPORTIONAL = "min_floor_proportional"
    RESIDUAL_TO_MAX = "residual_to_max"


class Fallback(StrEnum):
    """What the usage-based part does when the children's usage sums to zero."""

    EQUAL = "equal"
    UNALLOCATED = "unallocated"


ALIASES: Final[dict[str, StrategyName]] = {"proportional_on": StrategyName.PROPORTIONAL}
USAGE_BASED: Final[frozenset[StrategyName]] = frozenset(StrategyName) - {
    StrategyName.FIXED_PERCENT,
    StrategyName.EQUAL,
}
# Plain dict lookups: calling an Enum class is slow on tens of thousands of edges.
_BY_NAME: Final[dict[str, StrategyName]] = {s.value: s for s in StrategyName} | ALIASES
_FALLBACKS: Final[dict[object, Fallback]] = {f.value: f for f in Fallback}
# Graphs repeat a few parameter sets on thousands of edges; rules are immutable.
MAX_WINDOW_DAYS: Final = 366
_PARSED: dict[tuple[str, str], AllocationRule] = {}
_PARSED_LIMIT: Final = 10_000
_OPERATORS: Final = ("eq", "neq", "in", "not_in", "exists", "not_exists")


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """A test on usage-row labels: {label, operator, value or values}."""

    label: str
    operator: str
    values: tuple[Any, ...] = ()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        """Whether a usage row with these labels belongs to the segment."""
        present = self.label in labels
        value = labels.get(self.label)
        match self.operator:
            case "exists":
                return present
            case "not_exists":
                return not present
            case "eq" | "in":
                return present and value in self.values
            case _:
                return not present or value not in self.values


@dataclass(frozen=True, slots=True)
class AllocationRule:
    """A strategy with parameters; fractions are in 0..1 (params are percents)."""

    strategy: StrategyName
    percent: float = 0.0
    metric: str | None = None
    window_days: int = 7
    segment: SegmentFilter | None = None
    cap: float = 1.0
    fixed_fraction: float = 0.0
    floor_fraction: float = 0.0
    fallback: Fallback = Fallback.EQUAL

    @property
    def is_fixed(self) -> bool:
        """Whether the edge takes a fixed percent before the others share the rest."""
        return self.strategy is StrategyName.FIXED_PERCENT

    @property
    def group_key(self) -> tuple[object, ...]:
        """Parameters that all non-fixed out-edges of one parent must share."""
        return (
            self.strategy,
            self.metric,
            self.fallback,
            self.fixed_fraction,
            self.floor_fraction,
        )


def parse_rule(
    strategy: str, params: Mapping[str, Any], *, where: str
) -> AllocationRule:
    """Validate a strategy name and its parameters; `where` names the edge in errors."""
    key = (strategy, repr(params))
    rule = _PARSED.get(key)
    if rule is None:
        rule = _parse(strategy, params, where)
        if len(_PARSED) < _PARSED_LIMIT:
            _PARSED[key] = rule
    return rule


def _parse(strategy: str, params: Mapping[str, Any], where: str) -> AllocationRule:
    name = _strategy_name(strategy, where)
    fields: dict[str, Any] = {"strategy": name}
    if name is StrategyName.FIXED_PERCENT:
        fields["percent"] = _percent(params, "percent", where) / 100
    if name in USAGE_BASED:
        fields.update(_usage_fields(name, params, where))
    return AllocationRule(**fields)


def _strategy_name(strategy: str, where: str) -> StrategyName:
    name = _BY_NAME.get(strategy)
    if name is None:
        raise GraphError(f"{where}: unknown strategy {strategy!r}")
    return name


def _usage_fields(
    name: StrategyName, params: Mapping[str, Any], where: str
) -> dict[str, Any]:
    metric = params.get("metric")
    if not isinstance(metric, str) or not metric:
        raise GraphError(f"{where}: strategy {name} needs params.metric")
    fields: dict[str, Any] = {"metric": metric, "fallback": _fallback(params, where)}
    if name is StrategyName.WEIGHTED_AVERAGE:
        fields["window_days"] = _window(params, where)
    elif name is StrategyName.SEGMENT_FILTERED_PROPORTIONAL:
        fields["segment"] = _segment(params.get("segment_filter"), where)
    elif name is StrategyName.CAPPED_PROPORTIONAL:
        fields["cap"] = _percent(params, "cap", where) / 100
    elif name is StrategyName.HYBRID_FIXED_PROPORTIONAL:
        fields["fixed_fraction"] = _percent(params, "fixed_percent", where) / 100
    elif name is StrategyName.MIN_FLOOR_PROPORTIONAL:
        fields["floor_fraction"] = _percent(params, "min_floor_percent", where) / 100
    return fields


def _percent(params: Mapping[str, Any], key: str, where: str) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GraphError(f"{where}: params.{key} must be a number from 0 to 100")
    if not 0 <= value <= 100:
        raise GraphError(f"{where}: params.{key} = {value} is outside 0-100")
    return float(value)


def _window(params: Mapping[str, Any], where: str) -> int:
    value = params.get("window_days", 7)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GraphError(f"{where}: params.window_days must be a positive integer")
    if value > MAX_WINDOW_DAYS:
        raise GraphError(
            f"{where}: params.window_days = {value} is over {MAX_WINDOW_DAYS} "
            "(a usage row is copied to every day of its window)"
        )
    return value


def _fallback(params: Mapping[str, Any], where: str) -> Fallback:
    value = params.get("fallback", "equal")
    fallback = _FALLBACKS.get(value) if isinstance(value, str) else None
    if fallback is None:
        raise GraphError(f"{where}: params.fallback must be equal or unallocated")
    return fallback


def _segment(raw: object, where: str) -> SegmentFilter:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("label"), str):
        raise GraphError(f"{where}: params.segment_filter needs a label")
    operator = raw.get("operator", "eq")
    if operator not in _OPERATORS:
        raise GraphError(f"{where}: unknown segment_filter operator {operator!r}")
    if operator in ("in", "not_in"):
        values = raw.get("values")
        if not isinstance(values, list):
            raise GraphError(
                f"{where}: segment_filter operator {operator} needs values"
            )
        return SegmentFilter(raw["label"], operator, tuple(values))
    if operator in ("eq", "neq") and "value" not in raw:
        raise GraphError(f"{where}: segment_filter operator {operator} needs a value")
    return SegmentFilter(raw["label"], operator, (raw.get("value"),))


def rule_for(edge: EdgeFields, dimension: str | None = None) -> AllocationRule:
    """The rule of an edge in one dimension (its override, else its default)."""
    where = f"edge {edge.from_} -> {edge.to}"
    override = edge.dimensions.get(dimension) if dimension is not None else None
    if override is not None:
        where = f"{where} (dimension {dimension})"
        return parse_rule(override.strategy, override.params, where=where)
    return parse_rule(edge.strategy, edge.params, where=where)


def check_graph_rules(graph: CostGraph) -> None:
    """Check every edge rule, and per parent and dimension the mix of rules."""
    for parent in graph.out_edges:
        check_parent_rules(graph, parent)


def check_rules(
    parent: str,
    dimension: str | None,
    edges: list[EdgeFields],
    rules: list[AllocationRule],
) -> None:
    """Check one parent's rules in one dimension: one group, fixed sums <= 100."""
    where = f"node {parent}" + (f" (dimension {dimension})" if dimension else "")
    keys = {rule.group_key for rule in rules if not rule.is_fixed}
    if len(keys) > 1:
        raise GraphError(f"{where}: out-edges mix strategies or metrics")
    fixed = [(e, r.percent) for e, r in zip(edges, rules, strict=True) if r.is_fixed]
    day = _overfull_day(fixed)
    if day is not None:
        when = "from the start" if day == date.min else f"on {day.isoformat()}"
        raise GraphError(f"{where}: fixed percents exceed 100 {when}")


def _overfull_day(fixed: Iterable[tuple[EdgeFields, float]]) -> date | None:
    """First day on which the active fixed fractions sum above 1, if any."""
    pairs = list(fixed)
    starts = sorted({e.active_from or date.min for e, _ in pairs})
    for day in starts:
        total = sum(share for e, share in pairs if e.is_active(day))
        if total > 1 + 1e-9:
            return day
    return None


def check_parent_rules(graph: CostGraph, parent: str) -> None:
    """Check the out-edge rules of one parent (after an edge change)."""
    edges = graph.out_edges.get(parent, [])
    dimensions: set[str | None] = {None}
    for edge in edges:
        dimensions.update(edge.dimensions)
    for dimension in sorted(dimensions, key=lambda d: d or ""):
        rules = [rule_for(edge, dimension) for edge in edges]
        check_rules(parent, dimension, edges, rules)
