"""What the triplet-mining concepts share: the validator, the cases, the error cases and
the golden loop. トリプレットマイニング / ハードネガティブマイニング (距離学習).

The contract, identical in numpy_impl, torch_impl and tf_impl (module `mining`):

  distances  d(i, j) over all pairs from direct differences, sum_k (x_ik - x_jk)^2
             ("squared", as TF Addons' triplet_semihard_loss / triplet_hard_loss used) or
             its square root ("euclidean"). Not the Gram form |x_i|^2 + |x_j|^2 - 2 x_i.x_j:
             that cancels, so the diagonal is not exactly 0 and float32 and float64 would
             disagree on which distances tie. The square root has derivative 0 where
             d = 0 (the subgradient that central differences also see), never inf/NaN.
  triplets   (a, p, n) with labels[a] == labels[p], a != p, labels[n] != labels[a].
  hinge      h = margin + d(a, p) - d(a, n); a triplet's term is max(0, h), or
             softplus(d(a, p) - d(a, n)) for soft batch-hard (the margin is then unused).
  mining     batch_all   every valid triplet (Hermans et al. 2017, "BA");
                         average="positive" (default) keeps only those with h > 0, as
                         Hermans' "BA!=0" and most implementations do, so the easy triplets
                         do not dilute the mean; average="all" keeps all of them.
             batch_hard  per anchor with at least one positive and one negative: the
                         hardest positive (largest d(a, p)) and hardest negative (smallest
                         d(a, n)); one triplet per such anchor (Hermans et al. 2017, "BH").
             semi_hard   per positive pair (a, p) whose anchor has a negative: the negative
                         with the smallest d(a, n) among those with d(a, n) > d(a, p); if
                         none is farther than the positive, the negative with the largest
                         d(a, n). That is TF Addons' triplet_semihard_loss rule (FaceNet,
                         Schroff et al. 2015, minus FaceNet's upper bound d(a, n) < d(a, p)
                         + margin, which only removes triplets whose hinge is 0 anyway).
  ties       the lowest index wins (argmax / argmin of the first occurrence); the
             semi-hard condition is strict, d(a, n) > d(a, p).
  loss       the mean of the terms over the returned triplets; 0 when there are none
             (one label only, all labels distinct, or no active triplet), never NaN.
  triplets   int64 [K, 3] rows (anchor, positive, negative) in lexicographic order:
             exactly the triplets the mean runs over.

Where TF Addons differs, on purpose: it computes Gram-form distances, and an anchor
without a positive or a negative still enters its means (with the row's minimum
standing in), so a batch of one label gives margin + mean d(a, p) instead of 0.
The gradient treats the selection as fixed: it flows through the chosen distances.
"""
from __future__ import annotations

import math

import numpy as np

from shared import checks
from shared.spec import Case, ErrorCase, Skip

STRATEGIES = ("batch_all", "batch_hard", "semi_hard")
DISTANCES = ("squared", "euclidean")
AVERAGES = ("positive", "all")


def validate(concept: str, embeddings, labels, *, margin, distance, strategy="batch_all",
             average="positive", soft=False) -> None:
    checks.require_float(concept, "embeddings", embeddings)
    checks.require_rank(concept, "embeddings", embeddings, (2,), " ([B, D], one embedding per row)")
    checks.require_nonempty(concept, "embeddings", embeddings)
    checks.require_integer(concept, "labels", labels)  # any values: only equality matters
    batch = checks.shape_of(embeddings)[0]
    checks.require_shape(concept, "labels", labels, (batch,), "one label per embedding row")
    checks.require_nonnegative(concept, "margin", margin)
    checks.require_choice(concept, "distance", distance, DISTANCES)
    checks.require_choice(concept, "strategy", strategy, STRATEGIES)
    checks.require_choice(concept, "average", average, AVERAGES)
    checks.require_bool(concept, "soft", soft)
    if soft and strategy != "batch_hard":
        raise ValueError(f"{concept}: soft=True (softplus instead of the hinge) is defined for "
                         f"strategy 'batch_hard' only, got strategy {strategy!r}")


# ---------------------------------------------------------------- golden: plain loops

