"""Framework-neutral input checks used by every concept's validator.

They look only at what NumPy arrays, torch tensors and TF tensors all expose the same
way (`.shape`, a dtype name, and values read eagerly), so the three backends raise the
same error for the same bad input, before any framework code runs.

Dtypes: floating inputs are float32 or float64, all in one dtype (float16 and bfloat16
are rejected: NumPy, torch and TensorFlow support them unevenly, and the tolerances are
derived for float32 and float64 only; a mix would be promoted by NumPy and refused by
torch and TF).

NaN policy: an input with NaN or inf in any entry is rejected with a ValueError that
names the concept, the argument, how many entries and where the first one is; the same
in all three backends. NumPy would carry the NaN on, torch's and TensorFlow's
`where(x > 0, x, 0)` would turn it into 0, and mining would drop or crash on it: a run
with a NaN weight would train on a finite loss in two frameworks out of three. Values are
read eagerly; inside tf.function (a symbolic tensor has no values) the check is skipped,
as the label ranges are.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np

FLOAT_DTYPES = ("float32", "float64")
UNSUPPORTED_FLOAT_DTYPES = ("float16", "bfloat16")
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


def is_array(x) -> bool:
    """A NumPy array, torch tensor or TF tensor (not a list, a number or None)."""
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (numbers.Number, str))


def require_array(concept: str, arg: str, x) -> None:
    if not is_array(x):
        raise TypeError(f"{concept}: {arg} must be an array (a NumPy array, torch tensor or TF tensor), "
                        f"got {type(x).__name__}")


def values(x) -> np.ndarray | None:
    """x's values as a NumPy array, or None where they cannot be read: a symbolic tensor
    inside tf.function."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # a torch tensor, on any device
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x.numpy())
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None


def require_finite(concept: str, arg: str, x) -> None:
    """No NaN and no inf (the NaN policy above)."""
    v = values(x)
    if v is None or v.dtype.kind not in "fc":
        return
    finite = np.isfinite(v)
    if finite.all():
        return
    bad = np.argwhere(~finite)
    first = tuple(int(i) for i in bad[0])
    kinds = " and ".join(k for k, found in (("NaN", np.isnan(v).any()), ("inf", np.isinf(v).any())) if found)
    entries = "entry" if v.size == 1 else "entries"
    where = f" (first at index {first})" if first else ""
    raise ValueError(f"{concept}: {arg} has {kinds} in {len(bad)} of {v.size} {entries}{where}; "
                     "NaN and inf inputs are rejected (the NaN policy, shared/checks.py)")


def require_float(concept: str, arg: str, x) -> None:
    """An array of float32 or float64 with finite values."""
    require_array(concept, arg, x)
    name = dtype_name(x)
    if name not in FLOAT_DTYPES:
        why = (" (half precision is not supported: cast to float32)" if name in UNSUPPORTED_FLOAT_DTYPES else "")
        raise TypeError(f"{concept}: {arg} must be a floating-point array "
                        f"(float32 or float64), got dtype {name}{why}")
    require_finite(concept, arg, x)


def require_same_dtype(concept: str, **arrays) -> None:
    """The floating arrays given share one dtype: NumPy would promote a mix silently,
    torch and TF refuse it."""
    named = [(arg, dtype_name(x)) for arg, x in arrays.items()]
    first_arg, first = named[0]
    for arg, name in named[1:]:
        if name != first:
            raise TypeError(f"{concept}: {arg} is {name} but {first_arg} is {first}: "
                            "pass every floating-point array in one dtype")


def require_floats(concept: str, optional: tuple[str, ...] = (), **arrays) -> str:
    """require_float for each array given, then one dtype for all; returns it. The names
    in `optional` may be None (a layer without bias)."""
    present = {arg: x for arg, x in arrays.items() if not (x is None and arg in optional)}
    for arg, x in present.items():
        require_float(concept, arg, x)
    require_same_dtype(concept, **present)
    return dtype_name(next(iter(present.values())))


def require_integer(concept: str, arg: str, x, what: str = "integers") -> None:
    require_array(concept, arg, x)
    name = dtype_name(x)
    if name not in INT_DTYPES:
        raise TypeError(f"{concept}: {arg} must be {what}, got dtype {name}")


def require_labels(concept: str, arg: str, t, classes: int, ids: str = "class labels",
                   of: str = "classes") -> None:
    """Integer labels in [0, classes): a label out of range would index another row in
    NumPy and TF (-1 is the last one) and fail inside torch."""
    require_integer(concept, arg, t, f"integer {ids}")
    v = values(t)
    if v is None or v.size == 0:
        return
    lo, hi = int(v.min()), int(v.max())
    if lo < 0 or hi >= classes:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{concept}: {arg} holds {bad}, out of range for {classes} {of} "
                         f"(it must be in [0, {classes - 1}])")


