"""bit_features: BiT's pooled features [B, C_last], the input of its head, for transfer
learning (転移学習). The network (a ResNet-v2 with group norm グループ正規化 and
weight-standardised convolutions 重みの標準化) is written out in shared/concepts/_bit.py.

    features(x, params, config) -> [B, C_last]
        x       [B, 3, H, W] float images (NCHW), H, W >= 32; BiT-M/S expect values in [0, 1]
        params  the canonical flat dict (_bit.param_names(config)), NCHW / OIHW layouts
        config  {"depth", "root_channels", "out_channels", "groups", "classes"}:
                _bit.TINY, or _bit.bit_config("R50x1", classes) etc.

No gradient is checked here (differentiable=()): the gradients of every parameter are
checked through bit_train_step, against central differences and across frameworks.
"""
import numpy as np

from shared.concepts import _bit
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side, Tolerance

# R50x1 at 128 x 128, one image: the float64 NumPy reference takes ~2.2 s, float32 ~1.3 s
# (2 shared CPU cores), so the case is in CASES
R50_HW = (128, 128)
# The forward's rounding, derived per group norm. A group norm divides x_g - mean_g by its
# group's sigma_g. Its input x is a conv's output (or the sum of two: the residual), a sum
# of products rounded at the size of its TERMS, T = sum|u| |w_hat| (|x| can be much smaller:
# the products cancel), so x carries ~eps T, and x - mean and the variance add ~eps max|x_g|
# <= eps max T_g; the normalised output (size ~|gamma| ~ 1) then carries an absolute error
# ~eps kappa_l with
#     kappa_l = max over images and groups of max T_g / sigma_g,
# large where a group's spread is small next to its terms: cancelling convs, a large mean, or
# few values (TINY's last block at 32 x 32: 2 values per group in c/gn, a 1 x 1 map). Every
# layer after a group norm works on normalised values (standardised convs have unit gain per
# filter, the next group norm rescales by its own sigma, the shortcut adds), so the errors of
# the L group norms ADD, to first order, at the output's scale:
#     |features error| / max|features| <= eps K,    K = sum_l kappa_l.
# K is the measured factor (parity_tests/test_bit.py recomputes it on every case and checks
# K_MAX against it): tiny-32 154.5, tiny-40x48 140.2 (13 group norms each), R50x1-128 1291.6
# (49). Assumed, not derived: ~1 eps per sum of terms (blocked or pairwise summation; a
# sequential one of n terms could reach n eps) and the unit downstream gain. Measured on
# R50x1-128: NumPy 61 eps (0.05 eps K), torch 106 eps, TF 200 eps (0.15 eps K: its float32
# sums are rounded 3x more than NumPy's, so |x| alone, not T, would not bound it: with
# kappa = max|x_g| / sigma_g, K = 231 and TF reached 0.85 eps K).
# float32 is compared with the float64 reference (one side rounds): eps32 K_MAX.
# float64: two float64 implementations each carry eps64 K: 2 eps64 K_MAX (torch and TF
# differed from NumPy by 4.2e-14 of the max on R50x1, 7% of it). rtol 0: the bound is norm-wise.
K_MAX = 1300
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)
F32_FORWARD = Tolerance(atol=EPS32 * K_MAX, rtol=0.0, scaled=True,
                        reason=f"group norms add eps (conv terms T) / sigma_g each: eps32 K, K <= {K_MAX}")
F64_FORWARD = Tolerance(atol=2 * EPS64 * K_MAX, rtol=0.0, scaled=True,
                        reason=f"group norms add eps (conv terms T) / sigma_g each, 2 sides: 2 eps64 K, K <= {K_MAX}")


def nhwc_features(x, params, config):
    """NumPy's independent check: the network as BiT's own bit_tf2 writes it, channels last
    (NHWC images, HWIO kernels), each convolution a tensordot over sliding windows instead of
    numpy_impl's im2col matmul, the group norm over [B, H, W, G, C/G]."""
    def conv(h, w, stride=1, padding=0):
        w = w - w.mean(axis=(1, 2, 3), keepdims=True)
        w = w / np.sqrt((w ** 2).mean(axis=(1, 2, 3), keepdims=True) + _bit.WS_EPS)
        h = np.pad(h, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(h, w.shape[2:], axis=(1, 2))[:, ::stride, ::stride]
        return np.tensordot(windows, w, axes=([3, 4, 5], [1, 2, 3]))  # [B, Ho, Wo, C, kh, kw] . [O, C, kh, kw]

    def gn_relu(h, prefix):
        B, H, W, C = h.shape
        g = h.reshape(B, H, W, config["groups"], C // config["groups"])
        g = (g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(g.var(axis=(1, 2, 4), keepdims=True) + _bit.GN_EPS)
        return np.maximum(g.reshape(h.shape) * params[prefix + "gamma"] + params[prefix + "beta"], 0)

    h = conv(np.transpose(x, (0, 2, 3, 1)), params["root/conv"], 2, 3)
    h = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))  # zeros, then max pool 3 x 3, stride 2
    h = np.lib.stride_tricks.sliding_window_view(h, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))
    for p, stride, *_ in _bit.units(config):
        u = gn_relu(h, p + "a/gn/")
        shortcut = conv(u, params[p + "a/proj"], stride) if p + "a/proj" in params else h
        t = conv(gn_relu(conv(u, params[p + "a/conv"]), p + "b/gn/"), params[p + "b/conv"], stride, 1)
        h = conv(gn_relu(t, p + "c/gn/"), params[p + "c/conv"]) + shortcut
    return gn_relu(h, "gn/").mean(axis=(1, 2))


