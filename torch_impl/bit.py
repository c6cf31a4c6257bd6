"""BiT (Kolesnikov et al. 2020): a pre-activation ResNet-v2 with GroupNorm and
weight-standardised convolutions, in PyTorch, twice:

- functional: features / logits / train_step on the canonical flat parameter dict, built from
  this repo's torch_impl.conv.std_conv2d (im2col) and torch_impl.layers.group_norm; autograd
  gives the gradients, torch_impl.optimizers the step. It mirrors numpy_impl.bit.
- ResNetV2, an nn.Module written the way a torch user would (F.conv2d on the standardised
  weight, nn.GroupNorm, nn.ConstantPad2d + nn.MaxPool2d, nn.AdaptiveAvgPool2d, a 1x1 nn.Conv2d
  head), whose module and parameter names are timm's resnetv2 BiT names
  (timm/models/resnetv2.py: _create_resnetv2_bit -> ResNetV2(stem_type='fixed',
  conv_layer=partial(StdConv2d, eps=1e-8), norm_layer=partial(GroupNormAct, num_groups=32))),
  so a timm BiT state_dict loads into it with load_state_dict(strict=True) (the name
  converters are in torch_impl/timm.py). It is the oracle the functional version is
  checked against.

Porting notes (timm vs this module):
- timm's BiT standardises with eps=1e-8, BiT's reference code (big_transfer) with 1e-10:
  ws_eps is a constructor argument, 1e-10 by default here; pass ws_eps=1e-8 to reproduce timm.
- timm rounds the bottleneck width with make_divisible(out * 0.25) (a multiple of 8, at
  least 8); here mid = out // 4 as in the contract. They agree for every BiT R50/R101/R152
  width, not for TINY (out 16 -> mid 4 here, 8 in timm).
- timm feeds [-1, 1] images (mean = std = 0.5); BiT's own code [0, 1]. The model takes what
  it is given.
"""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from shared.concepts import _bit
from shared.concepts import bit_train_step as train_spec
from torch_impl import optimizers
from torch_impl.activations import relu
from torch_impl.conv import std_conv2d
from torch_impl.layers import affine, group_norm
from torch_impl.losses import softmax_with_loss
from torch_impl.pooling import max_pool2d
from torch_impl.timm import from_timm_state_dict, to_timm_state_dict

WS_EPS = _bit.WS_EPS  # 1e-10: big_transfer's StdConv2d / StandardizedConv2D; timm's BiT uses 1e-8
GN_EPS = _bit.GN_EPS  # 1e-5: nn.GroupNorm's default, BiT's own GN and timm's GroupNormAct
TIMM_WS_EPS = 1e-8


# ---- names --------------------------------------------------------------------------

def _unit_prefix(i, j):
    return f"block{i}/unit{j:02d}/"


def _units(config):
    """(block i from 1, unit j from 1, stride, in channels, mid, out) for every unit."""
    for p, stride, c_in, mid, out in _bit.units(config):
        block, unit = p.split("/")[:2]
        yield int(block[len("block"):]), int(unit[len("unit"):]), stride, c_in, mid, out


# ---- functional (this repo's layers) ------------------------------------------------

def _gn_relu(h, params, prefix, config):
    return relu(group_norm(h, params[prefix + "gamma"], params[prefix + "beta"], groups=config["groups"],
                           eps=GN_EPS))


def _unit(h, params, p, stride, config):
    ws = WS_EPS
    u = _gn_relu(h, params, p + "a/gn/", config)  # pre-activation
    shortcut = std_conv2d(u, params[p + "a/proj"], stride=stride, eps=ws) if p + "a/proj" in params else h
    t = std_conv2d(u, params[p + "a/conv"], eps=ws)
    t = std_conv2d(_gn_relu(t, params, p + "b/gn/", config), params[p + "b/conv"], stride=stride, padding=1,
                   eps=ws)  # the stride sits on the 3x3
    t = std_conv2d(_gn_relu(t, params, p + "c/gn/", config), params[p + "c/conv"], eps=ws)
    return t + shortcut


