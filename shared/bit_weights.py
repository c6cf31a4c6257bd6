"""BiT checkpoints (.npz) <-> the canonical BiT parameter dict. NumPy only: no framework.

The BiT release (google-research/big_transfer; gs://bit_models/BiT-{M,S}-R{50,101,152}x{1..4}.npz)
stores one flat .npz whose names are the TF variable scopes of the original model, kernels
in TF's HWIO layout. The names, as bit_pytorch/models.py `ResNetV2.load_from` and
`PreActBottleneck.load_from` read them (prefix "resnet/"):

  resnet/root_block/standardized_conv2d/kernel                 [7, 7, 3, C0]
  resnet/block{i}/unit{j:02d}/a/group_norm/gamma | beta          [C_in]
  resnet/block{i}/unit{j:02d}/a/proj/standardized_conv2d/kernel  [1, 1, C_in, C_out] (projection units)
  resnet/block{i}/unit{j:02d}/a/standardized_conv2d/kernel       [1, 1, C_in, C_mid]
  resnet/block{i}/unit{j:02d}/b/group_norm/gamma | beta          [C_mid]
  resnet/block{i}/unit{j:02d}/b/standardized_conv2d/kernel       [3, 3, C_mid, C_mid]
  resnet/block{i}/unit{j:02d}/c/group_norm/gamma | beta          [C_mid]
  resnet/block{i}/unit{j:02d}/c/standardized_conv2d/kernel       [1, 1, C_mid, C_out]
  resnet/group_norm/gamma | beta                                 [C_last]
  resnet/head/conv2d/kernel                                      [1, 1, C_last, K]
  resnet/head/conv2d/bias                                        [K]

bit_tf2/models.py builds the same scopes with Keras layers ("root_block", "block1"/"unit01",
"a/standardized_conv2d", "a/proj/standardized_conv2d", "group_norm"), except that its head is
a Dense named "head/dense" (kernel [C, K]); the .npz keeps the TF1 1x1-conv head
"head/conv2d". The projection sits in every block's unit01 (BiT's blocks all change the
channel count), as in the canonical dict.

Canonical (shared/concepts/_bit.py): OIHW kernels, head W [C_last, K]. The conversions are
transposes and reshapes, so every round trip is exact (bit for bit, any dtype).
"""
from __future__ import annotations

import os
import re

import numpy as np

from shared import layouts
from shared.concepts import _bit

PREFIX = "resnet/"
CONV = "standardized_conv2d/kernel"
HEAD = ("head/W", "head/b")
HEAD_KERNEL = "head/conv2d/kernel"
HEAD_BIAS = "head/conv2d/bias"

_UNIT = re.compile(r"^block(\d+)/unit(\d{2})/(.+)$")
_UNIT_PARTS = {  # canonical suffix inside a unit -> the checkpoint's
    "a/gn/gamma": "a/group_norm/gamma", "a/gn/beta": "a/group_norm/beta",
    "a/proj": "a/proj/" + CONV, "a/conv": "a/" + CONV,
    "b/gn/gamma": "b/group_norm/gamma", "b/gn/beta": "b/group_norm/beta", "b/conv": "b/" + CONV,
    "c/gn/gamma": "c/group_norm/gamma", "c/gn/beta": "c/group_norm/beta", "c/conv": "c/" + CONV,
}
_UNIT_PARTS_BACK = {v: k for k, v in _UNIT_PARTS.items()}
_TOP = {"root/conv": "root_block/" + CONV, "gn/gamma": "group_norm/gamma", "gn/beta": "group_norm/beta",
        "head/W": HEAD_KERNEL, "head/b": HEAD_BIAS}
_TOP_BACK = {v: k for k, v in _TOP.items()}
_KERNELS = ("/conv", "/proj")  # canonical OIHW kernels end so (root/conv included)


# ---- names --------------------------------------------------------------------------

