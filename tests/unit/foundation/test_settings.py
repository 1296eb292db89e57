"""Settings: where the deploy folder (migrations, the Kafka pom) is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from finops.adapters.migrations import load_migrations
from finops.contracts.settings import DevStackSettings, PostgresSettings
from finops.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_migrations_default_to_the_checkouts_deploy_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FINOPS_DEPLOY_DIR", raising=False)
    folder = PostgresSettings().migrations_dir
    assert folder == ROOT / "deploy" / "migrations"
    assert [m.version for m in load_migrations(folder)][:1] == [1]


def test_finops_deploy_dir_moves_migrations_and_the_kafka_pom(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FINOPS_DEPLOY_DIR", str(tmp_path))
    assert PostgresSettings().migrations_dir == tmp_path / "migrations"
    assert DevStackSettings().deploy_dir == tmp_path


def test_a_missing_migrations_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nowhere: no migrations folder"):
        load_migrations(tmp_path / "nowhere")
