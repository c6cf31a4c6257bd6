"""BiT in PyTorch: facts the generic parity run does not state on its own.

- the canonical <-> timm state_dict converters round-trip exactly, and their key set and
  shapes are those of torch_impl.bit.ResNetV2 (timm's resnetv2 BiT names), which loads them
  with load_state_dict(strict=True) — for TINY and (names and shapes only) R50x1;
- the nn.Module (torch's own kernels: F.conv2d, nn.GroupNorm, nn.MaxPool2d) and the
  functional version (this repo's im2col std_conv2d and group_norm) agree on features,
  logits and the gradients of the loss, and both agree with numpy_impl.bit when it exists;
- a train step in "head" mode leaves every backbone tensor bit-identical;
- R50x1 at 128 x 128, one image, float32: module and functional agree.
"""
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch_impl import bit, timm  # noqa: E402

from shared.concepts import _bit  # noqa: E402
from shared.concepts import bit_features  # noqa: E402

RNG_SEED = 2020


def _tiny():
    return dict(_bit.TINY)


def _r50x1(classes=10):
    return _bit.bit_config("R50x1", classes)


def _canonical_shapes(config):
    """Canonical shapes from the contract, written out here (not from the converters under test)."""
    shapes, prev = {"root/conv": (config["root_channels"], 3, 7, 7)}, config["root_channels"]
    for i, (depth, out) in enumerate(zip(config["depth"], config["out_channels"]), start=1):
        mid = out // 4
        for j in range(1, depth + 1):
            p = f"block{i}/unit{j:02d}/"
            shapes.update({p + "a/gn/gamma": (prev,), p + "a/gn/beta": (prev,), p + "a/conv": (mid, prev, 1, 1),
                           p + "b/gn/gamma": (mid,), p + "b/gn/beta": (mid,), p + "b/conv": (mid, mid, 3, 3),
                           p + "c/gn/gamma": (mid,), p + "c/gn/beta": (mid,), p + "c/conv": (out, mid, 1, 1)})
            if j == 1:
                shapes[p + "a/proj"] = (out, prev, 1, 1)
            prev = out
    shapes.update({"gn/gamma": (prev,), "gn/beta": (prev,), "head/W": (prev, config["classes"]),
                   "head/b": (config["classes"],)})
    return shapes


def _random_params(config, rng, dtype=np.float64):
    """_bit.init_params with norm="random" and head="random": GN gamma near 1 and beta near 0
    but not equal, a non-zero head (BiT's zero head would make the logits b for any backbone
    and the backbone's gradient exactly 0)."""
    params = _bit.init_params(rng, config, head="random", norm="random")
    return {k: v.astype(dtype) for k, v in params.items()}


def _torch(params):
    return {k: torch.from_numpy(np.array(v)) for k, v in params.items()}


def _images(rng, shape, dtype=np.float64):
    return torch.from_numpy(rng.random(shape).astype(dtype))  # [0, 1], BiT's input range


# ---- (a) converters and names ---------------------------------------------------------

def test_canonical_names_are_the_contracts():
    """_bit.param_shapes against the contract's shapes written out above, name by name."""
    for config in (_tiny(), _r50x1()):
        assert dict(_bit.param_shapes(config)) == _canonical_shapes(config)


def test_round_trip_tiny_exact_and_strict_load():
    config = _tiny()
    params = _random_params(config, np.random.default_rng(RNG_SEED))
    state = timm.to_timm_state_dict(params, config)
    model = bit.ResNetV2(config, dtype=torch.float64)
    assert list(state) == list(model.state_dict())  # same keys, same (registration) order
    for key, value in model.state_dict().items():
        assert tuple(state[key].shape) == tuple(value.shape), key
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    back = timm.from_timm_state_dict(model.state_dict(), config)
    assert set(back) == set(params)
    for name, value in params.items():
        assert np.array_equal(back[name].numpy(), value), name  # a reshape/transpose: bit-exact
    via_module = bit.ResNetV2.from_canonical(_torch(params), config).to_canonical()
    assert all(np.array_equal(via_module[n].numpy(), params[n]) for n in params)
    # the converters copy: writing into the state_dict leaves the canonical arrays alone
    state["stem.conv.weight"].zero_()
    assert np.any(params["root/conv"] != 0)


