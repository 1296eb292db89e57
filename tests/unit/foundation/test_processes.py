"""Background processes of the stack are stopped by pid and reaped, never left over."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from finops_tools.devstack import processes
from finops_tools.devstack.processes import is_alive, spawn, stop_pid
from tests.support.deadline import Deadline

IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def test_a_stopped_process_is_gone_and_reaped(tmp_path: Path) -> None:
    pid = spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"], log=tmp_path / "log"
    )
    assert is_alive(pid)
    assert stop_pid(pid, timeout_s=10) is True
    assert not is_alive(pid)
    assert pid not in processes._CHILDREN


def test_a_process_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pid = spawn([sys.executable, "-c", IGNORES_TERM], log=log)
    wait = Deadline(30, "the child to print ready (its SIGTERM handler is set)")
    while "ready" not in log.read_text():
        wait.check()
        time.sleep(0.05)
    assert stop_pid(pid, timeout_s=0.5) is True
    assert not is_alive(pid)
    assert pid not in processes._CHILDREN


def test_stopping_a_finished_process_says_it_was_not_running(tmp_path: Path) -> None:
    pid = spawn([sys.executable, "-c", "pass"], log=tmp_path / "log")
    processes._CHILDREN[pid].wait(timeout=10)
    assert stop_pid(pid) is False
    assert pid not in processes._CHILDREN


def test_a_process_log_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "service.log"
    log.parent.mkdir()
    log.write_text("earlier\n")
    log.chmod(0o644)  # an older stack's log
    pid = spawn([sys.executable, "-c", "print('hello')"], log=log)
    stop_pid(pid, timeout_s=10)
    assert log.stat().st_mode & 0o777 == 0o600
    fresh = tmp_path / "new" / "other.log"
    stop_pid(spawn([sys.executable, "-c", "pass"], log=fresh), timeout_s=10)
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert fresh.parent.stat().st_mode & 0o077 in (0o011, 0o000)  # not listable
