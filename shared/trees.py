"""Nested inputs and outputs: a model's parameters, an optimizer's state, a train step's
result. A tree is a dict, list or tuple of trees, or a leaf (an array, a tensor, a Python
number or string). The engine converts, casts and compares trees leaf by leaf, and names
each leaf by its dotted path: `params.W1`, `opt_state.W1.m`, `masks.0`."""
from __future__ import annotations

from typing import Any, Callable


def tree_map(fn: Callable[[Any], Any], tree):
    """The same structure with `fn` applied to every leaf."""
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, v) for v in tree)
    return fn(tree)


def flatten(tree, prefix: str = "") -> dict[str, Any]:
    """Every leaf by its dotted path; a bare leaf has the path ''."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        return {prefix: tree}
    leaves = {}
    for key, value in items:
        leaves.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return leaves


def leaf(tree, path: str):
    """The leaf at a dotted path ('' is the tree itself)."""
    for key in path.split(".") if path else ():
        tree = tree[int(key) if isinstance(tree, (list, tuple)) else key]
    return tree


def with_leaf(tree, path: str, value):
    """A copy of the tree's containers along `path` with that leaf replaced by `value`."""
    if not path:
        return value
    key, _, rest = path.partition(".")
    if isinstance(tree, dict):
        return {**tree, key: with_leaf(tree[key], rest, value)}
    items = list(tree)
    items[int(key)] = with_leaf(items[int(key)], rest, value)
    return type(tree)(items)