def times_c(h, s, distance):
    """h c, c = s^2 (squared) or s (euclidean): a distance or hinge in the scaled units of
    each package's scaled_distances back in x's units, as s (s h) (s^2 alone is inf at 1e30
    in float32). Plain arithmetic: the three packages share it, on their own arrays."""
    return s * (s * h) if distance == "squared" else s * h


def over_c(v, s, distance):
    """v / c: a margin in the scaled units."""
    return v / s / s if distance == "squared" else v / s


def _distance(x, i, j, distance):
    s = sum((x[i][k] - x[j][k]) ** 2 for k in range(len(x[i])))
    return s if distance == "squared" else math.sqrt(s)


def _distance_grad(x, i, j, distance):
    """d d(i, j) / d x_i as a list; d / d x_j is its negative."""
    diff = [x[i][k] - x[j][k] for k in range(len(x[i]))]
    if distance == "squared":
        return [2 * c for c in diff]
    d = math.sqrt(sum(c * c for c in diff))
    return [c / d if d > 0 else 0.0 for c in diff]


def _softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _first_best(candidates, key, better):
    """The first candidate whose key no later one beats strictly: lowest index on ties."""
    best = None
    for c in candidates:
        if best is None or better(key(c), key(best)):
            best = c
    return best


def loop_mine(embeddings, labels, *, strategy, margin=1.0, distance="squared", average="positive",
              soft=False):
    """(loss, triplets [K, 3], d loss / d embeddings) by loops over every (a, p, n):
    independent of the vectorised implementations it checks."""
    x = np.asarray(embeddings, dtype=np.float64).tolist()
    y = [int(v) for v in np.asarray(labels)]
    n_rows = len(x)

    def d(i, j):
        return _distance(x, i, j, distance)

    positives = [[p for p in range(n_rows) if p != a and y[p] == y[a]] for a in range(n_rows)]
    negatives = [[n for n in range(n_rows) if y[n] != y[a]] for a in range(n_rows)]
    chosen = []  # (a, p, n)
    for a in range(n_rows):
        if not negatives[a]:
            continue
        if strategy == "batch_all":
            for p in positives[a]:
                for n in negatives[a]:
                    if average == "all" or margin + d(a, p) - d(a, n) > 0:
                        chosen.append((a, p, n))
        elif strategy == "batch_hard":
            if positives[a]:
                p = _first_best(positives[a], lambda j: d(a, j), lambda u, v: u > v)
                n = _first_best(negatives[a], lambda j: d(a, j), lambda u, v: u < v)
                chosen.append((a, p, n))
        else:
            for p in positives[a]:
                farther = [n for n in negatives[a] if d(a, n) > d(a, p)]
                if farther:
                    n = _first_best(farther, lambda j: d(a, j), lambda u, v: u < v)
                else:
                    n = _first_best(negatives[a], lambda j: d(a, j), lambda u, v: u > v)
                chosen.append((a, p, n))
    chosen.sort()
    grad = np.zeros((n_rows, len(x[0]) if x else 0))
    total = 0.0
    for a, p, n in chosen:
        if soft:
            z = d(a, p) - d(a, n)
            total += _softplus(z)
            slope = 1 / (1 + math.exp(-z))
        else:
            h = margin + d(a, p) - d(a, n)
            total += max(h, 0.0)
            slope = 1.0 if h > 0 else 0.0
        weight = slope / len(chosen)
        for (i, j), sign in (((a, p), 1.0), ((a, n), -1.0)):
            g = _distance_grad(x, i, j, distance)
            for k in range(len(g)):
                grad[i, k] += sign * weight * g[k]
                grad[j, k] -= sign * weight * g[k]
    loss = total / len(chosen) if chosen else 0.0
    return np.array(loss), np.array(chosen, dtype=np.int64).reshape(-1, 3), grad


# ---------------------------------------------------------------- cases

def _clustered(rng, labels, dim, spread):
    labels = np.asarray(labels)
    centres = rng.standard_normal((int(labels.max()) + 1, dim))
    return {"embeddings": centres[labels] + spread * rng.standard_normal((len(labels), dim)),
            "labels": labels.astype(np.int64)}


LABELS_4 = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2]


