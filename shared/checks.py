"""Framework-neutral input checks used by every concept's validator.

They look only at what NumPy arrays, torch tensors and TF tensors all expose the same
way (`.shape`, a dtype name), so the three backends raise the same error for the same
bad input, before any framework code runs.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def dtype_name(x) -> str:
    """'float32' for numpy, torch ('torch.float32') and TF tensors alike."""
    return _dtype_name(x.dtype)


@lru_cache(maxsize=None)
def _dtype_name(dtype) -> str:
    # cached: validators run on every call, and NumPy builds dtype names slowly
    name = getattr(dtype, "name", None) or str(dtype)
    return name.removeprefix("torch.")


def shape_of(x) -> tuple[int, ...]:
    if isinstance(x, np.ndarray):
        return x.shape
    return tuple(int(d) for d in x.shape)


def require_float(concept: str, arg: str, x) -> None:
    name = dtype_name(x)
    if name not in FLOAT_DTYPES:
        raise TypeError(f"{concept}: {arg} must be a floating-point array "
                        f"(float32 or float64), got dtype {name}")


def require_nonempty(concept: str, arg: str, x) -> None:
    shape = shape_of(x)
    if 0 in shape:
        raise ValueError(f"{concept}: {arg} is empty (shape {shape}); "
                         "an empty batch has no loss or softmax to compute")


def require_min_rank(concept: str, arg: str, x, rank: int) -> None:
    shape = shape_of(x)
    if len(shape) < rank:
        raise ValueError(f"{concept}: {arg} must have rank >= {rank}, "
                         f"got rank {len(shape)} (shape {shape})")


def normalize_axis(concept: str, axis: int, ndim: int) -> int:
    if not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise ValueError(f"{concept}: axis must be an int in [{-ndim}, {ndim - 1}] "
                         f"for rank-{ndim} input, got {axis!r}")
    return axis % ndim


def require_nonnegative(concept: str, arg: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{concept}: {arg} must be a number >= 0, got {value!r}")


def require_choice(concept: str, arg: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{concept}: {arg} must be one of {tuple(choices)}, got {value!r}")


def require_rank(concept: str, arg: str, x, ranks: tuple[int, ...], what: str = "") -> None:
    shape = shape_of(x)
    if len(shape) not in ranks:
        expected = " or ".join(str(r) for r in ranks)
        raise ValueError(f"{concept}: {arg} must have rank {expected}{what}, "
                         f"got rank {len(shape)} (shape {shape})")


def require_shape(concept: str, arg: str, x, shape: tuple[int, ...], why: str) -> None:
    got = shape_of(x)
    if got != tuple(shape):
        raise ValueError(f"{concept}: {arg} must have shape {tuple(shape)} ({why}), got shape {got}")


def require_number_in(concept: str, arg: str, value, lo: float, hi: float, *, hi_open: bool = False) -> None:
    """lo <= value <= hi (or < hi with hi_open)."""
    inside = (isinstance(value, numbers.Real) and not isinstance(value, bool)
              and lo <= value and (value < hi if hi_open else value <= hi))
    if not inside:
        interval = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
        raise ValueError(f"{concept}: {arg} must be a number in {interval}, got {value!r}")


def require_bool(concept: str, arg: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{concept}: {arg} must be True or False, got {value!r}")


def require_keys(concept: str, arg: str, value, keys: tuple[str, ...]) -> None:
    """`value` is a dict with exactly these keys (a train step's hyper-parameters)."""
    if not isinstance(value, dict) or set(value) != set(keys):
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ValueError(f"{concept}: {arg} must be a dict with keys {keys}, got {got}")
