"""Grafana's PostgreSQL interpolation, for running the dashboards' SQL in tests:
the time macros and variables the dashboards use, as Grafana expands them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Choice", "interpolate"]

_MACRO = re.compile(r"\$__timeFilter\(([^)]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


@dataclass(frozen=True)
class Choice:
    """A variable's value: several (quoted) or All (its allValue, as is)."""

    values: tuple[str, ...]
    multi: bool = True
    all_value: str | None = None


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def interpolate(
    sql: str, *, start: datetime, end: datetime, choices: dict[str, Choice]
) -> str:
    """The SQL Grafana would send for this time range and these choices."""
    frm, to = start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")
    sql = _MACRO.sub(lambda m: f"{m.group(1)} BETWEEN '{frm}' AND '{to}'", sql)

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name not in choices:
            raise AssertionError(f"variable ${name} has no value in {sql[:200]}")
        choice = choices[name]
        if choice.all_value is not None:
            return choice.all_value
        if fmt == "sqlstring" or choice.multi:
            return ",".join(_quote(v) for v in choice.values)
        (only,) = choice.values
        return only

    return _VARIABLE.sub(value, sql)
