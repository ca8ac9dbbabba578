"""notebooks/quickstart.ipynb runs end to end on a tiny setting (its parameters cell shrunk)."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"

TINY = '''SIZE = "tiny"
EPOCHS = 1
EMBEDDING_DIM = 16
NUM_LAYERS = 1
MAX_LEN = 16
DATA_DIR = "tfrecords/quickstart"
RUN_DIR = "runs/quickstart"
'''


def test_notebook_outputs_are_stripped():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.timeout(900)
def test_quickstart_runs(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    params[0].source = TINY
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "SessionRec-HSTU" in text and "most-popular" in text
    assert " 1. item" in text and "10. item" in text
    assert (tmp_path / "tfrecords" / "quickstart" / "dataset.json").exists()
