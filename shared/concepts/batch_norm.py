"""batch_norm: normalise each channel with the batch's statistics (training) or the
running ones (inference), then scale by gamma and shift by beta."""
import math

import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Hint, Oracle, PortingCase, Side

# ゼロから作る 6.3's BatchNormalization writes np.sqrt(var + 10e-7): that is 1e-6, not 1e-7.
# torch's default is 1e-5, Keras' 1e-3 (porting case keras-bn-default-epsilon).
BOOK_EPS = 10e-7


def reduce_axes(ndim: int) -> tuple[int, ...]:
    """Statistics per channel (axis 1 of the canonical NCHW): over the batch, and over
    height and width for images. (The book's layer flattens images to (N, C*H*W) and so
    normalises every pixel separately; torch and Keras, and we, share one per channel.)"""
    return (0,) if ndim == 2 else (0, 2, 3)


def validate_statistics_input(concept, x, running_mean, running_var, *, training):
    """The checks batch_norm and batch_norm_running_stats share; returns the reduce axes."""
    checks.require_floats(concept, x=x, running_mean=running_mean, running_var=running_var)
    checks.require_rank(concept, "x", x, (2, 4), " ([N, C] or [N, C, H, W])")
    checks.require_nonempty(concept, "x", x)
    channels = checks.shape_of(x)[1]
    for arg, a in (("running_mean", running_mean), ("running_var", running_var)):
        checks.require_shape(concept, arg, a, (channels,), "one value per channel of x")
    checks.require_nonnegative_values(concept, "running_var", running_var, "it is a variance")
    checks.require_bool(concept, "training", training)
    axes = reduce_axes(len(checks.shape_of(x)))
    per_channel = math.prod(checks.shape_of(x)[a] for a in axes)
    if training and per_channel < 2:
        raise ValueError(f"{concept}: training needs more than one value per channel to take a "
                         f"batch variance, got x of shape {checks.shape_of(x)}")
    return axes


def validate(x, gamma, beta, running_mean, running_var, *, training, eps):
    axes = validate_statistics_input("batch_norm", x, running_mean, running_var, training=training)
    channels = checks.shape_of(x)[1]
    checks.require_floats("batch_norm", x=x, gamma=gamma, beta=beta)
    for arg, a in (("gamma", gamma), ("beta", beta)):
        checks.require_shape("batch_norm", arg, a, (channels,), "one value per channel of x")
    checks.require_nonnegative("batch_norm", "eps", eps)
    return axes


def _make(shape, scale=3.0, shift=1.0):
    def make(rng):
        channels = shape[1]
        return {"x": shift + scale * rng.standard_normal(shape),
                "gamma": 1 + 0.5 * rng.standard_normal(channels),
                "beta": 0.5 * rng.standard_normal(channels),
                "running_mean": rng.standard_normal(channels),
                "running_var": rng.uniform(0.5, 2.0, channels)}
    return make


def _two_values(rng):
    # channel 0 holds 1 and 3 (mean 2, variance 1), channel 1 holds 5 and -1 (mean 2, variance 9)
    return {"x": np.array([[1.0, 5.0], [3.0, -1.0]]), "gamma": np.array([2.0, 0.5]),
            "beta": np.array([0.25, -1.0]), "running_mean": np.zeros(2), "running_var": np.ones(2)}


def _two_values_golden(inputs):
    a, b = 1 / math.sqrt(1 + BOOK_EPS), 3 / math.sqrt(9 + BOOK_EPS)
    return np.array([[0.25 - 2 * a, -1 + 0.5 * b], [0.25 + 2 * a, -1 - 0.5 * b]])


def _training(case):
    return case.kwargs["training"]


def _torch_batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    # torch updates the running statistics in place: give it copies
    return lazy.F().batch_norm(x, running_mean.clone(), running_var.clone(), gamma, beta,
                               training=training, eps=eps)


