"""One spec file per concept; each module defines CONCEPT. Discovery is by file, so
adding a concept is adding a file: no registry to keep in sync. The order is the
learning order the specs declare (their family, then their lesson in it)."""
from __future__ import annotations

import importlib
import pkgutil

from shared.concepts._families import FAMILIES, position
from shared.spec import Concept


def all_concepts() -> list[Concept]:
    concepts = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            concepts.append(importlib.import_module(f"{__name__}.{info.name}").CONCEPT)
    return sorted(concepts, key=learning_order)


def learning_order(concept: Concept) -> tuple[int, int, str]:
    """The book's chapters first, then beyond (shared/concepts/_families.py); a spec
    without a known family sorts last, where test_specs names it."""
    known = concept.family in {f.id for f in FAMILIES}
    return (position(concept.family) if known else len(FAMILIES) + 1, concept.lesson, concept.name)


def by_family() -> list[tuple]:
    """[(Family, [its concepts in lesson order])] in learning order."""
    concepts = all_concepts()
    return [(family, [c for c in concepts if c.family == family.id]) for family in FAMILIES]


def get(name: str) -> Concept:
    for concept in all_concepts():
        if concept.name == name:
            return concept
    known = ", ".join(c.name for c in all_concepts())
    raise KeyError(f"no concept named {name!r}; known: {known}")
