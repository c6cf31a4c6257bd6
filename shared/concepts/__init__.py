"""One spec file per concept; each module defines CONCEPT. Discovery is by file, so
adding a concept is adding a file: no registry to keep in sync."""
from __future__ import annotations

import importlib
import pkgutil

from shared.spec import Concept


def all_concepts() -> list[Concept]:
    concepts = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            concepts.append(importlib.import_module(f"{__name__}.{info.name}").CONCEPT)
    return sorted(concepts, key=lambda c: (c.module, c.name))


def get(name: str) -> Concept:
    for concept in all_concepts():
        if concept.name == name:
            return concept
    known = ", ".join(c.name for c in all_concepts())
    raise KeyError(f"no concept named {name!r}; known: {known}")