def bit_name(name: str, prefix: str = PREFIX) -> str:
    """The checkpoint's name for a canonical name ("block1/unit01/a/gn/gamma" ->
    "resnet/block1/unit01/a/group_norm/gamma")."""
    if name in _TOP:
        return prefix + _TOP[name]
    m = _UNIT.match(name)
    if m and m.group(3) in _UNIT_PARTS:
        return f"{prefix}block{m.group(1)}/unit{m.group(2)}/{_UNIT_PARTS[m.group(3)]}"
    raise KeyError(f"{name!r} is not a canonical BiT parameter name")


def canonical_name(name: str, prefix: str = PREFIX) -> str:
    """The inverse of bit_name; KeyError for a name that is not a BiT checkpoint name."""
    if not name.startswith(prefix):
        raise KeyError(f"{name!r} does not start with {prefix!r}")
    rest = name[len(prefix):]
    if rest in _TOP_BACK:
        return _TOP_BACK[rest]
    m = _UNIT.match(rest)
    if m and m.group(3) in _UNIT_PARTS_BACK:
        return f"block{m.group(1)}/unit{m.group(2)}/{_UNIT_PARTS_BACK[m.group(3)]}"
    raise KeyError(f"{name!r} is not a BiT checkpoint name")


def _canonical_names(depth, head=True):
    """Canonical names in the contract's order for blocks of `depth` units (projection in unit01)."""
    names = ["root/conv"]
    for i, units in enumerate(depth, start=1):
        for j in range(1, units + 1):
            p = f"block{i}/unit{j:02d}/"
            names += [p + "a/gn/gamma", p + "a/gn/beta"] + ([p + "a/proj"] if j == 1 else [])
            names += [p + s for s in ("a/conv", "b/gn/gamma", "b/gn/beta", "b/conv", "c/gn/gamma", "c/gn/beta",
                                      "c/conv")]
    return names + ["gn/gamma", "gn/beta"] + (list(HEAD) if head else [])


def _depth_of(canonical_names):
    """Units per block, from the highest unit index seen in each block 1..max block."""
    seen = {}
    for name in canonical_names:
        m = _UNIT.match(name)
        if m:
            i, j = int(m.group(1)), int(m.group(2))
            seen[i] = max(seen.get(i, 0), j)
    return tuple(seen.get(i, 0) for i in range(1, max(seen, default=0) + 1))


def canonical_shapes(config) -> dict:
    """{canonical name: shape} for a config, in the canonical order (shared/concepts/_bit.py)."""
    return _bit.param_shapes(config)


def bit_shapes(config, *, head=True, prefix=PREFIX) -> dict:
    """{checkpoint name: shape} (HWIO kernels, head kernel [1, 1, C, K]) for a config."""
    out = {}
    for name, shape in canonical_shapes(config).items():
        if name in HEAD and not head:
            continue
        out[bit_name(name, prefix)] = _to_bit_shape(name, shape)
    return out


def _to_bit_shape(name, shape):
    if name == "head/W":
        return (1, 1) + tuple(shape)
    if name.endswith(_KERNELS):
        o, i, kh, kw = shape
        return (kh, kw, i, o)
    return tuple(shape)


# ---- conversions ----------------------------------------------------------------------

def _array(value):
    """A fresh NumPy copy (a torch / TF tensor goes through its .numpy())."""
    if hasattr(value, "detach"):  # torch
        value = value.detach().cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.array(value, copy=True)


def _check_names(where, given, expected, hint=""):
    given, expected = set(given), set(expected)
    missing, extra = sorted(expected - given), sorted(given - expected)
    if missing or extra:
        raise ValueError(f"{where}: the names do not make a BiT model{hint}; missing {missing}, "
                         f"unexpected {extra}")


