"""How long the allocator and ingest take to stop on SIGTERM with work under way.

Allocator: a synthetic organisation is published to Kafka at once, and SIGTERM is
sent when the first dates are stored (a backlog of routing, applying and passes is
left). Ingest: SIGTERM while a client is half-way through a slow upload. Each runs
on a broker and database of its own; the figure is SIGTERM -> process exit.

    python bench/bench_sigterm.py [--runs 3] [--nodes 600] [--days 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finops.adapters.input_feed import publish_files  # noqa: E402
from finops.contracts.settings import KafkaSettings, PostgresSettings  # noqa: E402
from finops.domain.allocation.synth import SynthOptions, generate_org  # noqa: E402
from finops.formats.engine_files import write_org  # noqa: E402
from tests.support.allocator_process import AllocatorProcess  # noqa: E402
from tests.support.cli import finops  # noqa: E402
from tests.support.fault_stack import FaultStack, fault_stack  # noqa: E402
from tests.support.service_process import start_service  # noqa: E402
from tests.support.tokens import create_token  # noqa: E402


def _allocator_stop(stack: FaultStack, work: Path, nodes: int, days: int) -> float:
    kafka = KafkaSettings(
        bootstrap_servers=stack.kafka.bootstrap_servers,
        topic_namespace=f"b{uuid.uuid4().hex[:8]}",
    )
    env = {**os.environ, **stack.env(), "KAFKA_TOPIC_NAMESPACE": kafka.topic_namespace}
    org = work / "org"
    options = SynthOptions(nodes=nodes, edges=nodes * 3, days=days, dimensions=2)
    write_org(generate_org(options), org)
    finops(env, "graph", "apply", str(org / "graph.json"))
    worker = AllocatorProcess(kafka, stack.postgres, work)
    worker.start()
    asyncio.run(
        publish_files(
            kafka, costs=org / "costs.csv", usage=org / "usage.csv", known=None
        )
    )
    while "finops_allocator_days_stored_total{" not in worker.metrics():
        time.sleep(0.05)
    lag = [
        line
        for line in worker.metrics().splitlines()
        if line.startswith("finops_allocator_consumer_lag")
    ]
    began = time.monotonic()
    code = worker.stop(signal.SIGTERM, timeout_s=120)
    took = time.monotonic() - began
    print(f"  allocator exit {code} after {took:.1f} s; lag then: {lag}", flush=True)
    return took


def _ingest_stop(stack: FaultStack, work: Path) -> float:
    schema = "public"
    postgres = PostgresSettings(DATABASE_URL=stack.postgres.database_url)
    token = asyncio.run(create_token(postgres))
    env = {
        **stack.env(),
        "DATABASE_SCHEMA": schema,
        "INGEST_SPOOL_DIR": str(work / "spool"),
        "INGEST_DROP_DIR": str(work / "drop"),
    }
    ingest = start_service("ingest", "INGEST_", env, work / "ingest.log")
    half = threading.Event()

    def slowly() -> Iterator[bytes]:
        yield b"node,date,dimension,amount\n" + b"a,2025-01-01,c,1\n" * 1000
        half.set()
        for _ in range(600):
            time.sleep(0.1)
            yield b"a,2025-01-01,c,1\n"

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{ingest.url}/ingests",
                params={"filename": "slow.csv", "format": "node-costs"},
                content=slowly(),
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )

    threading.Thread(target=send, daemon=True).start()
    half.wait(30)
    began = time.monotonic()
    ingest.process.send_signal(signal.SIGTERM)
    try:
        ingest.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        ingest.process.kill()
    took = time.monotonic() - began
    print(f"  ingest exit {ingest.process.returncode} after {took:.1f} s", flush=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=600)
    parser.add_argument("--days", type=int, default=20)
    args = parser.parse_args()
    allocator, ingest = [], []
    with fault_stack() as stack:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="finops-sigterm-") as folder:
                print(f"run {run + 1}", flush=True)
                allocator.append(
                    _allocator_stop(stack, Path(folder), args.nodes, args.days)
                )
                ingest.append(_ingest_stop(stack, Path(folder)))
    print("SIGTERM -> exit with work under way (s):")
    print("  allocator: " + ", ".join(f"{s:.1f}" for s in allocator))
    print("  ingest:    " + ", ".join(f"{s:.1f}" for s in ingest))


if __name__ == "__main__":
    main()
