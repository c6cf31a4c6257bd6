"""layer_norm: standardise each token's features (the last axis) with its own mean and
biased variance, then scale by gamma and shift by beta per feature (Ba, Kiros and Hinton
2016). No batch statistics: the same in training and inference, at any batch size."""
import math

import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side

NAME = "layer_norm"
# torch nn.LayerNorm's default; Keras LayerNormalization's is 1e-3, BERT's 1e-12 (porting cases)
DEFAULT_EPS = 1e-5


def validate(x, gamma, beta, *, eps):
    """Returns d, the size of the normalised (last) axis."""
    checks.require_floats(NAME, x=x, gamma=gamma, beta=beta)
    checks.require_min_rank(NAME, "x", x, 1)
    checks.require_nonempty(NAME, "x", x, "there is nothing to normalise")
    d = checks.shape_of(x)[-1]
    for arg, a in (("gamma", gamma), ("beta", beta)):
        checks.require_shape(NAME, arg, a, (d,), "one value per feature, the last axis of x")
    checks.require_nonnegative(NAME, "eps", eps)
    return d


def _make(shape, scale=3.0, shift=1.0):
    def make(rng):
        d = shape[-1]
        return {"x": shift + scale * rng.standard_normal(shape), "gamma": 1 + 0.5 * rng.standard_normal(d),
                "beta": 0.5 * rng.standard_normal(d)}
    return make


def _looped(eps=DEFAULT_EPS):
    """The definition, one row at a time in Python floats."""
    def golden(inputs):
        x, gamma, beta = inputs["x"], inputs["gamma"], inputs["beta"]
        y = np.empty_like(x)
        for index in np.ndindex(*x.shape[:-1]):
            row = [float(v) for v in x[index]]
            mean = sum(row) / len(row)
            var = sum((v - mean) ** 2 for v in row) / len(row)
            y[index] = [g * (v - mean) / math.sqrt(var + eps) + b for v, g, b in zip(row, gamma, beta)]
        return y
    return golden


def _by_hand(rng):
    # row 0: 1, 3 (mean 2, variance 1); row 1: 5, -1 (mean 2, variance 9); row 2 constant
    return {"x": np.array([[1.0, 3.0], [5.0, -1.0], [0.75, 0.75]]), "gamma": np.array([2.0, 0.5]),
            "beta": np.array([0.25, -1.0])}


def _by_hand_golden(inputs):
    a, b = 1 / math.sqrt(1 + DEFAULT_EPS), 3 / math.sqrt(9 + DEFAULT_EPS)
    return np.array([[0.25 - 2 * a, -1 + 0.5 * a], [0.25 + 2 * b, -1 - 0.5 * b], [0.25, -1.0]])


# -- oracles -----------------------------------------------------------------------------

def _torch_layer_norm(x, gamma, beta, eps=DEFAULT_EPS):
    return lazy.F().layer_norm(x, (x.shape[-1],), gamma, beta, eps)


def _keras_layer(x, eps, affine):
    keras = lazy.keras()
    layer = keras.layers.LayerNormalization(epsilon=eps, center=affine, scale=affine, dtype=x.dtype.name)
    layer.build(tuple(x.shape))
    return layer


def _keras_layer_norm(x, gamma, beta, eps=DEFAULT_EPS):
    layer = _keras_layer(x, eps, affine=True)
    layer.set_weights([np.asarray(gamma), np.asarray(beta)])
    return layer(x)


def _keras_then_affine(x, gamma, beta, eps=DEFAULT_EPS):
    # the layer's own gamma and beta are variables, which a tape on the inputs does not reach
    return gamma * _keras_layer(x, eps, affine=False)(x) + beta


# -- porting -----------------------------------------------------------------------------

def _torch_ln(**options):
    def run(x, gamma, beta):
        torch = lazy.torch()
        layer = torch.nn.LayerNorm(x.shape[-1], dtype=x.dtype, **options)
        with torch.no_grad():
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
        return layer(x)
    return run


def _keras_ln(**options):
    def run(x, gamma, beta):
        layer = lazy.keras().layers.LayerNormalization(dtype=x.dtype.name, **options)
        layer.build(tuple(x.shape))
        layer.set_weights([gamma.numpy(), beta.numpy()])
        return layer(x)
    return run


