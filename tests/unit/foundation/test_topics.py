"""Topic names live in one place, are versioned, unique, and namespaced for tests."""

from __future__ import annotations

from finops.contracts.topics import (
    ALL_TOPICS,
    COST_LINES,
    GRAPH,
    NODE_COSTS,
    dead_letter_of,
    topic_name,
)


def test_topic_names_are_versioned_and_unique() -> None:
    names = [t.name for t in ALL_TOPICS]
    assert len(set(names)) == len(names)
    assert all(
        n.startswith("finops.") and (n.endswith(".v1") or n.endswith(".v1.dlq"))
        for n in names
    )


def test_each_ingest_topic_has_a_dead_letter_topic() -> None:
    names = {t.name for t in ALL_TOPICS}
    assert {dead_letter_of(COST_LINES).name, dead_letter_of(NODE_COSTS).name} <= names


def test_every_topic_a_consumer_reads_has_a_dead_letter_topic() -> None:
    sources = [t for t in ALL_TOPICS if not t.name.endswith(".dlq")]
    names = {t.name for t in ALL_TOPICS}
    assert {dead_letter_of(t).name for t in sources} <= names
    assert len(names) == 2 * len(sources)


def test_batch_topics_are_not_compacted_and_the_graph_log_is_kept() -> None:
    # A batch keyed by date does not supersede an earlier batch with that key.
    assert not any(t.compacted for t in ALL_TOPICS)
    assert GRAPH.config == {"cleanup.policy": "delete", "retention.ms": "-1"}
    assert NODE_COSTS.config["retention.ms"] == str(30 * 24 * 3600 * 1000)


def test_namespace_prefixes_the_name() -> None:
    assert topic_name(NODE_COSTS) == "finops.node-costs.v1"
    assert topic_name(NODE_COSTS, "t1") == "t1.finops.node-costs.v1"
