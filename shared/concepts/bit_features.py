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
from shared.spec import Case, Concept, ErrorCase, Override, Tolerance

# R50x1 at 128 x 128, one image: the float64 NumPy reference takes ~2.2 s, float32 ~1.3 s
# (2 shared CPU cores), so the case is in CASES
R50_HW = (128, 128)
# float32: the features pass ~17 group norms; each divides by a group's standard deviation,
# and where a group holds few values (8 channels x 1 pixel at 32 x 32 in TINY's last block)
# the rounding of its mean and variance is amplified. Measured (NumPy float32 vs float64):
# tiny-32 3.0e-6 abs (4.2e-5 rel), R50x1-128 1.3e-5 abs on features up to 1.9 (7e-6 of the max)
F32_FORWARD = Tolerance(atol=2e-5, rtol=1e-4, scaled=True,
                        reason="~17 group norms in a row, some over few values: float32 rounding amplified")
# float64: R50x1 stacks ~50 standardised convs (sums of up to 4,608 products) and group norms;
# torch and TF differed from NumPy by 7.0e-14 and 8.0e-14 abs on features up to 1.9 (79% and
# 176% of the table's 1e-14)
F64_FORWARD = Tolerance(atol=2e-13, rtol=1e-11, scaled=True,
                        reason="R50x1: ~50 convs with sums of up to 4,608 terms and group norms, in float64")


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


def _bad(change, hw=(32, 32)):
    def make():
        inputs = _make(_bit.TINY, 2, hw)(np.random.default_rng(0))
        change(inputs)
        return inputs
    return make


CONCEPT = Concept(
    name="bit_features",
    module="bit",
    function="features",
    math="root: std_conv 7x7/2, zero pad 1, max_pool 3/2; units h <- h' = c(b(a(relu(GN(h))))) + shortcut "
         "(proj std_conv 1x1/s in unit01, identity else; stride on the 3x3); features = mean_HW relu(GN(h))",
    japanese="BiT の特徴量（転移学習・グループ正規化・重みの標準化）",
    signature="features(x, params, config) -> [B, C_last]",
    differentiable=(),
    cases=CASES,
    overrides=(Override("forward", F32_FORWARD, dtype="float32"),
               Override("forward", F64_FORWARD, dtype="float64")),
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
