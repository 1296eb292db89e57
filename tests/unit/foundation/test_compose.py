"""docker-compose.yml is well-formed; every service, port and file it names exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from finops_tools.devstack.services import SERVICES

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_platform_service_is_in_compose(compose: dict[str, Any]) -> None:
    names = set(compose["services"])
    assert {s.name for s in SERVICES} | {
        "kafka",
        "postgres",
        "prometheus",
        "grafana",
    } <= names


def test_service_commands_name_real_modules(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"]:
            module = command[2]
            assert (ROOT / "services" / module / module / "__main__.py").is_file(), name


def test_build_files_and_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            assert (
                ROOT / service["build"]["context"] / service["build"]["dockerfile"]
            ).is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_host_ports_are_unique_and_match_the_services(compose: dict[str, Any]) -> None:
    host_ports = [
        p.split(":")[0]
        for s in compose["services"].values()
        for p in s.get("ports", [])
    ]
    assert len(host_ports) == len(set(host_ports))
    for spec in SERVICES:
        service = compose["services"][spec.name]
        port = service["environment"][f"{spec.env_prefix}HTTP_PORT"]
        assert f"{port}:{port}" in service["ports"]


def test_dockerfile_copies_only_what_exists() -> None:
    dockerfile = (ROOT / "deploy" / "container" / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), source


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load(
        (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    )
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert {t.split(":")[0] for t in targets} == {s.name for s in SERVICES}


def test_grafana_dashboards_are_valid_json_with_unique_uids() -> None:
    uids = [
        json.loads(p.read_text())["uid"]
        for p in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")
    ]
    assert uids and len(uids) == len(set(uids))
