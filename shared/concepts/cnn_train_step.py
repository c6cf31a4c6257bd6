"""cnn_train_step: one training step of the book's SimpleConvNet (ゼロから作る 7.5),

    Conv -> ReLU -> Pool (max, 2x2, stride 2) -> Affine -> ReLU -> Affine -> Softmax-with-Loss

on the digits as 1 x 8 x 8 images. It follows mlp_train_step's contract:

  params     W1 [F, C, k, k] (OIHW), b1 [F], W2 [F*h*w, hidden], b2 [hidden],
             W3 [hidden, classes], b3 [classes]. W2's rows follow the pooled feature
             map [F, h, w] flattened in (C, H, W) order, as the book's reshape and
             torch's flatten(1) do it.
  opt_state  {name: the optimizer's state for that parameter}.
  batch      {"x": [N, C, H, W] images, "t": [N] labels}: the only random draw is the
             choice of the batch, and it is made before the batch is handed over.
  hyper      {"optimizer": "adam_step", "opt": {"lr": ...}, "stride": 1, "pad": 1}:
             the convolution's stride and zero padding. Pooling is fixed as in the book.
  train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state)
"""
import numbers

import numpy as np

from shared import checks, training
from shared.concepts._conv import output_size
from shared.initializers import he_normal
from shared.spec import Case, Concept, ErrorCase
from shared.training import init_opt_state

CONCEPT_NAME = "cnn_train_step"
OPTIMIZERS = ("sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step",
              "adamw_step")
HYPER_KEYS = ("optimizer", "opt", "stride", "pad")
PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
POOL = 2  # the book's Pooling(pool_h=2, pool_w=2, stride=2)
IMAGE = (1, 8, 8)  # the digits: one channel, 8 x 8 pixels

# 6 filters 3x3, padding 1: 6 x 8 x 8 -> pooled 6 x 4 x 4 = 96 -> 20 -> 10, 2,210
# parameters: the float64 whole-network central differences take ~2 x 2,210 forward passes
PARITY_NET = {"filters": 6, "kernel": 3, "hidden": 20}
PARITY_HYPER = {"stride": 1, "pad": 1}


def feature_shape(filters: int, kernel: int, image_hw, stride: int, pad: int) -> tuple[int, int, int]:
    """[F, h, w] of the pooled feature map that W2 reads (ゼロから作る 7.2.4's output size,
    then halved, rounding down, by the 2x2 pooling)."""
    conv = [output_size(size, kernel, stride, pad, pad) for size in image_hw]
    return filters, *(output_size(size, POOL, POOL, 0, 0) for size in conv)


def model_feature_shape(params, hyper, image_hw) -> tuple[int, int, int]:
    """feature_shape for the network `params` describes, fed images of size image_hw."""
    filters, _, kernel, _ = checks.shape_of(params["W1"])
    return feature_shape(filters, kernel, image_hw, hyper["stride"], hyper["pad"])


def init_params(rng: np.random.Generator, filters: int, kernel: int, hidden: int, *, classes: int = 10,
                image=IMAGE, stride: int = 1, pad: int = 1) -> dict[str, np.ndarray]:
    """He-initialised weights, biases 0, as the book's SimpleConvNet with
    weight_init_std='relu'. A conv filter sees C*k*k inputs: that is its fan_in."""
    channels = image[0]
    fan_in = channels * kernel * kernel
    features = int(np.prod(feature_shape(filters, kernel, image[1:], stride, pad)))
    # he_normal draws [fan_in, fan_out]; each filter is one column, reshaped to OIHW
    W1 = he_normal(rng, fan_in, filters).T.reshape(filters, channels, kernel, kernel)
    return {"W1": W1, "b1": np.zeros(filters),
            "W2": he_normal(rng, features, hidden), "b2": np.zeros(hidden),
            "W3": he_normal(rng, hidden, classes), "b3": np.zeros(classes)}


def images(x_flat: np.ndarray) -> np.ndarray:
    """The digits' 64-feature rows as NCHW images [N, 1, 8, 8]."""
    return x_flat.reshape(-1, *IMAGE)


def make_batch(rng, x, t, batch_size) -> dict:
    index = rng.choice(len(x), batch_size)  # the book's np.random.choice(train_size, batch_size)
    return {"x": images(x[index]), "t": t[index]}


