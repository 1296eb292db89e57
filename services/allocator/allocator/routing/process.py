"""Routing in a process of its own, beside the worker
(docs/decisions/0003-routing-in-its-own-process.md).

The router process reads the source topics, forwards the pieces to the inputs topic
with a producer of its own and commits what it routed, exactly as `SourceRouter`
does in the worker (it is the same class).

The worker tells it the reach (it follows the graph) and takes in its figures for
/metrics: a report per batch and the lag once a second. The process exits when the
worker closes its end of the pipe, or dies; the worker starts it again if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from aiokafka import AIOKafkaProducer

from allocator import gcpolicy, metrics
from allocator.routing.consumer import (
    RouterOptions,
    SourceRouter,
    record,
    rejecter,
    source_consumer,
)
from allocator.routing.pieces import NO_COPIES, Reach, forward_batch
from finops.adapters.dead_letters import DeadLetters
from finops.contracts.codec import encode_event
from finops.contracts.events import DayInputsRouted, NodeCostsReported, UsageReported

__all__ = ["RouterIdle", "RouterProcess"]

_log = logging.getLogger(__name__)
RESTART_AFTER_S = 1.0  # a router process that died is started again after this
LAG_EVERY_S = 1.0
STOP_WAIT_S = 5.0  # for the batch under way to be delivered and committed (one not
# committed is routed again: a replayed piece changes nothing)
PRODUCER_LINGER_MS = 5
PRODUCER_BATCH_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class RouterIdle:
    """Seconds without a committed batch, at `at` (time.monotonic()), and why the
    last batch failed ("" when it did not)."""

    seconds: float
    failure: str
    at: float

    def seconds_now(self) -> float:
        """Seconds without a committed batch, now."""
        return self.seconds + time.monotonic() - self.at


class RouterProcess:
    """The worker's side: starts the process, tells it the reach, takes its figures."""

    def __init__(self, options: RouterOptions) -> None:
        self._options = options
        self._reach: Reach | None = None
        self._lag: dict[str, int] = dict.fromkeys(options.topics, 0)
        self._commands: Connection | None = None
        # As last reported: seconds since a batch was committed, and why the last
        # batch failed ("" when it did not); reported with the lag.
        self._idle = RouterIdle(0.0, "", time.monotonic())

    def set_reach(self, reach: Reach) -> None:
        """The graph's reach (the dates a usage row is copied to); routing starts
        once it is known."""
        self._reach = reach
        self._send(("reach", reach))

    def lag(self) -> dict[str, int]:
        """Messages not yet routed, per source topic, as last reported."""
        return dict(self._lag)

    def idle(self) -> RouterIdle:
        """How long the router has not committed a batch, and why, as last reported
        (the time since that report is added)."""
        return self._idle

    async def run(self) -> None:
        """Keep a router process running until cancelled (then it is stopped)."""
        while True:
            process, reports = self._start()
            died = asyncio.get_running_loop().create_future()
            pump = threading.Thread(
                target=self._pump,
                args=(reports, died),
                name="finops-router-reports",
                daemon=True,
            )
            pump.start()
            try:
                await died
            finally:
                await self._stop(process)
                await asyncio.to_thread(pump.join, STOP_WAIT_S)
            _log.error("the router process exited (%s); restarting", process.exitcode)
            await asyncio.sleep(RESTART_AFTER_S)

    def _start(self) -> tuple[BaseProcess, Connection]:
        context = multiprocessing.get_context("spawn")  # the worker runs threads
        commands_in, commands = context.Pipe(duplex=False)  # (reader, writer)
        reports, reports_out = context.Pipe(duplex=False)
        process = context.Process(
            target=serve,
            args=(commands_in, reports_out, self._options),
            name="finops-allocator-router",
            daemon=True,
        )
        process.start()
        commands_in.close()
        reports_out.close()
        self._commands = commands
        _log.info("router process %s started", process.pid)
        if self._reach is not None:
            self._send(("reach", self._reach))
        return process, reports

    def _send(self, command: tuple[str, Any]) -> None:
        if self._commands is None:
            return
        try:
            self._commands.send(command)
        except OSError:  # the process died: the next one is told on start
            _log.warning("the router process did not take %s", command[0])

    def _pump(self, reports: Connection, died: asyncio.Future[None]) -> None:
        """In a thread: apply the process's reports until its end closes."""
        loop = died.get_loop()
        try:
            while True:
                kind, value = reports.recv()
                if kind == "routed":
                    record(value)
                elif kind == "lag":
                    self._lag, (idle_s, failure) = value
                    self._idle = RouterIdle(idle_s, failure, time.monotonic())
        except (EOFError, OSError):
            pass
        finally:
            reports.close()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, died)

    async def _stop(self, process: BaseProcess) -> None:
        """Close the commands pipe (the process stops routing and exits); kill it
        if it does not."""
        commands, self._commands = self._commands, None
        if commands is not None:
            commands.close()
        await asyncio.to_thread(process.join, STOP_WAIT_S)
        if process.is_alive():
            _log.warning("the router process did not stop; killed")
            process.kill()
            await asyncio.to_thread(process.join, 5)
        for topic in self._lag:
            metrics.CONSUMER_LAG.labels(topic).set(0)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Forwarder:
    """route_batch of the service, with a producer of the router process's own."""

    def __init__(self, producer: AIOKafkaProducer, options: RouterOptions) -> None:
        self._producer, self._options = producer, options
        self.reach = NO_COPIES

    async def route_batch(
        self, events: list[tuple[NodeCostsReported | UsageReported, str]]
    ) -> int:
        return await forward_batch(
            events,
            reach=self.reach,
            partitions=self._options.partitions,
            forward=self._send,
        )

    async def _send(self, partition: int, piece: DayInputsRouted) -> None:
        await self._producer.send(
            self._options.inputs_topic,
            value=encode_event(piece),
            key=piece.charge_date.isoformat().encode(),
            partition=partition,
        )


