"""BiT in NumPy (numpy_impl/bit.py): facts the generic parity run does not state on its own.

- with BiT's zero head the logits are head/b for every image (a uniform softmax at b = 0)
  and EVERY backbone gradient is exactly 0; a momentum step then leaves the backbone as it was;
- an identity shortcut is the identity: a unit's output minus its residual branch (written
  out here from the layers) is its input;
- R50x1 maps 128 x 128 to 4 x 4 and 224 x 224 to 7 x 7 before the pooling, 2048 features;
- train="head" leaves every backbone array bit-identical and gives the same head gradients
  as train="all";
- the hand-written backward agrees with a central difference along a random direction in
  the space of ALL parameters at once;
- a few fine-tuning steps on a fixed batch lower its loss;
- the conditioning ratios that the derived float32 / float64 bounds are made of (the group
  norms' K, the backward's KB, the gradient sums' R) stay within the bounds' constants on the
  cases, and not far below them.
"""
import math

import numpy as np
import pytest

from numpy_impl import bit
from numpy_impl.activations import relu
from numpy_impl.conv import conv2d, conv2d_backward, std_conv2d, weight_standardize
from numpy_impl.layers import affine, group_norm
from numpy_impl.losses import softmax_with_loss_backward
from numpy_impl.pooling import max_pool2d
from shared.concepts import _bit
from shared.concepts import bit_features
from shared.concepts import bit_train_step as spec
from shared.training import init_opt_state

TINY = _bit.TINY


def _inputs(seed, *, head="random", batch=2, hw=(32, 32), config=TINY):
    rng = np.random.default_rng(seed)
    params = _bit.init_params(rng, config, head=head, norm="random")
    x = rng.uniform(0.0, 1.0, (batch, 3, *hw))
    t = rng.integers(0, config["classes"], batch)
    return params, x, t


def _hyper(train, config=TINY, lr=0.003):
    return {"config": config, "train": train, "optimizer": "momentum_step", "opt": {"lr": lr, "momentum": 0.9}}


def test_zero_head_gives_uniform_softmax_and_zero_backbone_gradient():
    params, x, t = _inputs(1, head="zeros", batch=3, hw=(40, 48))
    z = bit.logits(x, params, TINY)
    assert np.array_equal(z, np.zeros((3, TINY["classes"])))  # 0 @ features + 0, exactly
    loss, grads = bit.gradients(x, t, params, TINY)
    assert loss == pytest.approx(math.log(TINY["classes"]), rel=1e-15)  # -log(1 / K)
    backbone = [n for n in _bit.param_names(TINY) if not n.startswith("head/")]
    assert set(grads) == set(_bit.param_names(TINY))
    for name in backbone:
        assert not np.any(grads[name]), name  # dL/dfeatures = dL/dz @ W^T = 0 exactly
    # the head does learn: dL/db = mean(softmax - onehot) = 1/K - (count of each class)/B
    counts = np.bincount(t, minlength=TINY["classes"]) / len(t)
    np.testing.assert_allclose(grads["head/b"], 1 / TINY["classes"] - counts, rtol=0, atol=1e-15)
    assert np.any(grads["head/W"])


def test_zero_head_all_mode_moves_only_the_head_at_step_1_then_the_backbone():
    params, x, t = _inputs(2, head="zeros")
    hyper = _hyper("all")
    state = init_opt_state(params, "momentum_step", hyper["opt"])
    batch = {"x": x, "t": t}
    _, _, p1, s1 = bit.train_step(params, state, batch, hyper)
    for name in _bit.param_names(TINY):
        assert np.array_equal(p1[name], params[name]) != name.startswith("head/"), name
    _, g2, p2, _ = bit.train_step(p1, s1, batch, hyper)
    assert np.any(g2["root/conv"]) and not np.array_equal(p2["root/conv"], p1["root/conv"])


