"""mlp_train_step: one training step of the book's multi-layer net (MultiLayerNetExtend),
Affine -> BatchNorm -> ReLU -> Dropout, repeated, then Affine -> Softmax-with-Loss, with
L2 weight decay; and the training-step contract every model in dl-rosetta follows.

The contract
  params     a dict of canonical arrays (NumPy arrays; torch/TF tensors inside those
             packages): W1..W{L+1} [in, out], b{L+1}, and per hidden layer i gamma{i},
             beta{i} (trainable) and running_mean{i}, running_var{i} (updated by the
             forward pass, never by the optimizer).
  opt_state  {name: the optimizer's state for that parameter}, trainable names only.
  batch      {"x": [N, 64], "t": [N] labels, "masks": one dropout mask [N, h_i] per
             hidden layer}: every random draw is in the batch.
  hyper      {"optimizer": "adam_step", "opt": {"lr": ...}, "weight_decay": lam,
             "dropout": p, "bn_momentum": 0.9, "bn_eps": 10e-7}.
  train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state)

The hidden Affine layers have no bias: batch norm subtracts the batch mean right after,
so such a bias has gradient exactly 0 and beta does its job. (The book keeps it; in
floating point its "zero" gradient is rounding noise, which Adam, dividing by sqrt(v),
turns into steps of size lr.)
"""

import numpy as np

from shared import checks, training
from shared.concepts import dropout as dropout_spec
from shared.concepts.batch_norm import BOOK_EPS
from shared.initializers import he_normal
from shared.spec import Case, Concept, ErrorCase, Override, Tolerance

OPTIMIZERS = ("sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step",
              "adamw_step")
HYPER_KEYS = ("optimizer", "opt", "weight_decay", "dropout", "bn_momentum", "bn_eps")
PARITY_SIZES = (64, 24, 24, 10)  # small enough for the whole-network finite-difference check

# AdaGrad's step lr * g / sqrt(h) turns the gradient's absolute float32 error into a
# parameter error lr / sqrt(h) times larger. The error itself is small (<= 4e-7 of the
# array's largest gradient, inside the grad budget), but on W1 rows of the digits' border
# pixels, non-zero in a few of 32 samples, sqrt(h) stays ~4e-5 and lr / sqrt(h) reaches
# 1.4e3 (the table's step budget assumes the factor is lr, 0.1). The float64 reference's
# own h gives sum_k max(lr / sqrt(h_k) * |dg_k|) = 8e-6 = 1.3e-5 of max|W1| over 10 steps;
# 2e-5 covers it. How close a weight comes depends on the CPU's summation order: the
# table's budget held on earlier machines; on an AMD EPYC W1[1, 21] used 1.2x of it.
ADAGRAD_F32_AMPLIFIED = Tolerance(
    2e-5, 1e-5, "float32 AdaGrad: lr / sqrt(h) up to 1.4e3 amplifies gradient rounding; "
    "bound from the reference's h: 1.3e-5 of the array's max", scaled=True)


def init_params(rng: np.random.Generator, sizes) -> dict[str, np.ndarray]:
    """He-initialised weights (the book's weight_init_std='relu'), gamma 1, beta 0,
    running mean 0 and variance 1, output bias 0."""
    params = {}
    layers = len(sizes) - 1
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = he_normal(rng, fan_in, fan_out)
        if i < layers:
            params[f"gamma{i}"] = np.ones(fan_out)
            params[f"beta{i}"] = np.zeros(fan_out)
            params[f"running_mean{i}"] = np.zeros(fan_out)
            params[f"running_var{i}"] = np.ones(fan_out)
        else:
            params[f"b{i}"] = np.zeros(fan_out)
    return params


def hidden_layers(params) -> int:
    return sum(1 for name in params if name.startswith("gamma"))


def trainable(params) -> list[str]:
    return [name for name in params if not name.startswith("running_")]


def init_opt_state(params, optimizer: str, opt_hyper: dict) -> dict:
    """The optimizer's first state for every trainable parameter (not the running statistics)."""
    return training.init_opt_state(params, optimizer, opt_hyper, trainable(params))


def make_batch(rng, x, t, batch_size, hidden_sizes, p) -> dict:
    index = rng.choice(len(x), batch_size)  # the book's np.random.choice(train_size, batch_size)
    return {"x": x[index], "t": t[index],
            "masks": [dropout_spec.mask_for(rng, (batch_size, h), p) for h in hidden_sizes]}


