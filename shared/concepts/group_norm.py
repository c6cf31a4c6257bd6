"""group_norm: normalise each sample's channels in groups (Wu & He 2018), then scale by
gamma and shift by beta per channel. The statistics never mix samples, so the layer is
the same in training and inference and works at batch size 1 (BiT uses it, with 32
groups, in place of batch norm)."""
import math
import numbers

import numpy as np

from shared import checks, layouts, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side, Tolerance

# torch nn.GroupNorm's default; Keras GroupNormalization's is 1e-3 (porting case
# keras-gn-default-epsilon).
DEFAULT_EPS = 1e-5


def validate(x, gamma, beta, *, groups, eps):
    """Returns (N, C, H, W)."""
    checks.require_floats("group_norm", x=x, gamma=gamma, beta=beta)
    checks.require_rank("group_norm", "x", x, (4,), " ([N, C, H, W])")
    checks.require_nonempty("group_norm", "x", x)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"group_norm: groups must be an int >= 1, got {groups!r}")
    shape = checks.shape_of(x)
    channels = shape[1]
    if channels % groups:
        raise ValueError(f"group_norm: the channels of x (C = {channels}) must be divisible by "
                         f"groups = {groups}, got x of shape {shape}")
    for arg, a in (("gamma", gamma), ("beta", beta)):
        checks.require_shape("group_norm", arg, a, (channels,), "one value per channel of x")
    checks.require_nonnegative("group_norm", "eps", eps)
    return shape


def _make(shape, scale=3.0, shift=1.0):
    def make(rng):
        channels = shape[1]
        return {"x": shift + scale * rng.standard_normal(shape),
                "gamma": 1 + 0.5 * rng.standard_normal(channels),
                "beta": 0.5 * rng.standard_normal(channels)}
    return make


def _two_groups(rng):
    # one sample, two channels of two pixels, groups=2: channel 0 holds 1 and 3 (mean 2,
    # variance 1), channel 1 holds 5 and -1 (mean 2, variance 9)
    return {"x": np.array([[[[1.0, 3.0]], [[5.0, -1.0]]]]), "gamma": np.array([2.0, 0.5]),
            "beta": np.array([0.25, -1.0])}


def _two_groups_golden(inputs):
    a, b = 1 / math.sqrt(1 + DEFAULT_EPS), 3 / math.sqrt(9 + DEFAULT_EPS)
    return np.array([[[[0.25 - 2 * a, 0.25 + 2 * a]], [[-1 + 0.5 * b, -1 - 0.5 * b]]]])


CONSTANT = 0.75  # dyadic: sums of its copies are exact in float32, so the group's mean is exactly 0.75


def _near_constant(rng):
    """Three groups of two channels: group 0 is exactly constant (variance 0, x_hat = 0,
    y = beta), group 1 has standard deviation 1e-3 around 0 (variance 1e-6, a tenth of
    eps: eps dominates), group 2 is ordinary."""
    x = 1.0 + 3.0 * rng.standard_normal((2, 6, 3, 3))
    x[:, 0:2] = CONSTANT
    x[:, 2:4] = 1e-3 * rng.standard_normal((2, 2, 3, 3))
    return {"x": x, "gamma": 1 + 0.5 * rng.standard_normal(6), "beta": 0.5 * rng.standard_normal(6)}


def _near_constant_golden(inputs):
    """Group 0 maps to beta exactly; the others by the definition, written out per group
    in a loop (independent of the vectorised implementations)."""
    x, gamma, beta = inputs["x"], inputs["gamma"], inputs["beta"]
    y = np.empty_like(x)
    for n in range(x.shape[0]):
        for g in range(3):
            block = x[n, 2 * g:2 * g + 2]
            mean = sum(block.ravel()) / block.size
            var = sum((v - mean) ** 2 for v in block.ravel()) / block.size
            for c in (2 * g, 2 * g + 1):
                y[n, c] = gamma[c] * (x[n, c] - mean) / math.sqrt(var + DEFAULT_EPS) + beta[c]
    assert np.all(y[:, 0:2] == beta[0:2, None, None])
    return y


# -- oracles -----------------------------------------------------------------------------

def _torch_group_norm(x, gamma, beta, *, groups, eps=DEFAULT_EPS):
    return lazy.F().group_norm(x, groups, gamma, beta, eps)


def _keras_group_norm_layer(x, *, groups, epsilon, affine=True, gamma=None, beta=None):
    """A Keras GroupNormalization over the last axis of NHWC, holding our gamma and beta."""
    keras = lazy.keras()
    layer = keras.layers.GroupNormalization(groups=groups, epsilon=epsilon, axis=-1, center=affine,
                                            scale=affine, dtype=x.dtype.name)
    n, c, h, w = (int(d) for d in x.shape)
    layer.build((n, h, w, c))
    if affine:
        layer.set_weights([np.asarray(gamma), np.asarray(beta)])
    return layer