def test_identity_shortcut_is_the_identity():
    """A unit without projection (unit02 of a two-unit block): output - residual branch == input.
    The branch is written out here from the layers, not taken from numpy_impl.bit."""
    config = dict(TINY, depth=(2, 1, 1, 1))
    rng = np.random.default_rng(3)
    params = _bit.init_params(rng, config, head="random", norm="random")
    assert "block1/unit02/a/proj" not in params
    h = rng.standard_normal((2, 16, 8, 8))
    p, g = "block1/unit02/", config["groups"]

    def gn_relu(a, part):
        return relu(group_norm(a, params[p + part + "/gn/gamma"], params[p + part + "/gn/beta"], groups=g))
    branch = std_conv2d(gn_relu(h, "a"), params[p + "a/conv"])
    branch = std_conv2d(gn_relu(branch, "b"), params[p + "b/conv"], padding=1)
    branch = std_conv2d(gn_relu(branch, "c"), params[p + "c/conv"])
    out, _ = bit._unit(h, params, p, 1, config)
    np.testing.assert_allclose(out - branch, h, rtol=0, atol=1e-13)
    # and the backward: the identity hands the cotangent v straight through, so
    # d<out, v>/dh = v + (the branch's part), checked along a random direction of h
    v = rng.standard_normal(out.shape)
    _, cache = bit._unit(h, params, p, 1, config)
    dh = bit._unit_backward(v, cache, params, p, 1, config, {})
    d = rng.standard_normal(h.shape)
    eps = 1e-6
    numeric = (np.sum(bit._unit(h + eps * d, params, p, 1, config)[0] * v)
               - np.sum(bit._unit(h - eps * d, params, p, 1, config)[0] * v)) / (2 * eps)
    assert np.sum(dh * d) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("size, expected", [(128, 4), (224, 7)])
def test_r50x1_output_sizes(size, expected):
    """Total stride 2 (root conv) x 2 (pool) x 2 x 2 x 2 (blocks 2-4) = 32: 128 / 32 = 4,
    224 / 32 = 7; R50x1's last block has 256 x 2^3 = 2048 channels."""
    config = _bit.bit_config("R50x1", 10)
    assert _bit.feature_map_size(size, size) == (expected, expected)
    rng = np.random.default_rng(4)
    params = {k: v.astype(np.float32) for k, v in _bit.init_params(rng, config).items()}
    x = rng.uniform(0, 1, (1, 3, size, size)).astype(np.float32)
    fmap = bit.feature_map(x, params, config)
    assert fmap.shape == (1, 2048, expected, expected)
    assert bit.features(x, params, config).shape == (1, 2048)
    assert bit.logits(x, params, config).shape == (1, 10)


def test_head_mode_freezes_the_backbone_bit_for_bit():
    params, x, t = _inputs(5, hw=(40, 32), batch=3)
    batch = {"x": x, "t": t}
    copies = {k: v.copy() for k, v in params.items()}
    hyper = _hyper("head")
    state = init_opt_state(params, "momentum_step", hyper["opt"], names=spec.HEAD)
    for _ in range(3):
        _, grads, new, state = bit.train_step(params, state, batch, hyper)
        assert set(grads) == set(spec.HEAD) and set(new) == set(params) and set(state) == set(spec.HEAD)
        params = new
    for name in _bit.param_names(TINY):
        moved = not np.array_equal(params[name], copies[name])
        assert moved == name.startswith("head/"), name
    # the head's gradient does not depend on the mode
    _, g_head = bit.gradients(x, t, copies, TINY, train="head")
    _, g_all = bit.gradients(x, t, copies, TINY, train="all")
    for name in spec.HEAD:
        np.testing.assert_array_equal(g_head[name], g_all[name])


def test_backward_along_a_random_direction_of_all_parameters():
    """<grad, d> against (L(p + e d) - L(p - e d)) / 2e with d random in EVERY parameter at once."""
    params, x, t = _inputs(6, hw=(48, 40), batch=3)
    batch, hyper = {"x": x, "t": t}, _hyper("all")
    _, grads = bit.gradients(x, t, params, TINY)
    rng = np.random.default_rng(60)
    d = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    eps = 1e-6
    plus = bit.loss({k: v + eps * d[k] for k, v in params.items()}, batch, hyper)
    minus = bit.loss({k: v - eps * d[k] for k, v in params.items()}, batch, hyper)
    analytic = sum(np.sum(grads[k] * d[k]) for k in params)
    assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)


