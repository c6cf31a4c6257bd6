"""The metric-learning embedding net (metric_train_step) beyond the generic parity run: the
Siamese weight sharing, the cases' discrete decisions kept clear of rounding along the
whole 10-step trajectory, why b2 exists only with the normalisation, and a short
learning check."""
import numpy as np
import pytest

from numpy_impl import metric_net as net
from numpy_impl import mining
from numpy_impl.metric import contrastive_loss_backward
from shared.concepts import metric_train_step as spec
from shared.parity import cast_inputs, upcast

# float32 embeddings and distances of O(1) differ from float64 by ~1e-6 after 10 steps (the
# parity run's param@10 errors are <= 3e-8 absolute on weights of O(0.1-1)); a decision
# (ReLU's sign, a hinge's sign, which distance is larger) closer than this could flip
DECISION_GAP = 1e-5


def _inputs(name, dtype="float64"):
    return upcast(cast_inputs(spec.CONCEPT.case(name).inputs(), dtype))


def test_siamese_gradient_is_the_sum_of_the_two_branches():
    inputs = _inputs("contrastive-normalized-sgd")
    params, batch, hyper = inputs["params"], inputs["batches"][0], inputs["hyper"]
    _, grads = net._gradients(params, batch, hyper)
    e1, cache1 = net._branch(params, batch["x1"], hyper)
    e2, cache2 = net._branch(params, batch["x2"], hyper)
    de1, de2 = contrastive_loss_backward(1.0, e1, e2, batch["y"], **spec.loss_kwargs(hyper))
    g1 = net._branch_backward(de1, cache1, params, hyper)
    g2 = net._branch_backward(de2, cache2, params, hyper)
    for name in params:
        np.testing.assert_allclose(grads[name], g1[name] + g2[name], rtol=1e-13, atol=1e-15)
        # and neither branch alone is the gradient: both really contribute
        assert np.abs(g1[name]).max() > 1e-3 * np.abs(grads[name]).max()
        assert not np.allclose(grads[name], g1[name]) and not np.allclose(grads[name], g2[name])
    # the same thing with finite differences of the loss in the first branch's weights only
    # would differ: the shared weights move both embeddings at once; the numeric check
    # of the parity run (numeric:W1 ...) is against that whole-net loss


def test_without_normalisation_an_output_bias_would_have_gradient_zero():
    # every loss sees e_i - e_j only: d loss / d b2 = sum over rows of d loss / d e = 0
    inputs = _inputs("batch-hard-adam")
    params, batch, hyper = inputs["params"], inputs["batches"][0], inputs["hyper"]
    e = net.embed(params, batch["x"], hyper)
    de = mining.triplet_batch_hard_backward(1.0, e, batch["labels"], **spec.loss_kwargs(hyper))
    assert np.abs(de).max() > 1e-3
    assert np.abs(de.sum(axis=0)).max() < 1e-14
    assert "b2" not in params and "b2" in _inputs("contrastive-normalized-sgd")["params"]


def _decision_gaps(params, batch, hyper):
    """The smallest margin of every discrete decision the step makes at these params."""
    xs = [batch["x1"], batch["x2"]] if hyper["loss"] == "contrastive" else [batch["x"]]
    gaps = {"relu": min(np.abs(x @ params["W1"] + params["b1"]).min() for x in xs)}
    if hyper["loss"] == "contrastive":
        e1, e2 = net.embed(params, batch["x1"], hyper), net.embed(params, batch["x2"], hyper)
        d = np.sqrt(((e1 - e2) ** 2).sum(axis=1))
        gaps["hinge"] = np.abs(hyper["margin"] - d[batch["y"] == 0]).min()
        return gaps
    labels = batch["labels"]
    D = mining.pairwise_distances(net.embed(params, batch["x"], hyper), hyper["distance"])
    same = labels[:, None] == labels[None, :]
    positive, negative = same & ~np.eye(len(labels), dtype=bool), ~same
    margin = hyper["margin"]
    valid = positive[:, :, None] & negative[:, None, :]
    # every hinge's sign (batch-all selects by it; the others' slopes depend on it)
    gaps["hinge"] = np.abs((margin + D[:, :, None] - D[:, None, :])[valid]).min()
    if hyper["loss"] != "batch_all":
        order = np.inf
        for a in range(len(labels)):
            pos, neg = np.sort(D[a, positive[a]]), np.sort(D[a, negative[a]])
            # batch-hard: the farthest positive and the nearest negative are clear winners
            order = min(order, pos[-1] - pos[-2], neg[1] - neg[0])
            if hyper["loss"] == "semi_hard":  # d(a, n) > d(a, p) for every pair, and the nearest such n
                order = min(order, np.abs(np.subtract.outer(pos, neg)).min(), np.diff(neg).min())
        gaps["order"] = order
    return gaps


@pytest.mark.parametrize("case", [c.name for c in spec.CASES])
def test_cases_keep_every_decision_clear_of_rounding(case):
    # along the reference's own 10 steps, from the float32-rounded inputs the parity run uses
    inputs = _inputs(case, "float32")
    params, opt_state, hyper = inputs["params"], inputs["opt_state"], inputs["hyper"]
    for k, batch in enumerate(inputs["batches"], start=1):
        for kind, gap in _decision_gaps(params, batch, hyper).items():
            assert gap > DECISION_GAP, f"step {k}: a {kind} decision is within {gap:.1e} of flipping"
        _, _, params, opt_state = net.train_step(params, opt_state, batch, hyper)


@pytest.mark.parametrize("case", ["contrastive-adam", "batch-hard-adam"])
def test_a_few_dozen_steps_lower_the_loss_on_a_fixed_batch(case):
    inputs = _inputs(case)
    params, opt_state, batch = inputs["params"], inputs["opt_state"], inputs["batches"][0]
    hyper = dict(inputs["hyper"], opt={"lr": 0.01})
    first = float(net.loss(params, batch, hyper))
    for _ in range(40):
        _, _, params, opt_state = net.train_step(params, opt_state, batch, hyper)
    assert float(net.loss(params, batch, hyper)) < 0.5 * first


def test_batches_are_balanced_pairs_and_pk():
    rng = np.random.default_rng(0)
    t = np.repeat(np.arange(10), 5)
    x = t[:, None].astype(float)  # each row's one feature is its class: pairs can be read off
    pairs = spec.make_batch(rng, x, t, 12, "contrastive")
    assert pairs["y"].sum() == 6 and pairs["y"].dtype == np.int64
    np.testing.assert_array_equal(pairs["y"], pairs["x1"][:, 0] == pairs["x2"][:, 0])
    pk = spec.make_batch(rng, x, t, 16, "batch_hard", per_class=4)
    values, counts = np.unique(pk["labels"], return_counts=True)
    assert len(values) == 4 and set(counts) == {4}
    assert len(spec.make_batch(rng, x, t, 16, "semi_hard", per_class=None)["labels"]) == 16
