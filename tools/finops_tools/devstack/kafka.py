"""A real Apache Kafka broker (KRaft, one node) run with java from the official jars."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from finops.errors import StackError
from finops_tools.devstack.layout import StackLayout
from finops_tools.devstack.processes import (
    is_alive,
    log_tail,
    port_is_open,
    spawn,
    wait_for_port,
)

__all__ = ["KafkaBroker", "KafkaConfig", "ensure_kafka_jars"]

_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_HOST = "127.0.0.1"

_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Ports and heap of the single-node broker."""

    port: int
    controller_port: int
    heap: str = "512m"

    @property
    def bootstrap_servers(self) -> str:
        return f"{_HOST}:{self.port}"


def ensure_kafka_jars(
    pom: Path, cache_dir: Path, *, on_fetch: Callable[[], None] | None = None
) -> tuple[Path, bool]:
    """Fetch the runtime classpath of Kafka's pom.xml with Maven once; returns
    (libs, fetched now)."""
    if not pom.is_file():
        raise StackError(f"missing {pom}: run from a checkout or set FINOPS_DEPLOY_DIR")
    if not pom.is_file():
        raise StackError(f"missing {pom}: run from a checkout or set FINOPS_DEPLOY_DIR")
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    libs = cache_dir / f"kafka-{digest}" / "libs"
    if (libs / ".complete").is_file():
        return libs, False
    if on_fetch is not None:
        on_fetch()
    _copy_dependencies(pom, libs)
    return libs, True


def _copy_dependencies(pom: Path, libs: Path) -> None:
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is not on PATH; it fetches the Kafka jars once")
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(pom),
        f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(f"mvn could not fetch the Kafka jars:\n{done.stdout[-2000:]}")
    (staging / ".complete").write_text("ok\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)


class KafkaBroker:
    """Formats, starts and stops one KRaft broker whose state lives under the layout."""

    def __init__(self, layout: StackLayout, config: KafkaConfig) -> None:
        self._layout = layout
        self._config = config
        self._dir = layout.kafka_dir
        self._log = layout.log("kafka")

    @property
    def bootstrap_servers(self) -> str:
        return self._config.bootstrap_servers

    @property
    def log(self) -> Path:
        return self._log

    def start(self, libs: Path, *, timeout_s: float) -> int:
        """Start the broker and wait until it accepts connections; returns its pid."""
        if port_is_open(_HOST, self._config.port):
            raise StackError(
                f"port {self._config.port} is in use; set FINOPS_KAFKA_PORT"
            )
        properties = self._write_config()
        if not (self._dir / "data" / "meta.properties").is_file():
            self._format(libs, properties)
        pid = spawn(self._java(libs, "kafka.Kafka", str(properties)), log=self._log)
        wait_for_port(
            _HOST, self._config.port, pid=pid, log=self._log, timeout_s=timeout_s
        )
        return pid

    def is_running(self, pid: int | None) -> bool:
        return is_alive(pid) and port_is_open(_HOST, self._config.port)

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        heap = self._config.heap
        log4j = self._dir / "log4j2.yaml"
        return [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def _format(self, libs: Path, properties: Path) -> None:
        cluster_id = uuid.uuid4().hex[:22]
        argv = self._java(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(properties),
            "--standalone",
        )
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackError(
                f"kafka storage format failed:\n{done.stdout}{done.stderr}"
            )

    def _write_config(self) -> Path:
        self._dir.mkdir(parents=True, exist_ok=True)
        (self._dir / "log4j2.yaml").write_text(_LOG4J2)
        path = self._dir / "server.properties"
        path.write_text(_server_properties(self._config, self._dir / "data"))
        return path

    def describe_failure(self) -> str:
        return log_tail(self._log)


def _server_properties(config: KafkaConfig, data: Path) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{_HOST}:{config.controller_port}",
        "listeners": f"PLAINTEXT://{_HOST}:{config.port},CONTROLLER://{_HOST}:{config.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{_HOST}:{config.port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # A restarted single node waits out its old session before it registers.
        "broker.session.timeout.ms": "2000",
        "broker.heartbeat.interval.ms": "500",
        "auto.create.topics.enable": "true",
        "log.retention.hours": "-1",
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())