def _keras_group_norm(x, gamma, beta, *, groups, eps=DEFAULT_EPS):
    layer = _keras_group_norm_layer(x, groups=groups, epsilon=eps, gamma=gamma, beta=beta)
    return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))


def _keras_group_norm_then_affine(x, gamma, beta, *, groups, eps=DEFAULT_EPS):
    # the layer's own gamma and beta are variables, which a tape on the inputs does not
    # reach; without them it is differentiable in x, and the affine part is ours
    layer = _keras_group_norm_layer(x, groups=groups, epsilon=eps, affine=False)
    x_hat = layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))
    tf = lazy.tf()
    return tf.reshape(gamma, (1, -1, 1, 1)) * x_hat + tf.reshape(beta, (1, -1, 1, 1))


# -- porting -----------------------------------------------------------------------------

def _torch_gn(groups, **options):
    def run(x, gamma, beta):
        torch = lazy.torch()
        layer = torch.nn.GroupNorm(groups, x.shape[1], dtype=x.dtype, **options)
        with torch.no_grad():
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
        return layer(x)
    return run


def _keras_gn(**options):
    def run(x, gamma, beta):
        keras = lazy.keras()
        layer = keras.layers.GroupNormalization(dtype=x.dtype.name, **options)
        layer.build(tuple(int(d) for d in layouts.nchw_to_nhwc(x).shape))
        layer.set_weights([gamma.numpy(), beta.numpy()])
        return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))
    return run


def _small_variance(rng):
    # every group's variance ~ 0.03^2 = 9e-4: Keras' eps 1e-3 is larger than it, torch's 1e-5 is not
    return _make((2, 8, 4, 4), scale=0.03, shift=0.0)(rng)


PORTING = (
    PortingCase(
        "keras-gn-default-epsilon",
        "Keras GroupNormalization adds epsilon=1e-3 to the variance, torch nn.GroupNorm 1e-5: on "
        "activations whose groups have a small variance (here ~9e-4) the outputs differ.",
        _small_variance,
        reference=Side("torch", "nn.GroupNorm(4, C)(x)  # eps=1e-5", _torch_gn(4)),
        naive=Side("tf", "keras.layers.GroupNormalization(groups=4)(x_nhwc)", _keras_gn(groups=4)),
        fixed=Side("tf", "keras.layers.GroupNormalization(groups=4, epsilon=1e-5)(x_nhwc)",
                   _keras_gn(groups=4, epsilon=1e-5)),
        seed=301,
        source="torch.nn.GroupNorm(num_groups, num_channels, eps=1e-05); "
               "keras.layers.GroupNormalization(groups=32, axis=-1, epsilon=0.001)"),
    PortingCase(
        "keras-gn-default-groups",
        "torch nn.GroupNorm has no default group count (num_groups is required); Keras "
        "GroupNormalization defaults to groups=32. Porting nn.GroupNorm(8, 64) as "
        "GroupNormalization(epsilon=1e-5) silently normalises 32 groups of 2 channels instead "
        "of 8 groups of 8.",
        _make((2, 64, 2, 2)),
        reference=Side("torch", "nn.GroupNorm(8, 64)(x)", _torch_gn(8)),
        naive=Side("tf", "keras.layers.GroupNormalization(epsilon=1e-5)(x_nhwc)  # groups=32",
                   _keras_gn(epsilon=1e-5)),
        fixed=Side("tf", "keras.layers.GroupNormalization(groups=8, epsilon=1e-5)(x_nhwc)",
                   _keras_gn(groups=8, epsilon=1e-5)),
        seed=302,
        source="torch.nn.GroupNorm(num_groups, num_channels, eps=1e-05); "
               "keras.layers.GroupNormalization(groups=32, axis=-1, epsilon=0.001)"),
)


def _error_inputs(shape, channels=None):
    def make():
        inputs = _make(shape)(np.random.default_rng(0))
        if channels is not None:
            inputs["gamma"] = np.ones(channels)
        return inputs
    return make


