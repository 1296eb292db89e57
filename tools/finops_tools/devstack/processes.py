"""Background processes of the stack: start detached, find by pid, stop by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from finops.errors import StackError

# Processes this interpreter started, so they are reaped here (no zombies, no warnings).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

__all__ = [
    "is_alive",
    "log_tail",
    "port_is_open",
    "private_log",
    "spawn",
    "stop_pid",
    "wait_for_port",
]


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start a process in its own session, output appended to `log` (readable by its
    owner only: logs can hold tokens' ids, addresses and data); returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    with private_log(log) as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def private_log(log: Path) -> BinaryIO:
    """`log` opened for appending, created with mode 0600 (an existing one made so)."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def is_alive(pid: int | None) -> bool:
    """True when a process with this pid exists and has not exited."""
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        # Ours: waitpid knows. /proc shows a multi-threaded process whose main thread
        # ended (the JVM does this while it shuts down) as a zombie too early.
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Exited, not reaped; a zombie main thread with live threads still runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z" and threads <= 1


def stop_pid(pid: int, *, timeout_s: float = 30.0) -> bool:
    """SIGTERM, wait, then SIGKILL; returns True when the process was running."""
    if not is_alive(pid):
        _reap(pid)
        return False
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout_s):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10.0)
    return True


def _wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait until the process is gone, reaping it when it is ours."""
    child = _CHILDREN.get(pid)
    if child is not None:
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        del _CHILDREN[pid]
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return False


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


def port_is_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str, port: int, *, pid: int, log: Path, timeout_s: float
) -> None:
    """Wait until the port answers; fail early, with the log's tail, if it dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_is_open(host, port):
            return
        if not is_alive(pid):
            raise StackError(
                f"process {pid} exited while starting; see {log}:\n{log_tail(log)}"
            )
        time.sleep(0.2)
    raise StackError(f"{host}:{port} did not answer within {timeout_s:.0f}s; see {log}")


def log_tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