def validate(x, params, config):
    _bit.validate_features(x, params, config)


def _make(config, batch, hw):
    def make(rng):
        params = _bit.init_params(rng, config, head="random", norm="random")
        return {"x": rng.uniform(0.0, 1.0, (batch, 3, *hw)), "params": params}
    return make


def r50_case(classes=10, seed=812):
    config = _bit.bit_config("R50x1", classes)
    return Case("R50x1-128", _make(config, 1, R50_HW), {"config": config}, seed=seed,
                note="R50x1, one 128 x 128 image: a 4 x 4 map before the pooling, 2048 features")


CASES = (
    Case("tiny-32", _make(_bit.TINY, 2, (32, 32)), {"config": dict(_bit.TINY)}, seed=810,
         note="TINY, 2 images 32 x 32: a 1 x 1 map before the pooling"),
    Case("tiny-40x48", _make(_bit.TINY, 3, (40, 48)), {"config": dict(_bit.TINY)}, seed=811,
         note="TINY, 3 images 40 x 48 (non-square): a 2 x 2 map before the pooling"),
    r50_case(),
)


# ---- porting: BiT's input range ------------------------------------------------------------

def _porting_inputs(hw):
    def make(rng):
        return {"x": rng.uniform(0.0, 1.0, (2, 3, *hw)),
                "params": _bit.init_params(rng, _bit.TINY, head="random", norm="random")}
    return make


def _timm_side(scale):
    """torch: our ResNetV2 (timm's module and parameter names) on scale(x), NCHW."""
    def run(x, params, impl):  # impl: torch_impl.bit, passed by the engine (Side.uses)
        return impl.ResNetV2.from_canonical(params, _bit.TINY).features(scale(x))
    return run


def _hub_side(scale):
    """TF: our ResNetV2 (BiT checkpoint names; what tf_impl.hub exports) on scale(x), NHWC."""
    def run(x, params, impl):  # impl: tf_impl.bit, passed by the engine (Side.uses)
        from shared import lazy
        return impl.ResNetV2(params, _bit.TINY)(lazy.tf().transpose(scale(x), (0, 2, 3, 1)))
    return run


def _input_range_case(name, hw, seed, where):
    return PortingCase(
        name,
        "The same BiT weights, two input conventions: TF Hub's BiT modules take images in [0, 1]; timm's BiT "
        "(pretrained_cfg mean = std = 0.5) and big_transfer's own pipeline ((x - 127.5) / 127.5) feed [-1, 1]. "
        "Weight standardisation makes every filter zero-mean and each group norm divides out the scale, so "
        "2x - 1 instead of x changes the features only through the root conv's zero padding at the image "
        f"borders (the max pool's zero pad scales with its input), {where}. Fix: map the range the weights were "
        "trained for, x * 2 - 1.",
        _porting_inputs(hw),
        reference=Side("torch", "model(transforms.Normalize(0.5, 0.5)(x))  # timm's BiT data config",
                       _timm_side(lambda x: (x - 0.5) / 0.5), uses="bit"),
        naive=Side("tf", "hub.KerasLayer(bit)(x_nhwc)  # x in [0, 1], the Hub convention", _hub_side(lambda x: x),
                   uses="bit"),
        fixed=Side("tf", "hub.KerasLayer(bit)(x_nhwc * 2 - 1)", _hub_side(lambda x: x * 2 - 1), uses="bit"),
        dtype="float64",  # cross-framework float64: the fix leaves ~1e-14, far inside the table's tolerance
        seed=seed,
        source="timm/models/resnetv2.py _cfg(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) for the BiT models; "
               "google-research/big_transfer input_pipeline; tfhub.dev BiT model pages (inputs in [0, 1])")