def test_head_layout():
    """canonical head/W [C, K] is timm's head.fc.weight [K, C, 1, 1]: W[c, k] = fc[k, c, 0, 0]."""
    config = _tiny()
    params = _random_params(config, np.random.default_rng(RNG_SEED + 1))
    fc = timm.to_timm_state_dict(params, config)["head.fc.weight"].numpy()
    assert fc.shape == (config["classes"], config["out_channels"][-1], 1, 1)
    assert np.array_equal(fc[:, :, 0, 0].T, params["head/W"])


# Literal names and shapes of timm's resnetv2_50x1_bit (timm/models/resnetv2.py:
# ResNetV2 -> stem (create_resnetv2_stem, 'fixed'), stages.{i}.blocks.{j} PreActBottleneck,
# norm (GroupNormAct), head (ClassifierHead use_conv=True -> fc = nn.Conv2d(2048, K, 1))).
R50X1_TIMM = {
    "stem.conv.weight": (64, 3, 7, 7),
    "stages.0.blocks.0.downsample.conv.weight": (256, 64, 1, 1),
    "stages.0.blocks.0.norm1.weight": (64,),
    "stages.0.blocks.0.conv1.weight": (64, 64, 1, 1),
    "stages.0.blocks.0.norm2.bias": (64,),
    "stages.0.blocks.0.conv2.weight": (64, 64, 3, 3),
    "stages.0.blocks.0.norm3.weight": (64,),
    "stages.0.blocks.0.conv3.weight": (256, 64, 1, 1),
    "stages.1.blocks.0.downsample.conv.weight": (512, 256, 1, 1),
    "stages.2.blocks.5.conv2.weight": (256, 256, 3, 3),
    "stages.3.blocks.2.norm1.weight": (2048,),
    "stages.3.blocks.2.conv3.weight": (2048, 512, 1, 1),
    "norm.weight": (2048,),
    "norm.bias": (2048,),
    "head.fc.weight": (10, 2048, 1, 1),
    "head.fc.bias": (10,),
}
# 1 stem conv + 16 blocks x 9 (norm1/2/3 weight+bias, conv1/2/3) + 4 downsample convs + norm 2 + head 2
R50X1_KEYS = 1 + 16 * 9 + 4 + 2 + 2


def test_r50x1_names_and_shapes():
    """R50x1: names and shapes only (the module lives on the meta device: no memory, no compute);
    canonical zeros in float32 keep the round trip cheap and still exact."""
    config = _r50x1(classes=10)
    model = bit.ResNetV2(config, device="meta")
    meta = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(meta) == R50X1_KEYS
    for key, shape in R50X1_TIMM.items():
        assert meta[key] == shape, key
    assert not any(k.startswith("stages.0.blocks.1.downsample") for k in meta)  # projection in unit 1 only
    rng = np.random.default_rng(RNG_SEED)
    params = {name: rng.standard_normal(shape).astype(np.float32)
              for name, shape in _canonical_shapes(config).items()}
    state = timm.to_timm_state_dict(params, config)
    assert {k: tuple(v.shape) for k, v in state.items()} == meta
    result = model.load_state_dict(state, strict=True, assign=True)  # raises on any missing/extra/shape
    assert not result.missing_keys and not result.unexpected_keys
    back = timm.from_timm_state_dict(state, config)
    assert all(np.array_equal(back[n].numpy(), params[n]) for n in params)