def validate(params, opt_state, batch, hyper):
    concept = "mlp_train_step"
    checks.require_keys(concept, "hyper", hyper, HYPER_KEYS)
    checks.require_choice(concept, "hyper['optimizer']", hyper["optimizer"], OPTIMIZERS)
    checks.require_nonnegative(concept, "hyper['weight_decay']", hyper["weight_decay"])
    layers = hidden_layers(params)
    expected = {f"W{i}" for i in range(1, layers + 2)} | {f"b{layers + 1}"} | {
        f"{name}{i}" for i in range(1, layers + 1) for name in ("gamma", "beta", "running_mean", "running_var")}
    if set(params) != expected:
        missing, extra = sorted(expected - set(params)), sorted(set(params) - expected)
        raise ValueError(f"{concept}: params for {layers} hidden layers lack {missing} and have extra {extra}")
    dtype = training.validate_step_state(concept, params, opt_state, hyper, trainable(params))
    for i in range(1, layers + 2):
        checks.require_rank(concept, f"params['W{i}']", params[f"W{i}"], (2,), " ([in, out])")
    sizes = [checks.shape_of(params["W1"])[0]] + [checks.shape_of(params[f"W{i}"])[1] for i in range(1, layers + 2)]
    checks.require_shapes(concept, "params", params, {name: a.shape for name, a in init_params(
        np.random.default_rng(0), sizes).items()}, f"layer sizes {sizes} from the weights' columns")
    for i in range(1, layers + 1):
        checks.require_nonnegative_values(concept, f"params['running_var{i}']", params[f"running_var{i}"],
                                          "it is a variance")
    if not isinstance(batch, dict) or set(batch) != {"x", "t", "masks"}:
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{concept}: batch must be a dict with keys ['masks', 't', 'x'], got {got}")
    masks = batch["masks"]
    if not isinstance(masks, (list, tuple)) or len(masks) != layers:
        raise ValueError(f"{concept}: batch['masks'] must hold one dropout mask per hidden layer "
                         f"({layers}), got {len(masks) if isinstance(masks, (list, tuple)) else type(masks).__name__}")
    n = checks.require_batch(concept, dtype, {"batch['x']": batch["x"], **{
        f"batch['masks'][{i}]": m for i, m in enumerate(masks)}}, {"batch['t']": batch["t"]}, sizes[-1])
    checks.require_shape(concept, "batch['x']", batch["x"], (n, sizes[0]), f"[N, {sizes[0]}]: W1 has {sizes[0]} rows")
    for i, mask in enumerate(masks):
        checks.require_shape(concept, f"batch['masks'][{i}]", mask, (n, sizes[i + 1]), "one keep/drop per unit")
        checks.require_values_in(concept, f"batch['masks'][{i}]", mask, (0.0, 1.0), "0 (drop) and 1 (keep)")


def _case(optimizer, opt_hyper, seed=301, steps=10, batch_size=32):
    def make(rng):
        from shared.data import digits
        split = digits()
        params = init_params(rng, PARITY_SIZES)
        hyper = {"optimizer": optimizer, "opt": opt_hyper, "weight_decay": 1e-3, "dropout": 0.2,
                 "bn_momentum": 0.9, "bn_eps": BOOK_EPS}
        batches = [make_batch(rng, split.x_train, split.t_train, batch_size, PARITY_SIZES[1:-1], hyper["dropout"])
                   for _ in range(steps)]
        return {"params": params, "opt_state": init_opt_state(params, optimizer, opt_hyper),
                "batches": batches, "hyper": hyper}
    name = optimizer.removesuffix("_step") + ("-centered" if opt_hyper.get("centered") else "")
    return Case(name, make, seed=seed, note=f"{optimizer}({opt_hyper}), 10 steps of 32 digits")


def _bad(change):
    return training.error_inputs(_case("sgd_step", {"lr": 0.1}, steps=1), change)


CONCEPT = Concept(
    name="mlp_train_step",
    module="mlp",
    family="optimizers_mlp",
    lesson=15,
    function="train_step",
    math="loss = softmax_with_loss(affine(h_L, W, b), t) + sum_W 0.5 lam sum W^2,  "
         "h_i = dropout(relu(batch_norm(h_{i-1} W_i)), mask_i);  then one optimizer step",
    japanese="多層ニューラルネットの学習ステップ",
    signature="train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state); "
              "canonical params, every random draw in the batch (see the module docstring)",
    differentiable=(),
    steps=(1, 10),
    predict="x",  # predict(params, x, hyper): running statistics, no dropout
    overrides=(Override("step", ADAGRAD_F32_AMPLIFIED, case="adagrad", dtype="float32"),),
    cases=(
        _case("sgd_step", {"lr": 0.1}),
        _case("momentum_step", {"lr": 0.05, "momentum": 0.9}),
        _case("nesterov_step", {"lr": 0.05, "momentum": 0.9}),
        _case("adagrad_step", {"lr": 0.05}),
        _case("rmsprop_step", {"lr": 0.01, "rho": 0.9}),
        _case("rmsprop_step", {"lr": 0.01, "rho": 0.9, "centered": True}),
        _case("adam_step", {"lr": 0.005}),
        _case("adamw_step", {"lr": 0.005, "weight_decay": 0.01}),
    ),
    error_cases=(
        ErrorCase("unknown-optimizer", _bad(lambda i: i["hyper"].update(optimizer="adamax_step")), ValueError,
                  r"mlp_train_step: hyper\['optimizer'\] must be one of"),
        ErrorCase("missing-parameter", _bad(lambda i: i["params"].pop("gamma2")), ValueError,
                  r"mlp_train_step: params for 1 hidden layers lack"),
        ErrorCase("masks-per-layer", _bad(lambda i: i["batch"]["masks"].pop()), ValueError,
                  r"mlp_train_step: batch\['masks'\] must hold one dropout mask per hidden layer \(2\), got 1"),
        ErrorCase("opt-state-keys", _bad(lambda i: i["opt_state"].pop("W1")), ValueError,
                  r"mlp_train_step: opt_state must hold one sgd_step state per trained parameter"),
    ),
)