def to_bit_npz(params, *, head=True, prefix=PREFIX) -> dict:
    """{checkpoint name: array} from the canonical dict, in the contract's order: OIHW kernels
    -> HWIO, head/W [C, K] -> resnet/head/conv2d/kernel [1, 1, C, K]. Fresh copies. head=False
    writes the backbone alone (a feature extractor); head/W and head/b may then be absent."""
    names = [n for n in params if not (n in HEAD and not head)]
    for name in names:
        bit_name(name, prefix)  # KeyError for a foreign name
    expected = _canonical_names(_depth_of(names), head=head)
    _check_names("to_bit_npz", names, expected)
    out = {}
    for name in expected:
        value = _array(params[name])
        if name == "head/W":
            if value.ndim != 2:
                raise ValueError(f"to_bit_npz: head/W must be [C, K], got shape {value.shape}")
            value = value.reshape((1, 1) + value.shape)
        elif name.endswith(_KERNELS):
            if value.ndim != 4:
                raise ValueError(f"to_bit_npz: {name} must be an OIHW kernel, got shape {value.shape}")
            value = np.ascontiguousarray(layouts.oihw_to_hwio(value))
        out[bit_name(name, prefix)] = value
    return out


def _keys(mapping):
    return list(mapping.files) if hasattr(mapping, "files") else list(mapping.keys())  # NpzFile or dict


def from_bit_npz(mapping, config=None, *, head=True, prefix=PREFIX) -> dict:
    """The canonical dict (NumPy arrays, fresh copies) from {checkpoint name: array} or an
    np.load'ed NpzFile. The architecture is read off the names (units per block); every name
    of that architecture must be there and nothing else (ValueError listing the missing and
    unexpected names). With `config`, the depth and every shape must also be the config's.
    head=False: a backbone-only checkpoint; its head names, if any, are ignored."""
    keys = _keys(mapping)
    if not head:
        keys = [k for k in keys if k not in (prefix + HEAD_KERNEL, prefix + HEAD_BIAS)]
    canonical, foreign = {}, []
    for key in keys:
        try:
            canonical[canonical_name(key, prefix)] = key
        except KeyError:
            foreign.append(key)
    depth = tuple(config["depth"]) if config is not None else _depth_of(canonical)
    expected = _canonical_names(depth, head=head)
    hint = ""
    if head and not ({prefix + HEAD_KERNEL, prefix + HEAD_BIAS} & set(keys)):
        hint = " (no head in the checkpoint: pass head=False for a backbone alone)"
    _check_names("from_bit_npz", [bit_name(n, prefix) for n in canonical] + foreign,
                 [bit_name(n, prefix) for n in expected], hint)
    shapes = canonical_shapes(config) if config is not None else None
    params = {}
    for name in expected:
        value = np.array(mapping[canonical[name]], copy=True)
        if name == "head/W":
            if value.ndim != 4 or value.shape[:2] != (1, 1):
                raise ValueError(f"from_bit_npz: {canonical[name]} must be [1, 1, C, K], got {value.shape}")
            value = value.reshape(value.shape[2:])
        elif name.endswith(_KERNELS):
            if value.ndim != 4:
                raise ValueError(f"from_bit_npz: {canonical[name]} must be an HWIO kernel, got {value.shape}")
            value = np.ascontiguousarray(layouts.hwio_to_oihw(value))
        if shapes is not None and tuple(value.shape) != tuple(shapes[name]):
            raise ValueError(f"from_bit_npz: {canonical[name]} has canonical shape {tuple(value.shape)}, "
                             f"the config's is {tuple(shapes[name])}")
        params[name] = value
    return params


def save_bit_npz(params, path, *, head=True, prefix=PREFIX) -> str:
    """Write the canonical dict as a BiT .npz at exactly `path` (np.savez's own naming would
    append ".npz"); returns the path. Uncompressed, like the released checkpoints."""
    path = os.fspath(path)
    with open(path, "wb") as f:
        np.savez(f, **to_bit_npz(params, head=head, prefix=prefix))
    return path


def load_bit_npz(path, config=None, *, head=True, prefix=PREFIX) -> dict:
    """The canonical dict from a BiT .npz file (e.g. BiT-M-R50x1.npz, or save_bit_npz's)."""
    with np.load(os.fspath(path), allow_pickle=False) as npz:
        return from_bit_npz(npz, config, head=head, prefix=prefix)
