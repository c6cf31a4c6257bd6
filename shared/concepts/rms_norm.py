"""rms_norm: divide each token's features by their root mean square, then scale by gamma
(Zhang and Sennrich 2019; T5, LLaMA). Layer norm without the mean and without beta."""
import math

import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side

NAME = "rms_norm"
# T5's, LLaMA's and Keras RMSNormalization's; torch nn.RMSNorm's default eps=None means
# torch.finfo(x.dtype).eps (porting case)
DEFAULT_EPS = 1e-6


def validate(x, gamma, *, eps):
    checks.require_floats(NAME, x=x, gamma=gamma)
    checks.require_min_rank(NAME, "x", x, 1)
    checks.require_nonempty(NAME, "x", x, "there is nothing to normalise")
    d = checks.shape_of(x)[-1]
    checks.require_shape(NAME, "gamma", gamma, (d,), "one value per feature, the last axis of x")
    checks.require_nonnegative(NAME, "eps", eps)
    return d


def _make(shape, scale=2.0):
    def make(rng):
        return {"x": scale * rng.standard_normal(shape), "gamma": 1 + 0.5 * rng.standard_normal(shape[-1])}
    return make


def _looped(eps=DEFAULT_EPS):
    def golden(inputs):
        x, gamma = inputs["x"], inputs["gamma"]
        y = np.empty_like(x)
        for index in np.ndindex(*x.shape[:-1]):
            row = [float(v) for v in x[index]]
            rms = math.sqrt(sum(v * v for v in row) / len(row) + eps)
            y[index] = [g * v / rms for v, g in zip(row, gamma)]
        return y
    return golden


def _by_hand(rng):
    # rows (3, 4): mean square 12.5; (1, -1): 1; (0, 0): 0, which only eps keeps from 0 / 0
    return {"x": np.array([[3.0, 4.0], [1.0, -1.0], [0.0, 0.0]]), "gamma": np.array([2.0, 0.5])}


def _by_hand_golden(inputs):
    a, b = 1 / math.sqrt(12.5 + DEFAULT_EPS), 1 / math.sqrt(1 + DEFAULT_EPS)
    return np.array([[6 * a, 2 * a], [2 * b, -0.5 * b], [0.0, 0.0]])


def _torch_rms_norm(x, gamma, eps=DEFAULT_EPS):
    return lazy.F().rms_norm(x, (x.shape[-1],), gamma, eps)


def _keras_rms_normalization(x, gamma, eps=DEFAULT_EPS):
    return lazy.keras().ops.rms_normalization(x, scale=gamma, axis=-1, epsilon=eps)


def _torch_rms(**options):
    def run(x, gamma):
        torch = lazy.torch()
        layer = torch.nn.RMSNorm(x.shape[-1], dtype=x.dtype, **options)
        with torch.no_grad():
            layer.weight.copy_(gamma)
        return layer(x)
    return run


def _keras_rms(x, gamma):
    layer = lazy.keras().layers.RMSNormalization(dtype=x.dtype.name)
    layer.build(tuple(x.shape))
    layer.set_weights([gamma.numpy()])
    return layer(x)


def _small(rng):
    # features ~1e-3: a mean square ~1e-6, Keras' (and T5's) epsilon, far above float32's 1.2e-7
    return _make((2, 5, 16), scale=1e-3)(rng)


PORTING = (
    PortingCase(
        "torch-rmsnorm-default-epsilon",
        "torch's nn.RMSNorm(d) takes eps=None to mean torch.finfo(x.dtype).eps (1.2e-7 in float32); Keras' "
        "RMSNormalization, T5 and LLaMA use 1e-6. On features whose mean square is ~1e-6 they differ by ~30%.",
        _small,
        reference=Side("tf", "keras.layers.RMSNormalization()(x)  # epsilon=1e-6", _keras_rms),
        naive=Side("torch", "nn.RMSNorm(16)(x)  # eps = finfo(float32).eps", _torch_rms()),
        fixed=Side("torch", "nn.RMSNorm(16, eps=1e-6)(x)", _torch_rms(eps=1e-6)),
        seed=2290, source="torch.nn.RMSNorm(normalized_shape, eps=None): if None, torch.finfo(x.dtype).eps; "
                          "keras.layers.RMSNormalization(axis=-1, epsilon=1e-06)"),
)


def _error(x_shape=(2, 4), d=None):
    def make():
        return {"x": np.ones(x_shape), "gamma": np.ones(x_shape[-1] if d is None else d)}
    return make


CONCEPT = Concept(
    name=NAME,
    module="transformer",
    family="attention_transformer",
    lesson=6,
    math="per token: r = sqrt(mean(x^2) + eps) over the last axis;  y = gamma x / r;  "
         "dx = (dx_hat - x_hat mean(dx_hat x_hat)) / r, x_hat = x / r, dx_hat = gamma dy;  dgamma = sum(dy x_hat)",
    japanese="RMS正規化 (RMSNorm)",
    signature="rms_norm(x, gamma, *, eps=1e-6) -> same shape as x; x [..., d], gamma [d]",
    differentiable=("x", "gamma"),
    cases=(
        Case("tokens", _make((2, 5, 8)), seed=2291, golden=_looped()),
        Case("rank-1", _make((6,)), seed=2292, golden=_looped(), note="a single token"),
        Case("by-hand", _by_hand, golden=_by_hand_golden,
             note="rows (3, 4) and (1, -1): mean squares 12.5 and 1; a zero row gives 0 (eps keeps r > 0)"),
        Case("eps-0", _make((3, 4)), {"eps": 0.0}, seed=2293, golden=_looped(0.0),
             note="eps = 0: defined while no row is all zeros"),
        Case("large-values", _make((2, 4), scale=1e18), seed=2294, golden=_looped(),
             note="values ~1e18: x^2 ~1e36 is near float32's limit; scaled before squaring"),
    ),
    error_cases=(
        ErrorCase("gamma-shape", _error(d=3), ValueError,
                  r"rms_norm: gamma must have shape \(4,\) \(one value per feature, the last axis of x\), "
                  r"got shape \(3,\)"),
        ErrorCase("negative-eps", _error(), ValueError, r"rms_norm: eps must be a number >= 0, got -1", {"eps": -1}),
    ),
    oracles=(
        Oracle("torch", "F.rms_norm", _torch_rms_norm),
        Oracle("tf", "keras.ops.rms_normalization", _keras_rms_normalization),
    ),
    porting=PORTING,
)
