"""Shared test configuration: Keras 2, quiet TensorFlow, paths to ../shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SESSIONREC_SHARED", REPO.parent / "shared"))
KUAIRAND_TSV = SHARED / "data" / "kuairand_likehate" / "interactions.tsv"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def kuairand_tsv() -> Path:
    """The real KuaiRand like/hate log from ../shared/data, or skip with the reason."""
    if not KUAIRAND_TSV.exists():
        pytest.skip(f"real dataset not found at {KUAIRAND_TSV} (needs ../shared beside the repo)")
    return KUAIRAND_TSV


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES

