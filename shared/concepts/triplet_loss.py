"""triplet_loss: an anchor nearer its positive than its negative by a margin
(Weinberger & Saul 2009; FaceNet, Schroff et al. 2015, uses squared distances)."""
import math
import numbers

import numpy as np

from shared import checks, lazy
from shared.concepts import _metric
from shared.spec import Case, Concept, ErrorCase, Hint, Oracle, PortingCase, Side, Skip


def validate(a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    concept = "triplet_loss"
    _metric.validate_embeddings(concept, (("a", a), ("p", p), ("n", n)), margin=margin, reduction=reduction)
    _metric.require_at_least_one(concept, "p_norm", p_norm)
    # eps = 0 would put d(x, x) on the norm's kink at 0, where tf.norm's gradient is NaN
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not 0 < eps < math.inf:
        raise ValueError(f"{concept}: eps must be a finite number > 0 (it keeps d(x, x) = eps D^(1/p) "
                         f"off the norm's kink at 0), got {eps!r}")
    checks.require_bool(concept, "swap", swap)
    checks.require_bool(concept, "squared", squared)


def _golden(margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    def distance(u, v):
        d = _metric.p_norm([x - y + eps for x, y in zip(u, v)], p_norm)
        return d * d if squared else d

    def golden(inputs):
        losses = []
        for a, p, n in zip(*(inputs[k].tolist() for k in "apn")):
            d_neg = min(distance(a, n), distance(p, n)) if swap else distance(a, n)
            losses.append(max(margin + distance(a, p) - d_neg, 0.0))
        return np.array(_metric.reduce(losses, reduction))
    return golden


def case(name, make, seed=0, note="", **kwargs):
    return Case(name, make, kwargs, seed=seed, note=note, golden=_golden(**kwargs))


def _triplets(rows=6, dim=4, spread=1.0):
    def make(rng):
        a = rng.standard_normal((rows, dim))
        # positives near the anchor, negatives anywhere: some triplets inside the margin, some beyond
        return {"a": a, "p": a + spread * 0.7 * rng.standard_normal((rows, dim)),
                "n": spread * rng.standard_normal((rows, dim))}
    return make


def _anchor_is_positive(rng):
    make = _triplets(rows=4, dim=3)(rng)
    make["p"][:2] = make["a"][:2]  # d(a, p) = eps sqrt(D): the naive sqrt's gradient is NaN here
    # negatives close enough that these rows violate the margin and their gradient is not just 0
    make["n"][:2] = make["a"][:2] + 0.4 * rng.standard_normal((2, 3))
    return make


def _at_the_hinge(rng):
    """Exact small numbers, D = 1, p_norm = 1, margin 1: row 0 sits exactly on the margin
    (d(a, n) = 1 + eps = margin + d(a, p), rounded alike on both sides, so h = 0 exactly),
    row 1 violates it (h = 0.5), row 2 is beyond it (h = -1); rows 3 and 4 tie the swap:
    d(p, n) = d(a, n) exactly."""
    a = np.array([[0.0], [0.0], [0.0], [1.0], [2.0]])
    p = np.array([[0.0], [0.0], [0.0], [1.0], [2.0]])
    n = np.array([[-1.0], [-0.5], [-2.0], [0.75], [1.0]])
    return {"a": a, "p": p, "n": n}


def _at_the_hinge_grad(inputs, v, margin=1.0, eps=1e-6):
    """L1 distances of z = u - v + eps (never 0 here): dd/dz = sign(z). Only rows with
    h > 0 get a gradient (a triplet exactly at the margin is satisfied); with swap, d(p, n)
    replaces d(a, n) only where strictly smaller (a tie keeps d(a, n)). Mean over the rows."""
    a, p, n = (inputs[k][:, 0] for k in "apn")
    grads = {k: np.zeros_like(inputs[k]) for k in "apn"}
    for i in range(len(a)):
        d_ap, d_an, d_pn = abs(a[i] - p[i] + eps), abs(a[i] - n[i] + eps), abs(p[i] - n[i] + eps)
        use_pn = d_pn < d_an
        if margin + d_ap - (d_pn if use_pn else d_an) > 0:
            w = v / len(a)
            s_ap = np.sign(a[i] - p[i] + eps)
            grads["a"][i] += w * s_ap
            grads["p"][i] -= w * s_ap
            if use_pn:
                s_pn = np.sign(p[i] - n[i] + eps)
                grads["p"][i] -= w * s_pn
                grads["n"][i] += w * s_pn
            else:
                s_an = np.sign(a[i] - n[i] + eps)
                grads["a"][i] -= w * s_an
                grads["n"][i] += w * s_an
    return grads


def _torch_applies(case):
    # torch has no squared-distance triplet loss; at the margin its clamp_min passes the
    # gradient (porting case torch-triplet-gradient-at-the-margin)
    return not case.kwargs.get("squared", False) and case.name != "at-the-hinge"


def _l1(z):
    return lazy.torch().linalg.vector_norm(z, ord=1, dim=1)


def _torch_relu_triplet(a, p, n):
    return lazy.torch().relu(1.0 + _l1(a - p + 1e-6) - _l1(a - n + 1e-6)).mean()


def _torch_triplet(a, p, n, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    return lazy.F().triplet_margin_loss(a, p, n, margin=margin, p=p_norm, eps=eps, swap=swap, reduction=reduction)


def _torch_triplet_default(a, p, n):
    return lazy.F().triplet_margin_loss(a, p, n)


def _tf_triplet(distance):
    def loss(a, p, n):
        tf = lazy.tf()
        return tf.reduce_mean(tf.maximum(1.0 + distance(a - p) - distance(a - n), 0.0))
    return loss


CONCEPT = Concept(
    name="triplet_loss",
    module="metric",
    family="contrastive_triplet",
    lesson=2,
    hints=(Hint("forward", "the hinge is max(d(a, p) - d(a, n) + margin, 0): the margin is added"),),
    math="L_i = max(m + d(a_i, p_i) - d(a_i, n_i), 0),  d(u, v) = ||u - v + eps||_p (eps added to the "
         "difference, as torch does: d(x, x) = eps D^(1/p), finite gradient);  squared=True: d^2;  "
         "swap=True: d(a, n) -> min(d(a, n), d(p, n));  mean (or sum) over the N triplets",
    japanese="トリプレット損失 (距離学習)",
    signature='triplet_loss(a [N, D], p [N, D], n [N, D], *, margin=1.0, p_norm=2, eps=1e-6, swap=False, '
              'squared=False, reduction="mean" | "sum" | "none")',
    differentiable=("a", "p", "n"),
    cases=(
        case("default", _triplets(), seed=701),
        case("margin-2-sum", _triplets(rows=8, dim=5), seed=702, margin=2.0, reduction="sum"),
        case("p-norm-1", _triplets(), seed=703, p_norm=1, margin=1.5,
             note="|z| has a kink at 0, but z = a - p + eps is never exactly 0 here"),
        case("p-norm-3-none", _triplets(rows=5, dim=3), seed=704, p_norm=3, reduction="none"),
        case("swap", _triplets(rows=8, dim=4), seed=705, swap=True, margin=1.5,
             note="some rows take d(p, n) < d(a, n) as the negative distance"),
        case("squared", _triplets(rows=6, dim=4, spread=0.6), seed=706, squared=True, margin=0.5,
             note="FaceNet's squared distance; no framework built-in, so golden and finite differences only"),
        Case("at-the-hinge", _at_the_hinge, {"p_norm": 1, "swap": True}, golden=_golden(p_norm=1, swap=True),
             golden_grad=_at_the_hinge_grad,
             note="h = 0 exactly in rows 0 and 4: no gradient there (h > 0 is strict, as relu's at 0); "
                  "rows 3 and 4 tie d(p, n) = d(a, n): d(a, n) is kept"),
        case("anchor-equals-positive", _anchor_is_positive, seed=707, eps=1e-2,
             note="a == p in rows 0 and 1: d = eps sqrt(3), gradient (a - p + eps)/d = 1/sqrt(3) per element. "
                  "d curves on the scale of eps, so eps = 1e-2 here: with torch's 1e-6 the finite-difference "
                  "step (1e-6) would be as large as that scale; parity_tests/test_metric_losses.py checks "
                  "the default eps against torch"),
    ),
    error_cases=(
        ErrorCase("shape-mismatch", lambda: {"a": np.ones((4, 3)), "p": np.ones((4, 3)), "n": np.ones((5, 3))},
                  ValueError, r"triplet_loss: n must have a's shape \(4, 3\), got shape \(5, 3\)"),
        ErrorCase("negative-margin", lambda: {"a": np.ones((2, 3)), "p": np.ones((2, 3)), "n": np.ones((2, 3))},
                  ValueError, r"triplet_loss: margin must be a number >= 0, got -0.5", {"margin": -0.5}),
        ErrorCase("rank-3-embeddings", lambda: {k: np.ones((2, 3, 4)) for k in "apn"},
                  ValueError, r"triplet_loss: a must have rank 2 \(a batch of embeddings \[N, D\]\), "
                              r"got rank 3 \(shape \(2, 3, 4\)\)"),
        ErrorCase("integer-embeddings", lambda: {"a": np.ones((2, 3)), "p": np.ones((2, 3), dtype=np.int32),
                                                 "n": np.ones((2, 3))},
                  TypeError, r"triplet_loss: p must be a floating-point array"),
        ErrorCase("eps-zero", lambda: {k: np.ones((2, 3)) for k in "apn"},
                  ValueError, r"triplet_loss: eps must be a finite number > 0 .*, got 0.0", {"eps": 0.0}),
        ErrorCase("p-norm-below-1", lambda: {k: np.ones((2, 3)) for k in "apn"},
                  ValueError, r"triplet_loss: p_norm must be a finite number >= 1, got 0.5", {"p_norm": 0.5}),
    ),
    oracles=(
        Oracle("torch", "F.triplet_margin_loss", _torch_triplet, applies=_torch_applies),
    ),
    porting=(
        PortingCase(
            "tf-norm-nan-gradient-at-a-equals-p",
            "tf.norm(a - p) is sqrt(sum(z^2)): at a == p its gradient is 0 * (1 / 0) = NaN and poisons the step. "
            "torch adds eps to the difference, ||a - p + eps||, so d = eps sqrt(D) and the gradient is finite.",
            _anchor_is_positive,
            reference=Side("torch", "F.triplet_margin_loss(a, p, n)", _torch_triplet_default),
            naive=Side("tf", "mean(max(1 + tf.norm(a - p, axis=1) - tf.norm(a - n, axis=1), 0))",
                       _tf_triplet(lambda z: lazy.tf().norm(z, axis=1))),
            fixed=Side("tf", "mean(max(1 + tf.norm(a - p + 1e-6, axis=1) - tf.norm(a - n + 1e-6, axis=1), 0))",
                       _tf_triplet(lambda z: lazy.tf().norm(z + 1e-6, axis=1))),
            check="grad:a", seed=711,
            source="torch.nn.functional.pairwise_distance (norm(x1 - x2 + eps)); tf.norm gradient at 0"),
        PortingCase(
            "torch-triplet-gradient-at-the-margin",
            "A triplet exactly at the margin (h = 0) is satisfied: tf.nn.relu and torch.relu give it no gradient. "
            "F.triplet_margin_loss clamps with clamp_min, whose gradient is 1 at the bound, so that triplet "
            "still pulls p in and pushes n away. Only ties show it; exact small numbers do.",
            _at_the_hinge,
            reference=Side("tf", "tf.reduce_mean(tf.nn.relu(1 + d_ap - d_an)), L1 distances + 1e-6",
                           lambda a, p, n: lazy.tf().reduce_mean(lazy.tf().nn.relu(
                               1.0 + lazy.tf().norm(a - p + 1e-6, ord=1, axis=1)
                               - lazy.tf().norm(a - n + 1e-6, ord=1, axis=1)))),
            naive=Side("torch", "F.triplet_margin_loss(a, p, n, p=1)",
                       lambda a, p, n: lazy.F().triplet_margin_loss(a, p, n, p=1)),
            fixed=Side("torch", "torch.relu(1 + d_ap - d_an).mean(), d = ||u - v + 1e-6||_1", _torch_relu_triplet),
            check="grad:p", dtype="float64",
            source="torch/csrc/autograd/FunctionsManual.cpp clamp_backward (gradient where x >= min); "
                   "aten/src/ATen/native/Loss.cpp triplet_margin_loss (clamp_min)"),
    ),
    skips=tuple(
        Skip("at-the-hinge", f"numeric:{name}", "h = 0 and d(p, n) = d(a, n) exactly are kinks: central "
             "differences average the slopes on both sides; golden_grad checks the convention instead")
        for name in "apn"),
)
