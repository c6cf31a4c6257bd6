"""Reading the implementations' source, for `rosetta show` and the notebooks: read from the
files, so that showing a concept needs no framework installed."""
from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

from shared import backends


def _module(package: str, module: str) -> tuple[str, dict] | None:
    """The module's text and its top-level functions and classes by name, read from the file
    without importing the package (tf_impl/__init__ imports TensorFlow)."""
    spec = importlib.util.find_spec(package)
    path = Path(spec.origin).parent / f"{module}.py" if spec and spec.origin else None
    if path is None or not path.is_file():
        return None
    text = path.read_text()
    return text, {node.name: node for node in ast.parse(text).body
                  if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def _used(defined: dict, names: list[str]) -> set[str]:
    """The named definitions and every one of the module's own they use, directly or
    through one another."""
    wanted, todo = set(), [name for name in names if name in defined]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name) and n.id in defined]
    return wanted


def functions(package: str, module: str, names: list[str], *, helpers: bool = True) -> list[str]:
    """The source of the named functions (or classes) and, with `helpers`, of every function
    or class of the same module they use (a private helper such as optimizers._adam, a
    base class), in file order."""
    found = _module(package, module)
    if found is None:
        return []
    text, defined = found
    wanted = _used(defined, names) if helpers else {name for name in names if name in defined}
    return [ast.get_source_segment(text, node) for node in defined.values() if node.name in wanted]


def with_bases(package: str, module: str, name: str) -> list[str]:
    """The names of class `name` and of the module's own classes it derives from, bases first."""
    found = _module(package, module)
    if found is None or name not in found[1]:
        return []
    defined = found[1]
    bases = [b.id for b in getattr(defined[name], "bases", []) if isinstance(b, ast.Name) and b.id in defined]
    return [n for base in bases for n in with_bases(package, module, base)] + [name]


def helpers_of(package: str, module: str, names: list[str]) -> list[str]:
    """The names of the module's own functions and classes the named ones use, in file order."""
    found = _module(package, module)
    if found is None:
        return []
    _, defined = found
    used = _used(defined, names) - set(names)
    return [name for name in defined if name in used]


def concept_sources(concept) -> dict[str, str]:
    """{"<package>.<module>": the concept's function (and NumPy's hand-written backward)
    with the module's helpers it uses}, one entry per backend."""
    found = {}
    for backend, package in backends.PACKAGES.items():
        names = [concept.fn_name] + ([f"{concept.fn_name}_backward"] if backend == "numpy" else [])
        found[f"{package}.{concept.module}"] = "\n\n".join(functions(package, concept.module, names)) or (
            f"# {package}.{concept.module}.{concept.fn_name} not found")
    return found


def _join_comments(code: str) -> list[str]:
    """A comment written over several lines becomes one line, to be re-wrapped whole."""
    lines: list[str] = []
    for line in code.splitlines():
        text = line.strip()
        if text.startswith("#") and lines and lines[-1].strip().startswith("#") \
                and lines[-1].startswith(line[:len(line) - len(text)] + "#"):
            lines[-1] += " " + text.lstrip("# ")
        else:
            lines.append(line)
    return lines


def fit(code: str, width: int) -> str:
    """Re-wrap source for a narrow column, keeping its shape: long comments become
    several comment lines, long code lines and bracket continuations hang 4 spaces in."""
    lines, depth, statement_indent = [], 0, ""
    for line in _join_comments(code):
        text = line.strip()
        if depth == 0:
            statement_indent = line[:len(line) - len(text)]
        indent = statement_indent + "    " if depth else statement_indent
        if "  # " in text and not text.startswith("#"):  # a trailing comment goes above its code
            text, comment = text.split("  # ", 1)
            lines += textwrap.wrap(comment, width, initial_indent=indent + "# ", subsequent_indent=indent + "# ",
                                   break_long_words=False)
        if text.startswith("#"):
            lines += textwrap.wrap(text.lstrip("# "), width, initial_indent=indent + "# ",
                                   subsequent_indent=indent + "# ", break_long_words=False)
            continue
        # never inside a name: a line breaks at spaces only (one token longer than the column stays whole)
        lines += textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=statement_indent + "    ",
                               break_on_hyphens=False, break_long_words=False) or [""]
        depth = max(0, depth + sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}"))
    return "\n".join(lines)
