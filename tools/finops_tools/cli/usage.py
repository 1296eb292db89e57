"""`finops usage pull`: usage from Prometheus, uploaded as a usage file would be."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer

from finops.adapters.prometheus import PrometheusClient, pull_usage
from finops.domain.usage_pull import PullSpec, UsageRows
from finops.errors import InputError
from finops.formats.usagefile import write_usage_file
from finops_tools.cli.ingest import (
    check_running,
    default_url,
    ingest_client,
    upload_file,
)

__all__ = ["register", "usage_app"]

_PROMETHEUS_TIMEOUT: Final = httpx.Timeout(120.0, connect=5.0)
_UPLOAD_TIMEOUT: Final = httpx.Timeout(900.0, connect=5.0)

usage_app = typer.Typer(help="Usage metrics: pull them from Prometheus.")


def register(app: typer.Typer) -> None:
    """Add the `usage` command group."""
    app.add_typer(usage_app, name="usage")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: not a date (YYYY-MM-DD): {text!r}") from None


@usage_app.command(help="Pull usage from Prometheus, one figure per day and series.")
def pull(
    prometheus: Annotated[str, typer.Option("--prometheus", help="Prometheus URL.")],
    query: Annotated[str, typer.Option("--query", help="PromQL, e.g. a [1d] rate.")],
    metric: Annotated[str, typer.Option("--metric", help="Usage metric name.")],
    node: Annotated[str, typer.Option("--node", help="Node template, e.g. '{app}'.")],
    first: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    last: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    source: Annotated[
        str | None, typer.Option("--source", help="Default: prometheus:METRIC.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="The ingest service (default: stack's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    spec = _spec(prometheus, query, metric, node, source)
    start, end = _days(first, last)
    pulled = asyncio.run(_pull(spec, start, end))
    for labels in pulled.unmapped:
        _warn(f"series {json.dumps(labels)} lacks a label of --node {node!r}")
    result = _upload(pulled, spec, start, end, url)
    print(json.dumps(result) if as_json else _report(result, pulled))


def _spec(
    prometheus: str, query: str, metric: str, node: str, source: str | None
) -> PullSpec:
    fields: dict[str, Any] = {
        "name": metric,
        "prometheus": prometheus,
        "query": query,
        "metric": metric,
        "node": node,
        "source": source,
    }
    try:
        return PullSpec.model_validate(fields)
    except ValueError as exc:
        raise InputError(f"bad pull options: {exc}") from None


def _days(first: str, last: str) -> tuple[date, date]:
    """The days to pull; a start within a month replaces that month's earlier days."""
    start, end = _day(first, "--from"), _day(last, "--to")
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    today = datetime.now(UTC).date()
    if end > today:
        raise InputError(f"--to {end} is after today ({today}, UTC)")
    if end == today:
        _warn(f"{today} is not over: its figure covers the day so far")
    if start.day != 1:
        _warn(
            f"a pull states whole months: what source stated for {start:%Y-%m} "
            f"before {start} is replaced (start on {start:%Y-%m}-01 to keep it)"
        )
    return start, end


async def _pull(spec: PullSpec, start: date, end: date) -> UsageRows:
    async with httpx.AsyncClient(timeout=_PROMETHEUS_TIMEOUT) as http:
        return await pull_usage(PrometheusClient(http), spec, start, end)


def _upload(
    pulled: UsageRows, spec: PullSpec, start: date, end: date, url: str | None
) -> dict[str, Any]:
    """The rows as a usage file, uploaded with format=usage (the same checks)."""
    base = (url or default_url()).rstrip("/")
    with (
        tempfile.TemporaryDirectory(prefix="finops-pull-") as folder,
        ingest_client(base, None, timeout=_UPLOAD_TIMEOUT) as client,
    ):
        check_running(client, base)
        name = f"prometheus-{spec.name}-{start}-{end}.csv"
        path = write_usage_file(pulled.rows, Path(folder) / name)
        params = {"format": "usage", "source": spec.source_name}
        return upload_file(client, path, params)


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _report(result: dict[str, Any], pulled: UsageRows) -> str:
    again = " (already ingested; nothing changed)" if result.get("duplicate") else ""
    return (
        f"{len(pulled.rows)} usage figures pulled ({result['rows_accepted']} accepted, "
        f"{result['rows_rejected']} rejected) for source {result['source']}, months "
        f"{', '.join(result['billing_periods']) or 'none'}; ingest "
        f"{result['ingest_id']}{again}"
    )
