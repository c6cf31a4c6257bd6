"""The READMEs, CONTRIBUTING.md and the pages in docs/ name files, modules and commands that
exist, and the design's layout names every module of rosetta/: a walk-through that points at a
moved file would send a contributor nowhere."""
import re
from pathlib import Path

import pytest

from parity_tests.conftest import needs
from rosetta.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["CONTRIBUTING.md", "README.md", "README.ja.md", "docs/design.md", "docs/parity.md",
        *sorted(f"docs/families/{p.name}" for p in (ROOT / "docs" / "families").glob("*.md"))]
# a path as the docs write one: a top-level package or file of this repository, then more of it
PATH = re.compile(r"`((?:shared|numpy_impl|torch_impl|tf_impl|rosetta|parity_tests|tools|notebooks|docs)/[\w/.]*)`")


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_names_exists(doc):
    text = (ROOT / doc).read_text()
    missing = sorted({p for p in PATH.findall(text) if not (ROOT / p).exists()})
    assert not missing, f"{doc} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_rosetta_command_a_doc_names_exists(doc):
    # written as code, `rosetta <word>` is a command line: the word must be a command
    text = (ROOT / doc).read_text()
    code = set(re.findall(r"`(?:\.venv/bin/)?rosetta (\w+)", text)) | set(
        re.findall(r"^(?:\.venv/bin/)?rosetta (\w+)", text, re.M))
    assert code, f"{doc} shows no rosetta command"
    assert code <= set(COMMANDS), f"{doc}: no such command: {sorted(code - set(COMMANDS))}"


def test_the_design_layout_lists_every_top_level_package():
    text = (ROOT / "docs" / "design.md").read_text()
    layout = text[text.index("## The house"):text.index("\n## ", text.index("## The house") + 1)]
    for package in ("shared/", "numpy_impl/", "torch_impl/", "tf_impl/", "rosetta/", "parity_tests/", "notebooks/"):
        assert f"\n{package}" in layout, package
    for module in sorted((ROOT / "rosetta").iterdir()):
        if module.name != "__init__.py" and not module.name.startswith((".", "__")):
            assert module.name.removesuffix(".py") in layout, f"docs/design.md's layout lacks rosetta/{module.name}"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


@needs("torch", "tf", why="the README's example compares all three packages")
@pytest.mark.parametrize("doc", ["README.md", "README.ja.md"])
def test_the_readme_python_example_runs_as_written(doc, capsys):
    blocks = _python_blocks((ROOT / doc).read_text())
    assert len(blocks) == 1, f"{doc}: one Python example"
    exec(compile(blocks[0], doc, "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    # the book's overflow example, the same from all three, and a parity table with nothing failed
    assert printed.count("[[9.99954600e-01 4.53978686e-05 2.06106005e-09]]") == 3, printed
    assert "; 0 failed" in printed and "softmax" in printed.splitlines()[-1], printed


@pytest.mark.parametrize("doc", ["README.md", "README.ja.md"])
def test_the_readme_is_a_guide_and_its_learning_path_is_the_notebooks_in_order(doc):
    text = (ROOT / doc).read_text()
    assert len(text.splitlines()) <= 200, f"{doc} is a guide: the reference lives in docs/"
    linked = re.findall(r"\(notebooks/(\d\d_\w+\.ipynb)\)", text)
    assert linked == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")), linked
