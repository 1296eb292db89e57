"""The layers, as imports: each boundary of docs/architecture.md fails the build here.

- `finops.domain` is pure: no I/O framework, nothing from the layers above it.
- `finops.contracts` (events, topics, codec, settings) builds on the domain only.
- `finops.formats` (files) builds on the domain and the contracts.
- `finops.adapters` may use every library layer; the library never imports tooling,
  a service or the tests.
- Services import the library, never tooling, tests or another service.
- Tooling (`finops_tools`: the CLI and the dev stack) imports the library, never a
  service or the tests.
- No import cycles between modules, nor between the library's packages.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_FRAMEWORKS = frozenset(
    {
        "faust",
        "mode",
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
)
SERVICES = ("ingest", "allocator", "governance", "api")
# Source roots: where each top-level package lives.
PACKAGES = {
    "finops": ROOT / "shared" / "finops",
    "finops_tools": ROOT / "tools" / "finops_tools",
    **{name: ROOT / "services" / name / name for name in SERVICES},
}
# What each library layer may import from the library (besides itself).
LIBRARY_LAYERS = {
    "finops.domain": {"finops.errors"},
    "finops.contracts": {"finops.errors", "finops.domain"},
    "finops.formats": {"finops.errors", "finops.domain", "finops.contracts"},
    "finops.adapters": {
        "finops.errors",
        "finops.domain",
        "finops.contracts",
        "finops.formats",
    },
}
PURE_LAYERS = ("finops.domain", "finops.contracts", "finops.formats")


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. finops.domain.money
    path: Path

    def within(self, prefix: str) -> bool:
        return self.name == prefix or self.name.startswith(prefix + ".")


@cache
def modules() -> tuple[Module, ...]:
    found = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append(Module(".".join((package, *parts)), path))
    return tuple(found)


@cache
def imports_of(module: Module) -> frozenset[str]:
    """Absolute names a module imports (relative imports resolved)."""
    tree = ast.parse(module.path.read_text(), filename=str(module.path))
    package = (
        module.name
        if module.path.name == "__init__.py"
        else module.name.rpartition(".")[0]
    )
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return frozenset(names)


def _roots(names: frozenset[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def _offences(prefix: str, allowed: set[str]) -> dict[str, list[str]]:
    """Imports of our own packages by modules under `prefix` outside `allowed`."""
    ours = set(PACKAGES) | {"tests"}
    found: dict[str, list[str]] = {}
    for module in modules():
        if not module.within(prefix):
            continue
        bad = sorted(
            name
            for name in imports_of(module)
            if name.split(".")[0] in ours
            and not _inside(name, {prefix, *allowed})
            and not _is_package_of(name)
        )
        if bad:
            found[module.name] = bad
    return found


def _inside(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _is_package_of(name: str) -> bool:
    """`from finops.domain import money` also names `finops.domain`: not an offence
    in itself (the module imported is checked)."""
    return any(m.name == name and m.path.name == "__init__.py" for m in modules())


def test_pure_layers_import_no_io_framework() -> None:
    offenders = {
        m.name: sorted(_roots(imports_of(m)) & IO_FRAMEWORKS)
        for m in modules()
        if any(m.within(layer) for layer in PURE_LAYERS)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_each_library_layer_imports_only_the_layers_below_it() -> None:
    for layer, allowed in LIBRARY_LAYERS.items():
        assert _offences(layer, allowed) == {}, layer


def test_the_library_imports_no_tooling_service_or_test() -> None:
    assert _offences("finops", {"finops"}) == {}


def test_services_import_the_library_only() -> None:
    for service in SERVICES:
        assert _offences(service, {"finops"}) == {}, service


def test_tooling_imports_the_library_not_services() -> None:
    assert _offences("finops_tools", {"finops"}) == {}


def test_test_fakes_live_in_tests_support() -> None:
    assert not (PACKAGES["finops"] / "testing").exists()
    assert (ROOT / "tests" / "support").is_dir()


def _module_graph() -> dict[str, set[str]]:
    known = {m.name for m in modules()}
    graph: dict[str, set[str]] = defaultdict(set)
    for module in modules():
        for name in imports_of(module):
            target = name if name in known else name.rpartition(".")[0]
            if target in known and target != module.name:
                graph[module.name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                yield from visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in sorted(graph):
        if node not in index:
            yield from visit(node)


def test_no_import_cycles_between_modules() -> None:
    assert list(_cycles(_module_graph())) == []


def test_no_import_cycles_between_library_packages() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _module_graph().items():
        if not module.startswith("finops."):
            continue
        for target in targets:
            a, b = _package(module), _package(target)
            if a != b and target.startswith("finops."):
                packages[a].add(b)
    assert list(_cycles(packages)) == []


def _package(module: str) -> str:
    """The library package a module sits in (finops.domain.allocation, ...)."""
    match = next(
        (m for m in modules() if m.name == module and m.path.name == "__init__.py"),
        None,
    )
    return module if match else module.rpartition(".")[0]


def test_the_rules_see_every_layer() -> None:
    names = {m.name for m in modules()}
    assert {
        "finops.domain.money",
        "finops.contracts.events",
        "finops.contracts.topics",
        "finops.contracts.codec",
        "finops.formats.costfile",
        "finops.adapters.migrations",
        "finops_tools.cli",
        "finops_tools.devstack.stack",
        "ingest.service",
        "allocator.service",
    } <= names
    assert _module_graph()["finops.contracts.codec"] >= {"finops.contracts.events"}
