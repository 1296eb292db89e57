"""Usage pulled from Prometheus: which days, which instants, label sets to usage rows.

The figure of day D is the query evaluated at D+1 00:00:00 UTC, so a `[1d]` range
in the query covers exactly day D. A pull states whole months (a usage delivery
replaces each (source, month) it names), so pulls start on a month's first day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from finops.domain.identifier_type import Identifier
from finops.domain.yamltext import load_yaml
from finops.errors import ConfigError

__all__ = [
    "DAY_SECONDS",
    "PullSpec",
    "Series",
    "UsageRows",
    "day_of_instant",
    "evaluation_instants",
    "load_pulls",
    "month_chunks",
    "parse_interval",
    "periodic_window",
    "render_node",
    "template_labels",
    "to_usage_rows",
]

DAY_SECONDS: Final = 86_400
_LABEL: Final = re.compile(r"\{([^{}]*)\}")
_INTERVAL: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": DAY_SECONDS}


def parse_interval(value: object) -> float:
    """Seconds of `90`, `30s`, `15m`, `1h` or `1d`; ValueError when not one."""
    match = _INTERVAL.match(str(value))
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {value!r} (e.g. 30m, 1h, 1d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class PullSpec(BaseModel):
    """One usage pull: a PromQL query, its metric and node template; how often."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Identifier = Field(min_length=1)
    prometheus: str = Field(pattern=r"^https?://")
    query: str = Field(min_length=1)
    metric: Identifier = Field(min_length=1)
    node: str = Field(min_length=1)
    source: Identifier | None = None
    interval_s: Annotated[float, Field(gt=0, alias="interval")] = 3600.0
    lookback_days: int = Field(default=2, ge=1, le=366)

    @field_validator("interval_s", mode="before")
    @classmethod
    def _interval(cls, value: object) -> float:
        return parse_interval(value)

    @field_validator("node")
    @classmethod
    def _template(cls, value: str) -> str:
        if not template_labels(value):
            raise ValueError("the node template names no label, e.g. '{app}'")
        return value

    @property
    def source_name(self) -> str:
        """The restatement source of this pull's usage."""
        return self.source or f"prometheus:{self.name}"


class _PullsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    pulls: tuple[PullSpec, ...] = ()


def load_pulls(path: Path) -> tuple[PullSpec, ...]:
    """The pulls of a YAML file (`pulls: [...]`); ConfigError says what is wrong."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        pulls = _PullsFile.model_validate(data).pulls
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the pulls file: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid pulls: {exc}") from None
    names = [p.name for p in pulls]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: pull names repeat: {sorted(names)}")
    return pulls


def template_labels(template: str) -> list[str]:
    """The labels a node template names (`svc-{app}` -> [app])."""
    return _LABEL.findall(template)


def render_node(template: str, labels: Mapping[str, str]) -> str:
    """The node of a label set; empty when a named label is absent or empty."""
    missing = [n for n in template_labels(template) if not labels.get(n)]
    if missing:
        return ""
    return _LABEL.sub(lambda m: labels[m.group(1)], template)


def month_chunks(first: date, last: date) -> list[tuple[date, date]]:
    """[first, last] cut at month ends: one query per month a delivery states."""
    chunks = []
    start = first
    while start <= last:
        next_month = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(last, next_month - timedelta(days=1))
        chunks.append((start, end))
        start = end + timedelta(days=1)
    return chunks


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def evaluation_instants(first: date, last: date) -> tuple[int, int]:
    """Unix seconds of the first and last evaluation: the ends of days first..last."""
    return _midnight(first) + DAY_SECONDS, _midnight(last) + DAY_SECONDS


def day_of_instant(instant: float) -> date:
    """The day whose end an evaluation instant is (D+1 00:00 UTC -> D)."""
    return datetime.fromtimestamp(instant - DAY_SECONDS, UTC).date()


def periodic_window(today: date, lookback_days: int) -> tuple[date, date] | None:
    """Days a periodic pull restates: from the first day of the month `lookback_days`
    ago to yesterday (the last complete day); None when that is empty."""
    last = today - timedelta(days=1)
    first = (today - timedelta(days=lookback_days)).replace(day=1)
    return (first, last) if first <= last else None


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a range query: its labels and (instant, value text) points."""

    labels: Mapping[str, str]
    points: Sequence[tuple[float, str]]


@dataclass(frozen=True, slots=True)
class UsageRows:
    """Usage rows (as a usage file has them) and the label sets no node renders for."""

    rows: list[dict[str, str]]
    unmapped: list[Mapping[str, str]]


def to_usage_rows(series: Iterable[Series], *, metric: str, node: str) -> UsageRows:
    """Rows `node,date,metric,value,labels` of the series; values as Prometheus wrote
    them (`NaN` stays `NaN`, and ingest refuses it as it refuses it in a file)."""
    rows: list[dict[str, str]] = []
    unmapped: list[Mapping[str, str]] = []
    for one in series:
        labels = {k: v for k, v in one.labels.items() if k != "__name__"}
        name = render_node(node, labels)
        if not name:
            unmapped.append(labels)
        text = json.dumps(labels, sort_keys=True, separators=(",", ":"))
        rows += [
            {
                "node": name,
                "date": day_of_instant(instant).isoformat(),
                "metric": metric,
                "value": value,
                "labels": text,
            }
            for instant, value in one.points
        ]
    rows.sort(key=lambda r: (r["date"], r["node"], r["labels"]))
    return UsageRows(rows, unmapped)
