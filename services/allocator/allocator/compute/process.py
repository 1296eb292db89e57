"""Charge dates allocated in a process of their own, on a core of their own
(docs/decisions/0006-compute-in-its-own-process.md).

It keeps what `LiveDays` keeps and a mirror of recent dates' inputs: a request
carries only the nodes changed since the date was last sent; forgets, clears and
evictions travel with the next request, in order. A process that died is started
again with nothing kept: each date is then sent and written whole.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import traceback
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from allocator import gcpolicy
from allocator.compute.encoding import ENCODE_NODES_FROM
from allocator.compute.group import Item
from allocator.compute.livedays import Computed, LiveDays
from allocator.inputs.days import DayInputs, Touched
from finops.domain.dag import CostGraph
from finops.errors import FinopsError

__all__ = ["ComputeFailed", "ComputeLost", "ComputeProcess"]

_log = logging.getLogger(__name__)
Changes = dict[tuple[str, str], Any]  # (source, node) -> new value, None: removed


class ComputeLost(RuntimeError):
    """The compute process died; it is started again and dates are written whole."""


class ComputeFailed(RuntimeError):
    """The allocation of a date raised an unexpected error in the compute process."""


@dataclass
class _Request:
    day: date
    touched: Touched
    full: bool  # costs and usage are the date's inputs whole, not changes
    costs: Changes
    usage: Changes
    graph: CostGraph | None = None  # a graph the process has not been sent yet
    clear: bool = False  # drop everything kept first (a rebalance)
    forget: list[date] = field(default_factory=list)  # frames not to trust
    evict: list[date] = field(default_factory=list)  # mirrors no longer kept
    encode_nodes_from: int | None = ENCODE_NODES_FROM


@dataclass
class _Reply:
    computed: Computed | None
    error: str | None = None
    finops_error: bool = False  # the error is the input's (FinopsError), not a bug


class ComputeProcess:
    """The main process's side: a LiveDays whose compute runs in the other process."""

    def __init__(
        self,
        *,
        engines: int,
        frames: int,
        encode_nodes_from: int | None = ENCODE_NODES_FROM,
    ) -> None:
        self._options = {"engines": engines, "frames": frames}
        self._encode_nodes_from = encode_nodes_from
        self._keep_mirrors = max(frames, engines)
        self.pending: dict[date, Touched] = {}
        self._mirrored: OrderedDict[date, None] = OrderedDict()
        self._sent_graph: CostGraph | None = None
        self._forget: set[date] = set()
        self._clear = False
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        # One request at a time: a request for several dates holds it until the
        # last of its replies has come.
        self._lock = asyncio.Lock()
        self._receiving: set[asyncio.Task[None]] = set()

    def touch(self, day: date, touched: Touched) -> None:
        """Nodes of a date changed by an input."""
        self.pending.setdefault(day, Touched()).add(touched)

    def take(self, day: date) -> Touched:
        """The changes of a date not yet computed (cleared)."""
        return self.pending.pop(day, None) or Touched()

    def forget(self, day: date) -> None:
        """The date's last results may not be stored: write it whole next time."""
        self._forget.add(day)

    def clear(self) -> None:
        """After a rebalance: nothing kept is trusted, no mirror either."""
        self._clear = True
        self._forget.clear()
        self._mirrored.clear()
        self.pending.clear()

    async def allocate_many(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> list[asyncio.Future[Computed | FinopsError]]:
        """Allocate dates in the compute process in one request (LiveDays.compute_each
        there): a future per date, each done when its reply comes (the process
        replies date by date, the first as soon as it is diffed)."""
        await self._lock.acquire()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Computed | FinopsError]] = [
            loop.create_future() for _ in items
        ]
        try:
            # One consistent view: the graph, clear and forget go with the first.
            requests = [self._request(graph, d, inputs, t) for d, inputs, t in items]
            await asyncio.to_thread(self._send, requests)
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, (EOFError, OSError)):
                await self._lost()
                raise ComputeLost("the compute process died before allocating") from exc
            raise
        days = [day for day, _, _ in items]
        task = asyncio.create_task(self._replies(days, futures))
        self._receiving.add(task)
        task.add_done_callback(self._receiving.discard)
        return futures

    async def _replies(
        self, days: list[date], futures: list[asyncio.Future[Computed | FinopsError]]
    ) -> None:
        """Receive one reply per date, in order, into its future; the lock is
        released once all have come (or the process died)."""
        try:
            for day, future in zip(days, futures, strict=True):
                try:
                    reply: _Reply = await asyncio.to_thread(self._receive)
                except (EOFError, OSError) as exc:
                    lost = ComputeLost(f"the compute process died allocating {day}")
                    lost.__cause__ = exc
                    for pending in futures:
                        if not pending.done():
                            pending.set_exception(lost)
                    await self._lost()
                    return  # each date's waiter raises it
                try:
                    future.set_result(_outcome(day, reply))
                except ComputeFailed as exc:
                    future.set_exception(exc)
        finally:
            self._lock.release()

    def _send(self, request: _Request | list[_Request]) -> None:
        if self._conn is None:
            self._start()
        assert self._conn is not None
        self._conn.send(request)

    def _receive(self) -> _Reply:
        assert self._conn is not None
        reply: _Reply = self._conn.recv()
        return reply

    async def allocate(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
    ) -> Computed:
        """Allocate a date in the compute process (LiveDays.compute there)."""
        async with self._lock:  # no reply of another request is still to come
            request = self._request(graph, day, inputs, touched)  # a consistent view
            try:
                reply: _Reply = await asyncio.to_thread(self._roundtrip, request)
            except (EOFError, OSError) as exc:
                await self._lost()
                raise ComputeLost(f"the compute process died allocating {day}") from exc
        outcome = _outcome(day, reply)
        if isinstance(outcome, FinopsError):
            raise outcome
        return outcome

    def _request(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
    ) -> _Request:
        full = day not in self._mirrored
        if full:  # values are replaced, never changed in place: copies are a snapshot
            costs, usage = dict(inputs.costs), dict(inputs.usage)
        else:
            costs = _changes(inputs.costs, touched.costs, touched.sources)
            usage = _changes(inputs.usage, touched.usage, touched.sources)
        self._mirrored[day] = None
        self._mirrored.move_to_end(day)
        evict = []
        while len(self._mirrored) > self._keep_mirrors:
            evict.append(self._mirrored.popitem(last=False)[0])
        request = _Request(
            day,
            touched,
            full,
            costs,
            usage,
            graph=None if graph is self._sent_graph else graph,
            clear=self._clear,
            forget=sorted(self._forget),
            evict=evict,
            encode_nodes_from=self._encode_nodes_from,
        )
        self._sent_graph, self._forget, self._clear = graph, set(), False
        return request

    def _roundtrip(self, request: _Request) -> _Reply:
        """Send a request and wait for its reply (in a worker thread)."""
        self._send(request)
        return self._receive()

    def _start(self) -> None:
        # spawn, not fork: the worker runs threads (Faust's consumer, asyncio's pool)
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve,
            args=(theirs, self._options),
            name="finops-allocator-compute",
            daemon=True,
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        _log.info("compute process %s started", process.pid)

    async def _lost(self) -> None:
        """The process is gone: start afresh, nothing kept on either side."""
        _log.error("the compute process died; starting it again")
        await self.close()
        self.clear()
        self._clear = False  # a new process has nothing to clear
        self._sent_graph = None

    async def close(self) -> None:
        """Stop the process (it exits when its pipe closes)."""
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            conn.close()
        if process is not None:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()


