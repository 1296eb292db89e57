"""Mapping rules from bill lines to graph nodes: YAML, first match wins, vectorised."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finops.domain.yamltext import load_yaml
from finops.errors import ConfigError

__all__ = [
    "UNSPECIFIED_DIMENSION",
    "MappingRules",
    "Rule",
    "ValueLookup",
    "assign_nodes",
    "glob_to_regex",
    "load_rules",
    "match_glob",
    "render_dimension",
    "render_template",
    "template_fields",
]

# Column name (any FOCUS version, or `Tags.key`) -> one text value per row.
ValueLookup = Callable[[str], pa.Array]

_FIELD: Final = re.compile(r"\{([^{}]+)\}")
_WILDCARDS: Final = frozenset("*?[")
_PLAIN: Final = frozenset(string.ascii_letters + string.digits + "_ :/,@=")
UNSPECIFIED_DIMENSION: Final = "unspecified"


class Rule(BaseModel):
    """Lines whose columns all match the globs go to `node` (a template)."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)
    when: dict[str, str] = Field(min_length=1)
    node: str = Field(min_length=1)


class MappingRules(BaseModel):
    """A rules file: which cost, which dimension, and the rules in order."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)
    cost_column: Literal[
        "BilledCost", "EffectiveCost", "ListCost", "ContractedCost"
    ] = "BilledCost"
    dimension: str = "{ServiceCategory}"
    default_node: str = Field(default="unmapped", min_length=1)
    rules: tuple[Rule, ...] = ()

    def referenced_columns(self) -> set[str]:
        """Every column the rules, node templates and dimension read."""
        names = set(template_fields(self.dimension))
        for rule in self.rules:
            names.update(rule.when)
            names.update(template_fields(rule.node))
        return names


def load_rules(path: Path) -> MappingRules:
    """Read a rules YAML file; raises ConfigError naming the file and the problem."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        return MappingRules.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rules: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConfigError(f"{path}: {where}: {problem['msg']}") from None


def template_fields(template: str) -> list[str]:
    """Column names a template such as `{Tags.team}-{ServiceName}` refers to."""
    return _FIELD.findall(template)


def _template_parts(template: str) -> Iterator[tuple[bool, str]]:
    """(is_field, text) pieces of a template, in order."""
    for i, piece in enumerate(_FIELD.split(template)):
        if piece:
            yield i % 2 == 1, piece


def render_template(template: str, lookup: ValueLookup, length: int) -> pa.Array:
    """Render a template per row; a null column value renders as empty text."""
    parts: list[pa.Array | str] = [
        pc.fill_null(pc.cast(lookup(text), pa.string()), "") if is_field else text
        for is_field, text in _template_parts(template)
    ]
    if not any(isinstance(p, pa.Array) for p in parts):
        return pc.fill_null(pa.nulls(length, pa.string()), "".join(map(str, parts)))
    return pc.binary_join_element_wise(*parts, "")


def glob_to_regex(pattern: str) -> str:
    """An anchored RE2 regex for a case-sensitive glob (`*`, `?`, `[...]`, `[!...]`)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char, close = pattern[i], pattern.find("]", i + 2)
        if char == "[" and close > 0:
            inner = pattern[i + 1 : close].replace("\\", "\\\\")
            out.append(
                "[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]"
            )
            i = close + 1
            continue
        out.append({"*": ".*", "?": "."}.get(char) or _escape(char))
        i += 1
    return "^(?s:" + "".join(out) + ")$"


def _escape(char: str) -> str:
    """Escape one literal character for RE2."""
    return char if char in _PLAIN or ord(char) > 127 else "\\" + char


def match_glob(values: pa.Array, pattern: str) -> NDArray[np.bool_]:
    """Which values match a glob; `*` means present, nulls never match."""
    if pattern == "*":
        matched = pc.is_valid(values)
    elif not _WILDCARDS.intersection(pattern):
        matched = pc.equal(values, pattern)
    elif pattern.endswith("*") and not _WILDCARDS.intersection(pattern[:-1]):
        matched = pc.starts_with(values, pattern[:-1])
    else:
        matched = pc.match_substring_regex(values, glob_to_regex(pattern))
    return np.asarray(pc.fill_null(matched, False), dtype=np.bool_)


def _rule_mask(rule: Rule, lookup: ValueLookup, length: int) -> NDArray[np.bool_]:
    """Rows matching every condition of one rule."""
    mask = np.ones(length, dtype=np.bool_)
    for column, pattern in rule.when.items():
        mask &= match_glob(lookup(column), pattern)
    return mask


def _first_matches(
    rules: MappingRules, lookup: ValueLookup, length: int
) -> NDArray[np.int64]:
    """Index of the first matching rule per row; len(rules) where none matches."""
    chosen = np.full(length, len(rules.rules), dtype=np.int64)
    for index, rule in enumerate(rules.rules):
        open_rows = chosen == len(rules.rules)
        if not open_rows.any():
            break
        chosen[open_rows & _rule_mask(rule, lookup, length)] = index
    return chosen


def assign_nodes(rules: MappingRules, lookup: ValueLookup, length: int) -> pa.Array:
    """The node of each row; unmatched rows or empty renders get default_node."""
    chosen = _first_matches(rules, lookup, length)
    constants = [r.node if not template_fields(r.node) else "" for r in rules.rules]
    nodes = pc.take(pa.array([*constants, rules.default_node]), chosen)
    for index in np.unique(chosen):
        node = rules.rules[index].node if index < len(rules.rules) else ""
        if template_fields(node):
            selected = pa.array(chosen == index)
            nodes = pc.if_else(selected, render_template(node, lookup, length), nodes)
    return pc.if_else(pc.equal(nodes, ""), rules.default_node, nodes)


def render_dimension(rules: MappingRules, lookup: ValueLookup, length: int) -> pa.Array:
    """The dimension of each row; empty renders become `unspecified`."""
    rendered = render_template(rules.dimension, lookup, length)
    return pc.if_else(pc.equal(rendered, ""), UNSPECIFIED_DIMENSION, rendered)
