"""`finops demo`: the whole path on a synthetic organisation, through the stack."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from finops.adapters.graphlog import apply_graph
from finops.adapters.input_feed import publish_files
from finops.adapters.stored_results import fetch_document, fetch_top_products
from finops.contracts.settings import DevStackSettings, KafkaSettings, PostgresSettings
from finops.domain.allocation.readout import summarize
from finops.domain.allocation.synth import SynthOptions, generate_org
from finops.domain.money import format_micros
from finops.errors import StackError
from finops.formats.engine_files import load_engine, write_org
from finops_tools.cli.graph import load_valid_graph
from finops_tools.devstack import Stack

__all__ = ["register"]


def _say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


demo_app = typer.Typer(
    help="Run the whole path on a synthetic organisation (leaves the stack running).",
    invoke_without_command=True,
)


@demo_app.callback()
def demo(
    ctx: typer.Context,
    nodes: int = typer.Option(300, help="Nodes of the synthetic organisation."),
    days: int = typer.Option(30, help="Days of costs and usage."),
    timeout: float = typer.Option(300, help="Seconds to wait for the results."),
    prometheus: str | None = typer.Option(
        None,
        envvar="FINOPS_DEMO_PROMETHEUS",
        help="Also pull today's CPU usage of the services from this Prometheus "
        "(one scraping them, e.g. with deploy/prometheus/prometheus.local.yml).",
    ),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    settings = DevStackSettings()
    stack = Stack(
        settings,
        external_kafka=settings.external_kafka,
        external_database=settings.external_database_url,
    )
    _say("starting the local stack (finops dev up)")
    # up() applies the migrations before it starts the services.
    stack.up(services=True, progress=lambda m: _say(m))
    kafka = KafkaSettings(bootstrap_servers=stack.bootstrap_servers)
    postgres = PostgresSettings(DATABASE_URL=stack.database_url)
    org = _synthesise(settings.state_dir / "demo", nodes=nodes, days=days)
    version, _ = asyncio.run(apply_graph(kafka, load_valid_graph(org / "graph.json")))
    _say(f"graph applied (version {version})")
    _feed(kafka, org)
    expected = summarize(
        load_engine(org / "graph.json", org / "costs.csv", org / "usage.csv")
    ).to_json()
    _wait(postgres, expected, days=days, timeout_s=timeout)
    asyncio.run(_report(postgres, expected))
    if prometheus:
        _pull_service_usage(prometheus)
    print("\nThe stack is still running; stop it with: finops dev down")


def _pull_service_usage(prometheus: str) -> None:
    """Today's CPU seconds per service, through `finops usage pull` (optional)."""
    today = datetime.now(UTC).date().isoformat()
    command = [
        sys.executable,
        "-m",
        "finops_tools.cli",
        "usage",
        "pull",
        "--prometheus",
        prometheus,
        "--query",
        'sum by (instance) (increase(process_cpu_seconds_total{job="finops"}[1d]))',
        "--metric",
        "cpu_seconds",
        "--node",
        "service-{instance}",
        "--from",
        today,
        "--to",
        today,
        "--source",
        "demo-prometheus",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    outcome = done.stdout.strip() or done.stderr.strip()[-300:]
    _say(f"usage pulled from {prometheus}: {outcome}")


def _feed(kafka: KafkaSettings, org: Path) -> None:
    """Costs and usage through `finops ingest`; straight to Kafka if that fails."""
    commands = [
        [
            sys.executable,
            "-m",
            "finops_tools.cli",
            "ingest",
            "--format",
            fmt,
            str(path),
            "--source",
            "demo",
        ]
        for fmt, path in (
            ("usage", org / "usage.csv"),
            ("node-costs", org / "costs.csv"),
        )
    ]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            _say(
                f"finops ingest failed ({done.stderr.strip()[-200:]}); "
                "publishing the files to Kafka directly"
            )
            sent = asyncio.run(
                publish_files(
                    kafka,
                    costs=org / "costs.csv",
                    usage=org / "usage.csv",
                    known=None,
                    source="demo",
                )
            )
            _say(f"published {sent} cost and usage events")
            return
        _say(f"ingested {command[5]}: {done.stdout.strip()[-200:]}")
    _say("costs and usage ingested; waiting for the allocator")


def _synthesise(out: Path, *, nodes: int, days: int) -> Path:
    options = SynthOptions(
        nodes=nodes, edges=nodes * 3, days=days, dimensions=3, seed=1
    )
    write_org(generate_org(options), out)
    _say(f"synthetic organisation of {nodes} nodes and {days} days in {out}")
    return out


def _wait(
    postgres: PostgresSettings, expected: dict[str, Any], *, days: int, timeout_s: float
) -> None:
    """Poll the stored results until every day is there and the totals match."""
    began = time.monotonic()
    while True:
        summary = asyncio.run(fetch_document(postgres, None, None))["summary"]
        _, stored = asyncio.run(fetch_top_products(postgres, 1))
        if stored >= days and summary == expected:
            _say(f"results stored in {time.monotonic() - began:.1f}s")
            return
        if time.monotonic() - began > timeout_s:
            raise StackError(
                f"results not complete after {timeout_s:.0f}s "
                f"({stored}/{days} days); see .finops/logs/allocator.log"
            )
        time.sleep(1)


async def _report(postgres: PostgresSettings, summary: dict[str, Any]) -> None:
    top, _ = await fetch_top_products(postgres, 10)
    print("Top products by holistic cost")
    for rank, (node, micros) in enumerate(top, start=1):
        print(f"{rank:>3}. {node:<16} {format_micros(micros):>18}")
    print(f"\nraw total          {summary['raw_total']:>18}")
    print(f"allocated to products {summary['allocated_to_products']:>15}")
    print(f"unallocated        {summary['unallocated']:>18}")
    print(f"coverage           {summary['coverage']:>18.2%}")
    print("(stored results equal `finops allocate` on the same files)")


@demo_app.command(
    help="The governance story: a lab budget, a signed webhook, VMs deallocated."
)
def governance(
    hours_per_second: float = typer.Option(
        18.0, min=0.1, help="Simulated hours per real second."
    ),
    timeout: float = typer.Option(300, help="Seconds the simulated month may take."),
) -> None:
    from finops_tools.cloudsim.story import run_governance_demo

    run_governance_demo(hours_per_second=hours_per_second, timeout_s=timeout)
    print("\nThe stack is still running; stop it with: finops dev down")


def register(app: typer.Typer) -> None:
    """Add `demo` (and `demo governance`)."""
    app.add_typer(demo_app, name="demo")