def _changes(
    current: Mapping[tuple[str, str], Any], nodes: set[str], sources: set[str]
) -> Changes:
    """The values of the touched nodes of the touched sources (None: absent)."""
    return {(s, n): current.get((s, n)) for s in sources for n in nodes}


def serve(conn: Connection, options: dict[str, Any]) -> None:
    """The compute process: allocate dates as requested until the pipe closes."""
    gcpolicy.relax()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when we stop
    live = LiveDays(**options)
    mirrors: dict[date, DayInputs] = {}
    graph: CostGraph | None = None
    while True:
        try:
            received: _Request | list[_Request] = conn.recv()
        except (EOFError, OSError):
            return
        requests = received if isinstance(received, list) else [received]
        for request in requests:
            if request.clear:
                live.clear()
                mirrors.clear()
            for day in request.forget:
                live.forget(day)
            for day in request.evict:
                mirrors.pop(day, None)
            graph = request.graph or graph
        items = [(r.day, _mirror(mirrors, r), r.touched) for r in requests]
        try:
            for reply in _handle_each(live, graph, items, requests[0]):
                conn.send(reply)
        except (EOFError, OSError):
            return


def _handle_each(
    live: LiveDays, graph: CostGraph | None, items: list[Item], request: _Request
) -> Iterator[_Reply]:
    """A reply per date, in order, each as soon as its date is computed; after an
    unexpected error every date left gets it."""
    done = 0
    try:
        assert graph is not None, "a request before any graph"
        live.encode_nodes_from = request.encode_nodes_from
        for outcome in live.compute_each(graph, items):
            done += 1
            if isinstance(outcome, FinopsError):
                yield _Reply(None, str(outcome), finops_error=True)
            else:
                yield _Reply(outcome)
    except Exception:
        error = traceback.format_exc()
        for _ in range(done, len(items)):
            yield _Reply(None, error)


def _outcome(day: date, reply: _Reply) -> Computed | FinopsError:
    """A date's reply: what it computed or the input's error; ComputeFailed for a
    bug."""
    if reply.computed is not None:
        return reply.computed
    assert reply.error is not None
    if reply.finops_error:
        return FinopsError(reply.error)
    raise ComputeFailed(f"allocating {day}: {reply.error}")


def _mirror(mirrors: dict[date, DayInputs], request: _Request) -> DayInputs:
    """The date's inputs after the request's changes."""
    if request.full:
        inputs = mirrors[request.day] = DayInputs(request.costs, request.usage)
        return inputs
    inputs = mirrors[request.day]  # the main process sent it whole before
    pairs = ((inputs.costs, request.costs), (inputs.usage, request.usage))
    for index, changes in pairs:
        for key, value in changes.items():
            if value is None:
                index.pop(key, None)
            else:
                index[key] = value
    return inputs
