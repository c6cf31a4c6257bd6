"""What BiT's concepts share (issue 8): the architecture, its configs, the canonical
parameter names and shapes, the initialiser and the input checks. Framework-neutral:
NumPy only, no framework is imported here.

BiT, "Big Transfer" (Kolesnikov et al. 2020, 転移学習): a ResNet-v2 (pre-activation,
He et al. 2016) whose batch norms are group norms (グループ正規化, 32 groups, Wu & He 2018)
and whose convolutions standardise their kernels (重みの標準化, Qiao et al. 2019).
Reference code: google-research/big_transfer bit_pytorch/models.py and bit_tf2/models.py
(read here from the mirror chrstn-hntschl/big_transfer), timm/models/resnetv2.py.

    root     h = std_conv2d(x, root/conv, stride 2, padding 3)           7x7, no bias
             h = max_pool2d(zero_pad(h, 1), 3, stride 2)                 the pad is 0, NOT -inf
                 (bit_tf2: PaddingFromKernelSize(3) = tf.pad with zeros, then MaxPool2D 'valid';
                 timm's stem_type='fixed': nn.ConstantPad2d(1, 0.))
    block i = 1..4, stride 1 for block 1 and 2 for blocks 2-4, only in a block's unit01:
             u = relu(group_norm(h, a/gn))                               pre-activation
             shortcut = std_conv2d(u, a/proj, stride) in unit01 (1x1), else h itself
             t = std_conv2d(u, a/conv)                                   1x1 -> mid = out // 4
             t = std_conv2d(relu(group_norm(t, b/gn)), b/conv, stride, padding 1)   3x3: the stride is HERE
             t = std_conv2d(relu(group_norm(t, c/gn)), c/conv)           1x1 -> out
             h = t + shortcut
    features = mean over H, W of relu(group_norm(h, gn))                 [B, C_last]
    logits   = features @ head/W + head/b                                [B, K]
             (BiT's head is a 1x1 conv on the pooled map, bit_tf2 a Dense: the same map;
             zero-initialised, "we initialise the head to zero", kernel_initializer="zeros")

Total stride 32 (2 root conv, 2 pool, 2 in each of blocks 2-4): a 224 x 224 image gives a
7 x 7 map before the pooling, 128 x 128 a 4 x 4 one.

Constants: GN_EPS = 1e-5, as torch's nn.GroupNorm and BiT's own TF group norm
(bit_tf2/normalization.py: GroupNormalization(eps=1e-5) -> group_normalize(..., eps=1e-5),
read in the big_transfer fork NipunAgarwal16/BigTransfer-BiT-based-Image-Classification-Model;
the chrstn-hntschl mirror's models.py imports it but the index holds no normalization.py there).
Keras' own GroupNormalization defaults to 1e-3: a port through Keras must pass epsilon=1e-5.
WS_EPS = 1e-10, bit_tf2/models.py StandardizedConv2D: (kernel - mean) / tf.sqrt(var + 1e-10)
(timm's BiT: 1e-8, a porting case of std_conv2d).
"""
import numbers

import numpy as np

from shared import checks

GN_EPS = 1e-5
WS_EPS = 1e-10
CONFIG_KEYS = ("depth", "root_channels", "out_channels", "groups", "classes")
DEPTHS = {"R50": (3, 4, 6, 3), "R101": (3, 4, 23, 3), "R152": (3, 8, 36, 3)}
WIDTHS = (1, 2, 3, 4)
MODEL_NAMES = tuple(f"{d}x{w}" for d in DEPTHS for w in WIDTHS)
# small enough for the whole-network finite differences (6,125 parameters with 5 classes),
# every channel count (root 8, mid 4 and 8, out 16 and 32) divisible by its 4 groups
TINY = {"depth": (1, 1, 1, 1), "root_channels": 8, "out_channels": (16, 16, 32, 32), "groups": 4, "classes": 5}
TOTAL_STRIDE = 32
MIN_SIZE = 32
HEAD_INITS = ("zeros", "random")


def bit_config(name: str, classes: int) -> dict:
    """"R50x1" .. "R152x4": root 64 wf, unit outputs 256 wf 2^i, 32 groups."""
    if name not in MODEL_NAMES:
        raise ValueError(f"bit_config: name must be one of {MODEL_NAMES}, got {name!r}")
    depth, width = name.split("x")
    wf = int(width)
    return {"depth": DEPTHS[depth], "root_channels": 64 * wf,
            "out_channels": tuple(256 * wf * 2 ** i for i in range(4)), "groups": 32, "classes": classes}


