"""Validated bill lines of one batch: costs in micro-units, UTC periods, rejects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from finops.domain.focus.columns import FIELD_COLUMNS
from finops.domain.focus.parsing import (
    sub_micro_picos,
    to_micros_array,
    to_utc_array,
)
from finops.domain.focus.readers import RawBatch
from finops.domain.focus.rejects import Check, Reject, collect_rejects
from finops.domain.focus.spread import DAY_MICROSECONDS
from finops.domain.focus.view import BatchView
from finops.domain.money import MAX_AMOUNT_UNITS, out_of_range
from finops.domain.periods import FIRST_DAY, LAST_DAY

__all__ = ["MAX_PERIOD_DAYS", "ParsedLines", "parse_lines"]

# Longer periods are data errors (a 3-year commitment is 1,096 days), and would
# spread one line over millions of days.
MAX_PERIOD_DAYS: Final = 3_660
EPOCH: Final = date(1970, 1, 1)
_PERIOD_FIELDS = ("billing_period_start", "charge_period_start", "charge_period_end")


@dataclass(frozen=True, slots=True)
class ParsedLines:
    """Accepted rows of a batch with their parsed cost and periods (UTC, us)."""

    view: BatchView
    lines: NDArray[np.int64]
    cost: NDArray[np.int64]
    billing_period_start: NDArray[np.int64]
    charge_period_start: NDArray[np.int64]
    charge_period_end: NDArray[np.int64]
    # What rounding each cost to micro-units took off, in pico-units (10^-12): sums
    # of costs add these up and round once (finops.domain.focus.aggregate).
    cost_pico: NDArray[np.int64]

    def keep(self, rows: NDArray[np.bool_]) -> ParsedLines:
        """Only the rows where `rows` is true."""
        return ParsedLines(
            view=self.view.filter(pa.array(rows)),
            lines=self.lines[rows],
            cost=self.cost[rows],
            billing_period_start=self.billing_period_start[rows],
            charge_period_start=self.charge_period_start[rows],
            charge_period_end=self.charge_period_end[rows],
            cost_pico=self.cost_pico[rows],
        )


def _timestamps(view: BatchView, field: str) -> tuple[pa.Array, Check, Check]:
    """Parsed UTC timestamps of a period field with its missing and invalid checks."""
    values = view.field(field)
    assert values is not None  # resolve_columns guarantees the required fields
    parsed, bad = to_utc_array(values)
    name = view.columns.label(view.columns.columns[field])
    missing = Check(f"missing {name}", _nulls(values))
    return parsed, missing, Check(f"{name} is not a valid timestamp", bad, values)


def _nulls(values: pa.Array) -> NDArray[np.bool_]:
    """Which values are null."""
    return np.asarray(pc.is_null(values), dtype=np.bool_)


def _as_int64(values: pa.Array) -> NDArray[np.int64]:
    """Integers of an int64 or timestamp array without nulls, as numpy."""
    return np.asarray(pc.fill_null(values.cast(pa.int64()), 0), dtype=np.int64)


def _parse_checked(
    view: BatchView, cost_column: str
) -> tuple[dict[str, pa.Array], list[Check]]:
    """Cost and period arrays of a batch and the checks, in reporting order."""
    cost_values = view.raw(cost_column)
    assert cost_values is not None  # the cost column is required by the layout
    cost, cost_bad = to_micros_array(cost_values)
    arrays = {"cost": cost, "cost_pico": pa.array(sub_micro_picos(cost_values))}
    label = view.columns.label(cost_column)
    checks = [
        Check(f"missing {_provider_name(view)}", _provider_nulls(view)),
        Check(f"missing {label}", _nulls(cost_values)),
        Check(f"{label} is not a number", cost_bad, cost_values),
        Check(
            f"{label} is outside the supported range (+-{MAX_AMOUNT_UNITS:,})",
            out_of_range(_as_int64(cost)),
            cost_values,
        ),
    ]
    for field in _PERIOD_FIELDS:
        arrays[field], missing, invalid = _timestamps(view, field)
        checks += [missing, invalid]
    checks += _period_checks(arrays["charge_period_start"], arrays["charge_period_end"])
    return arrays, checks


def _period_checks(start: pa.Array, end: pa.Array) -> list[Check]:
    """A charge period must not end before it starts, nor last beyond belief."""
    before = np.asarray(pc.fill_null(pc.less(end, start), False), dtype=np.bool_)
    length = pc.subtract(end.cast(pa.int64()), start.cast(pa.int64()))
    too_long = pc.fill_null(
        pc.greater(length, MAX_PERIOD_DAYS * DAY_MICROSECONDS), False
    )
    first = (FIRST_DAY - EPOCH).days * DAY_MICROSECONDS
    after_last = ((LAST_DAY - EPOCH).days + 1) * DAY_MICROSECONDS
    outside = pc.or_(
        pc.less(start.cast(pa.int64()), first),
        pc.greater(end.cast(pa.int64()), after_last),
    )
    return [
        Check("ChargePeriodEnd is before ChargePeriodStart", before),
        Check(
            f"charge period longer than {MAX_PERIOD_DAYS} days", np.asarray(too_long)
        ),
        Check(
            f"charge period outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}",
            np.asarray(pc.fill_null(outside, False)),
        ),
    ]


def parse_lines(
    raw: RawBatch, view: BatchView, *, cost_column: str, file: str
) -> tuple[ParsedLines, list[Reject]]:
    """Parse cost and periods of a batch; rows that fail go to the rejects."""
    arrays, checks = _parse_checked(view, cost_column)
    rejected, rejects = collect_rejects(file, raw.lines, checks)
    if rejected.any():
        keep = pa.array(~rejected)
        view = view.filter(keep)
        arrays = {name: a.filter(keep) for name, a in arrays.items()}
    parsed = ParsedLines(
        view=view,
        lines=raw.lines[~rejected],
        **{name: _as_int64(a) for name, a in arrays.items()},
    )
    return parsed, rejects


def _provider_name(view: BatchView) -> str:
    """The provider column name of this file's FOCUS version."""
    return view.columns.columns.get("provider", FIELD_COLUMNS["provider"][0])


def _provider_nulls(view: BatchView) -> NDArray[np.bool_]:
    """Rows without a provider."""
    values = view.field("provider")
    return np.zeros(view.num_rows, np.bool_) if values is None else _nulls(values)
