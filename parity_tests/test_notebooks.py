"""Every notebook in notebooks/ runs top to bottom, offline, in a fresh kernel, and is
committed with its outputs (`make notebooks`), so that it reads without running: each code
cell's outputs came from its present source (a digest of it is stamped in the cell), and a
fresh run shows the same kinds of output with the same text, numbers aside (they differ from
CPU to CPU; a cell tagged "measured" is compared by its kinds of output only).

A notebook lists the frameworks it imports in its metadata ("rosetta": {"needs": [...]});
it is skipped, naming the one missing, only on a machine without it."""
import importlib.util
import json
import re
import time
from pathlib import Path

import pytest

from parity_tests.conftest import needs
from rosetta import check, notebook
from shared.concepts import by_family, get

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
def test_notebook_is_committed_with_the_outputs_of_its_present_code(path):
    nb = _read(path)
    code = [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    stale = [i for i, cell in code if cell.metadata.get("rosetta", {}).get("ran") != notebook.digest(cell.source)]
    assert not stale, f"{path.name}: cells {stale} changed since they ran: `make notebooks`"
    assert all(cell.execution_count for _, cell in code), f"{path.name}: a cell never ran: `make notebooks`"
    shown = [out for _, cell in code for out in cell.outputs]
    assert not [out for out in shown if out.output_type == "error" or out.get("name") == "stderr"], path.name
    assert nb.metadata.get("rosetta", {}).get("needs") is not None, f"{path.name}: metadata.rosetta.needs missing"


@pytest.mark.parametrize("path", list(_runnable()))
def test_notebook_runs_offline(path, capsys):
    committed = _read(path)
    nb = _read(path)
    start = time.perf_counter()
    notebook.execute(nb, path.parent, timeout=CELL_TIMEOUT_S)
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
    for i, (old, new) in enumerate(zip(committed.cells, nb.cells)):
        if old.cell_type == "code":
            assert notebook.outputs_shape(new) == notebook.outputs_shape(old), f"{path.name} cell {i}: `make notebooks`"


def _exercises():
    """(notebook, concept, the cell's file text) for every exercise cell: `%%writefile exercises/<concept>.py`."""
    import nbformat
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            found = re.match(r"%%writefile exercises/(\w+)\.py\n", cell.source)
            if cell.cell_type == "code" and found:
                yield path.stem, found.group(1), cell.source[found.end():]


EXERCISES = list(_exercises()) if importlib.util.find_spec("nbformat") else []
SOLUTIONS = notebook.NOTEBOOKS / "solutions"


@needs("nbformat", why="it reads notebooks")
def test_every_notebook_has_three_exercises_each_with_its_check_and_a_worked_answer():
    per_notebook = {path.stem: [c for stem, c, _ in EXERCISES if stem == path.stem] for path in NOTEBOOKS}
    assert all(len(concepts) >= 3 for concepts in per_notebook.values()), per_notebook
    for path in NOTEBOOKS:
        source = "".join(cell.source for cell in _read(path).cells)
        for concept in per_notebook[path.stem]:
            # the grading cell calls the same function as `rosetta check`
            assert f'notebook.check("{concept}", "exercises/{concept}.py")' in source, (path.name, concept)
    assert {p.stem for p in SOLUTIONS.glob("*.py")} == {c for _, c, _ in EXERCISES}


@pytest.mark.parametrize("stem, concept, text", EXERCISES, ids=[f"{s}-{c}" for s, c, _ in EXERCISES])
def test_an_exercise_as_handed_out_fails_its_check_and_its_worked_answer_passes(stem, concept, text, tmp_path):
    # an exercise that passes as handed out teaches nothing; one that no answer passes cannot be done
    handed_out = tmp_path / f"{concept}.py"
    handed_out.write_text(text)
    assert check.report(get(concept), handed_out).code == 1
    assert check.report(get(concept), SOLUTIONS / f"{concept}.py").code == 0