def test_fine_tuning_lowers_the_loss_on_a_fixed_batch():
    params, x, t = _inputs(7, batch=4)
    batch, hyper = {"x": x, "t": t}, _hyper("all", lr=0.03)
    state = init_opt_state(params, "momentum_step", hyper["opt"])
    losses = []
    for _ in range(15):
        loss, _, params, state = bit.train_step(params, state, batch, hyper)
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0], losses


def test_param_names_follow_the_contract():
    names = _bit.param_names(TINY)
    assert names[0] == "root/conv" and names[-4:] == ("gn/gamma", "gn/beta", "head/W", "head/b")
    assert names[1:11] == tuple("block1/unit01/" + s for s in (
        "a/gn/gamma", "a/gn/beta", "a/proj", "a/conv", "b/gn/gamma", "b/gn/beta", "b/conv",
        "c/gn/gamma", "c/gn/beta", "c/conv"))
    r50 = _bit.param_shapes(_bit.bit_config("R50x1", 1000))
    assert sum(1 for n in r50 if n.endswith("/a/proj")) == 4  # one projection per block
    assert r50["block4/unit03/c/conv"] == (2048, 512, 1, 1) and r50["head/W"] == (2048, 1000)
    assert r50["root/conv"] == (64, 3, 7, 7) and r50["block1/unit01/a/proj"] == (256, 64, 1, 1)


def test_validate_features_names_the_problem():
    params, x, _ = _inputs(8)
    with pytest.raises(ValueError, match=r"missing \['gn/beta'\], extra \[\]"):
        bit.features(x, {k: v for k, v in params.items() if k != "gn/beta"}, TINY)
    with pytest.raises(ValueError, match=r"x must have 3 channels"):
        bit.features(x[:, :2], params, TINY)
    with pytest.raises(TypeError, match=r"params\['head/b'\] must be a floating-point array"):
        bit.features(x, dict(params, **{"head/b": np.zeros(5, dtype=np.int64)}), TINY)


# ---- the conditioning ratios behind the float32 / float64 bounds (bit_features.F32_FORWARD,
# bit_train_step.F32_GRAD): measured on the cases' own inputs in float64, by re-running
# numpy_impl.bit's layers with the group norms and convolutions observed from outside ----

def _groups(h, groups):
    g = h.reshape(h.shape[0], groups, -1)
    return g, np.sqrt(g.var(axis=-1) + _bit.GN_EPS)


def _kappas(x, params, config):
    """Per group norm of the forward, kappa_l = max_g max T_g / sigma_g: T the size of the
    terms that made its input (a conv's sum|u| * |w_hat|, the residual sum's two branches'
    added, the root's through the pool), sigma_g the group's standard deviation."""
    G, kappas = config["groups"], []

    def conv(u, w, stride=1, padding=0):
        w_hat = weight_standardize(w, eps=_bit.WS_EPS)
        return bit._conv(u, w, stride, padding), conv2d(np.abs(u), np.abs(w_hat), stride=stride, padding=padding)

    def gn(h, terms, prefix):
        sigma = _groups(h, G)[1]
        kappas.append(float((_groups(terms, G)[0].max(axis=-1) / sigma).max()))
        return relu(bit._gn(h, params, prefix, config))

    r, terms = conv(x, params["root/conv"], 2, 3)
    pad = ((0, 0), (0, 0), (1, 1), (1, 1))
    h, terms = (max_pool2d(np.pad(a, pad), 3, stride=2) for a in (r, terms))
    for p, stride, *_ in _bit.units(config):
        u = gn(h, terms, p + "a/gn/")
        short, short_terms = conv(u, params[p + "a/proj"], stride) if p + "a/proj" in params else (h, terms)
        t, t_terms = conv(u, params[p + "a/conv"])
        t, t_terms = conv(gn(t, t_terms, p + "b/gn/"), params[p + "b/conv"], stride, 1)
        t, t_terms = conv(gn(t, t_terms, p + "c/gn/"), params[p + "c/conv"])
        h, terms = t + short, t_terms + short_terms
    f = gn(h, terms, "gn/").mean(axis=(2, 3))
    np.testing.assert_array_equal(f, bit.features(x, params, config))  # the same forward, re-run
    return kappas


