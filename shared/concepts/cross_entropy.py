"""cross_entropy: -sum_k t_k log y_k, from probabilities (book) or from logits."""
import math

import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Hint, Oracle, PortingCase, Side, Skip

BOOK_LOG_GUARD = 1e-7  # ゼロから作る 4.2.2: log(y + delta), delta = 1e-7, keeps log(0) out
REDUCTIONS = ("mean", "sum", "none")


def validate(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=BOOK_LOG_GUARD,
             concept="cross_entropy", y_name="y", label_smoothing=0.0):
    """Returns (axis >= 0, "labels" | "probabilities")."""
    checks.require_number_in(concept, "label_smoothing", label_smoothing, 0.0, 1.0)
    checks.require_float(concept, y_name, y)
    checks.require_min_rank(concept, y_name, y, 1)
    checks.require_nonempty(concept, y_name, y)
    checks.require_array(concept, "t", t)
    y_shape, t_shape = checks.shape_of(y), checks.shape_of(t)
    axis = checks.normalize_axis(concept, axis, len(y_shape))
    checks.require_choice(concept, "reduction", reduction, REDUCTIONS)
    checks.require_nonnegative(concept, "log_guard", log_guard)
    checks.require_bool(concept, "from_logits", from_logits)
    if not from_logits:
        checks.require_probabilities(concept, y_name, y, "pass from_logits=True for logits")
    label_shape = y_shape[:axis] + y_shape[axis + 1:]
    if t_shape == y_shape:
        if checks.dtype_name(t) not in checks.INT_DTYPES:  # the book's integer one-hot rows are fine too
            checks.require_floats(concept, **{y_name: y, "t": t})
        checks.require_probabilities(concept, "t", t, "targets are one-hot rows or probabilities")
        return axis, "probabilities"
    if t_shape != label_shape:
        raise ValueError(f"{concept}: t must have {y_name}'s shape {y_shape} (one-hot or probabilities) "
                         f"or {label_shape} (integer class labels), got shape {t_shape}")
    checks.require_labels(concept, "t", t, y_shape[axis])
    return axis, "labels"


def _probs(rng, shape, axis=-1):
    z = 2 * rng.standard_normal(shape)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _one_hot(labels, classes):
    return np.eye(classes)[labels]


def _book_examples(rng):
    y = np.array([[0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0],
                  [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]])
    t = np.array([[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]] * 2)  # the book's integer one-hot
    return {"y": y, "t": t}


def _labels(rng):
    return {"y": _probs(rng, (5, 4)), "t": rng.integers(0, 4, 5)}


def _one_hot_targets(rng):
    inputs = _labels(rng)
    return {"y": inputs["y"], "t": _one_hot(inputs["t"], 4)}


def _gathered(inputs):
    y, t = inputs["y"], inputs["t"]
    if t.shape == y.shape:
        t = t.argmax(axis=-1)  # the book turns one-hot targets into labels the same way
    return -np.mean(np.log(y[np.arange(len(t)), t] + BOOK_LOG_GUARD))  # the book's batch form


def _logits_labels(rng):
    return {"y": 3 * rng.standard_normal((6, 5)), "t": rng.integers(0, 5, 6)}


def _logits_one_hot(rng):
    inputs = _logits_labels(rng)
    return {"y": inputs["y"], "t": _one_hot(inputs["t"], 5)}


def _logits_soft(rng):
    return {"y": 3 * rng.standard_normal((6, 5)), "t": _probs(rng, (6, 5))}


def _logits_class_axis_1(rng):
    return {"y": rng.standard_normal((2, 4, 3)), "t": rng.integers(0, 4, (2, 3))}


def _smoothed_by_hand(inputs):
    return np.array(-(0.1 * math.log(1 / 8) + 0.1 * math.log(2 / 8) + 0.8 * math.log(5 / 8)))


def _smoothed(case):
    return case.kwargs.get("label_smoothing", 0.0) > 0


def _is_labels(case):
    inputs = case.inputs()
    return inputs["t"].shape != inputs["y"].shape


def _from_logits(case):
    return case.kwargs.get("from_logits", False)


