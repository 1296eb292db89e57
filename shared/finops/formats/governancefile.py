"""Governance files (YAML or JSON): budgets, webhooks and actions, with line numbers."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from finops.domain.budgets import GovernanceFile
from finops.domain.identifiers import describe_error
from finops.domain.yamltext import AliasRefused, load_yaml_located
from finops.errors import InputError

__all__ = ["load_governance", "parse_governance"]

_MAX_BYTES = 5_000_000
LineOf = Callable[[Sequence[str | int]], int | None]


def load_governance(path: Path) -> tuple[GovernanceFile, LineOf]:
    """Read and validate a file; any defect is an InputError naming file and line."""
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise InputError(f"{size} bytes; at most {_MAX_BYTES}", file=str(path))
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(path)) from None
    return parse_governance(text, name=str(path))


def parse_governance(text: str, *, name: str) -> tuple[GovernanceFile, LineOf]:
    """Validate the text of a governance file named `name` (for messages)."""
    raw, line_of = _parse(text, name)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(
            "expected a mapping with budgets, webhooks, actions", file=name, line=1
        )
    try:
        return GovernanceFile.model_validate(raw), line_of
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _location(err)
        message = describe_error(err).replace("Value error, ", "")
        raise InputError(message, file=name, line=line_of(loc)) from None


def _location(err: Any) -> list[str | int]:
    """The error's path; a model-level error names its path in the message."""
    loc = [p for p in err["loc"] if isinstance(p, (str, int))]
    message = str(err.get("msg", ""))
    head = message.removeprefix("Value error, ").split(":", 1)[0]
    if head.count(".") >= 2 and " " not in head:
        loc = loc + [int(p) if p.isdigit() else p for p in head.split(".")]
    return loc


def _parse(text: str, name: str) -> tuple[Any, LineOf]:
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):
            return json.loads(text), lambda _path: None
        return load_yaml_located(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON ({exc.msg})", file=name, line=exc.lineno
        ) from None
    except AliasRefused as exc:
        raise InputError(f"invalid YAML: {exc}", file=name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", file=name, line=line) from None