PORTING = (
    _input_range_case("bit-input-range-32px", (32, 32), 813,
                      "here a large change, since at 32 x 32 most positions touch a border"),
    _input_range_case("bit-input-range-128px", (128, 128), 814,
                      "smaller at 128 x 128, where fewer positions do"),
)


def _framework_module(module, ref, kwargs):
    """The `layer` check in torch and TF: each framework's own BiT module, built from the
    canonical params, against the reference features: torch's ResNetV2 (timm's names and
    state_dict order) and TF's ResNetV2 (the BiT checkpoint's names: what tf_impl.hub
    exports). The weights read back through to_canonical must be the params given."""
    x, params, config = ref.inputs["x"], ref.inputs["params"], kwargs["config"]
    if module.__name__.startswith("torch_impl"):
        from shared import lazy
        torch = lazy.torch()
        model = module.ResNetV2.from_canonical(params, config)
        with torch.no_grad():
            got = model.features(torch.tensor(x)).numpy()  # a copy: the reference inputs are read-only
        back = {name: value.numpy() for name, value in model.to_canonical().items()}
        names = list(params)
    else:
        model = module.ResNetV2(params, config)
        got = model.features_nchw(x).numpy()
        back = model.to_canonical()
        names = [name for name in params if not name.startswith("head/")]  # a backbone: no head
    flat = (np.concatenate([np.ravel(back[name]) for name in names]),
            np.concatenate([np.ravel(params[name]) for name in names]))
    return {"forward": (got, ref.out), "round-trip": flat}


def _bad(change, hw=(32, 32)):
    def make():
        inputs = _make(_bit.TINY, 2, hw)(np.random.default_rng(0))
        change(inputs)
        return inputs
    return make


CONCEPT = Concept(
    name="bit_features",
    module="bit",
    family="bit_transfer",
    lesson=3,
    function="features",
    math="root: std_conv 7x7/2, zero pad 1, max_pool 3/2; units h <- h' = c(b(a(relu(GN(h))))) + shortcut "
         "(proj std_conv 1x1/s in unit01, identity else; stride on the 3x3); features = mean_HW relu(GN(h))",
    japanese="BiT の特徴量（転移学習・グループ正規化・重みの標準化）",
    signature="features(x, params, config) -> [B, C_last]",
    differentiable=(),
    cases=CASES,
    porting=PORTING,
    layer=_framework_module,
    layer_backends=("torch", "tf"),
    oracles=(Oracle("numpy", "BiT's channels-last network (bit_tf2's layout, tensordot convolutions)",
                    lambda x, params, config: nhwc_features(x, params, config)),),
    # the channels-last oracle rounds as another implementation does: the same bounds
    overrides=(Override("forward", F32_FORWARD, dtype="float32"),
               Override("forward", F64_FORWARD, dtype="float64"),
               Override("builtin", F32_FORWARD, dtype="float32"),
               Override("builtin", F64_FORWARD, dtype="float64")),
    error_cases=(
        ErrorCase("gray-images", _bad(lambda i: i.update(x=i["x"][:, :1])), ValueError,
                  r"bit_features: x must have 3 channels \(RGB, NCHW\), got shape \(2, 1, 32, 32\)",
                  {"config": dict(_bit.TINY)}),
        ErrorCase("too-small", _bad(lambda i: None, hw=(16, 32)), ValueError,
                  r"bit_features: x must hold at least one image of at least 32 x 32 pixels \(the network's "
                  r"total stride\), got shape \(2, 3, 16, 32\)", {"config": dict(_bit.TINY)}),
        ErrorCase("rank-3", _bad(lambda i: i.update(x=i["x"][0])), ValueError,
                  r"bit_features: x must have rank 4 \(\[B, 3, H, W\], NCHW images\), got rank 3",
                  {"config": dict(_bit.TINY)}),
        ErrorCase("missing-and-extra", _bad(lambda i: i["params"].update(
            {"head/kernel": i["params"].pop("head/W")})), ValueError,
                  r"bit_features: params must hold exactly the 45 canonical arrays of this config; "
                  r"missing \['head/W'\], extra \['head/kernel'\]", {"config": dict(_bit.TINY)}),
        ErrorCase("hwio-kernel", _bad(lambda i: i["params"].update(
            {"block1/unit01/b/conv": i["params"]["block1/unit01/b/conv"].transpose(2, 3, 1, 0)})), ValueError,
                  r"bit_features: params\['block1/unit01/b/conv'\] must have shape \(4, 4, 3, 3\) \(the config's "
                  r"shape\), got shape \(3, 3, 4, 4\)", {"config": dict(_bit.TINY)}),
        ErrorCase("groups-do-not-divide", _bad(lambda i: None), ValueError,
                  r"bit_features: config root_channels = 8 must be a positive multiple of groups = 3",
                  {"config": dict(_bit.TINY, groups=3)}),
    ),
)
