"""Where the stack keeps state, logs and cached jars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["StackLayout"]


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
