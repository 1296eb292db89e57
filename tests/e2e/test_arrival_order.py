"""Order of arrival does not change the results (issue 16): usage routed before the
graph had the weighted_average edges that weigh it over a window converges to
`finops allocate` once they arrive, whether the worker runs then or learns the wider
reach as it starts (the router records each commit's reach, the window and the rows
it copies, and routes usage committed with one that does not cover today's again;
decisions 0162, 0340)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from finops.adapters.input_feed import publish_files
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.formats.graphfile import load_graph, save_graph
from tests.support.allocator_process import AllocatorProcess
from tests.support.cli import finops
from tests.support.stream_checks import batch_document, make_org, wait_for_document

pytestmark = pytest.mark.e2e


@pytest.fixture
def worker(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> Iterator[AllocatorProcess]:
    made = AllocatorProcess(kafka_settings, postgres_settings, tmp_path)
    yield made
    made.stop(signal.SIGKILL)


@pytest.mark.parametrize(
    ("edges_while_down", "windowed_parents"),
    [(False, 0), (True, 0), (False, 1)],
    ids=["running", "down", "window-kept"],
)
def test_usage_before_the_edges_that_use_it_converges(
    env: dict[str, str],
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    worker: AllocatorProcess,
    tmp_path: Path,
    edges_while_down: bool,
    windowed_parents: int,
) -> None:
    org = make_org(tmp_path / "org", days=10, seed=9)
    full = load_graph(org / "graph.json")
    # First only the nodes, the edges that weigh no usage over a window, and those
    # of `windowed_parents` parents that do (the window stays, the rows grow).
    weighted = sorted({e.from_ for e in full.edges if e.strategy == "weighted_average"})
    kept = set(weighted[:windowed_parents])
    early = full.model_copy(
        update={
            "edges": [
                e
                for e in full.edges
                if e.strategy != "weighted_average" or e.from_ in kept
            ]
        }
    )
    assert len(weighted) > windowed_parents and len(early.edges) < len(full.edges)
    save_graph(early, tmp_path / "early.json")
    finops(env, "graph", "apply", str(tmp_path / "early.json"))
    worker.start()
    asyncio.run(
        publish_files(
            kafka_settings, costs=org / "costs.csv", usage=org / "usage.csv", known=None
        )
    )
    wait_for_document(
        postgres_settings,
        batch_document(
            env,
            _with_graph(org, tmp_path / "early-org", tmp_path / "early.json"),
            tmp_path / "early-batch.json",
        ),
    )
    if edges_while_down:  # the worker learns the wider window only as it starts
        worker.stop(signal.SIGTERM)
    finops(env, "graph", "apply", str(org / "graph.json"))  # the edges arrive last
    if edges_while_down:
        worker.start()
    wait_for_document(
        postgres_settings, batch_document(env, org, tmp_path / "batch.json")
    )
    assert "which does not cover 7-" in worker.log.read_text()


def _with_graph(org: Path, out: Path, graph: Path) -> Path:
    """The organisation's files with another graph."""
    out.mkdir()
    for name in ("costs.csv", "usage.csv"):
        (out / name).write_bytes((org / name).read_bytes())
    (out / "graph.json").write_bytes(graph.read_bytes())
    return out
