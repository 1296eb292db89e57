"""Inputs that cost the service its time: YAML alias bombs, unbounded windows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from finops.domain.dag import EdgeSpec
from finops.domain.focus.mapping import load_rules
from finops.domain.rules import MAX_WINDOW_DAYS, rule_for
from finops.domain.yamltext import AliasRefused, load_yaml
from finops.errors import ConfigError, GraphError
from finops.formats.graphfile import load_graph
from ingest.statements import parse_rules

# ~300 bytes that expand to 9^4 = 6,561 leaves with aliases (more levels: billions).
BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "rules: [*d]\n"
)


def test_aliases_are_refused_before_any_expansion() -> None:
    began = time.perf_counter()
    with pytest.raises(AliasRefused, match=r"line 2, column 8: \*a"):
        load_yaml(BOMB)
    assert time.perf_counter() - began < 1.0  # refused at the first alias


def test_plain_yaml_still_reads() -> None:
    assert load_yaml("rules:\n  - {when: {a: b}, node: x}\n") == {
        "rules": [{"when": {"a": "b"}, "node": "x"}]
    }


def test_rules_with_aliases_are_refused_on_every_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BOMB)
    with pytest.raises(ConfigError, match="aliases are not allowed"):
        load_rules(path)
    with pytest.raises(ConfigError, match="aliases are not allowed"):
        parse_rules(BOMB)


def test_a_graph_with_aliases_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text("nodes:\n  - &n {id: a, type: product}\n  - *n\n")
    with pytest.raises(GraphError, match=r"invalid YAML: YAML aliases are not allowed"):
        load_graph(path)


@pytest.mark.parametrize(
    ("days", "ok"), [(1, True), (MAX_WINDOW_DAYS, True), (MAX_WINDOW_DAYS + 1, False)]
)
def test_window_days_is_bounded(days: int, ok: bool) -> None:
    edge = EdgeSpec.model_validate(
        {
            "from": "db",
            "to": "shop",
            "strategy": "weighted_average",
            "params": {"metric": "req", "window_days": days},
        }
    )
    if ok:
        assert rule_for(edge).window_days == days
    else:
        with pytest.raises(GraphError, match=f"window_days = {days} is over"):
            rule_for(edge)
