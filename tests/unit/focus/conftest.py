"""Shared paths and helpers of the FOCUS ingest unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from finops.domain.focus.mapping import MappingRules, load_rules

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "focus"
SAMPLE = ROOT.parent / "shared" / "data" / "focus-1.0-sample" / "focus_sample.csv"


@pytest.fixture
def rules() -> MappingRules:
    """The rules of the issue's example, over the test fixtures."""
    return load_rules(DATA / "rules.yaml")


@pytest.fixture
def sample() -> Path:
    """The official FOCUS 1.0 sample (FinOps Foundation, CC BY 4.0)."""
    if not SAMPLE.is_file():
        pytest.skip("the shared FOCUS sample is not beside the repository")
    return SAMPLE
