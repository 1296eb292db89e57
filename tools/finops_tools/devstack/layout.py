"""Where the stack keeps state, logs and cached jars; where the repo's deploy/ is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StackLayout", "deploy_dir"]


def deploy_dir() -> Path:
    """The repo's deploy/ folder (FINOPS_DEPLOY_DIR overrides, for installed copies)."""
    override = os.environ.get("FINOPS_DEPLOY_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "deploy"


@dataclass(frozen=True, slots=True)
class StackLayout:
    """Paths of one stack; `dev up` uses .finops/, tests a folder of their own."""

    state_dir: Path
    cache_dir: Path

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"

    def log(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"
