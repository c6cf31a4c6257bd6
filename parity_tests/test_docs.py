"""CONTRIBUTING.md, docs/design.md and the README's layout name files, modules and commands
that exist: a walk-through that points at a moved file would send a contributor nowhere."""
import re
from pathlib import Path

import pytest

from rosetta.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["CONTRIBUTING.md", "docs/design.md", "README.md"]
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


def test_the_readme_layout_lists_every_top_level_package():
    text = (ROOT / "README.md").read_text()
    layout = text[text.index("## Layout"):]
    for package in ("shared/", "numpy_impl/", "torch_impl/", "tf_impl/", "rosetta/", "parity_tests/", "notebooks/"):
        assert f"\n{package}" in layout, package
    for module in sorted((ROOT / "rosetta").iterdir()):
        if module.name != "__init__.py" and not module.name.startswith((".", "__")):
            assert module.name.removesuffix(".py") in layout, f"README's layout does not mention rosetta/{module.name}"