def _tf_batch_normalization(x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    tf = lazy.tf()
    shape = (1, -1) + (1,) * (len(x.shape) - 2)
    if training:
        mean, var = tf.nn.moments(x, axes=list(reduce_axes(len(x.shape))), keepdims=True)
    else:
        mean, var = tf.reshape(running_mean, shape), tf.reshape(running_var, shape)
    return tf.nn.batch_normalization(x, mean, var, tf.reshape(beta, shape), tf.reshape(gamma, shape), eps)


def keras_batch_norm_layer(x, gamma, beta, running_mean, running_var, **options):
    """A Keras 3 BatchNormalization over axis 1 (canonical NCHW) holding our parameters."""
    keras = lazy.keras()
    layer = keras.layers.BatchNormalization(axis=1, dtype=x.dtype.name, **options)
    layer.build(tuple(x.shape))
    layer.set_weights([np.asarray(a) for a in (gamma, beta, running_mean, running_var)])
    return layer


def _keras_batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    layer = keras_batch_norm_layer(x, gamma, beta, running_mean, running_var, epsilon=eps)
    return layer(x, training=training)


def _small_variance(rng):
    inputs = _make((16, 4), scale=0.03, shift=0.0)(rng)
    return {k: inputs[k] for k in ("x", "gamma", "beta")}


def _huge(rng):
    """Activations of size ~1e30: finite in float32, their squares (1e60) are not."""
    inputs = _make((16, 4), scale=1e30, shift=0.0)(rng)
    return {k: inputs[k] for k in ("x", "gamma", "beta")}


def _float64_definition(x, gamma, beta):
    """(x - mean) / sqrt(var + 1e-5) gamma + beta over the batch, in float64, where 1e60 fits."""
    x, gamma, beta = (np.asarray(a, dtype=np.float64) for a in (x, gamma, beta))
    return (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) * gamma + beta


def _torch_bn1d(frozen=False, wide=False, **options):
    def run(x, gamma, beta):
        torch = lazy.torch()
        dtype = torch.float64 if wide else x.dtype
        layer = torch.nn.BatchNorm1d(x.shape[1], dtype=dtype, **options)
        with torch.no_grad():
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
        layer.requires_grad_(not frozen)
        return layer.train()(x.to(dtype)).to(x.dtype)
    return run


def _keras_bn(trainable=True, wide=False, **options):
    def run(x, gamma, beta):
        channels = x.shape[1]
        ones, zeros = np.ones(channels), np.zeros(channels)
        xs = np.asarray(x, dtype=np.float64) if wide else x
        layer = keras_batch_norm_layer(xs, gamma, beta, zeros, ones, **options)
        layer.trainable = trainable
        return np.asarray(layer(xs, training=True), dtype=np.asarray(x).dtype)
    return run


PORTING = (
    PortingCase(
        "keras-bn-default-epsilon",
        "Keras BatchNormalization adds epsilon=1e-3 to the variance, torch BatchNorm 1e-5 (the "
        "book 10e-7 = 1e-6): on activations with a small variance the outputs differ.",
        _small_variance,
        reference=Side("torch", "nn.BatchNorm1d(C)(x)  # eps=1e-5, training mode", _torch_bn1d()),
        naive=Side("tf", "keras.layers.BatchNormalization()(x, training=True)", _keras_bn()),
        fixed=Side("tf", "keras.layers.BatchNormalization(epsilon=1e-5)(x, training=True)",
                   _keras_bn(epsilon=1e-5)),
        seed=71,
        source="torch.nn.BatchNorm1d(eps=1e-05); keras.layers.BatchNormalization(epsilon=0.001)"),
    PortingCase(
        "keras-bn-trainable-false-inference-mode",
        "Freezing a Keras BatchNormalization with layer.trainable = False also switches it to "
        "inference mode, even under training=True (Keras' fine-tuning convention); in torch, "
        "requires_grad_(False) freezes gamma and beta but .train() still normalises with the "
        "batch's statistics. To freeze Keras' gamma and beta and keep batch statistics, leave "
        "trainable=True and leave them out of the optimizer.",
        _small_variance,
        reference=Side("torch", "bn.requires_grad_(False); bn.train(); bn(x)  # eps=1e-3",
                       _torch_bn1d(frozen=True, eps=1e-3)),
        naive=Side("tf", "bn.trainable = False; bn(x, training=True)", _keras_bn(trainable=False)),
        fixed=Side("tf", "bn(x, training=True)  # trainable left True", _keras_bn()),
        seed=72,
        source="keras BatchNormalization docs, 'About setting layer.trainable = False' (keras PR #13892)"),
    PortingCase(
        "torch-bn-overflow",
        "float32 activations of size 1e30 are finite, but torch's batch norm squares them: the "
        "variance is inf and every output is beta, silently. batch_norm here scales by a power of "
        "two before squaring (numerics.py); with the built-in, normalise in float64.",
        _huge,
        reference=Side("numpy", "(x - mean) / sqrt(var + 1e-5) * gamma + beta in float64", _float64_definition),
        naive=Side("torch", "nn.BatchNorm1d(C)(x)  # float32", _torch_bn1d()),
        fixed=Side("torch", "nn.BatchNorm1d(C, dtype=torch.float64)(x.double()).float()", _torch_bn1d(wide=True)),
        seed=73, source="torch.nn.BatchNorm1d; IEEE 754 float32 (largest finite value 3.4e38)"),
    PortingCase(
        "keras-bn-overflow",
        "The same in Keras: BatchNormalization's moments of 1e30-sized float32 activations "
        "overflow, the variance is inf and every output is beta. Normalise in float64.",
        _huge,
        reference=Side("numpy", "(x - mean) / sqrt(var + 1e-5) * gamma + beta in float64", _float64_definition),
        naive=Side("tf", "keras.layers.BatchNormalization(epsilon=1e-5)(x, training=True)",
                   _keras_bn(epsilon=1e-5)),
        fixed=Side("tf", "keras.layers.BatchNormalization(epsilon=1e-5, dtype='float64')(x64, training=True)",
                   _keras_bn(wide=True, epsilon=1e-5)),
        seed=74, source="keras.layers.BatchNormalization (tf.nn.moments); IEEE 754 float32"),
)

CONCEPT = Concept(
    name="batch_norm",
    module="layers",
    family="optimizers_mlp",
    lesson=13,
    hints=(Hint("forward", "in training, normalise with the batch's own mean and variance; the running "
                  "statistics are for inference (training=False)"),),
    math="x_hat = (x - mu) / sqrt(var + eps),  y = gamma x_hat + beta;  mu, var per channel: the "
         "batch's (biased) in training, the running ones in inference;  "
         "training: dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / sqrt(var + eps)",
    japanese="Batch Normalization（バッチ正規化）",
    signature="batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=10e-7) -> y; "
              "x [N, C] or [N, C, H, W]; the running statistics are read (inference), never written: "
              "batch_norm_running_stats updates them",
    differentiable=("x", "gamma", "beta"),
    cases=(
        Case("train-2d", _make((8, 5)), {"training": True}, seed=73),
        Case("train-4d", _make((4, 3, 3, 3)), {"training": True}, seed=74),
        Case("inference-2d", _make((8, 5)), {"training": False}, seed=75),
        Case("inference-4d", _make((4, 3, 3, 3)), {"training": False}, seed=76),
        Case("two-values", _two_values, {"training": True}, golden=_two_values_golden,
             note="per channel: (1, 3) has mean 2, variance 1; (5, -1) mean 2, variance 9"),
        Case("small-variance-eps-1e-5", _make((16, 4), scale=0.03, shift=0.0),
             {"training": True, "eps": 1e-5}, seed=77),
    ),
    error_cases=(
        ErrorCase("rank-3-x", lambda: _make((2, 3, 4))(np.random.default_rng(0)),
                  ValueError, r"batch_norm: x must have rank 2 or 4 \(\[N, C\] or \[N, C, H, W\]\)",
                  {"training": True}),
        ErrorCase("gamma-shape", lambda: {**_make((4, 3))(np.random.default_rng(0)), "gamma": np.ones(4)},
                  ValueError, r"batch_norm: gamma must have shape \(3,\) \(one value per channel of x\)",
                  {"training": True}),
        ErrorCase("one-example-training", lambda: _make((1, 3))(np.random.default_rng(0)),
                  ValueError, r"batch_norm: training needs more than one value per channel",
                  {"training": True}),
        ErrorCase("training-not-bool", lambda: _make((4, 3))(np.random.default_rng(0)),
                  TypeError, r"batch_norm: training must be True or False, got 'yes'", {"training": "yes"}),
        ErrorCase("negative-eps", lambda: _make((4, 3))(np.random.default_rng(0)),
                  ValueError, r"batch_norm: eps must be a number >= 0", {"training": False, "eps": -1e-5}),
    ),
    oracles=(
        Oracle("torch", "F.batch_norm", _torch_batch_norm),
        Oracle("tf", "tf.nn.batch_normalization", _tf_batch_normalization),
        # a layer owns gamma and beta as variables: only its value is compared
        Oracle("tf", "keras.layers.BatchNormalization", _keras_batch_norm, differentiable=False),
    ),
    porting=PORTING,
)