def test_from_timm_rejects_a_foreign_state_dict():
    config = _tiny()
    state = timm.to_timm_state_dict(_random_params(config, np.random.default_rng(3)), config)
    state.pop("stages.1.blocks.0.downsample.conv.weight")
    state["fc.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="downsample.*|fc.weight"):
        timm.from_timm_state_dict(state, config)
    # right names, wrong shape: a checkpoint of another width
    state = timm.to_timm_state_dict(_random_params(config, np.random.default_rng(3)), config)
    state["stem.conv.weight"] = torch.zeros(16, 3, 7, 7, dtype=torch.float64)
    with pytest.raises(ValueError, match="root/conv"):
        timm.from_timm_state_dict(state, config)


# ---- (b), (c) forward parity, float64 ---------------------------------------------------

# float64, TINY: both sides compute the same sums in different orders (im2col matmul vs
# F.conv2d; a two-pass var_mean vs F.batch_norm / F.group_norm's statistics). Each rounding is
# ~1e-16 relative; the GroupNorms re-normalise, so the error does not compound over the 14
# normalised layers. Observed ~1e-14 on values of order 1; 1e-10 leaves a margin of 1e4 and
# still catches a wrong layer, stride, pad or order (those differ at order 1). A wrong eps on
# unit-variance filters hides below it, so test_ws_eps_is_the_modules_argument tests eps apart.
RTOL64, ATOL64 = 1e-10, 1e-10


def _tiny_case(seed=RNG_SEED, batch=2, size=32):
    config = _tiny()
    rng = np.random.default_rng(seed)
    params = _random_params(config, rng)
    return config, params, _images(rng, (batch, 3, size, size))


def test_module_matches_functional_tiny_float64():
    config, params, x = _tiny_case()
    pt = _torch(params)
    model = bit.ResNetV2.from_canonical(pt, config)
    assert model.stem.conv.weight.dtype == torch.float64
    with torch.no_grad():
        torch.testing.assert_close(model.features(x), bit.features(x, pt, config), rtol=RTOL64, atol=ATOL64)
        torch.testing.assert_close(model(x), bit.logits(x, pt, config), rtol=RTOL64, atol=ATOL64)
        # the pooled map is what the head reads: logits = features @ W + b
        f = model.features(x)
        torch.testing.assert_close(model(x), f @ pt["head/W"] + pt["head/b"], rtol=RTOL64, atol=ATOL64)


def test_module_matches_functional_on_odd_sizes():
    """An odd input (37 x 45) exercises the 'fixed' zero pad and the floor of each stride."""
    config, params, x = _tiny_case(seed=7, batch=1, size=37)
    x = torch.cat([x, x[..., :8]], dim=-1)  # 37 x 45
    pt = _torch(params)
    model = bit.ResNetV2.from_canonical(pt, config)
    with torch.no_grad():
        torch.testing.assert_close(model(x), bit.logits(x, pt, config), rtol=RTOL64, atol=ATOL64)


def test_ws_eps_is_the_modules_argument(monkeypatch):
    """ws_eps 1e-10 (BiT) by default; timm's 1e-8 changes the output, and the module with
    ws_eps=1e-8 matches the functional version run with WS_EPS = 1e-8 (the config has no eps
    key: _bit.validate_config takes exactly its five). Filters scaled by 1e-4 (variance
    ~1e-10) make the eps matter at order 1, not at rounding level."""
    config, params, x = _tiny_case(seed=11)
    params = {k: (v * 1e-4 if k.endswith("conv") or k.endswith("proj") else v) for k, v in params.items()}
    pt = _torch(params)
    with torch.no_grad():
        bit_out = bit.ResNetV2.from_canonical(pt, config)(x)
        timm_out = bit.ResNetV2.from_canonical(pt, config, ws_eps=bit.TIMM_WS_EPS)(x)
        torch.testing.assert_close(bit_out, bit.logits(x, pt, config), rtol=RTOL64, atol=ATOL64)
        assert (bit_out - timm_out).abs().max() > 1e-3
        monkeypatch.setattr(bit, "WS_EPS", bit.TIMM_WS_EPS)
        torch.testing.assert_close(timm_out, bit.logits(x, pt, config), rtol=RTOL64, atol=ATOL64)


def _numpy_bit():
    try:
        from numpy_impl import bit as numpy_bit
    except ImportError:
        return None
    return numpy_bit


@pytest.mark.skipif(_numpy_bit() is None, reason="numpy_impl/bit.py does not exist yet")
def test_module_and_functional_match_numpy_float64():
    config, params, x = _tiny_case(seed=5)
    numpy_bit = _numpy_bit()
    reference = numpy_bit.features(x.numpy(), params, config)
    pt = _torch(params)
    model = bit.ResNetV2.from_canonical(pt, config)
    with torch.no_grad():
        np.testing.assert_allclose(model.features(x).numpy(), reference, rtol=RTOL64, atol=ATOL64)
        np.testing.assert_allclose(bit.features(x, pt, config).numpy(), reference, rtol=RTOL64, atol=ATOL64)
        np.testing.assert_allclose(model(x).numpy(), numpy_bit.logits(x.numpy(), params, config),
                                   rtol=RTOL64, atol=ATOL64)


@pytest.mark.skipif(_numpy_bit() is None, reason="numpy_impl/bit.py does not exist yet")
def test_module_gradients_match_numpys_hand_written_backward():
    """Autograd through the torch-kernel module against numpy_impl.bit.gradients (the whole
    network's backward by hand), every parameter's gradient, train="all", random head."""
    config, params, x = _tiny_case(seed=23, batch=3)
    t = np.random.default_rng(23).integers(0, config["classes"], 3)
    loss_np, grads_np = _numpy_bit().gradients(x.numpy(), t, params, config, train="all")
    model = bit.ResNetV2.from_canonical(_torch(params), config)
    loss_t = torch.nn.functional.cross_entropy(model(x), torch.from_numpy(t))
    loss_t.backward()
    assert abs(loss_t.item() - float(loss_np)) <= 1e-12 * max(1.0, abs(float(loss_np)))
    names, module_params = timm.timm_names(config), dict(model.named_parameters())
    assert set(grads_np) == set(params)
    for name, g in grads_np.items():
        mg = module_params[names[name]].grad
        mg = mg.reshape(config["classes"], -1).T if name == "head/W" else mg
        _assert_grad_close(mg.numpy(), g, name)


# ---- gradients and the train step --------------------------------------------------------

OPT = {"lr": 0.1, "momentum": 0.9}


def _hyper(config, train):
    return {"config": config, "train": train, "optimizer": "momentum_step", "opt": dict(OPT)}


def _opt_state(params, config, train):
    """shared.training.init_opt_state for the trained parameters only (bit_train_step's contract)."""
    from shared.concepts import bit_train_step
    from shared.training import init_opt_state
    state = init_opt_state({k: v.numpy() for k, v in params.items()}, "momentum_step", OPT,
                           names=bit_train_step.trained_names(config, train))
    return {name: {k: torch.from_numpy(np.array(v)) for k, v in s.items()} for name, s in state.items()}


def _loss_batch(config, x, rng):
    return {"x": x, "t": torch.from_numpy(rng.integers(0, config["classes"], x.shape[0]))}


def test_head_mode_leaves_the_backbone_bit_identical():
    config, params, x = _tiny_case(seed=13, batch=4)
    pt = _torch(params)
    before = {k: v.clone() for k, v in pt.items()}
    batch = _loss_batch(config, x, np.random.default_rng(13))
    loss, grads, new, state = bit.train_step(pt, _opt_state(pt, config, "head"), batch, _hyper(config, "head"))
    assert set(grads) == {"head/W", "head/b"} and set(state) == set(grads)
    assert set(new) == set(pt)
    for name in pt:
        if name in grads:
            assert not torch.equal(new[name], before[name]), name  # the head moved
        else:
            assert new[name] is pt[name], name  # handed back as it came
            assert torch.equal(new[name], before[name]), name  # bit-identical
            assert torch.equal(pt[name], before[name]), name  # and the input was not written to
    assert torch.isfinite(loss) and loss.dim() == 0


# Gradients, float64. The backward of a weight standardisation subtracts from each filter's
# gradient its mean and its projection on the standardised filter: sums of terms much larger
# than the result, so a gradient element keeps fewer digits than the forward's ~1e-14.
# Observed (TINY, 4 seeds) at most 5e-11 of the tensor's largest |element|; the bar is 1e-8
# of it, per tensor, element by element (a wrong branch or a dropped term is off at order 1).
GRAD_REL = 1e-8


def _assert_grad_close(actual, expected, what):
    scale = np.abs(expected).max()
    assert scale > 0, f"{what}: an all-zero reference gradient tests nothing"
    worst = np.abs(actual - expected).max()
    assert worst <= GRAD_REL * scale, f"{what}: max |diff| {worst:.3e} > {GRAD_REL} x max |g| {scale:.3e}"


def test_train_step_gradients_match_the_module():
    """'all' and 'head' gradients of the mean softmax cross-entropy: the functional step's
    autograd through im2col/var_mean vs autograd through the module's F.conv2d / F.batch_norm /
    nn.GroupNorm (float64; tolerance as the forward's: the same sums reordered). Each
    parameter's gradient is compared whole, element by element."""
    config, params, x = _tiny_case(seed=17, batch=3)
    pt = _torch(params)
    batch = _loss_batch(config, x, np.random.default_rng(17))
    model = bit.ResNetV2.from_canonical(pt, config)
    torch.nn.functional.cross_entropy(model(x), batch["t"]).backward()
    names = timm.timm_names(config)
    module_grads = {k: dict(model.named_parameters())[names[k]].grad for k in pt}
    module_grads["head/W"] = module_grads["head/W"].reshape(config["classes"], -1).T
    for mode in ("all", "head"):
        loss, grads, new, _ = bit.train_step(pt, _opt_state(pt, config, mode), batch, _hyper(config, mode))
        assert set(grads) == (set(pt) if mode == "all" else {"head/W", "head/b"})
        for name, g in grads.items():
            _assert_grad_close(g.numpy(), module_grads[name].reshape(g.shape).numpy(), f"{mode}: {name}")
            # momentum from v = 0: new = p - lr * g exactly as torch_impl.optimizers computes it
            assert torch.equal(new[name], pt[name] - 0.1 * g), name  # 0.9 * 0 - 0.1 g = -(0.1 g) exactly
        if mode == "all":
            assert all(bool(torch.any(g != 0)) for g in grads.values())  # every parameter learns


def test_head_mode_on_zero_head_matches_all_mode_head_grads():
    """With BiT's zero-initialised head, 'all' gives the backbone exactly zero gradient (the loss
    reads features only through W = 0) and the same head gradients as 'head'."""
    config, params, x = _tiny_case(seed=19, batch=2)
    params["head/W"][:] = 0.0
    params["head/b"][:] = 0.0
    pt = _torch(params)
    batch = _loss_batch(config, x, np.random.default_rng(19))
    _, g_all, _, _ = bit.train_step(pt, _opt_state(pt, config, "all"), batch, _hyper(config, "all"))
    _, g_head, _, _ = bit.train_step(pt, _opt_state(pt, config, "head"), batch, _hyper(config, "head"))
    for name, g in g_all.items():
        if name in g_head:
            torch.testing.assert_close(g, g_head[name], rtol=1e-12, atol=1e-15)
        else:
            assert not torch.any(g), name


def test_train_step_rejects_an_unknown_train_mode():
    config, params, x = _tiny_case()
    pt = _torch(params)
    with pytest.raises(ValueError, match="train"):
        bit.train_step(pt, _opt_state(pt, config, "head"), _loss_batch(config, x, np.random.default_rng(0)),
                       _hyper(config, "backbone"))


# ---- (e) R50x1, 128 x 128, one image, float32 ---------------------------------------------

# float32 through R50x1 (16 units, 49 group norms): the module (F.conv2d, nn.GroupNorm) and
# the functional version (the same ops written out) order their sums differently. Each side
# carries the forward's eps32 K of the features' scale (shared/concepts/bit_features.py: the
# group norms amplify the rounding of their inputs by max T_g / sigma_g, K their sum, <= K_MAX),
# so they differ by at most 2 eps32 K_MAX of max|features| (observed ~2e-5 on features of
# magnitude ~1: 6% of it); the head passes that on times its columns' sizes.
R50_REL = 2 * float(np.finfo(np.float32).eps) * bit_features.K_MAX


def test_r50x1_module_matches_functional_float32():
    config = _r50x1(classes=10)
    rng = np.random.default_rng(RNG_SEED)
    params = _random_params(config, rng, dtype=np.float32)
    pt = _torch(params)
    x = _images(rng, (1, 3, 128, 128), np.float32)
    model = bit.ResNetV2.from_canonical(pt, config)
    assert model.stem.conv.weight.dtype == torch.float32
    with torch.no_grad():
        t0 = time.perf_counter()
        f_mod, y_mod = model.features(x), model(x)
        t1 = time.perf_counter()
        f_fun = bit.features(x, pt, config)
        y_fun = bit.logits(x, pt, config)
        t2 = time.perf_counter()
    print(f"\nR50x1 128x128 float32: module {t1 - t0:.2f} s, functional {t2 - t1:.2f} s; "
          f"max |diff| features {(f_mod - f_fun).abs().max().item():.2e} "
          f"(max |f| {f_mod.abs().max().item():.2f}), logits {(y_mod - y_fun).abs().max().item():.2e}")
    assert f_mod.shape == (1, 2048) and y_mod.shape == (1, 10)
    bound = R50_REL * f_fun.abs().max().item()
    assert (f_mod - f_fun).abs().max().item() <= bound
    assert (y_mod - y_fun).abs().max().item() <= bound * pt["head/W"].abs().sum(dim=0).max().item()