def _annotated(unbiased_std):
    """The Annotated Transformer's LayerNorm: a_2 * (x - mean) / (std + eps) + b_2, std unbiased."""
    def run(x, gamma, beta):
        mean = x.mean(-1, keepdim=True)
        if unbiased_std:
            return gamma * (x - mean) / (x.std(-1, keepdim=True) + 1e-6) + beta
        return gamma * (x - mean) / (x.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt() + beta
    return run


def _small_variance(rng):
    # every token's variance ~ 0.02^2 = 4e-4: Keras' eps 1e-3 exceeds it, torch's 1e-5 does not
    return _make((2, 5, 16), scale=0.02, shift=0.0)(rng)


def _tiny_variance(rng):
    # variance ~ (3e-3)^2 = 1e-5: torch's default eps is as large as it, BERT's 1e-12 is not
    return _make((2, 5, 16), scale=3e-3, shift=0.0)(rng)


SOURCE_KERAS = ("torch.nn.LayerNorm(normalized_shape, eps=1e-05); "
                "keras.layers.LayerNormalization(axis=-1, epsilon=0.001)")
PORTING = (
    PortingCase(
        "keras-ln-default-epsilon",
        "Keras LayerNormalization adds epsilon=1e-3 to the variance, torch nn.LayerNorm 1e-5: on tokens "
        "whose features vary little (variance ~4e-4) the outputs differ.",
        _small_variance,
        reference=Side("torch", "nn.LayerNorm(16)(x)  # eps=1e-5", _torch_ln()),
        naive=Side("tf", "keras.layers.LayerNormalization()(x)", _keras_ln()),
        fixed=Side("tf", "keras.layers.LayerNormalization(epsilon=1e-5)(x)", _keras_ln(epsilon=1e-5)),
        seed=2270, source=SOURCE_KERAS),
    PortingCase(
        "bert-ln-epsilon-1e-12",
        "BERT's LayerNorm uses eps=1e-12 (its config's layer_norm_eps); porting its weights into "
        "nn.LayerNorm(768) keeps torch's default 1e-5, which dominates a variance of ~1e-5.",
        _tiny_variance,
        reference=Side("torch", "nn.LayerNorm(16, eps=1e-12)(x)  # BERT", _torch_ln(eps=1e-12)),
        naive=Side("torch", "nn.LayerNorm(16)(x)", _torch_ln()),
        fixed=Side("torch", "nn.LayerNorm(16, eps=1e-12)(x)", _torch_ln(eps=1e-12)),
        seed=2271, source="BertConfig(layer_norm_eps=1e-12); torch.nn.LayerNorm(normalized_shape, eps=1e-05)"),
    PortingCase(
        "std-plus-eps-unbiased",
        "The Annotated Transformer writes LayerNorm as a_2 (x - mean) / (x.std(-1) + eps) + b_2: torch's std "
        "is unbiased (divides by d - 1) and eps sits outside the root. With d = 16 every output is "
        "sqrt(15/16) of nn.LayerNorm's.",
        _make((2, 5, 16)),
        reference=Side("torch", "nn.LayerNorm(16)(x)", _torch_ln()),
        naive=Side("torch", "gamma * (x - mean) / (x.std(-1, keepdim=True) + 1e-6) + beta", _annotated(True)),
        fixed=Side("torch", "gamma * (x - mean) / (x.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt() + beta",
                   _annotated(False)),
        seed=2272, source="torch.Tensor.std(dim, unbiased=True); The Annotated Transformer (Harvard NLP), "
                          "class LayerNorm"),
)


def _error(x_shape=(2, 4), d=None):
    def make():
        d_ = x_shape[-1] if d is None else d
        return {"x": np.ones(x_shape), "gamma": np.ones(d_), "beta": np.zeros(d_)}
    return make


CONCEPT = Concept(
    name=NAME,
    module="transformer",
    family="attention_transformer",
    lesson=5,
    math="per token (each index of the leading axes): mu, var = mean and biased variance of x over the last "
         "axis;  x_hat = (x - mu) / sqrt(var + eps),  y = gamma x_hat + beta;  "
         "dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / sqrt(var + eps), dx_hat = gamma dy",
    japanese="レイヤー正規化 (Layer Normalization)",
    signature="layer_norm(x, gamma, beta, *, eps=1e-5) -> same shape as x; x [..., d], gamma and beta [d]",
    differentiable=("x", "gamma", "beta"),
    cases=(
        Case("tokens", _make((2, 5, 8)), seed=2280, golden=_looped(),
             note="a batch of 2 sequences of 5 tokens with 8 features"),
        Case("rank-2", _make((4, 6)), seed=2281, golden=_looped()),
        Case("rank-1", _make((7,)), seed=2282, golden=_looped(), note="a single token"),
        Case("by-hand", _by_hand, golden=_by_hand_golden,
             note="rows (1, 3) and (5, -1): mean 2, variance 1 and 9; a constant row (0.75, 0.75) gives beta"),
        Case("bert-eps-1e-12", _make((2, 3, 8), scale=1e-3, shift=0.0), {"eps": 1e-12}, seed=2283,
             golden=_looped(1e-12), note="BERT's epsilon on features of size 1e-3"),
        Case("eps-0", _make((3, 4)), {"eps": 0.0}, seed=2284, golden=_looped(0.0),
             note="eps = 0: plain standardisation, defined while no row is constant"),
    ),
    error_cases=(
        ErrorCase("gamma-shape", _error(d=3), ValueError,
                  r"layer_norm: gamma must have shape \(4,\) \(one value per feature, the last axis of x\), "
                  r"got shape \(3,\)"),
        ErrorCase("negative-eps", _error(), ValueError, r"layer_norm: eps must be a number >= 0, got -1e-05",
                  {"eps": -1e-5}),
        ErrorCase("empty", _error(x_shape=(0, 4)), ValueError, r"layer_norm: x is empty \(shape \(0, 4\)\)"),
    ),
    oracles=(
        Oracle("torch", "F.layer_norm", _torch_layer_norm),
        Oracle("tf", "keras.layers.LayerNormalization (set_weights)", _keras_layer_norm, differentiable=False),
        Oracle("tf", "keras.layers.LayerNormalization(center=False, scale=False), then gamma x_hat + beta",
               _keras_then_affine),
    ),
    porting=PORTING,
)
