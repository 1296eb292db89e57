"""The simulated clouds: resources billing by the hour on an accelerated clock.

Each tick advances simulated time, adds a FOCUS line per running resource and completed
hour, and uploads each provider's month-to-date file to ingest as that provider's
source (a restatement, as real exports are). A deallocated resource stops billing from
the simulated hour the executor's call arrived; `start` resumes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

import httpx

from finops_tools.cloudsim.focusfile import HourLine, Resource, render_csv

__all__ = ["DEFAULT_RESOURCES", "Simulator", "SimulatorOptions"]

_log = logging.getLogger(__name__)

DEFAULT_RESOURCES: Final = (
    Resource(
        "/subscriptions/lab/resourceGroups/lab/providers/Microsoft.Compute/virtualMachines/lab-dev-1",
        "lab-dev-1",
        "Virtual Machine",
        "Microsoft",
        "Virtual Machines",
        "Compute",
        "westeurope",
        "ea-001",
        "sub-lab",
        Decimal("0.001000"),
        {"env": "dev", "team": "lab"},
    ),
    Resource(
        "/subscriptions/lab/resourceGroups/lab/providers/Microsoft.Compute/virtualMachines/lab-dev-2",
        "lab-dev-2",
        "Virtual Machine",
        "Microsoft",
        "Virtual Machines",
        "Compute",
        "westeurope",
        "ea-001",
        "sub-lab",
        Decimal("0.001000"),
        {"env": "dev", "team": "lab"},
    ),
    Resource(
        "/subscriptions/shop/resourceGroups/prod/providers/Microsoft.Compute/virtualMachines/shop-web",
        "shop-web",
        "Virtual Machine",
        "Microsoft",
        "Virtual Machines",
        "Compute",
        "westeurope",
        "ea-001",
        "sub-shop",
        Decimal("0.004000"),
        {"env": "prod", "product": "shop"},
    ),
    Resource(
        "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc",
        "checkout-api",
        "Instance",
        "AWS",
        "Amazon Elastic Compute Cloud",
        "Compute",
        "eu-west-1",
        "111122223333",
        "111122223333",
        Decimal("0.003000"),
        {"env": "prod", "product": "checkout"},
    ),
    Resource(
        "arn:aws:rds:eu-west-1:111122223333:db:payments",
        "payments-db",
        "DB Instance",
        "AWS",
        "Amazon Relational Database Service",
        "Databases",
        "eu-west-1",
        "111122223333",
        "111122223333",
        Decimal("0.002500"),
        {"env": "prod", "product": "payments"},
    ),
    Resource(
        "snowflake://acme/warehouses/ANALYTICS_WH",
        "ANALYTICS_WH",
        "Warehouse",
        "Snowflake",
        "Snowflake Compute",
        "Analytics",
        "aws-eu-west-1",
        "acme",
        "acme",
        Decimal("0.002000"),
        {"env": "prod", "product": "analytics"},
    ),
)


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    ingest_url: str
    start: datetime  # UTC, on the hour
    hours_per_second: float = 18.0
    end: datetime | None = None  # default: the start's month end
    rules_id: str | None = None
    upload_every_s: float = 1.0
    ingest_token: str | None = None  # bearer token with the ingest scope


def _month_end(moment: datetime) -> datetime:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


class Simulator:
    """The resources, their running state and the lines billed so far."""

    def __init__(
        self,
        options: SimulatorOptions,
        resources: tuple[Resource, ...] = DEFAULT_RESOURCES,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.options = options
        self.resources = {r.resource_id: r for r in resources}
        self.running = dict.fromkeys(self.resources, True)
        self.next_hour = options.start
        self.end = options.end or _month_end(options.start)
        self.lines: defaultdict[str, list[HourLine]] = defaultdict(list)
        self.uploads = 0
        self.upload_errors: list[str] = []
        self._client = client or httpx.AsyncClient(timeout=30)
        token = options.ingest_token
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._began = time.monotonic()
        self._dirty: set[str] = set()
        self.finished = asyncio.Event()

    # -- the clock --------------------------------------------------------------

    def sim_now(self) -> datetime:
        elapsed = time.monotonic() - self._began
        now = self.options.start + timedelta(
            hours=elapsed * self.options.hours_per_second
        )
        return min(now, self.end)

    def advance(self, until: datetime) -> int:
        """Bill every completed hour before `until`; how many lines were added."""
        added = 0
        while self.next_hour + timedelta(hours=1) <= until:
            for ident, resource in self.resources.items():
                if self.running[ident]:
                    self.lines[resource.provider].append(
                        HourLine(resource, self.next_hour)
                    )
                    self._dirty.add(resource.provider)
                    added += 1
            self.next_hour += timedelta(hours=1)
        return added

    # -- the executor -----------------------------------------------------------

    def set_running(self, ids: list[str], running: bool) -> list[str]:
        """Stop (or start) the named resources; the ids that changed."""
        self.advance(self.sim_now())  # hours before now were used: they bill
        changed = []
        for ident in ids:
            if ident in self.running and self.running[ident] != running:
                self.running[ident] = running
                changed.append(ident)
        return changed

    def spend(self, provider: str | None = None) -> Decimal:
        return sum(
            (
                line.resource.hourly
                for p, lines in self.lines.items()
                if provider is None or p == provider
                for line in lines
            ),
            Decimal(0),
        )

    def spend_of(self, predicate: dict[str, str]) -> Decimal:
        """Spend of the resources whose tags hold every key=value given."""
        total = Decimal(0)
        for lines in self.lines.values():
            for line in lines:
                tags = line.resource.tags
                if all(tags.get(k) == v for k, v in predicate.items()):
                    total += line.resource.hourly
        return total

    # -- uploads ----------------------------------------------------------------

    async def upload(self) -> None:
        """Each provider with new lines: its month-to-date file to ingest."""
        dirty, self._dirty = self._dirty, set()
        for provider in sorted(dirty):
            lines = self.lines[provider]
            month = lines[0].hour.strftime("%Y-%m")
            name = f"cloudsim-{provider.lower()}-{month}.csv"
            params = {
                "filename": name,
                "source": f"cloudsim-{provider.lower()}",
                "format": "focus",
            }
            if self.options.rules_id:
                params["rules"] = self.options.rules_id
            try:
                answer = await self._client.post(
                    f"{self.options.ingest_url}/ingests",
                    params=params,
                    content=render_csv(lines).encode(),
                    headers=self._auth,
                )
            except httpx.HTTPError as exc:
                self._dirty.add(provider)
                self.upload_errors.append(f"{name}: {exc}")
                continue
            if answer.status_code >= 400:
                self.upload_errors.append(
                    f"{name}: HTTP {answer.status_code} {answer.text[:200]}"
                )
                self._dirty.add(provider)
                continue
            self.uploads += 1

    async def run(self) -> None:
        """Bill and upload until the end of the simulated period."""
        self._began = time.monotonic()
        while True:
            now = self.sim_now()
            self.advance(now)
            await self.upload()
            if now >= self.end and not self._dirty:
                break
            await asyncio.sleep(self.options.upload_every_s)
        self.finished.set()


def hour_of(text: str) -> datetime:
    """A UTC hour from ISO text (a date alone is midnight)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
