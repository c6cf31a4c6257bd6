"""metric_train_step: one training step of a small embedding network for metric learning
距離学習 on the digits, as a Siamese network シャムネットワーク (contrastive loss on pairs)
or with in-batch triplet mining (batch-all, batch-hard, semi-hard).

    e(x) = affine(relu(affine(x, W1, b1)), W2[, b2])     [N, 64] -> [N, E]
    e(x) <- e(x) / max(||e(x)||, NORM_FLOOR)             when hyper["normalize"]

It follows mlp_train_step's contract:

  params     {"W1" [64, H], "b1" [H], "W2" [H, E]} (canonical W [in, out]), and
             "b2" [E] only with hyper["normalize"]. Every loss here sees the embeddings
             only through differences e_i - e_j, and b2 shifts every embedding alike:
             without the normalisation b2's gradient is exactly 0 (what a framework
             computes is rounding noise, which Adam, dividing by sqrt(v), would turn into
             steps of size lr), as for mlp_train_step's hidden biases before batch norm.
  opt_state  {name: the optimizer's state for that parameter}.
  batch      loss "contrastive": {"x1" [N, 64], "x2" [N, 64], "y" [N] int, 1 = same digit}:
             the Siamese pair. Both branches are the SAME network (shared weights), so
             each weight's gradient is the sum of the two branches' gradients.
             mining losses: {"x" [B, 64], "labels" [B] int}; the triplets are mined
             inside the batch from the current embeddings (shared/concepts/_mining.py).
             Every random draw (which pairs, which samples) is made before the batch
             is handed over (make_batch).
  hyper      {"loss": "contrastive" | "batch_all" | "batch_hard" | "semi_hard",
             "margin": m >= 0, "distance": "euclidean" (contrastive: the only one) or
             "squared" | "euclidean" (mining), "normalize": bool,
             "optimizer": "sgd_step" | "momentum_step" | "adam_step", "opt": {...}}
  train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state)
  embed(params, x, hyper) -> [N, E] embeddings (no gradient), for the demo.

The losses are the package's own: contrastive_loss (module metric, reduction "mean") and
triplet_batch_all (average "positive") / triplet_batch_hard / triplet_semi_hard (module
mining).
"""
import numpy as np

from shared import checks, training
from shared.initializers import he_normal, xavier_normal
from shared.spec import Case, Concept, ErrorCase
from shared.training import init_opt_state

CONCEPT_NAME = "metric_train_step"
LOSSES = ("contrastive", "batch_all", "batch_hard", "semi_hard")
OPTIMIZERS = ("sgd_step", "momentum_step", "adam_step")
HYPER_KEYS = ("loss", "margin", "distance", "normalize", "optimizer", "opt")
PARAM_NAMES = ("W1", "b1", "W2", "b2")
PAIR_KEYS = ("x1", "x2", "y")
MINING_KEYS = ("x", "labels")
# a zero embedding has no direction: its norm is clamped from below, so it maps to 0, not 0/0
NORM_FLOOR = 1e-12
FEATURES = 64  # the digits' 8 x 8 pixels
# H = 16, E = 4: 64*16 + 16 + 16*4 (+ 4) = 1,104 (1,108) parameters, so the float64 whole-network
# central differences (2 x 1,108 forward passes) take well under a second
PARITY_SIZES = (FEATURES, 16, 4)
DEMO_SIZES = (FEATURES, 64, 2)


def param_names(normalize: bool) -> tuple[str, ...]:
    """b2 only where it can matter: before the normalisation (see the module docstring)."""
    return PARAM_NAMES if normalize else PARAM_NAMES[:3]


# No tolerance override for float32 Adam: its first step lr * g / (|g| + eps) amplifies the
# rounding of gradients that cancel to ~0 (see ADAM_F32_AMPLIFIED in seq2seq_train_step), but
# here the near-zero gradients are exact zeros instead: W1's rows for pixels that are 0 in
# every image of the batch (the digits' border) get 0 * anything = 0 in every dtype, and b2,
# whose gradient would be pure rounding, exists only with the normalisation. Measured on
# CPU (x86, torch 2.13, TF 2.21): float32 Adam's worst step check used 66% of the table's
# budget (state@1:b1.m, contrastive-adam, TF), its worst param@10 51% (b1, torch).


