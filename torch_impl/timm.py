"""timm's names for BiT: the weight converters between our canonical parameters and a timm
resnetv2 BiT state_dict (timm/models/resnetv2.py), which torch_impl.bit.ResNetV2 loads with
load_state_dict(strict=True). A torch-only module, as tf_impl/hub.py is TF-only: timm is a
PyTorch library."""
from collections import OrderedDict

import numpy as np
import torch

from shared.concepts import _bit


def _units(config):
    """(canonical prefix, block i from 1, unit j from 1) of every bottleneck unit."""
    for prefix, *_ in _bit.units(config):
        block, unit = prefix.split("/")[:2]
        yield prefix, int(block[len("block"):]), int(unit[len("unit"):])


def timm_names(config):
    """{canonical name: timm resnetv2 state_dict name}. Head: canonical W [C, K] is
    timm's head.fc.weight [K, C, 1, 1] (a 1x1 conv), transposed."""
    names = {"root/conv": "stem.conv.weight"}
    for p, i, j in _units(config):
        t = f"stages.{i - 1}.blocks.{j - 1}."
        for part, norm, conv in (("a", "norm1", "conv1"), ("b", "norm2", "conv2"), ("c", "norm3", "conv3")):
            names[p + part + "/gn/gamma"] = t + norm + ".weight"
            names[p + part + "/gn/beta"] = t + norm + ".bias"
            names[p + part + "/conv"] = t + conv + ".weight"
        if j == 1:
            names[p + "a/proj"] = t + "downsample.conv.weight"
    names.update({"gn/gamma": "norm.weight", "gn/beta": "norm.bias", "head/W": "head.fc.weight",
                  "head/b": "head.fc.bias"})
    return names


def _tensor(a):
    """A torch copy of a numpy array or tensor: the result never shares memory with the input."""
    if isinstance(a, torch.Tensor):
        return a.detach().clone()
    return torch.from_numpy(np.array(a, copy=True))


def to_timm_state_dict(params, config):
    """{timm name: tensor} in timm's state_dict order, every tensor a fresh copy."""
    _bit.validate_config(config, "to_timm_state_dict")
    _bit.validate_params(params, config, "to_timm_state_dict")
    names = timm_names(config)
    out = OrderedDict()
    for name in _bit.param_names(config):
        value = _tensor(params[name])
        if name == "head/W":  # [C, K] -> [K, C, 1, 1]
            value = value.T.reshape(value.shape[1], value.shape[0], 1, 1).contiguous()
        out[names[name]] = value
    return OrderedDict((key, out[key]) for key in _timm_order(config, out))


def _timm_order(config, state):
    """ResNetV2(config).state_dict()'s key order (module registration order)."""
    order = ["stem.conv.weight"]
    for _, i, j in _units(config):
        t = f"stages.{i - 1}.blocks.{j - 1}."
        if j == 1:
            order.append(t + "downsample.conv.weight")
        order += [t + n for n in ("norm1.weight", "norm1.bias", "conv1.weight", "norm2.weight", "norm2.bias",
                                  "conv2.weight", "norm3.weight", "norm3.bias", "conv3.weight")]
    order += ["norm.weight", "norm.bias", "head.fc.weight", "head.fc.bias"]
    if set(order) != set(state):  # an internal invariant: timm_names and this order must agree
        raise AssertionError(f"timm names out of step: {sorted(set(order) ^ set(state))}")
    return order


def from_timm_state_dict(state_dict, config):
    """The canonical flat dict (torch tensors, fresh copies) from a timm resnetv2 BiT state_dict."""
    _bit.validate_config(config, "from_timm_state_dict")
    names = timm_names(config)
    expected = set(names.values())
    missing, extra = sorted(expected - set(state_dict)), sorted(set(state_dict) - expected)
    if missing or extra:
        raise ValueError(f"from_timm_state_dict: the state_dict does not fit this config; missing {missing}, "
                         f"unexpected {extra}")
    params = {}
    for name in _bit.param_names(config):
        value = _tensor(state_dict[names[name]])
        if name == "head/W":  # [K, C, 1, 1] -> [C, K]
            value = value.reshape(value.shape[0], value.shape[1]).T.contiguous()
        params[name] = value
    _bit.validate_params(params, config, "from_timm_state_dict")  # every shape the config's
    return params