def feature_map(x, params, config):
    """[B, C_last, h, w]: relu(final group norm) of the last block, before the pooling."""
    _bit.validate_features(x, params, config)
    h = std_conv2d(x, params["root/conv"], stride=2, padding=3, eps=WS_EPS)
    h = max_pool2d(F.pad(h, (1, 1, 1, 1), value=0.0), 3, stride=2)  # BiT's 'fixed' pad: zeros, not -inf
    for i, j, stride, *_ in _units(config):
        h = _unit(h, params, _unit_prefix(i, j), stride, config)
    return _gn_relu(h, params, "gn/", config)


def features(x, params, config):
    """[B, C_last]: the global average of the final pre-activated map (what the head reads)."""
    return feature_map(x, params, config).mean(dim=(2, 3))


def logits(x, params, config):
    """[B, K] = features @ head/W + head/b (BiT's 1x1 conv head on the pooled map)."""
    return affine(features(x, params, config), params["head/W"], params["head/b"])


def gradients(x, t, params, config, *, train="all"):
    """(loss, {name: gradient}) of the mean softmax cross-entropy of the logits, by autograd.
    train="head": the backbone is a fixed feature extractor, run without a graph; only head/W
    and head/b get gradients."""
    trained = train_spec.trained_names(config, train)
    # detach(): new leaves on the same storage (no copy); the caller's tensors are never written
    leaves = {name: (value.detach().requires_grad_(True) if name in trained else value)
              for name, value in params.items()}
    with torch.enable_grad():
        if train == "head":
            with torch.no_grad():
                f = features(x, leaves, config)
        else:
            f = features(x, leaves, config)
        loss_value = softmax_with_loss(affine(f, leaves["head/W"], leaves["head/b"]), t)
        grads = torch.autograd.grad(loss_value, [leaves[name] for name in trained])
    return loss_value.detach(), dict(zip(trained, grads))


def loss(params, batch, hyper):
    """The training loss, forward only: what the engine's gradient check differentiates."""
    train_spec.validate_model(params, batch, hyper)
    return softmax_with_loss(logits(batch["x"], params, hyper["config"]), batch["t"])


def train_step(params, opt_state, batch, hyper):
    """One step (shared/concepts/bit_train_step.py): hyper {"config", "train": "head" | "all",
    "optimizer": "momentum_step" | "sgd_step", "opt"}; opt_state holds the trained parameters'
    states only. Returns (loss, grads of the trained parameters, every parameter (the frozen
    ones the very same tensors), the trained parameters' new optimizer states)."""
    train_spec.validate(params, opt_state, batch, hyper)
    loss_value, grads = gradients(batch["x"], batch["t"], params, hyper["config"], train=hyper["train"])
    stepped, new_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, {**params, **stepped}, new_state


# ---- the nn.Module (timm's names, torch's kernels) ------------------------------------

def _timm_padding(kernel, stride):
    """timm.layers.padding.get_padding(k, s, d=1) = ((s - 1) + (k - 1)) // 2: 7x7/2 -> 3,
    3x3 -> 1, 1x1 -> 0."""
    return ((stride - 1) + (kernel - 1)) // 2


class StdConv2d(nn.Conv2d):
    """timm.layers.std_conv.StdConv2d: the weight standardised per output filter (biased
    variance, F.batch_norm over the filter's I*kh*kw values, as timm), then F.conv2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, *, eps=WS_EPS, bias=False, **factory):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=_timm_padding(kernel_size, stride), bias=bias, **factory)
        self.eps = eps

    def standardized_weight(self):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True, momentum=0.0,
                         eps=self.eps)
        return w.reshape_as(self.weight)

    def forward(self, x):
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding)


class GroupNormAct(nn.GroupNorm):
    """timm.layers.norm_act.GroupNormAct: nn.GroupNorm then ReLU (its weight, bias are the
    gamma, beta). timm's argument order: channels first."""

    def __init__(self, num_channels, num_groups=32, eps=GN_EPS, **factory):
        super().__init__(num_groups, num_channels, eps=eps, **factory)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(super().forward(x))


class DownsampleConv(nn.Module):
    """timm's projection shortcut (preact: conv only, norm = Identity)."""

    def __init__(self, in_chs, out_chs, stride, *, ws_eps, **factory):
        super().__init__()
        self.conv = StdConv2d(in_chs, out_chs, 1, stride, eps=ws_eps, **factory)
        self.norm = nn.Identity()

    def forward(self, x):
        return self.norm(self.conv(x))