def init_params(rng: np.random.Generator, sizes=PARITY_SIZES, *, normalize: bool = False) -> dict[str, np.ndarray]:
    """sizes = (64, H, E). W1: He normal (std sqrt(2 / 64), a ReLU follows); W2: Xavier
    normal (std sqrt(1 / H), the embedding is linear); biases 0; b2 only with
    `normalize` (param_names)."""
    features, hidden, embedding = sizes
    params = {"W1": he_normal(rng, features, hidden), "b1": np.zeros(hidden),
              "W2": xavier_normal(rng, hidden, embedding)}
    if normalize:
        params["b2"] = np.zeros(embedding)
    return params


def make_batch(rng, x, t, batch_size, loss, per_class=4) -> dict:
    """One batch for `loss`, every draw made here.

    contrastive  batch_size pairs, balanced: the first half same-class (y = 1: an anchor,
                 then another sample of its digit), the rest different-class (y = 0),
                 then shuffled. Random pairs would be ~90% dissimilar on 10 digits.
    mining       the "PK" batches of Hermans et al. 2017: P = batch_size // per_class
                 digits, K = per_class samples of each (without replacement), so every
                 anchor has K - 1 positives and (P - 1) K negatives. per_class=None draws
                 batch_size samples at random instead (some anchors may lack a positive:
                 the mining losses skip them).
    """
    if loss == "contrastive":
        anchors = rng.choice(len(x), batch_size, replace=False)
        same = np.arange(batch_size) < batch_size // 2
        partners = np.empty(batch_size, dtype=np.int64)
        for i, (a, similar) in enumerate(zip(anchors, same)):
            pool = np.flatnonzero((t == t[a]) & (np.arange(len(t)) != a)) if similar else np.flatnonzero(t != t[a])
            partners[i] = rng.choice(pool)
        order = rng.permutation(batch_size)
        return {"x1": x[anchors[order]], "x2": x[partners[order]], "y": same[order].astype(np.int64)}
    if per_class is None:
        index = rng.choice(len(x), batch_size, replace=False)
    else:
        digits = rng.choice(np.unique(t), batch_size // per_class, replace=False)
        index = np.concatenate([rng.choice(np.flatnonzero(t == d), per_class, replace=False) for d in digits])
    return {"x": x[index], "labels": t[index].astype(np.int64)}


def _keys(batch):
    return sorted(batch) if isinstance(batch, dict) else type(batch).__name__


def _require_inputs(arg, x, rows):
    checks.require_float(CONCEPT_NAME, f"batch[{arg!r}]", x)
    checks.require_rank(CONCEPT_NAME, f"batch[{arg!r}]", x, (2,), f" ([N, {rows}], one flattened image per row)")
    if checks.shape_of(x)[1] != rows:
        raise ValueError(f"{CONCEPT_NAME}: batch[{arg!r}] must have {rows} columns (W1's rows), "
                         f"got shape {checks.shape_of(x)}")


def validate_model(params, batch, hyper):
    """Everything the loss needs: hyper's model keys, params and the batch."""
    concept = CONCEPT_NAME
    checks.require_choice(concept, "hyper['loss']", hyper["loss"], LOSSES)
    checks.require_nonnegative(concept, "hyper['margin']", hyper["margin"])
    distances = ("euclidean",) if hyper["loss"] == "contrastive" else ("squared", "euclidean")
    checks.require_choice(concept, f"hyper['distance'] for loss {hyper['loss']!r}", hyper["distance"], distances)
    checks.require_bool(concept, "hyper['normalize']", hyper["normalize"])
    names = param_names(hyper["normalize"])
    if set(params) != set(names):
        missing, extra = sorted(set(names) - set(params)), sorted(set(params) - set(names))
        raise ValueError(f"{concept}: with normalize={hyper['normalize']} params must be {names} (b2 only with "
                         f"the normalisation: distances ignore a shift of every embedding); "
                         f"missing {missing}, extra {extra}")
    dtype = checks.require_tree(concept, "params", params)
    for name in ("W1", "W2"):
        checks.require_rank(concept, f"params[{name!r}]", params[name], (2,), " ([in, out])")
    rows, hidden = checks.shape_of(params["W1"])
    embedding = checks.shape_of(params["W2"])[1]
    checks.require_shapes(concept, "params", params, {"b1": (hidden,), "W2": (hidden, embedding), **(
        {"b2": (embedding,)} if "b2" in params else {})}, f"H = {hidden} from W1, E = {embedding} from W2")
    if hyper["loss"] == "contrastive":
        if not isinstance(batch, dict) or set(batch) != set(PAIR_KEYS):
            raise ValueError(f"{concept}: a contrastive batch must be a dict with keys {PAIR_KEYS} (the Siamese "
                             f"pair x1, x2 and y = 1 for the same digit), got {_keys(batch)}")
        checks.require_batch(concept, dtype, {"batch['x1']": batch["x1"], "batch['x2']": batch["x2"]},
                             {"batch['y']": batch["y"]}, 2, "pair labels (1 = same digit, 0 = different)")
        _require_inputs("x1", batch["x1"], rows)
        checks.require_shape(concept, "batch['x2']", batch["x2"], checks.shape_of(batch["x1"]), "x1's shape")
        checks.require_shape(concept, "batch['y']", batch["y"], checks.shape_of(batch["x1"])[:1], "one label per pair")
    else:
        if not isinstance(batch, dict) or set(batch) != set(MINING_KEYS):
            raise ValueError(f"{concept}: a {hyper['loss']} batch must be a dict with keys {MINING_KEYS}, "
                             f"got {_keys(batch)}")
        checks.require_batch(concept, dtype, {"batch['x']": batch["x"]})
        checks.require_integer(concept, "batch['labels']", batch["labels"], "integers (digit classes)")
        _require_inputs("x", batch["x"], rows)
        checks.require_shape(concept, "batch['labels']", batch["labels"], checks.shape_of(batch["x"])[:1],
                             "one label per row")


def validate(params, opt_state, batch, hyper):
    concept = CONCEPT_NAME
    checks.require_keys(concept, "hyper", hyper, HYPER_KEYS)
    checks.require_choice(concept, "hyper['optimizer']", hyper["optimizer"], OPTIMIZERS)
    validate_model(params, batch, hyper)
    training.validate_step_state(concept, params, opt_state, hyper)


def loss_kwargs(hyper) -> dict:
    """The keyword arguments of the loss function hyper names."""
    return {"margin": hyper["margin"], "distance": hyper["distance"]}


def _case(name, loss, optimizer, opt_hyper, *, margin, distance, normalize, seed, steps=10, batch_size=16,
          note=""):
    def make(rng):
        from shared.data import digits
        split = digits()
        params = init_params(rng, PARITY_SIZES, normalize=normalize)
        hyper = {"loss": loss, "margin": margin, "distance": distance, "normalize": normalize,
                 "optimizer": optimizer, "opt": opt_hyper}
        batches = [make_batch(rng, split.x_train, split.t_train, batch_size, loss) for _ in range(steps)]
        return {"params": params, "opt_state": init_opt_state(params, optimizer, opt_hyper),
                "batches": batches, "hyper": hyper}
    what = "pairs" if loss == "contrastive" else "digits (4 classes x 4)"
    return Case(name, make, seed=seed, note=f"{loss}, margin {margin}, {distance}, normalize={normalize}, "
                f"{optimizer}({opt_hyper}), {steps} steps of {batch_size} {what}" + (f"; {note}" if note else ""))


CASES = (
    _case("contrastive-adam", "contrastive", "adam_step", {"lr": 0.005}, margin=1.0, distance="euclidean",
          normalize=False, seed=701),
    _case("contrastive-normalized-sgd", "contrastive", "sgd_step", {"lr": 0.5}, margin=0.8, distance="euclidean",
          normalize=True, seed=702),
    _case("batch-hard-adam", "batch_hard", "adam_step", {"lr": 0.005}, margin=0.5, distance="squared",
          normalize=False, seed=703),
    _case("semi-hard-momentum", "semi_hard", "momentum_step", {"lr": 0.05, "momentum": 0.9}, margin=0.5,
          distance="euclidean", normalize=False, seed=704),
    # lr 0.05: at lr 0.1 to 0.5 the 10-step map expands perturbations (same triplets in both
    # dtypes, yet float32's gradient error grew ~2x per step, 1e-6 -> 6e-4 by step 10: lr
    # beyond 2 / the largest curvature the normalisation creates); at 0.05 it stays <= 3e-6
    _case("batch-all-normalized-sgd", "batch_all", "sgd_step", {"lr": 0.05}, margin=0.5, distance="squared",
          normalize=True, seed=707),
)


def _bad(loss, change):
    case = next(c for c in CASES if c.name.startswith(loss))
    return training.error_inputs(Case(case.name, lambda rng: _shorten(case.make(rng)), seed=case.seed), change)


def _shorten(inputs):
    return dict(inputs, batches=inputs["batches"][:1])


CONCEPT = Concept(
    name=CONCEPT_NAME,
    module="metric_net",
    family="contrastive_triplet",
    lesson=7,
    function="train_step",
    math="e(x) = relu(x W1 + b1) W2 + b2 (optionally e / ||e||);  contrastive: L = contrastive_loss(e(x1), e(x2), y) "
         "with ONE e for both branches (Siamese: dL/dW = sum of both branches' gradients);  mining: "
         "L = triplet_<strategy>(e(x), labels);  then one optimizer step",
    japanese="距離学習（シャムネットワーク・トリプレットマイニング）の学習ステップ",
    signature="train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state); "
              "embed(params, x, hyper) -> [N, E]; see the module docstring",
    differentiable=(),
    steps=(1, 10),
    cases=CASES,
    error_cases=(
        ErrorCase("unknown-loss", _bad("batch-hard", lambda i: i["hyper"].update(loss="triplet")), ValueError,
                  r"metric_train_step: hyper\['loss'\] must be one of \('contrastive', 'batch_all', 'batch_hard', "
                  r"'semi_hard'\), got 'triplet'"),
        ErrorCase("contrastive-without-x2", _bad("contrastive", lambda i: i["batch"].pop("x2")), ValueError,
                  r"metric_train_step: a contrastive batch must be a dict with keys \('x1', 'x2', 'y'\) "
                  r"\(the Siamese pair x1, x2 and y = 1 for the same digit\), got \['x1', 'y'\]"),
        ErrorCase("float-labels", _bad("batch-hard", lambda i: i["batch"].update(
            labels=i["batch"]["labels"].astype(np.float64))), TypeError,
                  r"metric_train_step: batch\['labels'\] must be integers \(digit classes\), got dtype float64"),
        ErrorCase("float-pair-labels", _bad("contrastive", lambda i: i["batch"].update(
            y=i["batch"]["y"].astype(np.float64))), TypeError,
                  r"metric_train_step: batch\['y'\] must be integer pair labels \(1 = same digit, 0 = different\), "
                              r"got dtype float64"),
        ErrorCase("squared-contrastive", _bad("contrastive", lambda i: i["hyper"].update(distance="squared")),
                  ValueError, r"metric_train_step: hyper\['distance'\] for loss 'contrastive' must be one of "
                              r"\('euclidean',\), got 'squared'"),
        ErrorCase("unknown-optimizer", _bad("contrastive", lambda i: i["hyper"].update(optimizer="adamw_step")),
                  ValueError, r"metric_train_step: hyper\['optimizer'\] must be one of"),
        ErrorCase("opt-state-keys", _bad("contrastive", lambda i: i["opt_state"].pop("W2")), ValueError,
                  r"metric_train_step: opt_state must hold one adam_step state per trained parameter"),
    ),
)
