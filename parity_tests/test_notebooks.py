"""Every notebook in notebooks/ runs top to bottom, offline, in a fresh kernel, and is
committed without outputs (they are made here, on the reader's machine, not copied).

A notebook lists the frameworks it imports in its metadata ("rosetta": {"needs": [...]});
it is skipped, naming the one missing, only on a machine without it."""
import json
import os
import re
import time
from pathlib import Path

import pytest

from parity_tests.conftest import needs
from rosetta import notebook
from shared.concepts import by_family

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 600  # a hung cell fails the test instead of the CI run


def _runnable():
    """Each notebook, skipped (naming what is missing) where a framework its metadata lists is not."""
    for path in NOTEBOOKS:
        wanted = json.loads(path.read_text())["metadata"].get("rosetta", {}).get("needs", [])
        yield pytest.param(path, id=path.stem, marks=[needs(*wanted, why="the notebook imports it"),
                                                      needs("nbclient", "nbformat", why="they run notebooks")])


def _read(path):
    import nbformat
    return nbformat.read(path, as_version=4)


def test_there_is_one_notebook_per_concept_family():
    # the specs place every concept in a family; a family's notebook is named by its place
    expected = {notebook.notebook_name(number, family) for number, (family, _) in enumerate(by_family(), 1)}
    assert {p.name for p in NOTEBOOKS} == expected


def test_the_notebooks_index_is_the_one_the_specs_give():
    # `rosetta guide` rewrites it; a concept added to a family shows up there
    assert notebook.index() in (notebook.NOTEBOOKS / "README.md").read_text(), "run `rosetta guide`"


@needs("nbformat", why="it reads notebooks")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = _read(path)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"
    assert nb.metadata.get("rosetta", {}).get("needs") is not None, f"{path.name}: metadata.rosetta.needs missing"


@pytest.mark.parametrize("path", list(_runnable()))
def test_notebook_runs_offline(path, capsys):
    nb = _read(path)
    import nbclient
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
