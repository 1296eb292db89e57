"""`finops dev up | down | status`: start, stop and report the local stack."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from finops.contracts.settings import DevStackSettings
from finops.errors import StackError
from finops_tools.devstack.kafka import KafkaBroker, KafkaConfig, ensure_kafka_jars
from finops_tools.devstack.layout import StackLayout
from finops_tools.devstack.postgres import (
    APP_ROLE,
    PostgresConfig,
    PostgresServer,
    ensure_app_role,
    ensure_reader_role,
    reader_password,
    reader_url,
    stack_passwords,
)
from finops_tools.devstack.processes import is_alive, stop_pid
from finops_tools.devstack.services import SERVICES, ServiceProcess
from finops_tools.devstack.token import ensure_token

__all__ = ["ComponentStatus", "Stack", "StartReport"]

# The state file's JSON: component name -> pid, address, log and the like.
_State = dict[str, dict[str, Any]]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """One line of `finops dev status`."""

    name: str
    state: str  # running | stopped | external
    address: str
    pid: int | None = None
    log: str = ""


@dataclass(slots=True)
class StartReport:
    """What `up` did and how long each part took (seconds)."""

    components: list[ComponentStatus] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    jars_fetched: bool = False


class Stack:
    """The local stack; an external Kafka or PostgreSQL is used, never started."""

    def __init__(
        self,
        settings: DevStackSettings,
        *,
        external_kafka: str | None = None,
        external_database: str | None = None,
    ) -> None:
        self._settings = settings
        self._layout = StackLayout(settings.state_dir.resolve(), settings.cache_dir)
        self._external_kafka = external_kafka
        self._external_db = external_database
        self._kafka = KafkaBroker(
            self._layout,
            KafkaConfig(
                settings.kafka_port, settings.kafka_controller_port, settings.kafka_heap
            ),
        )
        self._postgres = self._postgres_server(create=False)

    def _postgres_server(self, *, create: bool) -> PostgresServer:
        """The local server; its passwords are made by `up` (create) and read after."""
        root = self._layout.postgres_dir
        made = (root / "superuser.password").is_file()
        password, app_password = stack_passwords(root) if create or made else ("", "")
        return PostgresServer(
            root,
            PostgresConfig(
                self._settings.postgres_port,
                password=password,
                app_password=app_password,
            ),
            self._layout.log("postgres"),
        )

    @property
    def bootstrap_servers(self) -> str:
        return self._external_kafka or self._kafka.bootstrap_servers

    @property
    def database_url(self) -> str:
        return self._external_db or self._postgres.url

    def up(
        self,
        *,
        services: bool = True,
        migrate: bool = True,
        progress: Progress = print,
    ) -> StartReport:
        """Start what is not running yet, in order; times each step."""
        report = StartReport()
        state = self._load_state()
        self._timed(report, "kafka", lambda: self._up_kafka(state, report, progress))
        self._timed(report, "postgres", lambda: self._up_postgres(state, progress))
        self._save_state(state)
        if migrate:
            self._timed(report, "migrations", lambda: self._migrate(progress))
            self._timed(report, "token", lambda: self._token(progress))
        if services:
            for spec in SERVICES:
                self._timed(
                    report,
                    spec.name,
                    functools.partial(self._up_service, spec, state, progress),
                )
                self._save_state(state)
        report.components = self.status()
        return report

    def down(self, *, progress: Progress = print) -> list[str]:
        """Stop everything this stack started, services first; data stays."""
        state = self._load_state()
        stopped = [
            name
            for name in [s.name for s in SERVICES] + ["kafka"]
            if self._stop_component(state, name, progress)
        ]
        if self._postgres.stop():
            progress("stopped postgres")
            stopped.append("postgres")
        state.clear()
        self._save_state(state)
        return stopped

    def stop(self, name: str, *, progress: Progress = print) -> bool:
        """Stop one component (`kafka`, `postgres` or a service); `up` starts it
        again. Returns True when it was running."""
        if name == "postgres":
            stopped = self._postgres.stop()
            if stopped:
                progress("stopped postgres")
            return stopped
        state = self._load_state()
        stopped = self._stop_component(state, name, progress)
        state.pop(name, None)
        self._save_state(state)
        return stopped

    def status(self) -> list[ComponentStatus]:
        """What runs where."""
        state = self._load_state()
        rows = [self._kafka_status(state), self._postgres_status()]
        for spec in SERVICES:
            entry = state.get(spec.name, {})
            pid = entry.get("pid")
            alive = is_alive(pid)
            rows.append(
                ComponentStatus(
                    spec.name,
                    "running" if alive else "stopped",
                    entry.get("address", "-"),
                    pid if alive else None,
                    entry.get("log", ""),
                )
            )
        return rows

    def _up_kafka(self, state: _State, report: StartReport, progress: Progress) -> None:
        if self._external_kafka:
            progress(f"kafka: using {self._external_kafka}")
            return
        if self._kafka.is_running(state.get("kafka", {}).get("pid")):
            progress(f"kafka: already running at {self._kafka.bootstrap_servers}")
            return
        libs, fetched = ensure_kafka_jars(
            self._settings.deploy_dir / "kafka" / "pom.xml",
            self._layout.cache_dir,
            on_fetch=lambda: progress(
                "kafka: fetching the jars with Maven (first run)"
            ),
        )
        report.jars_fetched = fetched
        if not fetched:
            progress("kafka: cached jars reused")
        pid = self._kafka.start(libs, timeout_s=self._settings.start_timeout_s)
        from finops.adapters.kafka_admin import wait_until_ready

        wait_until_ready(
            self._kafka.bootstrap_servers, timeout_s=self._settings.start_timeout_s
        )
        state["kafka"] = {
            "pid": pid,
            "address": self._kafka.bootstrap_servers,
            "log": str(self._kafka.log),
        }

    def _up_postgres(self, state: _State, progress: Progress) -> None:
        if self._external_db:
            progress("postgres: using DATABASE_URL")
            return
        self._postgres = self._postgres_server(create=True)
        if self._postgres.pid() is not None:
            address = _hide_password(self._postgres.url)
            progress(f"postgres: already running at {address}")
            return
        self._postgres.start(timeout_s=self._settings.start_timeout_s)

    def _migrate(self, progress: Progress) -> None:
        from finops.adapters.migrations import migrate_database

        folder = self._settings.deploy_dir / "migrations"
        applied = migrate_database(self.database_url, folder=folder)
        if not self._external_db:
            ensure_app_role(self.database_url, self._postgres.config)
            progress(f"postgres: services log in as {APP_ROLE} (no superuser)")
            ensure_reader_role(
                self.database_url, self._postgres.config, self._reader_password
            )
        progress(
            f"migrations: applied {', '.join(applied)}"
            if applied
            else "migrations: database is up to date"
        )

    @property
    def token_file(self) -> Path:
        """Where the stack keeps its admin API token."""
        return self._layout.state_dir / "admin.token"

    def _token(self, progress: Progress) -> None:
        token, created = ensure_token(self.database_url, self.token_file)
        made = "created" if created else "kept"
        progress(f"token: {token}")
        progress(f"token: admin scope, {made}; saved in {self.token_file}")

    def _up_service(
        self, spec: ServiceProcess, state: _State, progress: Progress
    ) -> None:
        entry = state.get(spec.name, {})
        if is_alive(entry.get("pid")):
            progress(f"{spec.name}: already running at {entry['address']}")
            return
        port = self._settings.service_base_port + spec.port_offset
        log = self._layout.log(spec.name)
        pid = spec.start(
            port=port,
            log=log,
            env=self._service_env(),
            timeout_s=self._settings.start_timeout_s,
        )
        state[spec.name] = {
            "pid": pid,
            "address": f"http://127.0.0.1:{port}",
            "log": str(log),
        }

    @property
    def _reader_password(self) -> str:
        return reader_password(self._layout.postgres_dir)

    def _service_env(self) -> dict[str, str]:
        reads = (
            {}
            if self._external_db
            else {
                # the api's queries log in as the read-only role (migration 0020)
                "API_READ_DATABASE_URL": reader_url(
                    self._postgres.config, self._reader_password
                )
            }
        )
        return reads | {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "DATABASE_URL": self._external_db or self._postgres.app_url,
            "FINOPS_STATE_DIR": str(self._layout.state_dir),
            # Local receivers and executors (the demo's, `finops cloudsim`) listen on
            # 127.0.0.1; a production deployment keeps loopback targets refused.
            "GOVERNANCE_ALLOW_LOOPBACK_TARGETS": "true",
        }

    def _stop_component(self, state: _State, name: str, progress: Progress) -> bool:
        pid = state.get(name, {}).get("pid")
        if pid and stop_pid(pid, timeout_s=60):
            progress(f"stopped {name} (pid {pid})")
            return True
        return False

    def _kafka_status(self, state: _State) -> ComponentStatus:
        if self._external_kafka:
            return ComponentStatus("kafka", "external", self._external_kafka)
        pid = state.get("kafka", {}).get("pid")
        running = self._kafka.is_running(pid)
        return ComponentStatus(
            "kafka",
            "running" if running else "stopped",
            self._kafka.bootstrap_servers,
            pid if running else None,
            str(self._kafka.log),
        )

    def _postgres_status(self) -> ComponentStatus:
        if self._external_db:
            return ComponentStatus(
                "postgres", "external", _hide_password(self._external_db)
            )
        pid = self._postgres.pid()
        return ComponentStatus(
            "postgres",
            "running" if pid else "stopped",
            _hide_password(self._postgres.url),
            pid,
            str(self._postgres.log),
        )

    @staticmethod
    def _timed(report: StartReport, name: str, step: Callable[[], None]) -> None:
        started = time.monotonic()
        step()
        report.seconds[name] = time.monotonic() - started

    def _load_state(self) -> _State:
        try:
            loaded: _State = json.loads(self._layout.state_file.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as exc:
            raise StackError(
                f"{self._layout.state_file} is not valid JSON: {exc}"
            ) from exc
        return loaded

    def _save_state(self, state: _State) -> None:
        path: Path = self._layout.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)


def _hide_password(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//")[-1]:
        return url
    scheme, _, creds = head.partition("//")
    return f"{scheme}//{creds.split(':')[0]}:***@{tail}"


def status_as_dict(rows: list[ComponentStatus]) -> list[dict[str, object]]:
    """Rows for `--json` output."""
    return [asdict(row) for row in rows]