def validate_config(config, concept="bit"):
    if not isinstance(config, dict) or set(config) != set(CONFIG_KEYS):
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{concept}: config must be a dict with keys {CONFIG_KEYS}, got {got}")
    depth, outs = tuple(config["depth"]), tuple(config["out_channels"])
    if len(depth) != 4 or len(outs) != 4 or any(not isinstance(d, numbers.Integral) or d < 1 for d in depth):
        raise ValueError(f"{concept}: config['depth'] and config['out_channels'] must hold 4 ints each (one per "
                         f"block, depth >= 1), got {config['depth']!r} and {config['out_channels']!r}")
    groups = config["groups"]
    for what, channels in (("root_channels", config["root_channels"]),
                           *((f"out_channels[{i}]", c) for i, c in enumerate(outs)),
                           *((f"out_channels[{i}] // 4 (a unit's mid channels)", c // 4) for i, c in enumerate(outs))):
        if not isinstance(channels, numbers.Integral) or channels < 1 or channels % groups:
            raise ValueError(f"{concept}: config {what} = {channels!r} must be a positive multiple of "
                             f"groups = {groups} (group norm)")
    if not isinstance(config["classes"], numbers.Integral) or config["classes"] < 1:
        raise ValueError(f"{concept}: config['classes'] must be an int >= 1, got {config['classes']!r}")


def units(config):
    """(prefix "block{i}/unit{j:02d}/", stride, in channels, mid, out) for every unit, in order."""
    prev = config["root_channels"]
    for i, (depth, out) in enumerate(zip(config["depth"], config["out_channels"]), start=1):
        for j in range(1, depth + 1):
            yield f"block{i}/unit{j:02d}/", (2 if i > 1 and j == 1 else 1), prev, out // 4, out
            prev = out


def param_shapes(config) -> dict:
    """{name: shape} in the canonical order (NCHW / OIHW, head W [C_last, K])."""
    shapes = {"root/conv": (config["root_channels"], 3, 7, 7)}
    for p, _, c_in, mid, out in units(config):
        shapes[p + "a/gn/gamma"] = shapes[p + "a/gn/beta"] = (c_in,)
        if p.endswith("unit01/"):
            shapes[p + "a/proj"] = (out, c_in, 1, 1)
        shapes[p + "a/conv"] = (mid, c_in, 1, 1)
        shapes[p + "b/gn/gamma"] = shapes[p + "b/gn/beta"] = (mid,)
        shapes[p + "b/conv"] = (mid, mid, 3, 3)
        shapes[p + "c/gn/gamma"] = shapes[p + "c/gn/beta"] = (mid,)
        shapes[p + "c/conv"] = (out, mid, 1, 1)
    last = config["out_channels"][-1]
    shapes.update({"gn/gamma": (last,), "gn/beta": (last,), "head/W": (last, config["classes"]),
                   "head/b": (config["classes"],)})
    return shapes


def param_names(config) -> tuple:
    return tuple(param_shapes(config))


def param_count(config) -> int:
    return sum(int(np.prod(s)) for s in param_shapes(config).values())


def feature_map_size(height, width):
    """(h, w) of the last block's map: the root conv (7x7, stride 2, pad 3), the pool (pad 1,
    3x3, stride 2), then each 3x3 stride-2 conv (pad 1) of blocks 2-4."""
    def out(n, k, s, p):
        return (n + 2 * p - k) // s + 1
    sizes = []
    for n in (height, width):
        n = out(out(n, 7, 2, 3), 3, 2, 1)
        for _ in range(3):
            n = out(n, 3, 2, 1)
        sizes.append(n)
    return tuple(sizes)


def init_params(rng: np.random.Generator, config, *, head="zeros", norm="identity") -> dict:
    """Convs He normal, std sqrt(2 / fan_in) with fan_in = I kh kw (the standardisation makes
    the scale irrelevant to the forward, not to the gradient's size); group norms gamma 1,
    beta 0 (norm="random": 1 + 0.2 N(0,1) and 0.2 N(0,1), for parity cases: no special values);
    head zeros as BiT (head="random": W ~ N(0, 1/C_last), b ~ 0.1 N(0,1), so that the backbone
    gets a gradient)."""
    checks.require_choice("bit", "head", head, HEAD_INITS)
    checks.require_choice("bit", "norm", norm, ("identity", "random"))
    validate_config(config)
    params = {}
    for name, shape in param_shapes(config).items():
        if name.startswith("head/"):
            if head == "zeros":
                params[name] = np.zeros(shape)
            else:
                scale = np.sqrt(1.0 / shape[0]) if name == "head/W" else 0.1
                params[name] = scale * rng.standard_normal(shape)
        elif name.endswith("gamma"):
            params[name] = np.ones(shape) if norm == "identity" else 1 + 0.2 * rng.standard_normal(shape)
        elif name.endswith("beta"):
            params[name] = np.zeros(shape) if norm == "identity" else 0.2 * rng.standard_normal(shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            params[name] = np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)
    return params


def validate_params(params, config, concept="bit"):
    shapes = param_shapes(config)
    if not isinstance(params, dict) or set(params) != set(shapes):
        got = set(params) if isinstance(params, dict) else set()
        missing = [n for n in shapes if n not in got]
        extra = sorted(got - set(shapes))
        raise ValueError(f"{concept}: params must hold exactly the {len(shapes)} canonical arrays of this config; "
                         f"missing {missing}, extra {extra}")
    checks.require_tree(concept, "params", params)
    checks.require_shapes(concept, "params", params, shapes, "the config's shape")


def validate_images(x, concept="bit"):
    checks.require_float(concept, "x", x)
    checks.require_rank(concept, "x", x, (4,), " ([B, 3, H, W], NCHW images)")
    shape = checks.shape_of(x)
    if shape[1] != 3:
        raise ValueError(f"{concept}: x must have 3 channels (RGB, NCHW), got shape {shape}")
    if shape[0] < 1 or shape[2] < MIN_SIZE or shape[3] < MIN_SIZE:
        raise ValueError(f"{concept}: x must hold at least one image of at least {MIN_SIZE} x {MIN_SIZE} pixels "
                         f"(the network's total stride), got shape {shape}")


def validate_features(x, params, config, concept="bit_features"):
    validate_config(config, concept)
    validate_images(x, concept)
    validate_params(params, config, concept)
    checks.require_same_dtype(concept, x=x, **{"params['root/conv']": params["root/conv"]})
