"""Domain code never imports I/O frameworks; only adapters, the CLI and services do."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {
    "faust",
    "aiokafka",
    "fastapi",
    "asyncpg",
    "httpx",
    "prometheus_client",
    "uvicorn",
    "starlette",
    "docker",
    "testcontainers",
}
# Packages of finops that are edges (adapters), not domain.
EDGE_PACKAGES = {"adapters", "devstack", "cli", "testing"}
FINOPS = Path(__file__).resolve().parents[2] / "shared" / "finops"


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _domain_modules() -> list[Path]:
    return [
        p
        for p in FINOPS.rglob("*.py")
        if p.relative_to(FINOPS).parts[0] not in EDGE_PACKAGES
    ]


def test_domain_modules_import_no_io_framework() -> None:
    offenders = {
        str(p.relative_to(FINOPS)): sorted(_imported_roots(p) & FORBIDDEN)
        for p in _domain_modules()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_rule_sees_the_domain() -> None:
    names = {p.name for p in _domain_modules()}
    assert {"money.py", "events.py", "topics.py", "codec.py"} <= names