def _four_classes(rng):
    return _clustered(rng, LABELS_4, 4, 0.8)


def _odd_labels(rng):
    # label values are names, not indices: negative, large and int32 must all work
    data = _clustered(rng, [0, 1, 2, 0, 1, 2, 0, 1], 3, 0.7)
    names = np.array([-7, 100, 3], dtype=np.int32)
    return {"embeddings": data["embeddings"], "labels": names[data["labels"]]}


def _one_label(rng):
    return {"embeddings": rng.standard_normal((5, 3)), "labels": np.full(5, 4, dtype=np.int64)}


def _distinct_labels(rng):
    return {"embeddings": rng.standard_normal((5, 3)), "labels": np.arange(5, dtype=np.int64)}


def _duplicate_positive(rng):
    # rows 0 and 1 are the only members of class 0 and coincide: d(0, 1) = 0 is chosen as
    # the positive, where sqrt has no derivative and the safe form must give 0, not NaN.
    # Class 0 sits apart so that no other anchor picks one of the twins as its negative
    # (they would tie), and the margin 3 keeps anchor 0's hinge active: its gradient
    # really passes through the d = 0 entry.
    data = _clustered(rng, [0, 0, 1, 2, 3, 1, 2, 3, 1], 3, 0.6)
    data["embeddings"][0] += 2.0
    data["embeddings"][1] = data["embeddings"][0]
    return data


TIES_EMBEDDINGS = np.array([[0, 0], [1, 1], [1, -1], [2, 0], [0, 2], [-2, 0], [3, 3]], dtype=float)
TIES_LABELS = np.array([0, 0, 0, 1, 1, 1, 1])


def _ties(rng):
    # integer coordinates: squared distances are exact integers in every dtype, so the
    # ties are exact everywhere (anchor 0: positives 1, 2 at 2, negatives 3, 4, 5 at 4;
    # pair (1, 0) at 2 has negatives 3, 4 at exactly 2, not semi-hard), and with a
    # half-integer margin no hinge is exactly 0
    return {"embeddings": TIES_EMBEDDINGS.copy(), "labels": TIES_LABELS.copy()}


def _loop(strategy, kwargs):
    """loop_mine on a case's inputs, for the goldens."""
    return lambda inputs: loop_mine(inputs["embeddings"], inputs["labels"], strategy=strategy, **kwargs)


TIE_CASES = ("ties",)


def cases(strategy: str, *, mining: bool = False, extra: tuple[tuple[str, dict, int], ...] = ()) -> tuple[Case, ...]:
    """The shared cases. `mining`: the concept is triplet_mining, whose kwargs name the
    strategy and whose golden is (loss, triplets); otherwise the loss and its gradient."""
    base = (
        ("four-classes", _four_classes, {"margin": 1.0}, 601, ""),
        ("euclidean", _four_classes, {"margin": 0.5, "distance": "euclidean"}, 602, ""),
        ("odd-label-values", _odd_labels, {"margin": 0.8}, 603, "labels -7, 100, 3 as int32"),
        ("one-label", _one_label, {}, 604, "no negative anywhere: loss 0, no triplet, zero gradient"),
        ("distinct-labels", _distinct_labels, {}, 605, "no positive pair: loss 0, no triplet, zero gradient"),
        ("duplicate-positive", _duplicate_positive, {"margin": 3.0, "distance": "euclidean"}, 608,
         "the safe sqrt at d(a, p) = 0"),
        ("ties", _ties, {"margin": 3.5}, 0, "exact ties: the lowest index wins; d(a, n) = d(a, p) is not semi-hard"),
        ("hinge-at-zero", _ties, {"margin": 2.0}, 0,
         "margin 2 = d(a, n) - d(a, p) exactly for anchor 0 and each negative: h = 0 is not active (h > 0)"),
    ) + tuple((name, _four_classes, kw, seed, "") for name, kw, seed in extra)
    built = []
    for name, make, kwargs, seed, note in base:
        loop = _loop(strategy, kwargs)
        if mining:  # one concept holds every strategy: the strategy prefixes the case name
            built.append(Case(f"{strategy}-{name}", make, dict(kwargs, strategy=strategy), seed=seed, note=note,
                              golden=lambda i, loop=loop: loop(i)[:2]))
        else:
            built.append(Case(name, make, dict(kwargs), seed=seed, note=note,
                              golden=lambda i, loop=loop: loop(i)[0],
                              golden_grad=lambda i, v, loop=loop: {"embeddings": v * loop(i)[2]}))
    return tuple(built)


