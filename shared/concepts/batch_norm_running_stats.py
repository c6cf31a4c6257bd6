"""batch_norm_running_stats: the moving averages of the batch statistics that batch norm
uses at inference, updated once per training step."""
import statistics

import numpy as np

from shared import checks, lazy
from shared.concepts.batch_norm import keras_batch_norm_layer, validate_statistics_input
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def validate(x, running_mean, running_var, *, momentum, unbiased):
    axes = validate_statistics_input("batch_norm_running_stats", x, running_mean, running_var, training=True)
    checks.require_number_in("batch_norm_running_stats", "momentum", momentum, 0.0, 1.0)
    checks.require_bool("batch_norm_running_stats", "unbiased", unbiased)
    return axes


def _make(shape):
    def make(rng):
        return {"x": 1 + 3 * rng.standard_normal(shape),
                "running_mean": rng.standard_normal(shape[1]),
                "running_var": rng.uniform(0.5, 2.0, shape[1])}
    return make


def _per_channel_golden(momentum=0.9, unbiased=False):
    """The update from Python's statistics module, channel by channel: an independent
    mean and variance (exact rational arithmetic inside, rounded once)."""
    def golden(inputs):
        x, mean, var = inputs["x"], inputs["running_mean"], inputs["running_var"]
        channels = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
        batch_var = statistics.variance if unbiased else statistics.pvariance
        new_mean = [momentum * m + (1 - momentum) * statistics.fmean(c) for m, c in zip(mean, channels)]
        new_var = [momentum * v + (1 - momentum) * batch_var(c.tolist()) for v, c in zip(var, channels)]
        return np.array(new_mean), np.array(new_var)
    return golden


def _two_values(rng):
    return {"x": np.array([[1.0, 5.0], [3.0, -1.0]]), "running_mean": np.array([0.0, 10.0]),
            "running_var": np.array([1.0, 1.0])}


def _two_values_golden(inputs):
    # batch means (2, 2), biased variances (1, 9), momentum 0.9 on the old value
    return np.array([0.2, 9.2]), np.array([1.0, 1.8])


def _unbiased(case):
    return case.kwargs.get("unbiased", False)


def _torch_running_stats(x, running_mean, running_var, *, momentum=0.9, unbiased=False):
    running_mean, running_var = running_mean.clone(), running_var.clone()
    # torch's momentum is the weight of the NEW batch statistic, and its running
    # variance is always the unbiased one
    lazy.F().batch_norm(x, running_mean, running_var, training=True, momentum=1 - momentum)
    return running_mean, running_var


def _keras_running_stats(x, running_mean, running_var, *, momentum=0.9, unbiased=False):
    channels = x.shape[1]
    layer = keras_batch_norm_layer(x, np.ones(channels), np.zeros(channels), running_mean, running_var,
                                   momentum=momentum)
    layer(x, training=True)
    return layer.moving_mean, layer.moving_variance


def _porting_inputs(rng):
    return {"x": 1 + 3 * rng.standard_normal((6, 4))}


def _torch_running(stat, momentum=None, var_by_hand=False):
    def run(x):
        torch = lazy.torch()
        options = {} if momentum is None else {"momentum": momentum}
        layer = torch.nn.BatchNorm1d(x.shape[1], dtype=x.dtype, **options).train()
        old_var = layer.running_var.clone()
        layer(x)
        if var_by_hand:  # the biased batch variance, averaged as Keras does
            m = layer.momentum
            layer.running_var.copy_((1 - m) * old_var + m * x.var(dim=0, unbiased=False))
        return layer.running_mean if stat == "mean" else layer.running_var
    return run


def _keras_running(stat, **options):
    def run(x):
        channels = x.shape[1]
        layer = keras_batch_norm_layer(x, np.ones(channels), np.zeros(channels), np.zeros(channels),
                                       np.ones(channels), **options)
        layer(x, training=True)
        return layer.moving_mean if stat == "mean" else layer.moving_variance
    return run


