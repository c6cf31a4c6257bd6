"""Every notebook in notebooks/ runs top to bottom, offline, in a fresh kernel, and is
committed without outputs (they are made here, on the reader's machine, not copied).

A notebook lists the frameworks it imports in its metadata ("rosetta": {"needs": [...]});
it is skipped, naming the one missing, only on a machine without it."""
import importlib.util
import os
import re
import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MODULES = {"torch": "torch", "tf": "tensorflow", "tf_keras": "tf_keras", "tensorflow_hub": "tensorflow_hub"}
CELL_TIMEOUT_S = 600  # a hung cell fails the test instead of the CI run


def _read(path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat not installed")
    return nbformat.read(path, as_version=4)


def test_there_is_one_notebook_per_concept_family():
    names = {p.stem for p in NOTEBOOKS}
    assert len(names) == 8, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = _read(path)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"
    assert nb.metadata.get("rosetta", {}).get("needs") is not None, f"{path.name}: metadata.rosetta.needs missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline(path, capsys):
    nb = _read(path)
    for need in nb.metadata["rosetta"]["needs"]:
        if importlib.util.find_spec(MODULES[need]) is None:
            pytest.skip(f"{MODULES[need]} not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient not installed")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernel inherits it: no TF start-up logs in outputs
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    with capsys.disabled():
        print(f"\n{path.name}: {time.perf_counter() - start:.1f} s")
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors  # execute() raises on the first error; this guards allow_errors changes
    # a parity cell counts its failed comparisons in its caption ("...; 0 failed"): none may fail
    for cell in nb.cells:
        for out in getattr(cell, "outputs", []):
            text = out.text if out.output_type == "stream" else out.get("data", {}).get("text/plain", "")
            assert not re.search(r"\b[1-9]\d* failed", text), f"{path.name}: {text[:300]}"
