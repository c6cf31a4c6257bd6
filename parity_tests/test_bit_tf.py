"""BiT in TensorFlow and BiT's own checkpoint format: facts the generic parity run does not state.

- shared.bit_weights: the canonical dict <-> BiT .npz (google-research/big_transfer) converters
  round-trip exactly, through a file too, with the checkpoint's literal names and shapes
  (as bit_pytorch/models.py load_from reads them) for TINY and R50x1, and name what is
  missing or unexpected;
- tf_impl.bit.ResNetV2 (TensorFlow's own kernels, NHWC, checkpoint-named variables) and the
  functional tf_impl.bit (this repo's im2col std_conv2d and group_norm, NCHW) agree on
  features and on the gradients of the loss, and both agree with numpy_impl.bit when it
  exists (and with torch_impl.bit when torch is installed);
- ResNetV2 exported by tf_impl.hub.export_feature_extractor loads through
  tf_impl.hub.build_classifier (hub.KerasLayer) with the module's features and the right
  trainable parameter counts;
- a train step in "head" mode leaves every backbone tensor bit-identical.

The npz tests need NumPy only; the rest skip, naming the missing package.
"""
import warnings

import numpy as np
import pytest

from parity_tests.conftest import needs

from shared import backends, bit_weights
from shared.concepts import bit_features

HAVE_TF = backends.installed("tf")
if HAVE_TF:
    backends.import_tensorflow()  # TF's start-up notes silenced, as parity_tests/test_hub.py does
needs_tf = pytest.mark.skipif(not HAVE_TF, reason="tensorflow not installed")

RNG_SEED = 2020

TINY_FALLBACK = {"depth": (1, 1, 1, 1), "root_channels": 8, "out_channels": (16, 16, 32, 32), "groups": 4,
                 "classes": 5}
R50X1_FALLBACK = {"depth": (3, 4, 6, 3), "root_channels": 64, "out_channels": (256, 512, 1024, 2048),
                  "groups": 32, "classes": 10}


def _spec():
    try:
        from shared.concepts import _bit
    except ImportError:
        return None
    return _bit


def _tiny():
    spec = _spec()
    return dict(spec.TINY) if spec is not None and hasattr(spec, "TINY") else dict(TINY_FALLBACK)


def _r50x1(classes=10):
    spec = _spec()
    if spec is not None and hasattr(spec, "bit_config"):
        return spec.bit_config("R50x1", classes)
    return dict(R50X1_FALLBACK, classes=classes)


def _canonical_shapes(config):
    """Canonical shapes from the contract, written out here (not from the module under test)."""
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
    """Every tensor random and away from the initialiser's special values: GN gamma near 1,
    beta near 0 but not equal, a non-zero head (BiT's zero head would make the backbone's
    gradient exactly 0)."""
    params = {}
    for name, shape in _canonical_shapes(config).items():
        draw = rng.standard_normal(shape)
        if name.endswith("gamma"):
            draw = 1.0 + 0.2 * draw
        elif name.endswith("beta") or name.startswith("head/"):
            draw = 0.2 * draw
        params[name] = draw.astype(dtype)
    return params


# ---- (a) the BiT .npz converters (NumPy only) -------------------------------------------

# Literal checkpoint names and shapes of BiT-M-R50x1.npz with a 10-class head, as
# big_transfer bit_pytorch/models.py reads them: ResNetV2.load_from(weights, prefix='resnet/')
# -> root_block/standardized_conv2d/kernel, group_norm/{gamma,beta}, head/conv2d/{kernel,bias};
# PreActBottleneck.load_from(prefix='resnet/block{i}/unit{j:02d}/') -> {a,b,c}/standardized_conv2d/kernel,
# {a,b,c}/group_norm/{gamma,beta}, a/proj/standardized_conv2d/kernel; tf2th transposes HWIO -> OIHW.
R50X1_NPZ = {
    "resnet/root_block/standardized_conv2d/kernel": (7, 7, 3, 64),
    "resnet/block1/unit01/a/group_norm/gamma": (64,),
    "resnet/block1/unit01/a/proj/standardized_conv2d/kernel": (1, 1, 64, 256),
    "resnet/block1/unit01/a/standardized_conv2d/kernel": (1, 1, 64, 64),
    "resnet/block1/unit01/b/group_norm/beta": (64,),
    "resnet/block1/unit01/b/standardized_conv2d/kernel": (3, 3, 64, 64),
    "resnet/block1/unit01/c/group_norm/gamma": (64,),
    "resnet/block1/unit01/c/standardized_conv2d/kernel": (1, 1, 64, 256),
    "resnet/block1/unit02/a/group_norm/gamma": (256,),
    "resnet/block2/unit01/a/proj/standardized_conv2d/kernel": (1, 1, 256, 512),
    "resnet/block3/unit06/b/standardized_conv2d/kernel": (3, 3, 256, 256),
    "resnet/block4/unit03/a/group_norm/gamma": (2048,),
    "resnet/block4/unit03/c/standardized_conv2d/kernel": (1, 1, 512, 2048),
    "resnet/group_norm/gamma": (2048,),
    "resnet/group_norm/beta": (2048,),
    "resnet/head/conv2d/kernel": (1, 1, 2048, 10),
    "resnet/head/conv2d/bias": (10,),
}
# root + 16 units x 9 (a, b, c: group_norm gamma, beta and a kernel) + 4 projections + final GN 2 + head 2
R50X1_NPZ_KEYS = 1 + 16 * 9 + 4 + 2 + 2