CASES = (
    Case("book-examples", _book_examples,
         golden=lambda i: np.array((-math.log(0.6 + 1e-7) - math.log(0.1 + 1e-7)) / 2),
         note="ゼロから作る 4.2.2: 0.510825457 (right answer likely) and 2.302584093 (wrong)"),
    Case("labels", _labels, seed=21, golden=_gathered),
    Case("one-hot", _one_hot_targets, seed=21, golden=_gathered,
         note="the same draws as 'labels': one-hot and index targets must agree"),
    Case("p-true-zero", lambda rng: {"y": np.array([[0.0, 0.6, 0.4], [0.2, 0.3, 0.5]]),
                                     "t": np.array([0, 2])},
         golden=lambda i: np.array((-math.log(1e-7) - math.log(0.5 + 1e-7)) / 2),
         note="log(0 + 1e-7) = -16.118: the guard's whole purpose"),
    Case("none-one-hot", _one_hot_targets, {"reduction": "none"}, seed=22),
    Case("logits-labels", _logits_labels, {"from_logits": True}, seed=23),
    Case("logits-one-hot", _logits_one_hot, {"from_logits": True}, seed=23),
    Case("logits-soft-targets", _logits_soft, {"from_logits": True}, seed=24),
    Case("logits-sum", _logits_labels, {"from_logits": True, "reduction": "sum"}, seed=25),
    Case("logits-overflow", lambda rng: {"y": np.array([[1010.0, 1000.0, 990.0]]), "t": np.array([2])},
         {"from_logits": True}, golden=lambda i: np.array(20 + math.log1p(math.exp(-10) + math.exp(-20)))),
    Case("logits-class-axis-1", _logits_class_axis_1, {"from_logits": True, "axis": 1}, seed=26,
         note="classes on dim 1 as torch wants for (N, C, d1); Keras wants them last"),
    Case("label-smoothing-by-hand", lambda rng: {"y": np.log(np.array([[1.0, 2.0, 5.0]])), "t": np.array([2])},
         {"from_logits": True, "label_smoothing": 0.3}, golden=_smoothed_by_hand,
         note="softmax (1/8, 2/8, 5/8), label 2, eps 0.3: targets (0.1, 0.1, 0.8)"),
    Case("label-smoothing-logits-labels", _logits_labels, {"from_logits": True, "label_smoothing": 0.1}, seed=27,
         note="the Transformer's eps_ls = 0.1 (Vaswani et al. 2017, 5.4)"),
    Case("label-smoothing-soft-targets", _logits_soft, {"from_logits": True, "label_smoothing": 0.2}, seed=28),
    Case("label-smoothing-probabilities", _labels, {"label_smoothing": 0.1}, seed=29,
         note="from probabilities, the book's log(y + 1e-7), with smoothed targets"),
)


def reduce_tf(loss, reduction):
    """A per-example TF loss reduced as `reduction` says (shared by the loss oracles)."""
    tf = lazy.tf()
    return {"mean": tf.reduce_mean, "sum": tf.reduce_sum}.get(reduction, lambda v: v)(loss)


def _torch_cross_entropy(y, t, from_logits=True, axis=-1, reduction="mean", label_smoothing=0.0):
    torch = lazy.torch()
    if t.shape == y.shape:  # probability targets move with the classes
        t = t.to(y.dtype)
        if y.dim() > 1:
            t = torch.movedim(t, axis, 1)
    if y.dim() > 1:
        y = torch.movedim(y, axis, 1)  # torch wants classes on dim 1
    return lazy.F().cross_entropy(y, t, reduction=reduction, label_smoothing=label_smoothing)


def _torch_nll_of_guarded_log(y, t, reduction="mean", **_):
    return lazy.F().nll_loss(lazy.torch().log(y + BOOK_LOG_GUARD), t, reduction=reduction)


def _tf_softmax_ce(y, t, from_logits=True, axis=-1, reduction="mean"):
    tf = lazy.tf()
    loss = tf.nn.softmax_cross_entropy_with_logits(labels=tf.cast(t, y.dtype), logits=y, axis=axis)
    return reduce_tf(loss, reduction)


