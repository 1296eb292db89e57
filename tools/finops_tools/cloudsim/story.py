"""`finops demo governance`: the ledger prototype's story on the real stack.

Bills from three providers flow in from the cloud simulator; the Azure lab's budget
($1.00 a month, alert at 80 %) crosses its threshold; a signed webhook reaches a local
receiver that verifies it; the action deallocates the lab's dev VMs through the
simulator's executor, and the lab's month ends capped.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn

from finops.adapters.governance_store import apply_governance
from finops.contracts.settings import DevStackSettings
from finops.errors import StackError
from finops.formats.governancefile import parse_governance
from finops_tools.cloudsim.receiver import make_server
from finops_tools.cloudsim.server import create_app
from finops_tools.cloudsim.simulator import Simulator, SimulatorOptions
from finops_tools.devstack import Stack

__all__ = ["run_governance_demo"]

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "governance" / "lab.yaml"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LAB = {"env": "dev", "team": "lab"}


def _say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_governance_demo(*, hours_per_second: float, timeout_s: float) -> None:
    settings = DevStackSettings()
    stack = Stack(
        settings,
        external_kafka=settings.external_kafka,
        external_database=settings.external_database_url,
    )
    stack.up(services=True, progress=_say)
    ingest_url = f"http://127.0.0.1:{settings.service_base_port}"
    work = settings.state_dir / "demo-governance"
    work.mkdir(parents=True, exist_ok=True)
    received = work / "received.jsonl"
    received.unlink(missing_ok=True)
    hook_port, executor_port = _free_port(), _free_port()
    receiver = make_server(hook_port, SECRET, received)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    text = (
        EXAMPLE.read_text()
        .replace("127.0.0.1:9000", f"127.0.0.1:{hook_port}")
        .replace("127.0.0.1:9001", f"127.0.0.1:{executor_port}")
    )
    # The demo may run again within the action's cool-down: no cool-down here.
    text = text.replace(
        "    approval: automatic", "    cooldown_minutes: 0\n    approval: automatic"
    )
    (work / "governance.yaml").write_text(text)
    start = asyncio.run(_prepare(stack.database_url, text, work / "governance.yaml"))
    _say(
        f"budgets applied: Azure lab $1.00/month, alert at 80 %; webhook receiver "
        f"on :{hook_port}, executor (cloudsim) on :{executor_port}"
    )
    options = SimulatorOptions(
        ingest_url=ingest_url,
        start=start,
        hours_per_second=hours_per_second,
        ingest_token=stack.token_file.read_text().strip(),
    )
    try:
        story = asyncio.run(
            _simulate(options, executor_port, stack.database_url, received, timeout_s)
        )
    finally:
        receiver.shutdown()
    _tell(story, start)


async def _prepare(database_url: str, text: str, path: Path) -> datetime:
    """Apply the file; the simulated month is the one after an earlier run's, so each
    run's story starts from nothing (no stored line or alert state is deleted)."""
    config, line_of = parse_governance(text, name=str(path))
    conn = await asyncpg.connect(database_url)
    try:
        await apply_governance(conn, config, line_of, file_name=str(path))
        # An earlier run's calls still being retried (its receiver is gone) would
        # reach this run's receiver and executor: they belong to that run's story.
        await conn.execute(
            "UPDATE webhook_deliveries SET status = 'dead', "
            "last_error = 'superseded by a new demo run' "
            "WHERE status = 'pending' AND target_id IN ('ops', 'stop-lab-vms')"
        )
        latest = await conn.fetchval(
            "SELECT max(billing_month) FROM cost_lines WHERE source LIKE 'cloudsim-%'"
        )
    finally:
        await conn.close()
    if latest is None:
        return datetime(2026, 11, 1, tzinfo=UTC)
    following = (latest.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime(following.year, following.month, 1, tzinfo=UTC)


async def _simulate(
    options: SimulatorOptions,
    executor_port: int,
    database_url: str,
    received: Path,
    timeout_s: float,
) -> dict[str, Any]:
    simulator = Simulator(options)
    executor = create_app(simulator, SECRET)
    server = uvicorn.Server(
        uvicorn.Config(
            executor,
            host="127.0.0.1",
            port=executor_port,
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve())
    running = asyncio.create_task(simulator.run())
    began = time.monotonic()
    story: dict[str, Any] = {"curve": [], "alert_spend": None}
    next_report = options.start + timedelta(days=5)
    while not running.done():
        await asyncio.sleep(0.5)
        if time.monotonic() - began > timeout_s:
            running.cancel()
            raise StackError(f"the simulated month did not end within {timeout_s:.0f}s")
        now = simulator.sim_now()
        lab = simulator.spend_of(LAB)
        story["curve"].append((now, lab))
        if story["alert_spend"] is None and _arrived(received, options.start):
            story["alert_spend"] = lab
            _say(f"{now:%b %d %H:%M}: 80 % alert received; lab spend ${lab:.4f}")
        if len(simulator.upload_errors) >= 5:  # retried each second; not a blip
            running.cancel()
            raise StackError(
                f"ingest refused the simulator's bills: {simulator.upload_errors[0]}; "
                "see .finops/logs/ingest.log"
            )
        if now >= next_report:
            running_vms = [
                r.name
                for i, r in simulator.resources.items()
                if simulator.running[i] and r.tags.get("env") == "dev"
            ]
            _say(
                f"{now:%b %d}: lab spend ${lab:.4f}; "
                f"dev VMs running: {', '.join(running_vms) or 'none'}"
            )
            next_report += timedelta(days=5)
    await _settle(database_url)
    story.update(
        lab_spend=simulator.spend_of(LAB),
        total=simulator.spend(),
        by_provider={p: simulator.spend(p) for p in sorted(simulator.lines)},
        uncapped=sum(
            (r.hourly for r in simulator.resources.values() if r.tags == LAB),
            Decimal(0),
        )
        * int((simulator.end - options.start).total_seconds() // 3600),
        calls=list(executor.state.calls),
        received=[json.loads(line) for line in received.read_text().splitlines()]
        if received.exists()
        else [],
        db=await _stored(database_url, options.start),
    )
    server.should_exit = True
    await serving
    return story


def _arrived(received: Path, month: datetime) -> bool:
    if not received.exists():
        return False
    return any(
        _is_lab_alert(json.loads(line)["body"], month)
        for line in received.read_text().splitlines()
    )


def _is_lab_alert(body: str, month: datetime) -> bool:
    """This month's 80 % alert (the 100 % forecast one may come first)."""
    alert = json.loads(body)
    return bool(
        alert.get("type") == "budget.alert"
        and alert.get("basis") == "actual"
        and alert.get("period_start") == month.date().isoformat()
        and Decimal(alert.get("threshold_percent", "0")) == 80
    )


async def _settle(database_url: str, timeout_s: float = 30.0) -> None:
    """Wait until no delivery is pending (the last uploads are evaluated too)."""
    await asyncio.sleep(3.0)
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pending = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
            )
            if not pending:
                return
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def _stored(database_url: str, start: datetime) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        month = start.date()
        alerts = await conn.fetch(
            "SELECT status, percent, basis, spent FROM budget_alerts "
            "WHERE budget_id = 'azure-lab' AND period_start = $1 ORDER BY seq",
            month,
        )
        runs = await conn.fetch(
            "SELECT r.run_id, r.state, r.resources FROM action_runs r "
            "JOIN budget_alerts a ON a.alert_id = r.alert_id AND a.status = 'alert' "
            "WHERE r.action_id = 'stop-lab-vms' AND a.period_start = $1",
            month,
        )
        spend = await conn.fetchval(
            "SELECT sum(billed_cost) FROM cost_lines WHERE provider = 'Microsoft' "
            "AND tags::jsonb ->> 'env' = 'dev' AND billing_month = $1",
            month,
        )
        return {
            "alerts": [dict(a) for a in alerts],
            "runs": [dict(r) for r in runs],
            "stored_lab_spend": spend,
        }
    finally:
        await conn.close()


def _tell(story: dict[str, Any], start: datetime) -> None:
    db = story["db"]
    hooks = [r for r in story["received"] if '"budget.alert"' in r["body"]]
    print(f"\nGovernance: the Azure lab's month ({start:%B %Y}, simulated)")
    print("  budget                       $1.00 (alert at 80 %)")
    if story["alert_spend"] is not None:
        print(f"  spend at the 80 % alert      ${story['alert_spend']:.4f}")
    print(f"  spend at the month's end     ${story['lab_spend']:.4f}")
    print(f"  without the action           ${story['uncapped']:.4f}")
    print(f"  stored bill lines agree      ${Decimal(db['stored_lab_spend'] or 0):.4f}")
    for provider, spend in story["by_provider"].items():
        print(f"  {provider:<28} ${spend:.4f} this month")
    for alert in db["alerts"]:
        print(
            f"  alert: {alert['status']} {alert['percent']}% {alert['basis']} "
            f"at ${alert['spent']:.4f}"
        )
    verified = all(h["verified"] for h in hooks)
    print(f"  webhooks received: {len(hooks)}, signatures verified: {verified}")
    for run in db["runs"]:
        print(f"  action stop-lab-vms: {run['state']} ({run['run_id']})")
    for call in story["calls"]:
        print(
            f"  executor: {call['operation']} {len(call['changed'])} VMs "
            f"at {call['at']}"
        )
    _sparkline(story["curve"])


def _sparkline(curve: list[tuple[datetime, Decimal]]) -> None:
    """The lab's spend through the month, one mark per simulated day."""
    by_day: dict[str, Decimal] = {}
    month = curve[0][0].month if curve else 0
    for moment, spend in curve:
        if moment.month == month:
            by_day[moment.strftime("%d")] = spend
    if not by_day:
        return
    top = max(by_day.values()) or Decimal(1)
    marks = " ▁▂▃▄▅▆▇█"
    line = "".join(marks[int(v / top * (len(marks) - 1))] for v in by_day.values())
    print(f"  lab spend by day  {line}  (flat once the VMs stopped)")
