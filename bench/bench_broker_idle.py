"""The Kafka broker's CPU while its consumers poll and no message flows.

Run: python bench/bench_broker_idle.py [--seconds S] [--worker-wait-ms W] [--no-router]
     [--no-worker]

Starts a broker of the dev stack (the cached jars, 1 GiB heap as bench_stream.py), and
consumers like the allocator's: the worker's (6 partitions, FETCH_MAX_WAIT_MS or
--worker-wait-ms per fetch) and the router's (12 partitions, at least 64 KiB or 100 ms
per fetch). After a 30 s warm-up it prints the broker's CPU seconds over S seconds in
which nothing is produced: what each empty fetch costs the broker, the floor under its
CPU in bench_stream.py. Asserts nothing; the machine's load makes the figures noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from allocator.faustkafka import FETCH_MAX_WAIT_MS
from allocator.routing.consumer import FETCH_MIN_BYTES, FETCH_WAIT_MS
from finops_tools.devstack.kafka import (
    KafkaBroker,
    KafkaConfig,
    ensure_kafka_jars,
)
from finops_tools.devstack.layout import StackLayout

_ROOT = Path(__file__).resolve().parents[1]
_WARM_UP_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _consumers(servers: str, args: argparse.Namespace) -> list[AIOKafkaConsumer]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic("inputs", 6, 1), NewTopic("sources", 12, 1)]
        )
    finally:
        await admin.close()
    consumers = []
    if not args.no_worker:
        consumers.append(
            AIOKafkaConsumer(
                "inputs",
                bootstrap_servers=servers,
                group_id="worker",
                fetch_max_wait_ms=args.worker_wait_ms,
            )
        )
    if not args.no_router:
        consumers.append(
            AIOKafkaConsumer(
                "sources",
                bootstrap_servers=servers,
                group_id="router",
                fetch_max_wait_ms=FETCH_WAIT_MS,
                fetch_min_bytes=FETCH_MIN_BYTES,
            )
        )
    for consumer in consumers:
        await consumer.start()
    return consumers


async def _poll(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=1000)


async def _measure(servers: str, pid: int, args: argparse.Namespace) -> None:
    consumers = await _consumers(servers, args)
    polls = [asyncio.create_task(_poll(c)) for c in consumers]
    try:
        await asyncio.sleep(_WARM_UP_S)
        cpu, start = _cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        cpu, elapsed = _cpu_seconds(pid) - cpu, time.monotonic() - start
        threads = len(os.listdir(f"/proc/{pid}/task"))
        print(
            f"worker wait {'-' if args.no_worker else args.worker_wait_ms} ms, "
            f"router {'off' if args.no_router else 'on'}: broker CPU {cpu:.2f} s over "
            f"{elapsed:.1f} s = {100 * cpu / elapsed:.1f} % of a core, "
            f"{threads} threads"
        )
    finally:
        for task in polls:
            task.cancel()
        for consumer in consumers:
            await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--worker-wait-ms", type=int, default=FETCH_MAX_WAIT_MS)
    parser.add_argument("--no-router", action="store_true")
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args()
    cache = Path.home() / ".cache" / "finops"
    libs, _ = ensure_kafka_jars(_ROOT / "deploy" / "kafka" / "pom.xml", cache)
    state = Path(tempfile.mkdtemp(prefix="bench-broker-idle-"))
    config = KafkaConfig(_free_port(), _free_port(), "1g")
    broker = KafkaBroker(StackLayout(state, cache), config)
    pid = broker.start(libs, timeout_s=120.0)
    try:
        asyncio.run(_measure(config.bootstrap_servers, pid, args))
    finally:
        os.kill(pid, 15)
        while broker.is_running(pid):
            time.sleep(0.2)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
