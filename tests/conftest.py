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


@pytest.fixture(scope="session", autouse=True)
def _autograph_skips_the_library():
    """Every test traces the package as users' processes do (sessionrec_tf._autograph), not
    only those that happen to import the data path first."""
    from sessionrec_tf._autograph import skip_library_code

    skip_library_code()


@pytest.fixture
def kuairand_tsv() -> Path:
    """The real KuaiRand like/hate log from ../shared/data, or skip with the reason."""
    if not KUAIRAND_TSV.exists():
        pytest.skip(f"real dataset not found at {KUAIRAND_TSV} (needs ../shared beside the repo)")
    return KUAIRAND_TSV


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES



@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """The simulator's ``tiny`` preset, prepared once per test session."""
    from sessionrec_tf.data import PrepareOptions, prepare_dataset

    out = tmp_path_factory.mktemp("tiny") / "tiny"
    return prepare_dataset("synthetic", None, out, {"size": "tiny", "seed": 0},
                           PrepareOptions(), progress=False, log=None)


# Tiny sizes, and the paper's training (no partial-session queries, one user vector, every
# negative in the rank loss): the partial-session queries add their cuts and losses to the
# traced training step, which at this size costs more than the training. Tests of the shipped
# options add SHIPPED_OPTIONS (one draw: the draws share one code path) or set them
# explicitly. max_len 16: one SSE length bucket (every bucket is a copy of the encoder in the
# traced training step).
PAPER_OPTIONS = ["task.prefix_weight=0.0", "model.user_vectors=1", "task.rank_drop_shown=false"]
SHIPPED_OPTIONS = ["task.prefix_weight=0.5", "model.user_vectors=2", "task.rank_drop_shown=true"]
TINY_MODEL = [
    "model.embedding_dim=16", "model.num_layers=1", "model.max_len=16", "model.dropout=0.1",
    "task.num_negatives=16", "train.batch_size=32", "train.eval_batch_size=64",
    "task.prefix_queries=1", *PAPER_OPTIONS,
]


# Directories whose tests train, export, run the CLI corpus or start processes: marked slow.
# `make test` runs everything; `make test-fast` (pytest -m "not slow") the rest.
SLOW_DIRS = {"badinputs", "experiments", "export", "notebooks", "training", "tuning"}
# files of the other directories whose tests do the same (Beam pipelines, models trained for
# the evaluator, the CLI and fresh-process import checks): `make test-fast` stays under 3 min
SLOW_FILES = {"data/test_prepare_beam.py", "evaluation/test_evaluator.py",
              "test_cli_and_env.py", "test_lazy_exports.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(tests)
        if rel.parts[0] in SLOW_DIRS or rel.as_posix() in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
