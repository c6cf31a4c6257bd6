"""contrastive_loss: pull similar pairs together, push dissimilar ones beyond a margin
(Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by Learning an Invariant Mapping")."""
import math

import numpy as np

from shared import checks, lazy
from shared.concepts import _metric
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side, Skip

DISTANCES = ("euclidean", "cosine")
# a zero embedding has no direction: each norm is clamped from below, as torch's
# F.cosine_similarity does with its default eps, so its cosine is 0 instead of 0/0
COSINE_NORM_FLOOR = 1e-8


def validate(x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    concept = "contrastive_loss"
    _metric.validate_embeddings(concept, (("x1", x1), ("x2", x2)), margin=margin, reduction=reduction)
    checks.require_choice(concept, "distance", distance, DISTANCES)
    checks.require_array(concept, "y", y)
    checks.require_shape(concept, "y", y, checks.shape_of(x1)[:1], "one label per pair")
    if checks.dtype_name(y) not in checks.FLOAT_DTYPES + checks.INT_DTYPES:
        raise TypeError(f"{concept}: y must be 0/1 labels of float or integer dtype, got dtype {checks.dtype_name(y)}")
    values = checks.values(y)
    if values is not None:
        bad = [v for v in np.unique(values).tolist() if v not in (0, 1)]
        if bad:
            raise ValueError(f"{concept}: y must hold only 1 (similar pair) and 0 (dissimilar pair), "
                             f"got {bad[0]:g}")


def _distance(u, v, distance):
    if distance == "euclidean":
        return math.sqrt(math.fsum((a - b) ** 2 for a, b in zip(u, v)))
    nu = max(math.sqrt(math.fsum(a * a for a in u)), COSINE_NORM_FLOOR)
    nv = max(math.sqrt(math.fsum(b * b for b in v)), COSINE_NORM_FLOOR)
    return 1 - math.fsum(a * b for a, b in zip(u, v)) / (nu * nv)


def _golden(margin=1.0, distance="euclidean", reduction="mean"):
    def golden(inputs):
        losses = []
        for u, v, y in zip(inputs["x1"].tolist(), inputs["x2"].tolist(), inputs["y"].tolist()):
            d = _distance(u, v, distance)
            losses.append(0.5 * (y * d * d + (1 - y) * max(margin - d, 0.0) ** 2))
        return np.array(_metric.reduce(losses, reduction))
    return golden


def _golden_grad(margin=1.0, reduction="mean"):
    """Euclidean: dL/dx1 = y (x1 - x2) - (1 - y) max(m - d, 0) (x1 - x2) / d, with the
    subgradient 0 for (x1 - x2) / d at d = 0; dL/dx2 = -dL/dx1."""
    def golden_grad(inputs, v):
        x1, x2, labels = inputs["x1"].tolist(), inputs["x2"].tolist(), inputs["y"].tolist()
        n = len(x1)
        g1 = []
        for i, (u, w, y) in enumerate(zip(x1, x2, labels)):
            dy = float(v[i]) if reduction == "none" else float(v) / (n if reduction == "mean" else 1)
            d = _distance(u, w, "euclidean")
            push = (1 - y) * max(margin - d, 0.0) / d if d > 0 else 0.0
            g1.append([dy * (y - push) * (a - b) for a, b in zip(u, w)])
        g1 = np.array(g1)
        return {"x1": g1, "x2": -g1}
    return golden_grad


def case(name, make, seed=0, note="", **kwargs):
    grad = _golden_grad(kwargs.get("margin", 1.0), kwargs.get("reduction", "mean"))
    euclidean = kwargs.get("distance", "euclidean") == "euclidean"
    return Case(name, make, kwargs, seed=seed, note=note, golden=_golden(**kwargs),
                golden_grad=grad if euclidean else None)


def _pairs(n=6, dim=4, label_dtype=np.float64):
    def make(rng):
        return {"x1": rng.standard_normal((n, dim)), "x2": rng.standard_normal((n, dim)),
                "y": np.array([1, 0] * (n // 2), dtype=label_dtype)}
    return make


def _at_the_floor(rng):
    """Row 0 of x1 has norm exactly COSINE_NORM_FLOOR in float64 (a^2 + b^2 = 1e-16, a chosen
    so that the rounded sum's root is 1e-8 exactly; IEEE sqrt and products are exact-rounded,
    so on every machine): the kink of max(||x||, floor), where all three take the side above
    (torch.clamp and tf.maximum pass the gradient at equality). Rounded to float32, the row
    sits strictly above the floor in float32 and in float64, so every dtype agrees on a side."""
    a = 5.0015e-9
    x1 = np.array([[a, math.sqrt(1e-16 - a * a), 0.0], [0.5, -1.0, 2.0]])
    x2 = np.array([[1.0, 2.0, 2.0], [-1.0, 0.5, 1.5]])
    return {"x1": x1, "x2": x2, "y": np.array([1.0, 0.0])}


def _identical_rows(rng):
    x1 = rng.standard_normal((4, 3))
    x2 = rng.standard_normal((4, 3))
    x2[:2] = x1[:2]  # a similar pair and a dissimilar pair at distance exactly 0
    return {"x1": x1, "x2": x2, "y": np.array([1.0, 0.0, 1.0, 0.0])}


# -- framework oracles: the loss written around each framework's own distance ------------

def _torch_loss(d, y, margin, reduction):
    torch = lazy.torch()
    per_pair = 0.5 * (y * d ** 2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2)
    return {"mean": torch.mean, "sum": torch.sum}.get(reduction, lambda t: t)(per_pair)


def _torch_oracle(x1, x2, y, margin=1.0, distance="euclidean", reduction="mean"):
    torch = lazy.torch()
    if distance == "euclidean":
        # its backward gives 0 at a zero vector (the subgradient we choose) where sqrt(sum) gives NaN
        d = torch.linalg.vector_norm(x1 - x2, dim=1)
    else:
        d = 1 - lazy.F().cosine_similarity(x1, x2, dim=1, eps=COSINE_NORM_FLOOR)
    return _torch_loss(d, y.to(x1.dtype), margin, reduction)


def _tf_oracle(x1, x2, y, margin=1.0, distance="euclidean", reduction="mean"):
    tf = lazy.tf()
    if distance == "euclidean":
        d = tf.norm(x1 - x2, axis=1)
    else:
        d = 1 + lazy.keras().losses.cosine_similarity(x1, x2, axis=1)  # Keras returns -cos
    y = tf.cast(y, x1.dtype)
    per_pair = 0.5 * (y * d ** 2 + (1 - y) * tf.maximum(margin - d, 0) ** 2)
    return {"mean": tf.reduce_mean, "sum": tf.reduce_sum}.get(reduction, lambda t: t)(per_pair)


def _distinct_rows(case):
    # tf.norm's gradient at a zero difference is NaN (sqrt'(0) = inf times 0): see the porting case of triplet_loss;
    # keras' cosine_similarity floors the squared norm at 1e-12 (a norm floor of 1e-6, not 1e-8)
    return case.name not in ("identical-pairs", "cosine-at-the-floor")


# -- porting: the published forms that differ from ours ----------------------------------

def _tfa_contrastive(x1, x2, y, margin=1.0):
    """TF Addons' loss, rewritten here (TFA is end-of-life and not installed). From
    tensorflow_addons/losses/contrastive.py: `y * d^2 + (1 - y) * max(m - d, 0)^2` per
    pair, y = 1 similar, NO 1/2; ContrastiveLoss reduces with SUM_OVER_BATCH_SIZE (mean)."""
    tf = lazy.tf()
    d = tf.norm(x1 - x2, axis=1)
    y = tf.cast(y, d.dtype)
    return tf.reduce_mean(y * tf.square(d) + (1 - y) * tf.square(tf.maximum(margin - d, 0.0)))


def _keras_io_contrastive(x1, x2, y, margin=1.0):
    """keras-io examples/vision/siamese_contrastive.py: `mean((1 - y) d^2 + y max(m - d, 0)^2)`,
    its pairs labelled y = 1 for DIFFERENT classes (keras#16935)."""
    tf = lazy.tf()
    d = tf.norm(x1 - x2, axis=1)
    y = tf.cast(y, d.dtype)
    return tf.reduce_mean((1 - y) * tf.square(d) + y * tf.square(tf.maximum(margin - d, 0.0)))


def _ours_tf(x1, x2, y, impl):
    """tf_impl.metric.contrastive_loss (the engine passes the module as `impl`)."""
    return impl.contrastive_loss(x1, x2, y, margin=3.0)


def _porting_pairs(rng):
    return {"x1": rng.standard_normal((8, 4)), "x2": rng.standard_normal((8, 4)),
            "y": np.array([1.0, 0.0] * 4)}


CONCEPT = Concept(
    name="contrastive_loss",
    module="metric",
    family="contrastive_triplet",
    lesson=1,
    math="L_i = 1/2 [y_i d_i^2 + (1 - y_i) max(m - d_i, 0)^2],  y_i = 1: similar pair, 0: dissimilar;  "
         "d_i = ||x1_i - x2_i||_2 (distance='euclidean', subgradient 0 at d = 0) or "
         "1 - cos(x1_i, x2_i) (distance='cosine', norms clamped at 1e-8);  mean (or sum) over the N pairs",
    japanese="対照損失 (コントラスティブ損失, 距離学習)",
    signature='contrastive_loss(x1 [N, D], x2 [N, D], y [N] (1 = similar, 0 = dissimilar), *, margin=1.0, '
              'distance="euclidean" | "cosine", reduction="mean" | "sum" | "none")',
    differentiable=("x1", "x2"),
    cases=(
        case("euclidean", _pairs(), seed=601, margin=3.0,
             note="margin 3 against distances ~ sqrt(2 D) = 2.8: some dissimilar pairs inside, some beyond"),
        case("euclidean-sum-int-labels", _pairs(label_dtype=np.int64), seed=602, margin=2.5, reduction="sum"),
        case("euclidean-none", _pairs(n=8, dim=3), seed=603, margin=2.0, reduction="none"),
        case("identical-pairs", _identical_rows, seed=604, margin=1.5,
             note="d = 0 in rows 0 and 1: (x1 - x2)/d has no limit there; we take the subgradient 0, "
                  "so both rows get gradient 0 (the similar one exactly, y (x1 - x2) = 0)"),
        case("cosine", _pairs(n=8, dim=5), seed=605, margin=0.8, distance="cosine",
             note="d = 1 - cos in [0, 2]; margin 0.8 leaves some dissimilar pairs inside"),
        case("cosine-none", _pairs(), seed=606, margin=1.2, distance="cosine", reduction="none"),
        case("cosine-at-the-floor", _at_the_floor, margin=0.8, distance="cosine",
             note="||x1[0]|| = 1e-8 exactly: the norm floor's kink, gradient from the side above"),
    ),
    skips=(
        Skip("cosine-at-the-floor", "numeric:x1",
             "central differences straddle the kink of max(||x1[0]||, 1e-8) and average its two sides"),
    ),
    error_cases=(
        ErrorCase("shape-mismatch", lambda: {"x1": np.ones((4, 3)), "x2": np.ones((4, 2)), "y": np.ones(4)},
                  ValueError, r"contrastive_loss: x2 must have x1's shape \(4, 3\), got shape \(4, 2\)"),
        ErrorCase("negative-margin", lambda: {"x1": np.ones((2, 3)), "x2": np.ones((2, 3)), "y": np.ones(2)},
                  ValueError, r"contrastive_loss: margin must be a number >= 0, got -1.0", {"margin": -1.0}),
        ErrorCase("labels-not-0-1", lambda: {"x1": np.ones((3, 2)), "x2": np.ones((3, 2)),
                                             "y": np.array([1.0, 0.0, -1.0])},
                  ValueError, r"contrastive_loss: y must hold only 1 \(similar pair\) and 0 "
                              r"\(dissimilar pair\), got -1"),
        ErrorCase("rank-1-embeddings", lambda: {"x1": np.ones(3), "x2": np.ones(3), "y": np.ones(3)},
                  ValueError, r"contrastive_loss: x1 must have rank 2 \(a batch of embeddings \[N, D\]\), "
                              r"got rank 1 \(shape \(3,\)\)"),
        ErrorCase("integer-embeddings", lambda: {"x1": np.ones((2, 3), dtype=np.int64),
                                                 "x2": np.ones((2, 3), dtype=np.int64), "y": np.ones(2)},
                  TypeError, r"contrastive_loss: x1 must be a floating-point array"),
        ErrorCase("label-count", lambda: {"x1": np.ones((2, 3)), "x2": np.ones((2, 3)), "y": np.ones(3)},
                  ValueError, r"contrastive_loss: y must have shape \(2,\) \(one label per pair\), got shape \(3,\)"),
        ErrorCase("unknown-distance", lambda: {"x1": np.ones((2, 3)), "x2": np.ones((2, 3)), "y": np.ones(2)},
                  ValueError, r"contrastive_loss: distance must be one of \('euclidean', 'cosine'\), got 'l1'",
                  {"distance": "l1"}),
    ),
    oracles=(
        Oracle("torch", "torch.linalg.vector_norm / F.cosine_similarity", _torch_oracle),
        Oracle("tf", "tf.norm / keras.losses.cosine_similarity", _tf_oracle, applies=_distinct_rows),
    ),
    porting=(
        PortingCase(
            "tfa-contrastive-without-half",
            "TF Addons' contrastive loss (y = 1 similar, as here) has no 1/2: y d^2 + (1 - y) max(m - d, 0)^2, "
            "so its loss and every gradient are twice ours; multiply by 0.5.",
            _porting_pairs,
            reference=Side("tf", "tf_impl.metric.contrastive_loss(x1, x2, y, margin=3.0)", _ours_tf, uses="metric"),
            naive=Side("tf", "tfa.losses.ContrastiveLoss(margin=3.0)(y, ||x1 - x2||)  # formula rewritten",
                       lambda x1, x2, y: _tfa_contrastive(x1, x2, y, margin=3.0)),
            fixed=Side("tf", "0.5 * tfa.losses.ContrastiveLoss(margin=3.0)(y, ||x1 - x2||)",
                       lambda x1, x2, y: 0.5 * _tfa_contrastive(x1, x2, y, margin=3.0)),
            seed=611,
            source="tensorflow_addons/losses/contrastive.py (TFA, end-of-life); Hadsell et al. 2006 eq. 4 has the 1/2"),
        PortingCase(
            "keras-io-inverted-labels",
            "The keras-io siamese example labels a pair 1 when the classes DIFFER and weights d^2 by (1 - y): "
            "fed labels with 1 = similar, it pulls dissimilar pairs together. Pass 1 - y.",
            _porting_pairs,
            reference=Side("tf", "tfa.losses.ContrastiveLoss(margin=3.0)(y, ||x1 - x2||)  # y = 1 similar",
                           lambda x1, x2, y: _tfa_contrastive(x1, x2, y, margin=3.0)),
            naive=Side("tf", "keras_io_contrastive_loss(margin=3.0)(y, ||x1 - x2||)",
                       lambda x1, x2, y: _keras_io_contrastive(x1, x2, y, margin=3.0)),
            fixed=Side("tf", "keras_io_contrastive_loss(margin=3.0)(1 - y, ||x1 - x2||)",
                       lambda x1, x2, y: _keras_io_contrastive(x1, x2, 1 - y, margin=3.0)),
            check="grad:x1", seed=612,
            source="keras-io examples/vision/siamese_contrastive.py; keras-team/keras#16935, keras-io#1050"),
    ),
)
