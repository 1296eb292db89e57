"""Benchmark the running stack: FOCUS rows from upload to node-cost events in Kafka.

Starts Kafka and PostgreSQL with the devstack code on free ports (`finops dev up
--no-services`), migrates, starts the ingest service as a process, uploads a FOCUS CSV
made by replicating the real FOCUS 1.0 sample with `finops ingest`, and reads the
node-cost events back. Stops everything it started. Figures, not asserts.

    python bench/bench_ingest_stack.py              # 1,000,000 rows
    python bench/bench_ingest_stack.py --quick      # 100,000 rows
    python bench/bench_ingest_stack.py --rows 250000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_normalize import make_focus_csv

from finops.contracts.codec import decode_event
from finops.contracts.events import NodeCostsReported
from finops.contracts.topics import NODE_COSTS, topic_name

ROOT: Final = Path(__file__).resolve().parents[1]
RULES: Final = ROOT / "examples" / "rules" / "focus_sample.yaml"
FINOPS: Final = [sys.executable, "-m", "finops_tools.cli"]
NAMESPACE: Final = "bench"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_DATABASE_URL: Final = (
    "from finops_tools.cli.stack_address import dev_stack; "
    "print(dev_stack().database_url)"
)


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:])} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def _stack(root: Path) -> Iterator[dict[str, str]]:
    """Kafka and PostgreSQL of the devstack on free ports; `dev down` afterwards."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    }
    env |= {
        "FINOPS_STATE_DIR": str(root / ".finops"),
        "FINOPS_KAFKA_PORT": str(_free_port()),
        "FINOPS_KAFKA_CONTROLLER_PORT": str(_free_port()),
        "FINOPS_POSTGRES_PORT": str(_free_port()),
        "FINOPS_SERVICE_BASE_PORT": str(_free_port()),
    }
    try:
        _run([*FINOPS, "dev", "up", "--no-services"], env)
        status = {
            r["name"]: r
            for r in json.loads(_run([*FINOPS, "dev", "status", "--json"], env))
        }
        env |= {
            "KAFKA_BOOTSTRAP_SERVERS": str(status["kafka"]["address"]),
            # the status hides the password: the stack's own URL, as its services get it
            "DATABASE_URL": _run([sys.executable, "-c", _DATABASE_URL], env).strip(),
            "KAFKA_TOPIC_NAMESPACE": NAMESPACE,
        }
        _run([*FINOPS, "db", "migrate"], env)
        yield env
    finally:
        subprocess.run(
            [*FINOPS, "dev", "down"], env=env, capture_output=True, check=False
        )


@contextmanager
def _ingest_service(env: dict[str, str], root: Path) -> Iterator[tuple[str, int]]:
    """The ingest service as a process; SIGTERM afterwards."""
    port = _free_port()
    log = (root / "ingest.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**env, "INGEST_HTTP_PORT": str(port)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()
        if os.environ.get("BENCH_LOG"):
            print((root / "ingest.log").read_text(), file=sys.stderr)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit("the ingest service exited while starting")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the ingest service did not start")


async def _read_events(bootstrap: str) -> tuple[int, int, float]:
    """Node-cost events on the topic: count, total micro-units, last append time (s)."""
    topic = topic_name(NODE_COSTS, NAMESPACE)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, i) for i in range(NODE_COSTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        count = total = 0
        last = 0.0
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for messages in (await consumer.getmany(timeout_ms=5000)).values():
                for message in messages:
                    event = decode_event(message.value)
                    assert isinstance(event, NodeCostsReported)
                    count += 1
                    total += sum(c.amount_micros for c in event.costs)
                    last = max(last, message.timestamp / 1000)
        return count, total, last
    finally:
        await consumer.stop()


def _peak_rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def bench(rows: int) -> None:
    """Print the figures of one run."""
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        root = Path(tmp)
        source = root / f"focus_{rows}.csv"
        make_focus_csv(source, rows)
        size_mb = source.stat().st_size / 1e6
        with _stack(root) as env, _ingest_service(env, root) as (url, pid):
            command = [
                *FINOPS,
                "ingest",
                "--format",
                "focus",
                str(source),
                "--rules",
                str(RULES),
                "--source",
                "bench",
                "--url",
                url,
                "--json",
            ]
            started = time.time()
            result = json.loads(_run(command, env).splitlines()[-1])
            uploaded = time.time() - started
            count, total, last = asyncio.run(
                _read_events(env["KAFKA_BOOTSTRAP_SERVERS"])
            )
            rss = _peak_rss_mib(pid)
        _print(rows, size_mb, result, uploaded, last - started, count, total, rss)


def _print(
    rows: int,
    size_mb: float,
    result: dict[str, object],
    uploaded: float,
    to_events: float,
    count: int,
    total: int,
    rss: int,
) -> None:
    totals = result["provider_totals"]
    assert isinstance(totals, dict)
    stated = sum(round(float(v) * 1_000_000) for v in totals.values())
    print(f"{rows:,} FOCUS rows ({size_mb:,.0f} MB) through the stack:")
    print(
        f"  finops ingest returned after {uploaded:.2f} s "
        f"({rows / uploaded:,.0f} rows/s): {result['rows_accepted']:,} accepted, "
        f"{result['rows_rejected']:,} rejected"
    )
    print(
        f"  last node-cost event appended {to_events:.2f} s after the upload began; "
        f"{count:,} events, their total "
        f"{'equals' if total == stated else 'DIFFERS from'} the accepted totals"
    )
    print(f"  ingest service peak RSS {rss} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    bench(100_000 if args.quick else args.rows)


if __name__ == "__main__":
    main()
