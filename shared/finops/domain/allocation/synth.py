"""A synthetic organisation: layered graph, mixed strategies, costs, credits, usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.tables import to_day_numbers
from finops.domain.dag import EdgeSpec, GraphSpec, NodeSpec, NodeType

__all__ = ["SynthOptions", "SynthOrg", "generate_org"]

LAYERS: Final = (
    (NodeType.RESOURCE, "res", 0.55),
    (NodeType.SHARED, "shr", 0.15),
    (NodeType.PLATFORM, "plt", 0.10),
    (NodeType.PRODUCT, "prd", 0.20),
)
DIMENSIONS: Final = (
    "compute",
    "storage",
    "network",
    "support",
    "licenses",
    "data",
    "ml",
    "ops",
)
METRICS: Final = ("requests", "cpu_hours")
# (strategy, weight, extra params); usage-based ones get a metric.
MIX: Final[tuple[tuple[str, float, dict[str, Any]], ...]] = (
    ("equal", 0.15, {}),
    ("proportional", 0.25, {}),
    ("weighted_average", 0.10, {"window_days": 7}),
    (
        "segment_filtered_proportional",
        0.08,
        {"segment_filter": {"label": "env", "operator": "eq", "value": "prod"}},
    ),
    ("capped_proportional", 0.12, {"cap": 60}),
    ("hybrid_fixed_proportional", 0.10, {"fixed_percent": 30}),
    ("min_floor_proportional", 0.12, {"min_floor_percent": 5}),
    ("residual_to_max", 0.08, {}),
)


@dataclass(frozen=True)
class SynthOptions:
    """Size of the organisation and the seed that makes it reproducible."""

    nodes: int
    edges: int
    days: int
    dimensions: int
    seed: int = 0
    start: date = date(2025, 1, 1)


@dataclass(frozen=True)
class SynthOrg:
    """Graph spec plus cost and usage rows as columns (node codes index spec.nodes)."""

    spec: GraphSpec
    node_ids: list[str]
    dimensions: list[str]
    costs: dict[str, NDArray[Any]]
    usage: dict[str, NDArray[Any]]


def generate_org(options: SynthOptions) -> SynthOrg:
    """Generate the organisation; the same options give the same bytes."""
    rng = np.random.default_rng(options.seed)
    layer_of, ids = _nodes(options.nodes)
    edges = _edges(rng, layer_of, ids, options)
    nodes = [
        NodeSpec(id=i, type=LAYERS[layer][0])
        for i, layer in zip(ids, layer_of.tolist(), strict=True)
    ]
    dims = list(DIMENSIONS[: options.dimensions])
    first = int(to_day_numbers([options.start])[0])
    costs = _costs(rng, layer_of, options, first)
    targets = (
        np.unique([ids.index(e.to) for e in edges])
        if edges
        else np.zeros(0, dtype=np.int64)
    )
    usage = _usage(rng, targets, options, first)
    return SynthOrg(GraphSpec(nodes=nodes, edges=edges), ids, dims, costs, usage)


def _nodes(count: int) -> tuple[NDArray[np.int64], list[str]]:
    sizes = [max(1, int(count * share)) for _, _, share in LAYERS]
    sizes[0] = count - sum(sizes[1:])
    layer_of = np.repeat(np.arange(len(LAYERS)), sizes)
    ids = [
        f"{LAYERS[layer][1]}-{i:05d}"
        for layer, size in enumerate(sizes)
        for i in range(size)
    ]
    return layer_of, ids


def _edges(
    rng: np.random.Generator,
    layer_of: NDArray[np.int64],
    ids: list[str],
    options: SynthOptions,
) -> list[EdgeSpec]:
    parents = np.flatnonzero(layer_of < len(LAYERS) - 1)
    degree = _degrees(rng, layer_of, parents, options.edges)
    edges: list[EdgeSpec] = []
    for parent, k in zip(parents.tolist(), degree.tolist(), strict=True):
        pool = np.flatnonzero(layer_of > layer_of[parent])
        children = np.sort(rng.choice(pool, size=min(k, pool.size), replace=False))
        edges.extend(
            _parent_edges(rng, ids[parent], [ids[c] for c in children], options)
        )
    return edges


def _degrees(
    rng: np.random.Generator,
    layer_of: NDArray[np.int64],
    parents: NDArray[np.int64],
    total: int,
) -> NDArray[np.int64]:
    """Out-degree per parent: one each, the rest mostly to shared and platform nodes."""
    weight = np.array([1.0, 8.0, 10.0, 0.0])[layer_of[parents]]
    extra = rng.multinomial(max(total - parents.size, 0), weight / weight.sum())
    return 1 + extra


def _parent_edges(
    rng: np.random.Generator, parent: str, children: list[str], options: SynthOptions
) -> list[EdgeSpec]:
    name, _, extra = MIX[rng.choice(len(MIX), p=[w for _, w, _ in MIX])]
    params = dict(extra)
    if name != "equal":
        params["metric"] = METRICS[int(rng.integers(len(METRICS)))]
    fixed = len(children) > 2 and rng.random() < 0.2
    override = options.dimensions > 1 and rng.random() < 0.1
    edges = []
    for i, child in enumerate(children):
        spec: dict[str, Any] = {
            "from": parent,
            "to": child,
            "strategy": name,
            "params": params,
        }
        if fixed and i == 0:
            spec.update(
                strategy="fixed_percent", params={"percent": int(rng.integers(10, 40))}
            )
        if override:
            spec["dimensions"] = {DIMENSIONS[1]: {"strategy": "equal"}}
        if rng.random() < 0.03:
            spec["active_from"] = options.start + timedelta(
                days=int(rng.integers(1, options.days + 1))
            )
        edges.append(EdgeSpec.model_validate(spec))
    return edges


def _costs(
    rng: np.random.Generator,
    layer_of: NDArray[np.int64],
    options: SynthOptions,
    first: int,
) -> dict[str, NDArray[Any]]:
    """Daily costs of resources in each dimension, some on shared nodes; ~1% credits."""
    payers = np.flatnonzero(layer_of < 3)
    payers = payers[(layer_of[payers] == 0) | (rng.random(payers.size) < 0.3)]
    node = np.repeat(payers, options.days * options.dimensions)
    day = (
        np.tile(np.repeat(np.arange(options.days), options.dimensions), payers.size)
        + first
    )
    dim = np.tile(np.arange(options.dimensions), payers.size * options.days)
    scale = rng.lognormal(mean=2.5, sigma=1.2, size=payers.size)
    noise = rng.lognormal(mean=0.0, sigma=0.25, size=node.size)
    micros = np.round(
        np.repeat(scale, options.days * options.dimensions) * noise * 1e6
    ).astype(np.int64)
    credit = rng.random(node.size) < 0.01
    micros[credit] = -micros[credit] // 2
    return {"node": node, "day": day, "dimension": dim, "micros": micros}


def _usage(
    rng: np.random.Generator,
    targets: NDArray[np.int64],
    options: SynthOptions,
    first: int,
) -> dict[str, NDArray[Any]]:
    """Usage of every edge target per day and metric; ~5% of days have no row."""
    n_metrics = len(METRICS)
    node = np.repeat(targets, options.days * n_metrics)
    day = np.tile(np.repeat(np.arange(options.days), n_metrics), targets.size) + first
    metric = np.tile(np.arange(n_metrics), targets.size * options.days)
    level = np.repeat(
        rng.lognormal(mean=4.0, sigma=1.0, size=targets.size), options.days * n_metrics
    )
    value = np.round(level * rng.lognormal(0.0, 0.3, size=node.size), 3)
    keep = rng.random(node.size) >= 0.05
    prod = rng.random(node.size) < 0.8
    return {
        "node": node[keep],
        "day": day[keep],
        "metric": metric[keep],
        "value": value[keep],
        "prod": prod[keep],
    }
