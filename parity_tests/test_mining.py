"""Triplet mining beyond the generic parity run: the cases keep their decisions away from
float32 rounding, the rules (ties, semi-hard fallback, empty batches) hold in every
framework, and a hand-worked example pins TF Addons' semi-hard rule."""
import numpy as np
import pytest

from parity_tests.conftest import machine_skip
from shared import backends
from shared.concepts import _mining as m
from shared.concepts import all_concepts

MINING = [c for c in all_concepts() if c.module == "mining"]
LOSSES = {"batch_all": "triplet_batch_all", "batch_hard": "triplet_batch_hard", "semi_hard": "triplet_semi_hard"}
# float32 distances of O(10) are off by ~1e-6 from float64: a decision (which distance is
# larger, whether a hinge is positive) closer than this could flip between the dtypes
DECISION_GAP = 1e-3


def _backend_params():
    for name in backends.BACKEND_NAMES:
        mark = machine_skip(name)
        yield pytest.param(name, id=name, marks=[mark] if mark else [])


def _call(backend_name, fn_name, inputs, **kwargs):
    backend = backends.get(backend_name)
    fn = getattr(backends.module(backend_name, MINING[0]), fn_name)
    return backend.call(fn, inputs, kwargs, "cpu")


def _cases_without_deliberate_ties():
    # the ties and hinge cases are exact by construction instead: integer coordinates, so
    # their ties and hinges of exactly 0 are the same in every dtype
    for concept in MINING:
        for case in concept.cases:
            if case.name.removeprefix(f"{case.kwargs.get('strategy', '')}-") not in m.TIE_CASES + m.HINGE_CASES:
                yield pytest.param(concept, case, id=f"{concept.name}-{case.name}")


def _distances(x, distance):
    diff = x[:, None, :] - x[None, :, :]
    s = (diff ** 2).sum(-1)
    return s if distance == "squared" else np.sqrt(s)


@pytest.mark.parametrize("concept, case", list(_cases_without_deliberate_ties()))
def test_cases_keep_every_decision_clear_of_rounding(concept, case):
    inputs = case.inputs()
    x, labels = inputs["embeddings"], inputs["labels"]
    D = _distances(x, case.kwargs.get("distance", "squared"))
    twins = {tuple(sorted(p)) for p in zip(*np.nonzero(D == 0)) if p[0] != p[1]}
    for a in range(len(x)):
        # every comparison within a row: argmax/argmin and the semi-hard d_an > d_ap test
        row = [D[a, j] for j in range(len(x)) if j != a and not any(j == t[1] for t in twins)]
        gaps = np.abs(np.subtract.outer(row, row))[~np.eye(len(row), dtype=bool)]
        assert gaps.min(initial=np.inf) > DECISION_GAP, f"anchor {a}: two distances nearly tie"
    margin = case.kwargs.get("margin", 1.0)
    same = labels[:, None] == labels[None, :]
    valid = (same & ~np.eye(len(x), dtype=bool))[:, :, None] & ~same[:, None, :]
    hinges = (margin + D[:, :, None] - D[:, None, :])[valid]
    assert np.abs(hinges).min(initial=np.inf) > DECISION_GAP, "a hinge sits at 0"


def test_twins_are_never_a_tie_that_matters():
    # duplicate-positive's rows 0 and 1 coincide, so they tie as anyone's negative: the
    # case is built so that no other anchor picks either of them
    case = [c for c in MINING if c.name == "triplet_batch_hard"][0].case("duplicate-positive")
    for strategy in ("batch_hard", "semi_hard"):
        _, triplets, _ = m.loop_mine(**case.inputs(), strategy=strategy, **case.kwargs)
        assert not any(a > 1 and n <= 1 for a, p, n in triplets)
        assert any(a == 0 and p == 1 for a, p, n in triplets), "the d = 0 positive must be mined"


@pytest.mark.parametrize("backend_name", list(_backend_params()))
def test_semi_hard_by_hand(backend_name):
    # 1-D points 0, 1 | 3, 1.5, squared distances, margin 1:
    #   (0,1): d_ap 1, negatives 9, 2.25 -> nearest farther: 3
    #   (1,0): d_ap 1, negatives 4, 0.25 -> 2
    #   (2,3): d_ap 2.25, negatives 9, 4 -> 1
    #   (3,2): d_ap 2.25, negatives 2.25 (not strictly farther), 0.25 -> none: the farthest, 0
    # hinges 1 + d_ap - d_an: -0.25, -2, -0.75, 1 -> loss 1 / 4
    inputs = {"embeddings": np.array([[0.0], [1.0], [3.0], [1.5]]), "labels": np.array([0, 0, 1, 1])}
    loss, triplets = _call(backend_name, "triplet_mining", inputs, strategy="semi_hard")
    np.testing.assert_array_equal(triplets, [[0, 1, 3], [1, 0, 2], [2, 3, 1], [3, 2, 0]])
    assert float(loss) == 0.25