class PreActBottleneck(nn.Module):
    """timm.models.resnetv2.PreActBottleneck (stride on the 3x3)."""

    def __init__(self, in_chs, mid_chs, out_chs, stride, groups, *, proj, ws_eps, gn_eps, **factory):
        super().__init__()
        self.downsample = DownsampleConv(in_chs, out_chs, stride, ws_eps=ws_eps, **factory) if proj else None
        self.norm1 = GroupNormAct(in_chs, groups, gn_eps, **factory)
        self.conv1 = StdConv2d(in_chs, mid_chs, 1, eps=ws_eps, **factory)
        self.norm2 = GroupNormAct(mid_chs, groups, gn_eps, **factory)
        self.conv2 = StdConv2d(mid_chs, mid_chs, 3, stride, eps=ws_eps, **factory)
        self.norm3 = GroupNormAct(mid_chs, groups, gn_eps, **factory)
        self.conv3 = StdConv2d(mid_chs, out_chs, 1, eps=ws_eps, **factory)

    def forward(self, x):
        x_preact = self.norm1(x)
        shortcut = x if self.downsample is None else self.downsample(x_preact)
        x = self.conv1(x_preact)
        x = self.conv2(self.norm2(x))
        x = self.conv3(self.norm3(x))
        return x + shortcut


class ResNetStage(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential()

    def forward(self, x):
        return self.blocks(x)


class ClassifierHead(nn.Module):
    """timm.layers.classifier.ClassifierHead(use_conv=True): average pool, 1x1 conv, flatten."""

    def __init__(self, in_features, num_classes, **factory):
        super().__init__()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(in_features, num_classes, 1, bias=True, **factory)
        self.flatten = nn.Flatten(1)

    def forward(self, x, pre_logits=False):
        x = self.global_pool(x)
        return self.flatten(x if pre_logits else self.fc(x))


class ResNetV2(nn.Module):
    """BiT with timm's names. config: the canonical config ({"depth", "root_channels",
    "out_channels", "groups", "classes"}). ws_eps 1e-10 is BiT's; timm's BiT uses 1e-8.
    factory: device / dtype (device="meta" builds the skeleton without memory)."""

    def __init__(self, config, *, ws_eps=WS_EPS, gn_eps=GN_EPS, **factory):
        super().__init__()
        groups = config["groups"]
        self.stem = nn.Sequential(OrderedDict([
            ("conv", StdConv2d(3, config["root_channels"], 7, 2, eps=ws_eps, **factory)),
            ("pad", nn.ConstantPad2d(1, 0.0)),  # timm's stem_type='fixed'
            ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=0)),
        ]))
        self.stages = nn.Sequential()
        for i, j, stride, in_chs, mid, out in _units(config):
            if j == 1:
                self.stages.add_module(str(i - 1), ResNetStage())
            self.stages[i - 1].blocks.add_module(str(j - 1), PreActBottleneck(
                in_chs, mid, out, stride, groups, proj=(j == 1), ws_eps=ws_eps, gn_eps=gn_eps, **factory))
        last = config["out_channels"][-1]
        self.norm = GroupNormAct(last, groups, gn_eps, **factory)
        self.head = ClassifierHead(last, config["classes"], **factory)

    def forward_features(self, x):
        return self.norm(self.stages(self.stem(x)))

    def features(self, x):
        """[B, C_last]: the pooled pre-logits (timm's forward_head(pre_logits=True))."""
        return self.head(self.forward_features(x), pre_logits=True)

    def forward(self, x):
        return self.head(self.forward_features(x))

    @classmethod
    def from_canonical(cls, params, config, **kwargs):
        """A module holding copies of the canonical params (dtype of root/conv)."""
        state = to_timm_state_dict(params, config)
        model = cls(config, device="meta", **kwargs)
        model.load_state_dict(state, strict=True, assign=True)  # fresh copies: nothing shared with params
        return model

    def to_canonical(self):
        return from_timm_state_dict(self.state_dict(), self._config())

    def _config(self):
        stages = list(self.stages)
        return {"depth": tuple(len(s.blocks) for s in stages), "root_channels": self.stem.conv.out_channels,
                "out_channels": tuple(s.blocks[0].conv3.out_channels for s in stages),
                "groups": self.norm.num_groups, "classes": self.head.fc.out_channels}
