"""Metric names a PromQL expression selects, read by a real parser (promql-parser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser

__all__ = ["Selected", "exposed_names", "prom_targets", "selected_metrics"]


@dataclass(frozen=True)
class Selected:
    """A selector's metric: an exact name, or a regular expression on __name__."""

    name: str
    regex: bool = False

    def found_in(self, names: set[str]) -> bool:
        if not self.regex:
            return self.name in names
        pattern = re.compile(self.name)
        return any(pattern.fullmatch(n) for n in names)


def selected_metrics(expr: str) -> list[Selected]:
    """Every vector selector's metric in `expr` (a syntax error raises)."""
    found: list[Selected] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                found.append(Selected(node.name))
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    regex = matcher.op == promql_parser.MatchOp.Re
                    found.append(Selected(matcher.value, regex=regex))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def prom_targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) of every Prometheus target of a dashboard's JSON."""
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel["title"], target["expr"]


def exposed_names(metrics_text: str) -> set[str]:
    """Sample names a /metrics page offers (a histogram's _bucket, _sum, _count;
    a counter with and without _total), from its TYPE lines."""
    names: set[str] = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{s}" for s in ("_bucket", "_sum", "_count"))
            if kind == "counter":
                names.update({name.removesuffix("_total"), f"{name}_total"})
    return names