def require_probabilities(concept: str, arg: str, x, hint: str) -> None:
    """Values in [0, 1]: log(y) of a negative y would be a silent NaN (read eagerly)."""
    v = values(x)
    if v is None or v.size == 0:
        return
    lo, hi = v.min(), v.max()
    if lo < 0 or hi > 1:
        raise ValueError(f"{concept}: {arg} has values outside [0, 1] (from {float(lo):.3g} to {float(hi):.3g}): "
                         f"{hint}")


def require_nonnegative_values(concept: str, arg: str, x, why: str) -> None:
    """No entry below 0 (read eagerly): the square root of a negative variance or second
    moment would be a silent NaN."""
    v = values(x)
    if v is not None and v.size and v.min() < 0:
        raise ValueError(f"{concept}: {arg} has negative entries (down to {float(v.min()):.3g}), "
                         f"but {why}: it cannot be below 0")


def require_values_in(concept: str, arg: str, x, allowed: tuple, what: str) -> None:
    """Every entry one of `allowed` (read eagerly): a dropout mask's 0 and 1."""
    v = values(x)
    if v is not None:
        bad = sorted(set(np.unique(v).tolist()) - set(allowed))
        if bad:
            raise ValueError(f"{concept}: {arg} must hold only {what}, found {bad[0]!r}")


def require_shapes(concept: str, arg: str, tree: dict, shapes: dict, why: str) -> None:
    """tree[name] has shapes[name], for every name in `shapes`."""
    for name, shape in shapes.items():
        require_shape(concept, f"{arg}[{name!r}]", tree[name], tuple(shape), why)


def require_batch(concept: str, dtype: str, floats: dict, labels: dict | None = None, classes: int = 0,
                  ids: str = "class labels") -> int:
    """A train step's batch: the floating arrays in `floats` (by their names in the
    message) finite and in the parameters' `dtype`, the integer `labels` in [0, classes),
    all with one first axis N >= 1; returns N."""
    arrays = {**floats, **(labels or {})}
    for name, x in floats.items():
        require_float(concept, name, x)
        if dtype_name(x) != dtype:
            raise TypeError(f"{concept}: {name} is {dtype_name(x)} but params are {dtype}: "
                            "pass every floating-point array in one dtype")
    for name, t in (labels or {}).items():
        require_labels(concept, name, t, classes, ids)
    sizes = {name: shape_of(x)[0] if shape_of(x) else None for name, x in arrays.items()}
    first, n = next(iter(sizes.items()))
    if not n:
        raise ValueError(f"{concept}: {first} is empty (shape {shape_of(arrays[first])}); "
                         "a batch needs at least one example")
    for name, size in sizes.items():
        if size != n:
            raise ValueError(f"{concept}: {name} must have one row per example (N = {n} from {first}), "
                             f"got shape {shape_of(arrays[name])}")
    return n


def require_tree(concept: str, arg: str, tree, dtype: str | None = None) -> str:
    """Every leaf of a dict of arrays (a model's parameters, an optimizer's state, at any
    depth) is a finite float32 or float64 array, all in one dtype (`dtype` if given);
    Python numbers (a step count) may stand between them. Returns the dtype."""
    if not isinstance(tree, dict):
        raise TypeError(f"{concept}: {arg} must be a dict of arrays, got {type(tree).__name__}")
    for key, leaf in tree.items():
        name = f"{arg}[{key!r}]"
        if isinstance(leaf, dict):
            dtype = require_tree(concept, name, leaf, dtype)
        elif not (isinstance(leaf, numbers.Number) and not isinstance(leaf, bool)):
            require_float(concept, name, leaf)
            require_nonempty(concept, name, leaf, "a parameter or state without entries has no meaning here")
            if dtype is None:
                dtype = dtype_name(leaf)
            elif dtype_name(leaf) != dtype:
                raise TypeError(f"{concept}: {name} is {dtype_name(leaf)} but the other arrays are {dtype}: "
                                "pass every floating-point array in one dtype")
    return dtype


def require_nonempty(concept: str, arg: str, x, why: str = "an empty batch has no loss or output to compute") -> None:
    shape = shape_of(x)
    if 0 in shape:
        raise ValueError(f"{concept}: {arg} is empty (shape {shape}); {why}")


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