HINGE_CASES = ("hinge-at-zero",)


def skips(selecting: bool = True) -> tuple[Skip, ...]:
    """At h = 0 exactly every strategy sits on the hinge's kink; the ties of distance order
    matter to the selecting strategies only (batch-all selects nothing by distance order)."""
    hinge = tuple(Skip(case, "numeric:embeddings",
                       "h = 0 exactly is the hinge's kink (and batch-all's h > 0 selection switches there): "
                       "central differences average both sides; the golden loop checks h > 0 instead")
                  for case in HINGE_CASES)
    if not selecting:
        return hinge
    return hinge + tuple(Skip(case, "numeric:embeddings",
                      "at an exact tie the selected triplet switches: the loss is not differentiable "
                      "there (semi-hard's d(a, n) = d(a, p) switch is not even continuous), so central "
                      "differences straddle two branches; the fixed-selection gradient follows the "
                      "lowest index and is checked against the golden loop instead")
                 for case in TIE_CASES)


def error_cases(concept: str, kwargs: dict | None = None) -> tuple[ErrorCase, ...]:
    kw = dict(kwargs or {})
    x = lambda: np.zeros((4, 2))  # noqa: E731
    return (
        ErrorCase("float-labels", lambda: {"embeddings": x(), "labels": np.array([0.0, 1.0, 0.0, 1.0])},
                  TypeError, rf"{concept}: labels must be integers, got dtype float64", kw),
        ErrorCase("labels-shape", lambda: {"embeddings": x(), "labels": np.array([0, 1, 0])},
                  ValueError, rf"{concept}: labels must have shape \(4,\) \(one label per embedding row\), "
                              r"got shape \(3,\)", kw),
        ErrorCase("labels-rank-2", lambda: {"embeddings": x(), "labels": np.zeros((4, 1), dtype=np.int64)},
                  ValueError, rf"{concept}: labels must have shape \(4,\) .*got shape \(4, 1\)", kw),
        ErrorCase("embeddings-rank-3", lambda: {"embeddings": np.zeros((4, 2, 1)), "labels": np.arange(4)},
                  ValueError, rf"{concept}: embeddings must have rank 2 \(\[B, D\], one embedding per row\), "
                              r"got rank 3", kw),
        ErrorCase("embeddings-rank-1", lambda: {"embeddings": np.zeros(4), "labels": np.arange(4)},
                  ValueError, rf"{concept}: embeddings must have rank 2", kw),
        ErrorCase("integer-embeddings", lambda: {"embeddings": np.zeros((4, 2), dtype=np.int64),
                                                 "labels": np.arange(4)},
                  TypeError, rf"{concept}: embeddings must be a floating-point array", kw),
        ErrorCase("negative-margin", lambda: {"embeddings": x(), "labels": np.arange(4)},
                  ValueError, rf"{concept}: margin must be a number >= 0, got -0.1", dict(kw, margin=-0.1)),
        ErrorCase("unknown-distance", lambda: {"embeddings": x(), "labels": np.arange(4)},
                  ValueError, rf"{concept}: distance must be one of \('squared', 'euclidean'\), got 'cosine'",
                  dict(kw, distance="cosine")),
        ErrorCase("empty-batch", lambda: {"embeddings": np.zeros((0, 2)), "labels": np.zeros(0, dtype=np.int64)},
                  ValueError, rf"{concept}: embeddings is empty", kw),
    )


MATH = ("d(i,j) = sum_k (x_ik - x_jk)^2 (squared) or its sqrt (euclidean, d/ds = 0 at 0);  "
        "L = mean over mined (a,p,n) of max(0, margin + d(a,p) - d(a,n)),  "
        "labels[a] = labels[p], a != p, labels[n] != labels[a]")
JAPANESE = "トリプレットマイニング / ハードネガティブマイニング（距離学習）"