def _tf_sparse_softmax_ce(y, t, from_logits=True, axis=-1, reduction="mean"):
    tf = lazy.tf()
    y = tf.experimental.numpy.moveaxis(y, axis, -1)  # TF: classes on the last axis
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=y)
    return reduce_tf(loss, reduction)


def _keras_ce(y, t, from_logits=True, axis=-1, reduction="mean", label_smoothing=0.0):
    keras = lazy.keras()
    if t.shape == y.shape:
        loss = keras.losses.categorical_crossentropy(lazy.tf().cast(t, y.dtype), y, from_logits=True, axis=axis,
                                                     label_smoothing=label_smoothing)
    else:
        # Keras' sparse form supports only axis=-1: classes move last
        y = lazy.tf().experimental.numpy.moveaxis(y, axis, -1)
        loss = keras.losses.sparse_categorical_crossentropy(t, y, from_logits=True)
    return reduce_tf(loss, reduction)


def _porting_probs(rng):
    return {"y": _probs(rng, (6, 5)), "t": _one_hot(rng.integers(0, 5, 6), 5)}


def _porting_p_true_zero(rng):
    return {"y": np.array([[0.0, 0.6, 0.4], [0.2, 0.3, 0.5]]), "t": _one_hot(np.array([0, 2]), 3)}


def _porting_class_axis(rng):
    labels = rng.integers(0, 4, (2, 3))
    return {"y": rng.standard_normal((2, 4, 3)), "t": np.moveaxis(_one_hot(labels, 4), -1, 1)}


def _keras_cce(**kw):
    return lambda y, t: lazy.keras().losses.CategoricalCrossentropy(**kw)(t, y)


def _book_ce_torch(y, t):
    return -(t * lazy.torch().log(y + BOOK_LOG_GUARD)).sum(-1).mean()


def _book_ce_tf(y, t):
    tf = lazy.tf()
    return -tf.reduce_mean(tf.reduce_sum(t * tf.math.log(y + BOOK_LOG_GUARD), axis=-1))


def _torch_ce_probability_targets(y, t):
    return lazy.F().cross_entropy(y, t)


