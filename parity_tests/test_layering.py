"""The import rules of the house, read from the source with `ast` (nothing is imported):

- shared/ is the contract and the engine: no framework at module level, nothing from the
  application (rosetta/), no implementation module by name (the engine reaches them
  through a concept's module name, backends.implementation);
- the implementations import from shared/ only its validators and constants (the specs,
  checks, layouts, the lazy framework imports, the BiT checkpoint names), never the engine;
- nothing imports the application but the application (and the tests).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch", "tensorflow", "keras", "tf_keras", "tensorflow_hub"}
IMPLEMENTATIONS = {"numpy_impl", "torch_impl", "tf_impl"}
# what an implementation may import from shared/: the contract's validators and constants
CONTRACT = {"shared.concepts", "shared.checks", "shared.layouts", "shared.lazy", "shared.bit_weights"}


def _imports(path: Path):
    """(module imported, at module level?) for every import in the file; `from a import b`
    gives a.b when b is a module of package a, else a."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                is_module = (ROOT / (dotted.replace(".", "/") + ".py")).is_file() or (
                    ROOT / dotted.replace(".", "/")).is_dir()
                yield (dotted if is_module else node.module), id(node) in top


def _files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def _ids(files):
    return [str(f.relative_to(ROOT)) for f in files]


def _root(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", _files("shared"), ids=_ids(_files("shared")))
def test_shared_imports_no_framework_at_module_level_no_application_and_no_implementation(path):
    bad = [(name, top) for name, top in _imports(path)
           if (top and _root(name) in FRAMEWORKS) or _root(name) == "rosetta" or _root(name) in IMPLEMENTATIONS]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad} (True: at module level)"


IMPLEMENTATION_FILES = [f for package in sorted(IMPLEMENTATIONS) for f in _files(package)]


@pytest.mark.parametrize("path", IMPLEMENTATION_FILES, ids=_ids(IMPLEMENTATION_FILES))
def test_implementations_import_only_the_contract_from_shared_and_never_the_application(path):
    from_shared = {name for name, _ in _imports(path) if _root(name) == "shared"}
    engine = {name for name in from_shared if not any(name == c or name.startswith(c + ".") for c in CONTRACT)}
    assert not engine, f"{path.relative_to(ROOT)} imports the engine or the application: {sorted(engine)}"
    assert not {name for name, _ in _imports(path) if _root(name) == "rosetta"}


@pytest.mark.parametrize("path", IMPLEMENTATION_FILES, ids=_ids(IMPLEMENTATION_FILES))
def test_an_implementation_package_never_imports_another(path):
    own = path.relative_to(ROOT).parts[0]
    others = {name for name, _ in _imports(path) if _root(name) in IMPLEMENTATIONS - {own}}
    assert not others, f"{path.relative_to(ROOT)} imports {sorted(others)}"


def test_the_rules_see_a_violation(tmp_path, monkeypatch):
    # the reader itself: a file that breaks every rule is seen breaking each
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom rosetta import cli\nfrom numpy_impl import mlp\n"
                   "def f():\n    from shared import parity\n")
    found = dict(_imports(bad))
    assert found == {"torch": True, "rosetta.cli": True, "numpy_impl.mlp": True, "shared.parity": False}


APPLICATION_FILES = _files("rosetta")
LONGEST = 50  # lines: a function of the application that outgrows this is doing two things


@pytest.mark.parametrize("path", APPLICATION_FILES, ids=_ids(APPLICATION_FILES))
def test_no_function_of_the_application_is_over_50_lines(path):
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= LONGEST]
    assert not long, f"{path.relative_to(ROOT)}: {long}"