def _assert_same(a, b):
    assert set(a) == set(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        assert np.array_equal(a[name], b[name]), name  # transposes and reshapes only: bit-exact


def test_tiny_round_trip_is_exact_both_ways():
    config = _tiny()
    params = _random_params(config, np.random.default_rng(RNG_SEED))
    npz = bit_weights.to_bit_npz(params)
    assert len(npz) == len(params)
    assert {k: v.shape for k, v in npz.items()} == bit_weights.bit_shapes(config)
    back = bit_weights.from_bit_npz(npz, config)
    _assert_same(back, params)
    spec = _spec()
    if spec is not None and hasattr(spec, "param_names"):
        assert list(back) == list(spec.param_names(config))  # the spec's order
    _assert_same(bit_weights.to_bit_npz(back), npz)
    # copies: writing into the checkpoint dict leaves the canonical arrays alone
    npz["resnet/root_block/standardized_conv2d/kernel"][...] = 0
    assert np.any(params["root/conv"] != 0)


def test_layouts_are_hwio_and_a_1x1_conv_head():
    """A kernel's value at OIHW [o, i, h, w] is at HWIO [h, w, i, o]; head W[c, k] = kernel[0, 0, c, k]."""
    config = _tiny()
    params = _random_params(config, np.random.default_rng(RNG_SEED + 1))
    npz = bit_weights.to_bit_npz(params)
    root, proj = params["root/conv"], params["block2/unit01/a/proj"]
    np.testing.assert_array_equal(npz["resnet/root_block/standardized_conv2d/kernel"][5, 1, 2, 7], root[7, 2, 5, 1])
    np.testing.assert_array_equal(npz["resnet/root_block/standardized_conv2d/kernel"],
                                  root.transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(npz["resnet/block2/unit01/a/proj/standardized_conv2d/kernel"][0, 0],
                                  proj[:, :, 0, 0].T)
    head = npz["resnet/head/conv2d/kernel"]
    assert head.shape == (1, 1, config["out_channels"][-1], config["classes"])
    np.testing.assert_array_equal(head[0, 0], params["head/W"])
    np.testing.assert_array_equal(npz["resnet/head/conv2d/bias"], params["head/b"])


def test_tiny_file_round_trip_and_npzfile(tmp_path):
    config = _tiny()
    params = _random_params(config, np.random.default_rng(RNG_SEED + 2), dtype=np.float32)
    path = bit_weights.save_bit_npz(params, tmp_path / "tiny.npz")
    assert path == str(tmp_path / "tiny.npz")
    with np.load(path) as npz:  # what BiT's loaders do: np.load, then index by name
        assert set(npz.files) == set(bit_weights.bit_shapes(config))
        _assert_same(bit_weights.from_bit_npz(npz), params)  # an NpzFile is accepted as it is
    _assert_same(bit_weights.load_bit_npz(path, config), params)
    # the path is used as given: no ".npz" appended
    other = bit_weights.save_bit_npz(params, tmp_path / "tiny.weights")
    _assert_same(bit_weights.load_bit_npz(other), params)


def test_r50x1_literal_names_and_shapes_and_file_round_trip(tmp_path):
    """R50x1 with every array present (25.5 M float32 values, ~100 MB): each filled with its
    own index, so that a name swap between two same-shaped tensors would show."""
    config = _r50x1(classes=10)
    shapes = bit_weights.bit_shapes(config)
    assert len(shapes) == R50X1_NPZ_KEYS
    for key, shape in R50X1_NPZ.items():
        assert shapes[key] == shape, key
    assert not any(k.startswith("resnet/block1/unit02/a/proj") for k in shapes)  # projections in unit01 only
    params = {name: np.full(shape, k, dtype=np.float32)
              for k, (name, shape) in enumerate(_canonical_shapes(config).items())}
    # backbone 23,500,352 (+ a 1000-class head: 25,549,352, timm's resnetv2_50x1_bit count) + a 10-class head
    assert sum(v.size for v in params.values()) == 23_500_352 + 2048 * 10 + 10
    npz = bit_weights.to_bit_npz(params)
    assert {k: v.shape for k, v in npz.items()} == shapes
    path = bit_weights.save_bit_npz(params, tmp_path / "BiT-R50x1.npz")
    _assert_same(bit_weights.load_bit_npz(path, config), params)


def test_missing_and_unexpected_names_are_listed():
    config = _tiny()
    npz = bit_weights.to_bit_npz(_random_params(config, np.random.default_rng(3)))
    broken = dict(npz)
    broken.pop("resnet/block2/unit01/a/proj/standardized_conv2d/kernel")
    broken["resnet/head/dense/kernel"] = np.zeros((32, 5))
    with pytest.raises(ValueError, match=r"missing \['resnet/block2/unit01/a/proj.*unexpected \['resnet/head/dense"):
        bit_weights.from_bit_npz(broken)
    # a missing middle unit: the deeper one tells the depth, the gap is named
    deeper = dict(npz, **{k.replace("unit01", "unit03"): v for k, v in npz.items()
                          if k.startswith("resnet/block1/unit01/") and "/proj/" not in k})
    with pytest.raises(ValueError, match="block1/unit02/a/group_norm/gamma"):
        bit_weights.from_bit_npz(deeper)
    # a backbone-only checkpoint: the error says how to load it; head=False does
    backbone = {k: v for k, v in npz.items() if "/head/" not in k}
    with pytest.raises(ValueError, match="head=False"):
        bit_weights.from_bit_npz(backbone)
    assert set(bit_weights.from_bit_npz(backbone, head=False)) == set(_canonical_shapes(config)) - {"head/W",
                                                                                                      "head/b"}
    # a config check catches a checkpoint of another width
    with pytest.raises(ValueError, match="root_block.*config"):
        bit_weights.from_bit_npz(npz, dict(config, root_channels=16))
    with pytest.raises(ValueError, match="missing"):
        bit_weights.to_bit_npz({k: v for k, v in _random_params(config, np.random.default_rng(4)).items()
                                if k != "gn/beta"})
    with pytest.raises(KeyError, match="not a canonical"):
        bit_weights.to_bit_npz({"fc.weight": np.zeros(1)})


def test_name_functions_are_inverse():
    for name in _canonical_shapes(_r50x1()):
        assert bit_weights.canonical_name(bit_weights.bit_name(name)) == name


# ---- TF: module vs functional ---------------------------------------------------------

# float64, TINY: the module (tf.nn.conv2d, tf.nn.moments + batch_normalization on NHWGS) and the
# functional version (im2col matmul, group_norm's own statistics) sum in different orders. Each
# rounding is ~1e-16 relative and the 14 GroupNorms re-normalise, so errors do not compound:
# observed <= 6e-15 (module vs functional) and <= 1.4e-14 (either vs numpy_impl.bit) on features
# up to 2.2. 1e-10 leaves a margin of 1e4 and still catches a wrong
# layer, stride, pad or order (those differ at order 1). The same bar as parity_tests/test_bit_torch.py.
RTOL64, ATOL64 = 1e-10, 1e-10


def _tf():
    import tensorflow as tf
    return tf


def _tf_bit():
    from tf_impl import bit
    return bit


def _tiny_case(seed=RNG_SEED, batch=2, size=32, dtype=np.float64):
    config = _tiny()
    rng = np.random.default_rng(seed)
    params = _random_params(config, rng, dtype)
    return config, params, rng.random((batch, 3, size, size)).astype(dtype)  # NCHW in [0, 1], BiT's range


@needs_tf
def test_module_variables_carry_the_checkpoint_names():
    config, params, _ = _tiny_case()
    module = _tf_bit().ResNetV2(params, config)
    names = {v.name for v in module.variables}
    assert names == {k + ":0" for k in bit_weights.bit_shapes(config, head=False)}
    assert "resnet/block1/unit01/a/group_norm/gamma:0" in names
    assert len(module.trainable_variables) == len(module.variables)  # GroupNorm keeps no statistics
    for v in module.variables:
        assert tuple(v.shape) == bit_weights.bit_shapes(config)[v.name[:-2]], v.name
    back = module.to_canonical()
    _assert_same(back, {k: v for k, v in params.items() if not k.startswith("head/")})


@needs_tf
@pytest.mark.parametrize("size", [(32, 32), (37, 45)], ids=["32x32", "37x45"])
def test_module_matches_functional_float64(size):
    """37 x 45 exercises the zero pad before the pool and the floor of every stride."""
    tf, bit = _tf(), _tf_bit()
    config, params, x = _tiny_case(seed=7)
    x = np.random.default_rng(7).random((2, 3) + size)
    module = bit.ResNetV2(params, config)
    assert module.variables[0].dtype == tf.float64
    f_mod = module(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), training=True).numpy()
    f_fun = bit.features(tf.constant(x), params, config).numpy()
    assert f_fun.shape == (2, config["out_channels"][-1])
    np.testing.assert_allclose(f_mod, f_fun, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(module.features_nchw(x).numpy(), f_fun, rtol=RTOL64, atol=ATOL64)
    y = bit.logits(tf.constant(x), params, config).numpy()
    np.testing.assert_allclose(y, f_fun @ params["head/W"] + params["head/b"], rtol=RTOL64, atol=ATOL64)


def _numpy_bit():
    try:
        from numpy_impl import bit as numpy_bit
    except ImportError:
        return None
    return numpy_bit


@needs_tf
@pytest.mark.skipif(_numpy_bit() is None, reason="numpy_impl/bit.py does not exist yet")
def test_module_and_functional_match_numpy_float64():
    tf, bit = _tf(), _tf_bit()
    config, params, x = _tiny_case(seed=5)
    numpy_bit = _numpy_bit()
    reference = numpy_bit.features(x, params, config)
    module = bit.ResNetV2(params, config)
    np.testing.assert_allclose(module.features_nchw(x).numpy(), reference, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(bit.features(tf.constant(x), params, config).numpy(), reference,
                               rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(bit.logits(tf.constant(x), params, config).numpy(),
                               numpy_bit.logits(x, params, config), rtol=RTOL64, atol=ATOL64)


# R50x1 at 128 x 128, one image: float32 through 16 units (53 standardised convs, sums of up to
# 3*3*512 = 4,608 terms, ~sqrt(n) * 6e-8 ~ 4e-6 relative each), the group norms re-normalising
# after every conv so that errors add over the depth rather than multiply. Observed 4.8e-5 abs on
# features up to 1.6 (module float32 vs numpy_impl.bit float64). Bar: 5e-4 of the largest |value|
# (at least 1), as parity_tests/test_bit_torch.py's R50x1 check. float64: observed 7e-14, bar 1e-10.
R50_REL = 5e-4


@needs_tf
@pytest.mark.skipif(_numpy_bit() is None, reason="numpy_impl/bit.py does not exist yet")
def test_r50x1_module_matches_numpy():
    bit = _tf_bit()
    config = _r50x1(classes=10)
    rng = np.random.default_rng(RNG_SEED)
    params = _random_params(config, rng)
    x = rng.random((1, 3, 128, 128))
    reference = _numpy_bit().features(x, params, config)
    assert reference.shape == (1, 2048)
    f64 = bit.ResNetV2(params, config).features_nchw(x).numpy()
    np.testing.assert_allclose(f64, reference, rtol=RTOL64, atol=ATOL64)
    f32 = bit.ResNetV2(params, config, dtype=np.float32).features_nchw(x.astype(np.float32)).numpy()
    assert f32.dtype == np.float32
    assert np.abs(f32 - reference).max() <= R50_REL * max(1.0, np.abs(reference).max())


@needs_tf
@needs("torch")
def test_functional_matches_torch_float64():
    import torch
    from torch_impl import bit as torch_bit
    tf, bit = _tf(), _tf_bit()
    config, params, x = _tiny_case(seed=9)
    expected = torch_bit.logits(torch.from_numpy(x), {k: torch.from_numpy(v) for k, v in params.items()},
                                config).detach().numpy()
    np.testing.assert_allclose(bit.logits(tf.constant(x), params, config).numpy(), expected,
                               rtol=RTOL64, atol=ATOL64)


@needs_tf
def test_module_from_a_bit_npz_file(tmp_path):
    """A checkpoint file (with a head) loads into the module: the head is left out."""
    bit = _tf_bit()
    config, params, x = _tiny_case(seed=21)
    path = bit_weights.save_bit_npz(params, tmp_path / "tiny.npz")
    module = bit.ResNetV2.from_bit_npz(path, config)
    np.testing.assert_array_equal(module.features_nchw(x).numpy(), bit.ResNetV2(params, config).features_nchw(x))


# ---- gradients and the train step --------------------------------------------------------

def _hyper(config, train, lr=0.1):
    """shared/concepts/bit_train_step.py's hyper: "train" is "head" or "all"."""
    return {"config": config, "train": train, "optimizer": "momentum_step", "opt": {"lr": lr, "momentum": 0.9}}


def _opt_state(params, train):
    """One momentum state per TRAINED parameter (bit_train_step's contract)."""
    names = ("head/W", "head/b") if train == "head" else tuple(params)
    return {k: {"v": np.zeros_like(params[k])} for k in names}


def _batch(config, x, seed):
    return {"x": x, "t": np.random.default_rng(seed).integers(0, config["classes"], x.shape[0])}


@needs_tf
def test_head_mode_leaves_the_backbone_bit_identical():
    tf, bit = _tf(), _tf_bit()
    config, params, x = _tiny_case(seed=13, batch=4)
    before = {k: v.copy() for k, v in params.items()}
    loss, grads, new, new_state = bit.train_step(params, _opt_state(params, "head"),
                                                 _batch(config, tf.constant(x), 13), _hyper(config, "head"))
    assert set(grads) == {"head/W", "head/b"} == set(new_state)
    assert set(new) == set(params)
    for name in params:
        if name in grads:
            assert not np.array_equal(np.asarray(new[name]), before[name]), name  # the head moved
        else:
            assert new[name] is params[name], name  # handed back as it came
            assert np.array_equal(np.asarray(new[name]), before[name]), name  # bit-identical
        assert np.array_equal(params[name], before[name]), name  # the input was not written to
    assert loss.shape == () and np.isfinite(loss.numpy())


@needs_tf
def test_train_step_gradients_match_the_modules_tape():
    """'all' and 'head' gradients of the mean softmax cross-entropy: the functional step's tape
    through im2col / group_norm vs a tape through ResNetV2 (tf.nn.conv2d, tf.nn.moments) under
    a head of the same W, b (float64; tolerance as the forward's, the same sums reordered; the
    backward adds one more pass of reordered sums: 1e-9 relative). The module's HWIO gradient
    goes through bit_weights to the canonical layout; each gradient is compared whole."""
    tf, bit = _tf(), _tf_bit()
    from tf_impl.losses import softmax_with_loss
    config, params, x = _tiny_case(seed=17, batch=3)
    batch = _batch(config, tf.constant(x), 17)
    module = bit.ResNetV2(params, config)
    W, b = tf.Variable(params["head/W"]), tf.Variable(params["head/b"])
    with tf.GradientTape() as tape:
        loss = softmax_with_loss(module.features_nchw(x) @ W + b, batch["t"])
    variables = list(module.variables) + [W, b]
    g = dict(zip([v.name[:-2] for v in module.variables] + ["head/W", "head/b"], tape.gradient(loss, variables)))
    module_grads = bit_weights.from_bit_npz({k: v.numpy() for k, v in g.items() if k.startswith("resnet/")},
                                            head=False)
    module_grads.update({"head/W": g["head/W"].numpy(), "head/b": g["head/b"].numpy()})
    for mode in ("all", "head"):
        loss_f, grads, new, _ = bit.train_step(params, _opt_state(params, mode), batch, _hyper(config, mode))
        np.testing.assert_allclose(loss_f.numpy(), loss.numpy(), rtol=RTOL64, atol=ATOL64)
        assert set(grads) == (set(params) if mode == "all" else {"head/W", "head/b"})
        for name, grad in grads.items():
            np.testing.assert_allclose(grad.numpy(), module_grads[name], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{mode}: {name}")
            # momentum from v = 0: v = 0.9 * 0 - 0.1 g = -(0.1 g) exactly, new = p + v
            assert np.array_equal(np.asarray(new[name]), params[name] - 0.1 * grad.numpy()), name
        if mode == "all":
            assert all(np.any(grad.numpy() != 0) for grad in grads.values())  # every parameter learns


@needs_tf
def test_train_step_rejects_an_unknown_train_value_and_the_mode_key():
    bit = _tf_bit()
    config, params, x = _tiny_case()
    batch = _batch(config, x, 0)
    with pytest.raises(ValueError, match=r"hyper\['train'\] must be one of"):
        bit.train_step(params, _opt_state(params, "all"), batch, _hyper(config, "backbone"))
    hyper = _hyper(config, "head")
    hyper["mode"] = hyper.pop("train")
    with pytest.raises(ValueError, match="'train'"):
        bit.train_step(params, _opt_state(params, "head"), batch, hyper)


# ---- (d) TF Hub: export the module, load it under the seed's classifier --------------------

# float32: the loaded SavedModel runs the ops the module traced, but as a graph that grappler
# may rewrite (fusing, constant folding), so float32 roundings land in other places. Each
# side carries the forward's eps32 K of the features' scale (shared/concepts/bit_features.py:
# the group norms amplify the rounding of their inputs by max T_g / sigma_g, K their sum), so
# the two float32 sides differ by at most 2 eps32 K_MAX of max|features| (observed 6.5e-6 abs
# on features up to 2.5: 2% of it); a wrong layer, pad or a lost variable shows at order 0.1-1.
EPS32 = float(np.finfo(np.float32).eps)
TWO_SIDES_F32 = 2 * EPS32 * bit_features.K_MAX
IMAGE_SIZE = (32, 32)


def _hub():
    """tensorflow_hub and tf_keras (a test that calls this needs them: @needs)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tensorflow_hub as hub
    from tf_impl import hub as tf_hub
    return hub, tf_hub


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    hub, tf_hub = _hub()
    bit = _tf_bit()
    config, params, _ = _tiny_case(seed=23, dtype=np.float32)
    module = bit.ResNetV2(params, config)
    path = tf_hub.export_feature_extractor(module, tmp_path_factory.mktemp("bit_hub") / "bit_tiny", IMAGE_SIZE)
    images = np.random.default_rng(23).random((3,) + IMAGE_SIZE + (3,)).astype(np.float32)
    return module, path, images, config


def _size(variables):
    return int(sum(np.prod(v.shape) for v in variables))


@needs("tf", "tf_keras", "tensorflow_hub")
def test_hub_classifier_computes_the_modules_features(exported):
    hub, tf_hub = _hub()
    module, path, images, config = exported
    model = tf_hub.build_classifier(path, IMAGE_SIZE, config["classes"])
    backbone, dense = model.layers
    assert isinstance(backbone, hub.KerasLayer)
    expected = module(images).numpy()
    assert expected.shape == (len(images), config["out_channels"][-1])
    atol = TWO_SIDES_F32 * np.abs(expected).max()
    for training in (False, True):  # both traces of the reusable SavedModel's __call__
        np.testing.assert_allclose(backbone(images, training=training).numpy(), expected, rtol=0, atol=atol)
    kernel, bias = dense.get_weights()
    # the Dense layer passes the features' error on, times its columns' sizes
    np.testing.assert_allclose(model(images).numpy(), expected @ kernel + bias, rtol=0,
                               atol=atol * np.abs(kernel).sum(axis=0).max())
    # the restored variables keep BiT's checkpoint names
    assert {w.name for w in backbone.weights} == {v.name for v in module.variables}


@needs("tf", "tf_keras", "tensorflow_hub")
@pytest.mark.parametrize("do_fine_tuning", [False, True])
def test_hub_classifier_trainable_counts(exported, do_fine_tuning):
    _, tf_hub = _hub()
    module, path, _, config = exported
    backbone_size = sum(int(np.prod(shape)) for name, shape in _canonical_shapes(config).items()
                        if not name.startswith("head/"))
    # TINY: root 8*3*49 = 1,176; units 400 + 576 + 1,536 + 2,208; final GN 64: 5,960 values
    assert _size(module.trainable_variables) == backbone_size == 5_960
    head_size = config["out_channels"][-1] * config["classes"] + config["classes"]
    for do_dense_train in (False, True):
        model = tf_hub.build_classifier(path, IMAGE_SIZE, config["classes"], do_fine_tuning=do_fine_tuning,
                                        do_dense_train=do_dense_train)
        trainable = _size(model.trainable_weights)
        expected = (backbone_size if do_fine_tuning else 0) + (head_size if do_dense_train else 0)
        assert trainable == expected, (do_fine_tuning, do_dense_train)
        assert trainable + _size(model.non_trainable_weights) == backbone_size + head_size