PORTING = (
    PortingCase(
        "keras-cce-default-from-logits",
        "Keras CategoricalCrossentropy defaults to from_logits=False and reads logits as "
        "probabilities (renormalised, clipped to [1e-7, 1 - 1e-7]); torch CrossEntropyLoss "
        "always takes logits. Note also the argument order: torch loss(input, target), "
        "Keras loss(y_true, y_pred).",
        _logits_one_hot,
        reference=Side("torch", "F.cross_entropy(logits, t)", _torch_ce_probability_targets),
        naive=Side("tf", "keras.losses.CategoricalCrossentropy()(t, logits)", _keras_cce()),
        fixed=Side("tf", "keras.losses.CategoricalCrossentropy(from_logits=True)(t, logits)",
                   _keras_cce(from_logits=True)),
        source="keras/src/losses/losses.py categorical_crossentropy; torch.nn.CrossEntropyLoss docs"),
    PortingCase(
        "torch-ce-given-probabilities",
        "Passing softmax probabilities (the Keras habit) to torch CrossEntropyLoss applies "
        "log_softmax a second time; pass logits, or log-probabilities, whose log_softmax is themselves.",
        _porting_probs,
        reference=Side("tf", "keras.losses.CategoricalCrossentropy()(t, p)", _keras_cce()),
        naive=Side("torch", "F.cross_entropy(p, t)", _torch_ce_probability_targets),
        fixed=Side("torch", "F.cross_entropy(torch.log(p), t)",
                   lambda y, t: lazy.F().cross_entropy(lazy.torch().log(y), t)),
        source="torch.nn.CrossEntropyLoss docs: 'The input is expected to contain the unnormalized logits'"),
    PortingCase(
        "keras-cce-clipped-gradient-p-true-zero",
        "At p_true = 0 Keras' clip to [1e-7, 1 - 1e-7] gives the same loss as the book's "
        "log(p + 1e-7), 16.118, but a ZERO gradient: the example teaches the model nothing. "
        "The book's guard gives -1e7 / N.",
        _porting_p_true_zero,
        reference=Side("torch", "-(t * torch.log(p + 1e-7)).sum(-1).mean()", _book_ce_torch),
        naive=Side("tf", "keras.losses.CategoricalCrossentropy()(t, p)", _keras_cce()),
        fixed=Side("tf", "-tf.reduce_mean(tf.reduce_sum(t * tf.math.log(p + 1e-7), -1))", _book_ce_tf),
        check="grad:y",
        source="keras backend epsilon 1e-7; ゼロから作る 4.2.2"),
    PortingCase(
        "torch-log-probabilities-p-true-zero",
        "torch has no from-probabilities cross-entropy: F.nll_loss(torch.log(p), t) is inf at "
        "p_true = 0 where Keras clips to 16.118; clamp p as Keras does.",
        _porting_p_true_zero,
        reference=Side("tf", "keras.losses.CategoricalCrossentropy()(t, p)", _keras_cce()),
        naive=Side("torch", "-(t * torch.log(p)).sum(-1).mean()",
                   lambda y, t: -(t * lazy.torch().log(y)).sum(-1).mean()),
        fixed=Side("torch", "-(t * torch.log(p.clamp(1e-7, 1 - 1e-7))).sum(-1).mean()",
                   lambda y, t: -(t * lazy.torch().log(y.clamp(1e-7, 1 - 1e-7))).sum(-1).mean()),
        source="keras backend epsilon 1e-7"),
    PortingCase(
        "class-axis",
        "torch takes classes on dim 1 for (N, C, d1, ...) inputs; Keras on the last axis. "
        "The same tensor gives a different loss unless Keras is told axis=1.",
        _porting_class_axis,
        reference=Side("torch", "F.cross_entropy(y, t)  # y (N, C, L)", _torch_ce_probability_targets),
        naive=Side("tf", "keras.losses.CategoricalCrossentropy(from_logits=True)(t, y)",
                   _keras_cce(from_logits=True)),
        fixed=Side("tf", "keras.losses.CategoricalCrossentropy(from_logits=True, axis=1)(t, y)",
                   _keras_cce(from_logits=True, axis=1)),
        source="torch.nn.CrossEntropyLoss shape docs; keras CategoricalCrossentropy(axis=-1)"),
    PortingCase(
        "keras-sparse-cce-has-no-label-smoothing",
        "torch's CrossEntropyLoss(label_smoothing=0.1) takes integer labels; Keras' "
        "SparseCategoricalCrossentropy has no label_smoothing argument, so a port of integer labels "
        "silently trains without it. One-hot the labels and use CategoricalCrossentropy(label_smoothing=0.1).",
        _logits_labels,
        reference=Side("torch", "F.cross_entropy(logits, labels, label_smoothing=0.1)",
                       lambda y, t: lazy.F().cross_entropy(y, t, label_smoothing=0.1)),
        naive=Side("tf", "keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)",
                   lambda y, t: lazy.keras().losses.SparseCategoricalCrossentropy(from_logits=True)(t, y)),
        fixed=Side("tf", "keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)"
                         "(one_hot(labels, 5), logits)",
                   lambda y, t: _keras_cce(from_logits=True, label_smoothing=0.1)(y, lazy.tf().one_hot(t, 5))),
        seed=2350,
        source="torch.nn.CrossEntropyLoss(label_smoothing=0.0); keras.losses.SparseCategoricalCrossentropy("
               "from_logits=False, ignore_class=None, ...): no label_smoothing; "
               "keras.losses.CategoricalCrossentropy(label_smoothing=0.0)"),
    PortingCase(
        "keras-loss-object-float32",
        "A Keras 3 loss object computes in floatx (float32) even for float64 inputs unless "
        "given dtype=; torch keeps float64.",
        _logits_one_hot,
        reference=Side("torch", "F.cross_entropy(y, t)  # float64", _torch_ce_probability_targets),
        naive=Side("tf", "keras.losses.CategoricalCrossentropy(from_logits=True)(t, y)",
                   _keras_cce(from_logits=True)),
        fixed=Side("tf", 'keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")(t, y)',
                   _keras_cce(from_logits=True, dtype="float64")),
        dtype="float64",
        source="keras.losses.Loss(dtype=None) uses keras.config.floatx()"),
)