def serve(commands: Connection, reports: Connection, options: RouterOptions) -> None:
    """The router process: route until the worker closes its end of the pipe."""
    gcpolicy.relax()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when we stop
    logging.basicConfig(
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[router]: %(message)s",
    )
    asyncio.run(_route(commands, reports, options))


async def _route(
    commands: Connection, reports: Connection, options: RouterOptions
) -> None:
    ready, stop = asyncio.Event(), asyncio.Event()
    producer = AIOKafkaProducer(
        bootstrap_servers=options.bootstrap_servers,
        client_id=f"{options.client_id}-producer",
        acks="all",
        linger_ms=PRODUCER_LINGER_MS,
        max_batch_size=PRODUCER_BATCH_BYTES,
        **options.security(),
    )
    forwarder = _Forwarder(producer, options)
    await producer.start()
    router = SourceRouter(
        forwarder,
        source_consumer(options),
        bootstrap_servers=options.bootstrap_servers,
        ready=ready,
        flush=producer.flush,
        reject=rejecter(
            DeadLetters(producer, consumer="allocator", namespace=options.namespace),
            options.namespace,
        ),
        report=lambda report: _report(reports, "routed", report),
        security=options.security(),
        reach=lambda: forwarder.reach,
        group_id=options.group_id,
    )
    _start_listening(commands, forwarder, router, ready, stop)
    routing = asyncio.create_task(
        router.run(options.topics, legacy_group=options.legacy_group)
    )
    lag = asyncio.create_task(_report_lag(router, reports))
    try:
        await stop.wait()
    finally:
        lag.cancel()
        routing.cancel()
        await asyncio.gather(routing, lag, return_exceptions=True)
        await producer.stop()
        reports.close()


def _start_listening(
    commands: Connection,
    forwarder: _Forwarder,
    router: SourceRouter,
    ready: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """A thread takes the worker's commands: the reach (routing starts once it is
    known), then the pipe closing (stop)."""
    loop = asyncio.get_running_loop()

    def reach(value: Reach) -> None:
        if value != forwarder.reach:
            router.reach_changed()
        forwarder.reach = value
        ready.set()

    listener = threading.Thread(
        target=_listen,
        args=(
            commands,
            lambda value: loop.call_soon_threadsafe(reach, value),
            lambda: loop.call_soon_threadsafe(stop.set),
        ),
        name="finops-router-commands",
        daemon=True,
    )
    listener.start()


def _listen(
    commands: Connection, reach: Callable[[Reach], None], stop: Callable[[], None]
) -> None:
    """In a thread: commands from the worker; its end closing means stop."""
    try:
        while True:
            kind, value = commands.recv()
            if kind == "reach":
                reach(value)
    except (EOFError, OSError):
        stop()


def _report(reports: Connection, kind: str, value: Any) -> None:
    with contextlib.suppress(OSError):  # the worker is gone: we stop soon
        reports.send((kind, value))


async def _report_lag(router: SourceRouter, reports: Connection) -> None:
    while True:
        await asyncio.sleep(LAG_EVERY_S)
        with contextlib.suppress(Exception):  # no assignment yet, or a rebalance
            idle = (time.monotonic() - router.progress_at, router.failure)
            _report(reports, "lag", (await router.lag(), idle))