PORTING = (
    PortingCase(
        "bn-momentum-convention",
        "torch's BatchNorm momentum is the weight of the NEW batch statistic (default 0.1), "
        "Keras' (and the book's) the weight of the OLD running value: Keras momentum=0.9 is "
        "torch momentum=0.1. Copying the number 0.9 across makes the running statistics "
        "follow each batch almost entirely.",
        _porting_inputs,
        reference=Side("tf", "keras.layers.BatchNormalization(momentum=0.9)  # .moving_mean",
                       _keras_running("mean", momentum=0.9)),
        naive=Side("torch", "nn.BatchNorm1d(C, momentum=0.9)  # .running_mean", _torch_running("mean", momentum=0.9)),
        fixed=Side("torch", "nn.BatchNorm1d(C, momentum=0.1)  # .running_mean", _torch_running("mean", momentum=0.1)),
        seed=81,
        source="torch.nn.BatchNorm1d docs (x_new = (1 - momentum) x_hat + momentum x_t); "
               "keras.layers.BatchNormalization docs (moving = moving * momentum + batch * (1 - momentum))"),
    PortingCase(
        "keras-bn-default-momentum",
        "Keras BatchNormalization defaults to momentum=0.99 (a running average over ~100 steps), "
        "torch to momentum=0.1, i.e. Keras' 0.9 (~10 steps).",
        _porting_inputs,
        reference=Side("torch", "nn.BatchNorm1d(C)  # .running_mean", _torch_running("mean")),
        naive=Side("tf", "keras.layers.BatchNormalization()  # .moving_mean", _keras_running("mean")),
        fixed=Side("tf", "keras.layers.BatchNormalization(momentum=0.9)  # .moving_mean",
                   _keras_running("mean", momentum=0.9)),
        seed=82,
        source="keras.layers.BatchNormalization(momentum=0.99); torch.nn.BatchNorm1d(momentum=0.1)"),
    PortingCase(
        "bn-running-variance-unbiased",
        "torch's running variance averages the UNBIASED batch variance (divided by N - 1), "
        "Keras 3's (and the book's) the biased one (divided by N): for a batch of 6 the "
        "running variance moves 6/5 as far. Update it by hand with x.var(unbiased=False) "
        "to reproduce Keras in torch.",
        _porting_inputs,
        reference=Side("tf", "keras.layers.BatchNormalization(momentum=0.9)  # .moving_variance",
                       _keras_running("var", momentum=0.9)),
        naive=Side("torch", "nn.BatchNorm1d(C)  # .running_var", _torch_running("var")),
        fixed=Side("torch", "running_var = 0.9 * running_var + 0.1 * x.var(0, unbiased=False)",
                   _torch_running("var", var_by_hand=True)),
        seed=83,
        source="torch.nn.BatchNorm1d docs ('the running variance is calculated via the unbiased "
               "estimator'); keras/src/layers/normalization/batch_normalization.py uses ops.moments"),
)

CONCEPT = Concept(
    name="batch_norm_running_stats",
    module="layers",
    family="optimizers_mlp",
    lesson=14,
    math="running = momentum running + (1 - momentum) batch_statistic  (momentum weighs the OLD "
         "value, as in the book and Keras);  batch variance biased (/N) or unbiased (/(N-1), torch)",
    japanese="バッチ正規化の移動平均（推論用）",
    signature="batch_norm_running_stats(x, running_mean, running_var, *, momentum=0.9, unbiased=False) "
              "-> (running_mean, running_var)",
    differentiable=(),
    outputs=("running_mean", "running_var"),
    cases=(
        Case("2d", _make((8, 5)), seed=84, golden=_per_channel_golden()),
        Case("4d", _make((4, 3, 3, 3)), seed=85, golden=_per_channel_golden()),
        Case("unbiased-2d", _make((8, 5)), {"unbiased": True}, seed=86, golden=_per_channel_golden(unbiased=True)),
        Case("unbiased-4d", _make((4, 3, 3, 3)), {"unbiased": True}, seed=87,
             golden=_per_channel_golden(unbiased=True)),
        Case("momentum-0.99", _make((8, 5)), {"momentum": 0.99}, seed=88, golden=_per_channel_golden(0.99)),
        Case("two-values", _two_values, golden=_two_values_golden),
    ),
    error_cases=(
        ErrorCase("momentum-above-1", lambda: _make((4, 3))(np.random.default_rng(0)), ValueError,
                  r"batch_norm_running_stats: momentum must be a number in \[0.0, 1.0\], got 1.5",
                  {"momentum": 1.5}),
        ErrorCase("running-mean-shape", lambda: {**_make((4, 3))(np.random.default_rng(0)),
                                                 "running_mean": np.zeros(4)},
                  ValueError, r"batch_norm_running_stats: running_mean must have shape \(3,\)"),
        ErrorCase("one-example", lambda: _make((1, 3))(np.random.default_rng(0)), ValueError,
                  r"batch_norm_running_stats: training needs more than one value per channel"),
    ),
    oracles=(
        Oracle("torch", "F.batch_norm(training=True, momentum=1 - momentum)", _torch_running_stats,
               applies=_unbiased),
        Oracle("tf", "keras.layers.BatchNormalization(momentum=momentum)", _keras_running_stats,
               applies=lambda case: not _unbiased(case)),
    ),
    porting=PORTING,
)