CONCEPT = Concept(
    name="group_norm",
    module="layers",
    family="bit_transfer",
    lesson=1,
    math="per sample n and group g of C/G channels: mu, var = mean and biased variance of x over "
         "(C/G, H, W);  x_hat = (x - mu) / sqrt(var + eps),  y = gamma[c] x_hat + beta[c];  "
         "dx = (dx_hat - mean_g(dx_hat) - x_hat mean_g(dx_hat x_hat)) / sqrt(var + eps), dx_hat = gamma dy;  "
         "G = 1: layer norm over (C, H, W); G = C: instance norm",
    japanese="Group Normalization（グループ正規化）",
    signature="group_norm(x, gamma, beta, *, groups, eps=1e-5) -> y; x [N, C, H, W] with C divisible "
              "by groups, gamma and beta [C]; group g holds channels g C/G .. (g+1) C/G - 1",
    differentiable=("x", "gamma", "beta"),
    cases=(
        Case("groups-3", _make((2, 6, 3, 3)), {"groups": 3}, seed=303),
        Case("groups-1-layer-norm", _make((2, 4, 3, 3)), {"groups": 1}, seed=304,
             note="one group: layer norm over (C, H, W) with a per-channel gamma and beta"),
        Case("groups-C-instance-norm", _make((2, 4, 3, 3)), {"groups": 4}, seed=305,
             note="one channel per group: instance norm"),
        Case("bit-32-groups-64-channels", _make((2, 64, 4, 4)), {"groups": 32}, seed=306,
             note="BiT's GroupNorm(32) on 64 channels: 2 channels x 16 pixels per group"),
        Case("batch-1-rectangular", _make((1, 8, 2, 5)), {"groups": 2}, seed=307,
             note="batch size 1 (where batch norm has no batch statistics) and H != W"),
        Case("two-groups-by-hand", _two_groups, {"groups": 2}, golden=_two_groups_golden,
             note="group 0 (1, 3): mean 2, variance 1; group 1 (5, -1): mean 2, variance 9"),
        Case("near-constant-groups", _near_constant, {"groups": 3}, seed=308, golden=_near_constant_golden,
             note="a constant group (variance 0: y = beta) and a group with variance 1e-6 < eps"),
        Case("eps-0", _make((2, 6, 2, 2)), {"groups": 2, "eps": 0.0}, seed=309,
             note="eps = 0 is allowed: the plain standardisation, defined while no group is constant"),
    ),
    error_cases=(
        ErrorCase("channels-not-divisible", _error_inputs((2, 6, 3, 3)), ValueError,
                  r"group_norm: the channels of x \(C = 6\) must be divisible by groups = 4, "
                  r"got x of shape \(2, 6, 3, 3\)", {"groups": 4}),
        ErrorCase("rank-2-x", _error_inputs((4, 6)), ValueError,
                  r"group_norm: x must have rank 4 \(\[N, C, H, W\]\), got rank 2 \(shape \(4, 6\)\)",
                  {"groups": 2}),
        ErrorCase("gamma-shape", _error_inputs((2, 6, 3, 3), channels=3), ValueError,
                  r"group_norm: gamma must have shape \(6,\) \(one value per channel of x\), got shape \(3,\)",
                  {"groups": 3}),
        ErrorCase("groups-0", _error_inputs((2, 6, 3, 3)), ValueError,
                  r"group_norm: groups must be an int >= 1, got 0", {"groups": 0}),
        ErrorCase("groups-float", _error_inputs((2, 6, 3, 3)), ValueError,
                  r"group_norm: groups must be an int >= 1, got 2\.0", {"groups": 2.0}),
        ErrorCase("negative-eps", _error_inputs((2, 6, 3, 3)), ValueError,
                  r"group_norm: eps must be a number >= 0, got -1e-05", {"groups": 3, "eps": -1e-5}),
    ),
    oracles=(
        Oracle("torch", "F.group_norm", _torch_group_norm),
        # a layer holding gamma and beta as variables: only its value is compared
        Oracle("tf", "keras.layers.GroupNormalization (NHWC, axis=-1)", _keras_group_norm,
               differentiable=False),
        Oracle("tf", "keras.layers.GroupNormalization(center=False, scale=False) (NHWC), "
               "then gamma x_hat + beta", _keras_group_norm_then_affine),
    ),
    porting=PORTING,
    overrides=(
        # F.group_norm's CPU kernel folds gamma and the group's statistics into one scale
        # and shift, y = x a + b with a = gamma / sqrt(var + eps), b = beta - mu a, and its
        # backward likewise (dx = a dy + c2 x + c3). On the constant group (x = mu = 0.75,
        # var = 0) x a and mu a are each ~|mu gamma| / sqrt(eps) <= 0.75 * 1.40 / 3.16e-3 = 331
        # and are rounded separately, so y = beta comes back with a rounding error of that
        # magnitude; the gradients there reach |dx| ~ 680 (= |gamma dy| / sqrt(eps)) with
        # the same one-rounding error, which lands on entries of every size (dgamma's is 0).
        # Measured: 1 ulp of 680 (1.1e-13 float64, 5.0e-5 float32). Bound: 2 ulp at
        # magnitudes below 1024, i.e. 2 * 2^-43 and 2 * 2^-14. Our own from-scratch
        # x_hat = (x - mu) / std subtracts first (x - mu = 0 exactly) and meets the table.
        Override("builtin", Tolerance(2 * 2.0 ** -43, 1e-12,
                 "F.group_norm's fused y = x a + (beta - mu a): 2 ulp of |mu gamma|/sqrt(eps) ~ 331 "
                 "and of |dx| ~ 680 (< 1024) on the constant group"),
                 case="near-constant-groups", dtype="float64", backend="torch"),
        Override("builtin", Tolerance(2 * 2.0 ** -14, 1e-5,
                 "F.group_norm's fused y = x a + (beta - mu a): 2 ulp of |mu gamma|/sqrt(eps) ~ 331 "
                 "and of |dx| ~ 680 (< 1024) on the constant group"),
                 case="near-constant-groups", dtype="float32", backend="torch"),
    ),
)
