"""Cold-start probes: committed offsets of the allocator group, restart phases."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["RestartPhases", "restart_phases", "wait_committed"]

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_READ = re.compile(r"(\w+): (\d+) changelog messages read in ([\d.]+)s")


async def _uncommitted(bootstrap_servers: str, group: str) -> int:
    """Messages of the group's input topics not yet committed (changelogs aside)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    inputs = [tp for tp in committed if not tp.topic.startswith(f"{group}-")]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(inputs)
    finally:
        await consumer.stop()
    return sum(max(0, ends[tp] - committed[tp].offset) for tp in inputs)


def wait_committed(bootstrap_servers: str, group: str, *, timeout_s: float) -> float:
    """Wait until the worker committed everything it consumed; returns seconds."""
    began = time.monotonic()
    while asyncio.run(_uncommitted(bootstrap_servers, group)) > 0:
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{group} did not commit within {timeout_s:.0f}s")
        time.sleep(1)
    return time.monotonic() - began


@dataclass
class RestartPhases:
    """Seconds after the process start, from the worker's log."""

    joined: float  # group joined and partitions assigned
    owned: float  # changelogs read, state rebuilt, partitions owned
    messages: int  # changelog messages read in bulk
    read_s: float  # the longest table's bulk read


def restart_phases(log_text: str, started: float) -> RestartPhases:
    """Phases of the restart whose log is log_text (started: time.time() at spawn)."""
    joined = owned = float("nan")
    messages, read_s = 0, 0.0
    for line in log_text.splitlines():
        stamp = _STAMP.match(line)
        if stamp is None:
            continue
        at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if "Successfully synced group" in line and joined != joined:
            joined = at - started
        elif (read := _READ.search(line)) is not None:
            messages += int(read.group(2))
            read_s = max(read_s, float(read.group(3)))
        elif "owns partitions" in line and owned != owned:
            owned = at - started
    return RestartPhases(joined, owned, messages, read_s)