def _conditioning(x, t, params, config, *, train):
    """{"rho": [per group norm of the backward: max_g max|gamma dz_g| / sigma_g over max|dx|],
    "r": {array: max sum|terms| / max|sum| of its gradient}} at one step."""
    G, found = config["groups"], {"rho": [], "r": {}}
    o_gnb, o_cb = bit._gn_backward, bit._conv_backward

    def gn_backward(dz, h, P, prefix, config, grads):
        dx = o_gnb(dz, h, P, prefix, config, grads)
        g, sigma = _groups(h, G)
        x_hat = ((g - g.mean(axis=-1, keepdims=True)) / sigma[..., None]).reshape(h.shape)
        dx_hat = _groups(dz * P[prefix + "gamma"][None, :, None, None], G)[0]
        found["rho"].append(float((np.abs(dx_hat).max(axis=-1) / sigma).max() / np.abs(dx).max()))
        for name, terms in (("gamma", dz * x_hat), ("beta", dz)):  # summed over images and positions
            found["r"][prefix + name] = np.abs(terms).sum(axis=(0, 2, 3)).max() / np.abs(grads[prefix + name]).max()
        return dx

    def conv_backward(dy, x, w, stride=1, padding=0):
        dx, dw = o_cb(dy, x, w, stride, padding)
        # dw_hat's terms dy x summed over images and positions: |dy| * |x| sums their sizes;
        # the standardisation divides by each filter's sigma
        _, terms = conv2d_backward(np.abs(dy), np.abs(x), w, stride=stride, padding=padding)
        sigma = np.sqrt(w.reshape(len(w), -1).var(axis=-1) + _bit.WS_EPS)
        name = next(n for n, v in params.items() if v is w)
        found["r"][name] = (terms.reshape(len(w), -1).max(axis=-1) / sigma).max() / np.abs(dw).max()
        return dx, dw

    bit._gn_backward, bit._conv_backward = gn_backward, conv_backward
    try:
        _, grads = bit.gradients(x, t, params, config, train=train)
    finally:
        bit._gn_backward, bit._conv_backward = o_gnb, o_cb
    # the head: dW = sum_b f_b dz_b, db = sum_b dz_b
    f = bit.features(x, params, config)
    dz = softmax_with_loss_backward(1.0, affine(f, params["head/W"], params["head/b"]), t)
    found["r"]["head/W"] = (np.abs(f).T @ np.abs(dz)).max() / np.abs(grads["head/W"]).max()
    found["r"]["head/b"] = np.abs(dz).sum(axis=0).max() / np.abs(grads["head/b"]).max()
    return found


def test_the_forward_bound_covers_the_cases_group_norms():
    # bit_features.F32_FORWARD / F64_FORWARD are eps K_MAX and 2 eps K_MAX with K the sum over
    # group norms of max T_g / sigma_g (_kappas): K_MAX must bound every case's K, and not by much
    # (a bound far above the cases would hide a real error)
    ks = {}
    for case in bit_features.CASES:
        inputs = case.inputs()
        ks[case.name] = sum(_kappas(inputs["x"], inputs["params"], case.kwargs["config"]))
    assert max(ks.values()) <= bit_features.K_MAX, ks
    assert max(ks.values()) >= 0.5 * bit_features.K_MAX, ks