CONCEPT = Concept(
    name="cross_entropy",
    module="losses",
    family="softmax_cross_entropy",
    lesson=4,
    hints=(Hint("forward", "check the 1/N: the loss is the sum over the batch divided by the batch size N, "
                  "not by the number of classes"),),
    math="E = -(1/N) sum_n sum_k t_nk log(y_nk + 1e-7)  (probabilities, the book's guard);  "
         "from logits: log y = log_softmax(x);  label smoothing: t <- (1 - eps) t + eps / K;  "
         "dx = (softmax(x) sum_k t_k - t) / N from logits",
    japanese="交差エントロピー誤差",
    signature='cross_entropy(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=1e-7, '
              "label_smoothing=0.0); t one-hot/probabilities (y's shape) or integer labels (y's shape without "
              "axis); label smoothing uses (1 - eps) t + eps / K, as torch and Keras",
    differentiable=("y",),
    cases=CASES,
    error_cases=(
        ErrorCase("scalar-y", lambda: {"y": np.array(0.5), "t": np.array(0)}, ValueError,
                  r"cross_entropy: y must have rank >= 1, got rank 0"),
        ErrorCase("shape-mismatch", lambda: {"y": np.full((2, 3), 1 / 3), "t": np.array([0, 1, 2])},
                  ValueError, r"cross_entropy: t must have y's shape \(2, 3\) .* or \(2,\) .*got shape \(3,\)"),
        ErrorCase("label-out-of-range", lambda: {"y": np.full((2, 3), 1 / 3), "t": np.array([0, 3])},
                  ValueError, r"cross_entropy: t holds 3, out of range for 3 classes"),
        ErrorCase("negative-label", lambda: {"y": np.full((2, 3), 1 / 3), "t": np.array([-1, 0])},
                  ValueError, r"cross_entropy: t holds -1, out of range for 3 classes"),
        ErrorCase("float-labels", lambda: {"y": np.full((2, 3), 1 / 3), "t": np.array([0.0, 1.0])},
                  TypeError, r"cross_entropy: t must be integer class labels, got dtype float64"),
        ErrorCase("integer-y", lambda: {"y": np.array([[0, 1]]), "t": np.array([1])},
                  TypeError, r"cross_entropy: y must be a floating-point array"),
        ErrorCase("empty-batch", lambda: {"y": np.zeros((0, 3)), "t": np.zeros(0, dtype=np.int64)},
                  ValueError, r"cross_entropy: y is empty"),
        ErrorCase("unknown-reduction", lambda: {"y": np.full((2, 3), 1 / 3), "t": np.array([0, 1])},
                  ValueError, r"cross_entropy: reduction must be one of", {"reduction": "average"}),
    ),
    oracles=(
        Oracle("torch", "F.cross_entropy", _torch_cross_entropy, applies=_from_logits),
        # these three take no label_smoothing; Keras' sparse form neither (porting case)
        Oracle("torch", "F.nll_loss(log(y + 1e-7))", _torch_nll_of_guarded_log,
               applies=lambda c: not _from_logits(c) and _is_labels(c) and not _smoothed(c)),
        Oracle("tf", "tf.nn.softmax_cross_entropy_with_logits", _tf_softmax_ce,
               applies=lambda c: _from_logits(c) and not _is_labels(c) and not _smoothed(c)),
        Oracle("tf", "tf.nn.sparse_softmax_cross_entropy_with_logits", _tf_sparse_softmax_ce,
               applies=lambda c: _from_logits(c) and _is_labels(c) and not _smoothed(c)),
        Oracle("tf", "keras.losses.(sparse_)categorical_crossentropy", _keras_ce,
               applies=lambda c: _from_logits(c) and not (_is_labels(c) and _smoothed(c))),
    ),
    porting=PORTING,
    skips=(
        Skip("book-examples", "numeric:y",
             "the book's y has exact zeros: central differences would step to y < 0, "
             "where log(y + 1e-7) is undefined"),
        Skip("p-true-zero", "numeric:y",
             "central differences would step to y < 0, where log(y + 1e-7) is undefined"),
    ),
)
