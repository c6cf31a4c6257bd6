"""The command line's argument types: every option is checked while the line is parsed,
before any work, and a bad one is one line naming the option and what it accepts, exit
status 2, no traceback (argparse's convention for usage errors)."""
from __future__ import annotations

import argparse
import difflib
import math
import os
import pkgutil
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _type(name: str, check):
    """An argparse type called `name` in messages; `check(text)` returns the value or
    raises ValueError with what the option accepts."""
    def convert(text: str):
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{error}, got {text!r}") from None
    convert.__name__ = name
    return convert


def integer(low: int, high: int | None = None):
    """An int in [low, high] (no upper bound without `high`)."""
    what = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def check(text):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"must be {what}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be {what}")
        return value
    return _type(what, check)


def positive_number():
    """A finite float > 0 (a learning rate, a margin)."""
    def check(text):
        try:
            value = float(text)
        except ValueError:
            raise ValueError("must be a number > 0") from None
        if not (math.isfinite(value) and value > 0):
            raise ValueError("must be a finite number > 0")
        return value
    return _type("a number > 0", check)


def _writable_parent(text: str) -> Path:
    path = Path(text)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"the directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"the directory {str(parent)!r} is not writable")
    if path.is_dir():
        raise ValueError("is a directory, not a file name")
    return path


def output_file():
    """A file we may create: its directory exists and is writable (checked now, not after
    minutes of training)."""
    return _type("a file to write", lambda text: str(_writable_parent(text)))


def image_file():
    """An output file whose extension matplotlib can write (png, pdf, svg, ...)."""
    def check(text):
        from matplotlib.backend_bases import FigureCanvasBase
        formats = FigureCanvasBase.get_supported_filetypes()
        path = _writable_parent(text)
        if path.suffix.lower().lstrip(".") not in formats:
            raise ValueError(f"must end in one of {', '.join('.' + f for f in sorted(formats))}")
        return str(path)
    return _type("an image file", check)


def concept_names() -> list[str]:
    """Every concept's name, read from the spec files' names (one file per concept, named
    after it; parity_tests/test_specs.py holds them equal) without importing them."""
    from shared import concepts
    return sorted(info.name for info in pkgutil.iter_modules(concepts.__path__) if not info.name.startswith("_"))


def unknown_concept(name: str) -> str:
    """'no concept named ...; did you mean ...?', for a name that is not a concept."""
    names = concept_names()
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"no concept named {name!r}{hint} (`rosetta list` shows all {len(names)})"


def concept(text: str) -> str:
    """A concept's name, else 'did you mean'."""
    if text not in concept_names():
        raise argparse.ArgumentTypeError(unknown_concept(text))
    return text


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version
    try:
        return installed_version("dl-rosetta")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"