def test_the_float32_gradient_bound_covers_the_cases_conditioning():
    # bit_train_step.F32_GRAD is eps KB_MAX R_GRAD_MAX: KB = the forward's K + the backward's
    # sum of rho over group norms, R the worst sum cancellation of a trained array, both at
    # step 1 (the "grad" kind) of every case; each constant bounds them, and not by much
    kb, r = {}, {}
    for case in spec.CASES:
        inputs = case.inputs()
        batch, hyper = inputs["batches"][0], inputs["hyper"]
        found = _conditioning(batch["x"], batch["t"], inputs["params"], hyper["config"], train=hyper["train"])
        kb[case.name] = sum(_kappas(batch["x"], inputs["params"], hyper["config"])) + sum(found["rho"])
        r[case.name] = max(found["r"][name] for name in spec.trained_names(hyper["config"], hyper["train"]))
    assert max(kb.values()) <= spec.KB_MAX and max(kb.values()) >= 0.5 * spec.KB_MAX, kb
    assert max(r.values()) <= spec.R_GRAD_MAX and max(r.values()) >= 0.5 * spec.R_GRAD_MAX, r
    assert spec.F32_GRAD.atol == pytest.approx(spec.EPS32 * spec.KB_MAX * spec.R_GRAD_MAX)


def _step_bound(case):
    """bit_train_step.B along a case's steps: per trained array, the momentum-summed gradient
    error bound relative to the last buffer (eps E_k / max|v_k|) and to the last parameter
    (eps (sum_i E_i / max|p_k| + 1)), in units of eps; {array: the larger}."""
    inputs = case.inputs()
    hyper, params, state = inputs["hyper"], inputs["params"], inputs["opt_state"]
    config, mu, lr = hyper["config"], hyper["opt"]["momentum"], hyper["opt"]["lr"]
    names = spec.trained_names(config, hyper["train"])
    e, e_sum = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
    for batch in inputs["batches"]:
        found = _conditioning(batch["x"], batch["t"], params, config, train=hyper["train"])
        kb = sum(_kappas(batch["x"], params, config)) + sum(found["rho"])
        _, grads, params, state = bit.train_step(params, state, batch, hyper)
        for name in names:
            e[name] = mu * e[name] + lr * kb * found["r"][name] * np.abs(grads[name]).max()
            e_sum[name] += e[name]
    return {name: max(e[name] / np.abs(state[name]["v"]).max(), e_sum[name] / np.abs(params[name]).max() + 1)
            for name in names}


def test_the_step_bound_covers_the_cases_momentum_sums():
    # bit_train_step.F32_STEP / F64_STEP are eps B_MAX and 2 eps B_MAX: B_MAX must bound every
    # case's B along its 10 steps, and not by much
    b = {case.name: max(_step_bound(case).values()) for case in spec.CASES}
    assert max(b.values()) <= spec.B_MAX and max(b.values()) >= 0.5 * spec.B_MAX, b
    assert spec.F32_STEP.atol == pytest.approx(spec.EPS32 * spec.B_MAX)
    assert spec.F64_STEP.atol == pytest.approx(2 * spec.EPS64 * spec.B_MAX)


def test_the_input_range_reaches_the_features_only_through_the_root_convs_border():
    # the claim of bit_features' porting cases bit-input-range-*: a standardised filter sums to
    # 0, so conv(2x - 1) = 2 conv(x) wherever the window lies inside the image; the root's group
    # norm divides the 2 out. Only the windows over the zero padding see the shift.
    params, x, _ = _inputs(5)
    w = params["root/conv"]
    a, b = std_conv2d(2 * x - 1, w, stride=2, padding=3, eps=_bit.WS_EPS), std_conv2d(x, w, stride=2, padding=3,
                                                                                         eps=_bit.WS_EPS)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # windows of 7 at stride 2 off the 3-pixel pad
    np.testing.assert_allclose(a[inner], 2 * b[inner], atol=1e-12)  # float64 sums of 147 terms of ~1
    assert np.abs(a - 2 * b).max() > 0.1  # the border windows do change