def _require_int(arg, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{CONCEPT_NAME}: {arg} must be an int >= {minimum}, got {value!r}")


def validate(params, opt_state, batch, hyper):
    concept = CONCEPT_NAME
    checks.require_keys(concept, "hyper", hyper, HYPER_KEYS)
    checks.require_choice(concept, "hyper['optimizer']", hyper["optimizer"], OPTIMIZERS)
    _require_int("hyper['stride']", hyper["stride"], 1)
    _require_int("hyper['pad']", hyper["pad"], 0)
    if set(params) != set(PARAM_NAMES):
        missing, extra = sorted(set(PARAM_NAMES) - set(params)), sorted(set(params) - set(PARAM_NAMES))
        raise ValueError(f"{concept}: params must be {PARAM_NAMES}; missing {missing}, extra {extra}")
    dtype = training.validate_step_state(concept, params, opt_state, hyper)
    checks.require_rank(concept, "W1", params["W1"], (4,), " ([filters, channels, k, k], the canonical OIHW layout)")
    filters, channels, kernel, width = checks.shape_of(params["W1"])
    if width != kernel:
        raise ValueError(f"{concept}: W1's filters must be square (k x k), got shape {checks.shape_of(params['W1'])}")
    for name in ("W2", "W3"):
        checks.require_rank(concept, name, params[name], (2,), " ([in, out])")
    if not isinstance(batch, dict) or set(batch) != {"x", "t"}:
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{concept}: batch must be a dict with keys ['t', 'x'], got {got}")
    x = batch["x"]
    classes = checks.shape_of(params["W3"])[1]
    checks.require_batch(concept, dtype, {"batch['x']": x}, {"batch['t']": batch["t"]}, classes)
    shape = checks.shape_of(x)
    if len(shape) != 4 or shape[1] != channels:
        raise ValueError(f"{concept}: batch['x'] must be images [N, {channels}, H, W] (NCHW; the digits' "
                         f"64 features reshaped to [N, 1, 8, 8]), got shape {shape}")
    checks.require_shape(concept, "batch['t']", batch["t"], shape[:1], "one label per image")
    fmap = model_feature_shape(params, hyper, shape[2:])
    rows = int(np.prod(fmap))
    if min(fmap) < 1 or checks.shape_of(params["W2"])[0] != rows:
        raise ValueError(f"{concept}: W2 must have {rows} rows, one per value of the pooled feature map "
                         f"{fmap} flattened in (C, H, W) order, got W2 of shape {checks.shape_of(params['W2'])}")
    hidden = checks.shape_of(params["W2"])[1]
    checks.require_shapes(concept, "params", params, {
        "b1": (filters,), "W3": (hidden, classes), "b2": (hidden,), "b3": (classes,)},
        f"{filters} filters, {hidden} hidden units and {classes} classes from W1, W2 and W3")


def _case(optimizer, opt_hyper, seed=401, steps=10, batch_size=32):
    def make(rng):
        from shared.data import digits
        split = digits()
        params = init_params(rng, **PARITY_NET, **PARITY_HYPER)
        # b1 away from 0: a window of background pixels (all exactly 0) makes the conv
        # output exactly b1, so with the book's b1 = 0 hundreds of them would sit on
        # ReLU's kink, where central differences measure half a slope and the numeric
        # check would fail without a bug. 0.1 is 1e5 times the difference step.
        params["b1"] = 0.1 * rng.standard_normal(PARITY_NET["filters"])
        hyper = {"optimizer": optimizer, "opt": opt_hyper, **PARITY_HYPER}
        batches = [make_batch(rng, split.x_train, split.t_train, batch_size) for _ in range(steps)]
        return {"params": params, "opt_state": init_opt_state(params, optimizer, opt_hyper),
                "batches": batches, "hyper": hyper}
    return Case(optimizer.removesuffix("_step"), make, seed=seed,
                note=f"{optimizer}({opt_hyper}), {steps} steps of {batch_size} digits")


def _bad(change):
    return training.error_inputs(_case("sgd_step", {"lr": 0.1}, steps=1), change)


CONCEPT = Concept(
    name=CONCEPT_NAME,
    module="cnn",
    family="convolution",
    lesson=8,
    function="train_step",
    math="loss = softmax_with_loss(affine(relu(affine(flatten(max_pool_2x2(relu(conv2d(x, W1, b1)))), W2, b2)), "
         "W3, b3), t);  then one optimizer step",
    japanese="畳み込みニューラルネットワーク（SimpleConvNet）の学習ステップ",
    signature="train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state); "
              "canonical params (W1 OIHW, W2 rows in (C, H, W) order), batch x NCHW (see the module docstring)",
    differentiable=(),
    steps=(1, 10),
    predict="x",  # predict(params, x, hyper): the inference path
    cases=(
        _case("adam_step", {"lr": 0.005, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
        _case("sgd_step", {"lr": 0.1}),
    ),
    error_cases=(
        ErrorCase("unknown-optimizer", _bad(lambda i: i["hyper"].update(optimizer="adamax_step")), ValueError,
                  r"cnn_train_step: hyper\['optimizer'\] must be one of"),
        ErrorCase("hyper-keys", _bad(lambda i: i["hyper"].pop("pad")), ValueError,
                  r"cnn_train_step: hyper must be a dict with keys \('optimizer', 'opt', 'stride', 'pad'\), "
                  r"got \['opt', 'optimizer', 'stride'\]"),
        ErrorCase("missing-parameter", _bad(lambda i: i["params"].pop("b2")), ValueError,
                  r"cnn_train_step: params must be .*; missing \['b2'\], extra \[\]"),
        ErrorCase("opt-state-keys", _bad(lambda i: i["opt_state"].pop("W1")), ValueError,
                  r"cnn_train_step: opt_state must hold one \w+ state per trained parameter"),
        ErrorCase("flat-images", _bad(lambda i: i["batch"].update(x=i["batch"]["x"].reshape(32, 64))), ValueError,
                  r"cnn_train_step: batch\['x'\] must be images \[N, 1, H, W\] \(NCHW; .*got shape \(32, 64\)"),
        ErrorCase("image-size", _bad(lambda i: i["batch"].update(x=np.zeros((32, 1, 10, 10)))), ValueError,
                  r"cnn_train_step: W2 must have 150 rows, one per value of the pooled feature map \(6, 5, 5\)"),
    ),
)
