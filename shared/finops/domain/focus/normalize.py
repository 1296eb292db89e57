"""Bill files to node costs: stream, validate, map to nodes, spread over days."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from finops.domain.focus.aggregate import (
    UNIT_COSTS_SCHEMA,
    rounded_costs,
    sum_unit_costs,
)
from finops.domain.focus.bills import BillLayout, open_layout, read_bill
from finops.domain.focus.columns import FIELD_COLUMNS
from finops.domain.focus.lines import ParsedLines, parse_lines
from finops.domain.focus.linetable import build_line_table, line_sources
from finops.domain.focus.mapping import MappingRules, assign_nodes, render_dimension
from finops.domain.focus.parsing import UTC_US
from finops.domain.focus.readers import Progress, RawBatch
from finops.domain.focus.rejects import (
    Check,
    Reject,
    collect_rejects,
    holds_control_characters,
)
from finops.domain.focus.restatement import PartitionKey, partitions_of
from finops.domain.focus.spread import spread_over_days
from finops.domain.focus.view import BatchView, base_column

__all__ = [
    "NormalizedBatch",
    "absent_columns",
    "costs_from_lines",
    "iter_normalized",
    "normalize_batch",
    "normalize_file",
    "spread_costs",
    "unit_costs_from_lines",
    "wanted_columns",
]

_REQUIRED_COLUMNS = (
    "ProviderName",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
)
# Read whenever present: the default source of a line is `provider:billing account`.
_SOURCE_COLUMNS = ("BillingAccountId",)


@dataclass(frozen=True, slots=True)
class NormalizedBatch:
    """What one batch of a file became: node costs, rejects and (optionally) lines.

    `unit_costs` are exact (UNIT_COSTS_SCHEMA): per (source, billing period), node,
    day and dimension, not rounded yet. With lines, `partitions` names the
    (source, billing period) pairs they state.
    """

    file: str
    layout: str
    rows_read: int
    unit_costs: pa.Table
    rejects: tuple[Reject, ...]
    lines: pa.Table | None = None
    provider_totals: dict[str, int] = field(default_factory=dict)
    # What rounding each line took off, per provider (10^-12): totals round once.
    provider_picos: dict[str, int] = field(default_factory=dict)
    partitions: frozenset[PartitionKey] = frozenset()
    absent_columns: tuple[str, ...] = ()

    @property
    def costs(self) -> pa.Table:
        """Node costs of this batch alone (each unit's sum rounded once)."""
        return rounded_costs(self.unit_costs)

    @property
    def rows_accepted(self) -> int:
        """Rows that became costs."""
        return self.rows_read - len(self.rejects)


def wanted_columns(rules: MappingRules, *, keep_lines: bool) -> list[str]:
    """FOCUS columns to read: required ones, the cost, and what the rules use."""
    names = [
        *_REQUIRED_COLUMNS,
        *_SOURCE_COLUMNS,
        rules.cost_column,
        *sorted(rules.referenced_columns()),
    ]
    if keep_lines:
        names += [candidates[-1] for candidates in FIELD_COLUMNS.values()]
    return list(dict.fromkeys(names))


def absent_columns(rules: MappingRules, layout: BillLayout) -> tuple[str, ...]:
    """Columns the rules name that this file lacks (likely a typo or another layout)."""
    names = sorted(rules.referenced_columns())
    return tuple(n for n in names if layout.columns.column_for(base_column(n)) is None)


def normalize_file(
    path: Path,
    rules: MappingRules,
    *,
    source: str | None = None,
    profile: str | None = None,
    bill_format: str = "auto",
    keep_lines: bool = False,
    on_progress: Progress | None = None,
) -> Iterator[NormalizedBatch]:
    """Stream one bill file as normalised batches; refuses an unknown layout first.

    `source` names who states these lines for restatement; by default each line's
    `provider:billing account`. Lines (with `keep_lines`) carry their line number.
    `bill_format` is `auto` (the layout from the header) or `cur` (an AWS CUR).
    """
    layout = open_layout(
        path, required=(rules.cost_column,), profile=profile, bill_format=bill_format
    )
    wanted = wanted_columns(rules, keep_lines=keep_lines)
    for raw in read_bill(path, layout, wanted, on_progress=on_progress):
        yield normalize_batch(
            raw, layout, rules, file=str(path), source=source, keep_lines=keep_lines
        )


def normalize_batch(
    raw: RawBatch,
    layout: BillLayout,
    rules: MappingRules,
    *,
    file: str,
    source: str | None = None,
    keep_lines: bool = False,
) -> NormalizedBatch:
    """Validate, map and spread one batch of rows."""
    view = BatchView(raw.table, layout.columns)
    parsed, rejects = parse_lines(raw, view, cost_column=rules.cost_column, file=file)
    nodes = assign_nodes(rules, parsed.view.text, parsed.view.num_rows)
    dimensions = render_dimension(rules, parsed.view.text, parsed.view.num_rows)
    parsed, nodes, dimensions, refused = _refuse_control_characters(
        parsed, nodes, dimensions, file=file
    )
    rejects = [*rejects, *refused]
    lines = None
    if keep_lines:
        lines = build_line_table(parsed, nodes, dimensions, source=source)
    units = spread_costs(
        parsed.cost,
        parsed.charge_period_start,
        parsed.charge_period_end,
        picos=parsed.cost_pico,
        units=_units(parsed, source),
        nodes=nodes,
        dimensions=dimensions,
    )
    return NormalizedBatch(
        file=file,
        layout=layout.name,
        rows_read=raw.table.num_rows + len(raw.malformed),
        unit_costs=units,
        rejects=tuple(sorted((*raw.malformed, *rejects), key=lambda r: r.line)),
        lines=lines,
        provider_totals=_provider_totals(parsed.cost, parsed),
        provider_picos=_provider_totals(parsed.cost_pico, parsed),
        partitions=frozenset(partitions_of(lines))
        if lines is not None
        else frozenset(),
        absent_columns=absent_columns(rules, layout),
    )


def _refuse_control_characters(
    parsed: ParsedLines, nodes: pa.Array, dimensions: pa.Array, *, file: str
) -> tuple[ParsedLines, pa.Array, pa.Array, list[Reject]]:
    """Rows whose mapped node or dimension (rendered from tags) holds a control
    character are rejected: identifiers never carry one (finops.domain.identifiers)."""
    checks = [
        Check(
            f"mapped {name} holds a control character", holds_control_characters(v), v
        )
        for name, v in (("node", nodes), ("dimension", dimensions))
        for held in [holds_control_characters(v)]
    ]
    rejected, refused = collect_rejects(file, parsed.lines, checks)
    if not rejected.any():
        return parsed, nodes, dimensions, []
    keep = ~rejected
    mask = pa.array(keep)
    return parsed.keep(keep), nodes.filter(mask), dimensions.filter(mask), refused


def _provider_totals(amounts: NDArray[np.int64], parsed: ParsedLines) -> dict[str, int]:
    """Accepted amounts (micro-units, or their pico-unit remainders) per provider."""
    provider = parsed.view.text("ProviderName")
    table = pa.table({"provider": provider, "cost": amounts})
    sums = table.group_by("provider", use_threads=False).aggregate([("cost", "sum")])
    names, amounts = sums["provider"].to_pylist(), sums["cost_sum"].to_pylist()
    return dict(zip(names, amounts, strict=True))


def _units(parsed: ParsedLines, source: str | None) -> tuple[pa.Array, pa.Array]:
    """Each line's unit of restatement: its source and billing period's first day."""
    period = pa.array(parsed.billing_period_start, pa.int64()).cast(UTC_US)
    return line_sources(parsed, source), pc.cast(period, pa.date32())


def spread_costs(
    cost: NDArray[np.int64],
    start_us: NDArray[np.int64],
    end_us: NDArray[np.int64],
    *,
    picos: NDArray[np.int64],
    units: tuple[pa.Array, pa.Array],
    nodes: pa.Array,
    dimensions: pa.Array,
) -> pa.Table:
    """Exact unit costs (UNIT_COSTS_SCHEMA) of lines spread over days and summed per
    (source, billing period), node, date and dimension; nothing is rounded."""
    spread = spread_over_days(cost, start_us, end_us, picos)
    keys = [*units, nodes, dimensions]
    if len(spread.rows) != len(nodes):
        rows = pa.array(spread.rows)
        keys = [pc.take(k, rows) for k in keys]
    days = pa.array(spread.days.astype(np.int32), pa.int32()).cast(pa.date32())
    table = pa.table(
        {
            "source": keys[0],
            "period": keys[1],
            "node": keys[2],
            "date": days,
            "dimension": keys[3],
            "amount_micros": pa.array(spread.amounts, pa.int64()),
            "amount_picos": pa.array(spread.picos, pa.int64()),
        }
    )
    return sum_unit_costs(table.cast(UNIT_COSTS_SCHEMA))


def unit_costs_from_lines(lines: pa.Table) -> pa.Table:
    """Exact unit costs of normalised lines (a line table, e.g. stored lines)."""
    ints = [
        lines[name].cast(pa.int64()).to_numpy()
        for name in ("cost_micros", "charge_period_start", "charge_period_end")
    ]
    picos = (
        np.asarray(pc.fill_null(lines["cost_picos"], 0), dtype=np.int64)
        if "cost_picos" in lines.column_names
        else np.zeros(lines.num_rows, dtype=np.int64)
    )
    periods = pc.cast(lines["billing_period_start"], pa.date32())
    return spread_costs(
        *ints,
        picos=picos,
        units=(lines["source"].combine_chunks(), periods.combine_chunks()),
        nodes=lines["node"].combine_chunks(),
        dimensions=lines["dimension"].combine_chunks(),
    )


def costs_from_lines(lines: pa.Table) -> pa.Table:
    """Node costs of normalised lines (e.g. after a restatement), rounded once per
    unit of restatement, node, day and dimension."""
    return rounded_costs(unit_costs_from_lines(lines))


def iter_normalized(
    paths: Iterable[Path], rules: MappingRules, **options: Any
) -> Iterator[NormalizedBatch]:
    """Normalise several files one after the other (options of `normalize_file`)."""
    for path in paths:
        yield from normalize_file(path, rules, **options)