@pytest.mark.parametrize("backend_name", list(_backend_params()))
def test_ties_go_to_the_lowest_index(backend_name):
    # squared distances: anchor 0 at (0, 0) has positives 1, 2 both at 2 and negatives
    # 3, 4, 5 all at 4; anchor 1 at (1, 1) has negatives 3, 4 both at 2, the same as its
    # positive 0, so for the pair (1, 0) they are not semi-hard: 6 (at 8) is
    inputs = {"embeddings": m.TIES_EMBEDDINGS.copy(), "labels": m.TIES_LABELS.copy()}
    _, triplets = _call(backend_name, "triplet_mining", inputs, strategy="batch_hard", margin=3.5)
    assert triplets[:2].tolist() == [[0, 1, 3], [1, 2, 3]]
    _, triplets = _call(backend_name, "triplet_mining", inputs, strategy="semi_hard", margin=3.5)
    assert [0, 1, 3] in triplets.tolist() and [1, 0, 6] in triplets.tolist()


@pytest.mark.parametrize("backend_name", list(_backend_params()))
@pytest.mark.parametrize("strategy", m.STRATEGIES)
@pytest.mark.parametrize("labels", [np.full(5, 4), np.arange(5)], ids=["one-label", "distinct-labels"])
def test_no_valid_triplet_is_zero_not_nan(backend_name, strategy, labels):
    inputs = {"embeddings": np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32),
              "labels": labels}
    loss, triplets = _call(backend_name, "triplet_mining", inputs, strategy=strategy, distance="euclidean")
    assert float(loss) == 0.0
    assert triplets.shape == (0, 3) and triplets.dtype == np.int64
    backend = backends.get(backend_name)
    impl = backend.impl([c for c in MINING if c.name == LOSSES[strategy]][0])
    _, grads = backend.vjp(impl, inputs, {"distance": "euclidean"}, ("embeddings",), np.array(1.7), "cpu")
    np.testing.assert_array_equal(grads["embeddings"], 0)


@pytest.mark.parametrize("backend_name", list(_backend_params()))
def test_triplets_are_int64_and_lexicographic(backend_name):
    case = [c for c in MINING if c.name == "triplet_mining"][0].case("batch_all-four-classes")
    _, triplets = _call(backend_name, "triplet_mining", case.inputs(), **case.kwargs)
    assert triplets.dtype == np.int64 and len(triplets) > 0
    assert [tuple(t) for t in triplets] == sorted({tuple(t) for t in triplets})


def test_average_positive_and_all_share_the_sum():
    # the two batch-all averages differ only in the denominator: the easy triplets add 0
    case = [c for c in MINING if c.name == "triplet_batch_all"][0].case("four-classes")
    x, labels = case.inputs()["embeddings"], case.inputs()["labels"]
    pos, t_pos, _ = m.loop_mine(x, labels, strategy="batch_all", margin=1.0, average="positive")
    every, t_all, _ = m.loop_mine(x, labels, strategy="batch_all", margin=1.0, average="all")
    assert 0 < len(t_pos) < len(t_all)
    np.testing.assert_allclose(pos * len(t_pos), every * len(t_all), rtol=1e-13)


@pytest.mark.parametrize("name", ["euclidean", "odd-label-values", "ties"])
def test_semi_hard_cases_take_both_branches(name):
    # the generic run compares both the semi-hard pick and TF Addons' fallback (no
    # negative farther than the positive) only if cases exercise both
    case = [c for c in MINING if c.name == "triplet_semi_hard"][0].case(name)
    x, labels = case.inputs()["embeddings"], case.inputs()["labels"]
    _, triplets, _ = m.loop_mine(x, labels, strategy="semi_hard", **case.kwargs)
    D = _distances(x, case.kwargs.get("distance", "squared"))
    farther = [D[a, n] > D[a, p] for a, p, n in triplets]
    assert any(farther) and not all(farther)


def test_mined_hinges_are_mixed():
    # a case whose hinges are all 0 (or all active) would not test relu's two branches
    for strategy in m.STRATEGIES:
        concept = [c for c in MINING if c.name == LOSSES[strategy]][0]
        case = concept.case("four-classes")
        inputs = case.inputs()
        _, triplets, _ = m.loop_mine(**inputs, strategy=strategy, **case.kwargs)
        D = _distances(inputs["embeddings"], "squared")
        h = [case.kwargs["margin"] + D[a, p] - D[a, n] for a, p, n in triplets]
        if strategy == "batch_all":  # average="positive" keeps only the active ones
            assert all(v > 0 for v in h)
        else:
            assert any(v > 0 for v in h) and any(v <= 0 for v in h), strategy
