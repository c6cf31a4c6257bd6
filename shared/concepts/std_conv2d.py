"""std_conv2d: the weight-standardised convolution of BiT (Kolesnikov et al. 2020, Big
Transfer; Qiao et al. 2019, Weight Standardization). Every output filter is standardised
over its (I, kh, kw) weights before an ordinary conv2d:

    w_hat[o] = (w[o] - mean_o) / sqrt(var_o + eps),  var_o the BIASED variance

Where the eps comes from (read in the source, not assumed):
- BiT's reference code, google-research/big_transfer:
  bit_tf2/models.py StandardizedConv2D: tf.nn.moments(kernel, axes=[0, 1, 2]) of the
  HWIO kernel, (kernel - mean) / tf.sqrt(var + 1e-10) (its comment: "Author code uses
  std + 1e-5"); bit_pytorch/models.py StdConv2d: torch.var_mean(w, dim=[1, 2, 3],
  unbiased=False), (w - m) / torch.sqrt(v + 1e-10). Both 1e-10, inside the sqrt: our default.
- timm, timm/layers/std_conv.py StdConv2d: F.batch_norm(weight.reshape(1, O, -1),
  training=True, momentum=0., eps=self.eps), i.e. biased variance, eps inside the sqrt;
  the class default is eps=1e-6, and timm/models/resnetv2.py builds its BiT models with
  partial(StdConv2d, eps=1e-8).
- 1e-5: the PyTorch ports of the ViT-hybrid ResNet, jeonsworld/ViT-pytorch
  models/modeling_resnet.py and Beckschen/TransUNet networks/vit_seg_modeling_resnet_skip.py
  (var_mean, unbiased=False, sqrt(v + 1e-5)); the JAX original they port,
  google-research/vision_transformer vit_jax/models_resnet.py, writes w / (jnp.std(w) + 1e-5):
  eps OUTSIDE the sqrt, a third variant.

When eps matters: it shifts the scale by a factor sqrt(var / (var + eps)) ~ 1 - eps / (2 var).
An ordinary filter (He init over K = 27..2304 weights: var = 2/K ~ 7e-2..9e-4) sees 1e-8 vs
1e-10 as a change of <~ 6e-6 relative, below float32's ~1e-5 tolerance on a conv's output,
while 1e-5 changes it by ~7e-5..6e-3 (porting case ws-eps-1e-5-ordinary-filters). A filter
whose weights are nearly constant (var ~ 1e-10, e.g. decayed towards a constant) is rescaled
by a factor sqrt((var + 1e-8) / (var + 1e-10)) ~ 5..9 between the two (porting case
ws-eps-near-constant-filter).
"""
import numpy as np

from shared import checks, layouts, lazy
from shared.concepts import _conv
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side, Skip, Tolerance

BIT_EPS = 1e-10    # big_transfer bit_tf2/models.py and bit_pytorch/models.py
TIMM_BIT_EPS = 1e-8  # timm/models/resnetv2.py: partial(StdConv2d, eps=1e-8)
VIT_PYTORCH_EPS = 1e-5  # jeonsworld/ViT-pytorch, Beckschen/TransUNet

# float32, norm-wise. w_hat has unit variance per filter (conv2d's cases scale w by
# 1/sqrt(K) instead), so each output is a sum of K <= 147 unit-scale products, max|y| ~ 7..27,
# and dw = dw_hat / sqrt(var + eps) sums N*OH*OW <= 72 products, max|dw| ~ 15..250 (1e6 for
# the near-constant filters). Their rounding is a few ulp of the terms' scale, i.e. of the
# array's largest entry (measured <= 4 ulp of max|want| for every float32 record), while
# entries that cancel to ~0 are far smaller: the table's absolute 1e-6 is 0.03..0.5 ulp of
# max|want| here. Scaled atol 1e-6 = 8.4 float32 ulp (2^-23) of each array's largest entry.
NORMWISE_F32 = Tolerance(1e-6, 1e-5, "float32 sums of K <= 147 unit-scale products (w_hat has unit variance): "
                         "error ~ a few ulp of the largest entry (measured <= 4); 8.4 ulp of max|want|",
                         scaled=True)


def validate(x, w, b, *, stride, padding, eps):
    g = _conv.validate_conv2d("std_conv2d", x, w, b, stride=stride, padding=padding, dilation=1, groups=1)
    checks.require_nonnegative("std_conv2d", "eps", eps)
    fan_in = int(np.prod(checks.shape_of(w)[1:]))
    if fan_in < 2:
        raise ValueError(f"std_conv2d: each filter needs more than one weight to standardise "
                         f"(a single weight has variance 0 and standardises to 0), got w of shape "
                         f"{checks.shape_of(w)}")
    return g


def _make(x_shape, w_shape, bias):
    def make(rng):
        fan_in = w_shape[1] * w_shape[2] * w_shape[3]
        # an offset mean, so that subtracting it matters; the scale is irrelevant to w_hat
        inputs = {"x": rng.standard_normal(x_shape),
                  "w": (0.2 + rng.standard_normal(w_shape)) / np.sqrt(fan_in)}
        if bias:
            inputs["b"] = rng.standard_normal(w_shape[0])
        return inputs
    return make


def _near_constant(rng):
    """Every filter nearly constant: a level of 3e-5 plus spreads 1e-5, 2e-5 and 5e-6, so
    var / eps ~ 1, 4 and 1/4 and eps changes each w_hat by a different factor (1/sqrt(2),
    0.89, 0.45). The level is at most 6 spreads, so the mean subtraction cancels <~ 3 bits
    in float32. (All filters alike: a scaled tolerance is then relative to comparable
    gradients, ~1e5, not to a mix of 1e5 and 1.)"""
    spread = np.array([1e-5, 2e-5, 5e-6]).reshape(3, 1, 1, 1)
    w = 3e-5 + spread * rng.standard_normal((3, 3, 3, 3))
    return {"x": rng.standard_normal((2, 3, 5, 5)), "w": w, "b": rng.standard_normal(3)}


def _pads(x, w, stride, padding):
    return _conv.validate_conv2d("std_conv2d", x, w, None, stride=stride, padding=padding, dilation=1,
                                 groups=1).pads


def _timm_weight(w, eps):
    """timm StdConv2d.forward's weight: F.batch_norm of the weight as a (1, O, I*kh*kw) batch."""
    F = lazy.F()
    return F.batch_norm(w.reshape(1, w.shape[0], -1), None, None, training=True, momentum=0.,
                        eps=eps).reshape_as(w)


def _torch_timm(x, w, b=None, *, stride=1, padding=0, eps=BIT_EPS):
    F = lazy.F()
    x = F.pad(x, _conv.torch_pads(_pads(x, w, stride, padding)))
    return F.conv2d(x, _timm_weight(w, eps), b, stride=stride)


def _tf_bit(x, w, b=None, *, stride=1, padding=0, eps=BIT_EPS):
    """big_transfer bit_tf2's StandardizedConv2D on an HWIO kernel, then tf.nn.conv2d."""
    tf = lazy.tf()
    kernel = layouts.oihw_to_hwio(w)
    mean, var = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
    s = _conv.pair("std_conv2d", "stride", stride)
    y = tf.nn.conv2d(layouts.nchw_to_nhwc(x), (kernel - mean) / tf.sqrt(var + eps), s,
                     _conv.tf_pads(_pads(x, w, stride, padding)))
    y = layouts.nhwc_to_nchw(y)
    return y if b is None else y + tf.reshape(b, (1, -1, 1, 1))


# ---- porting --------------------------------------------------------------------------

def _porting_near_constant(rng):
    inputs = _near_constant(rng)
    del inputs["b"]  # BiT's convs have no bias
    return inputs


def _porting_ordinary(rng):
    # a 3x3 conv from 8 to 8 channels with He-initialised filters: var ~ 2/72 = 0.028. x is
    # scaled by 1/sqrt(K = 72) so that outputs are O(1) (w_hat has unit variance): the porting
    # runner's float32 table tolerance (atol 1e-6) then bounds a few ulp of the output
    return {"x": rng.standard_normal((2, 8, 6, 6)) / np.sqrt(72),
            "w": rng.standard_normal((8, 8, 3, 3)) * np.sqrt(2 / 72)}


def _tf_bit_side(x, w):
    return _tf_bit(x, w, padding=1, eps=BIT_EPS)


def _torch_timm_side(eps):
    def run(x, w):
        return lazy.F().conv2d(x, _timm_weight(w, eps), padding=1)
    return run


def _torch_var_mean_side(eps):
    def run(x, w):
        torch = lazy.torch()
        v, m = torch.var_mean(w, dim=[1, 2, 3], keepdim=True, correction=0)
        return lazy.F().conv2d(x, (w - m) / torch.sqrt(v + eps), padding=1)
    return run


CONCEPT = Concept(
    name="std_conv2d",
    module="conv",
    family="bit_transfer",
    lesson=2,
    math="mu_o = mean_{c,p,q} w[o,c,p,q];  var_o = mean (w[o] - mu_o)^2 (biased);  "
         "w_hat[o] = (w[o] - mu_o) / sqrt(var_o + eps);  y = conv2d(x, w_hat, b);  "
         "backward: (dx, dw_hat) from conv2d's backward, then per filter (K = I kh kw weights) "
         "dw = (dw_hat - mean(dw_hat) - w_hat mean(dw_hat w_hat)) / sqrt(var_o + eps)",
    japanese="重みの標準化付き畳み込み（Weight Standardization、BiTのStdConv2d）",
    signature="std_conv2d(x, w, b=None, *, stride=1, padding=0, eps=1e-10) -> [N, O, OH, OW]; x NCHW, "
              "w OIHW [O, C, kh, kw] standardised per output filter over (C, kh, kw) with the biased "
              "variance, eps inside the sqrt (BiT's 1e-10); padding as conv2d's; no groups, no dilation",
    # the bias is optional (BiT's convs have none) and its gradient is conv2d's sum of dy,
    # so the engine differentiates x and w; parity_tests/test_std_conv2d.py checks db
    differentiable=("x", "w"),
    cases=(
        Case("1x1", _make((2, 4, 5, 5), (3, 4, 1, 1), bias=False), seed=1901,
             note="BiT's bottleneck 1x1 convs: 4 weights per filter"),
        Case("3x3-pad1-bias", _make((2, 3, 6, 6), (4, 3, 3, 3), bias=True), {"padding": 1}, seed=1902),
        Case("3x3-stride2", _make((2, 3, 7, 7), (4, 3, 3, 3), bias=False), {"stride": 2, "padding": 1},
             seed=1903, note="BiT's strided 3x3 (bit_pytorch conv3x3(stride=2, padding=1))"),
        Case("stem-7x7-stride2", _make((1, 3, 12, 12), (4, 3, 7, 7), bias=False), {"stride": 2, "padding": 3},
             seed=1904, note="BiT's root conv 7x7/2 padding 3, 64*wf filters in the paper, 4 here"),
        Case("near-constant-filter", _near_constant, {"padding": 1}, seed=1905,
             note="one filter with var ~ 1e-10 = eps: the eps is half of what w_hat divides by"),
        Case("eps-1e-5", _make((2, 3, 6, 6), (4, 3, 3, 3), bias=True), {"padding": 1, "eps": 1e-5}, seed=1906,
             note="the ViT-pytorch / TransUNet eps, as a keyword"),
    ),
    error_cases=(
        ErrorCase("x-rank-3", lambda: {"x": np.ones((3, 5, 5)), "w": np.ones((2, 3, 3, 3))},
                  ValueError, r"std_conv2d: x must have rank 4 \(\[N, C, H, W\], the canonical NCHW layout\)"),
        ErrorCase("w-rank-3", lambda: {"x": np.ones((1, 3, 5, 5)), "w": np.ones((2, 3, 3))},
                  ValueError, r"std_conv2d: w must have rank 4 \(\[out, in / groups, kh, kw\], "
                              r"the canonical OIHW layout\)"),
        ErrorCase("channel-mismatch", lambda: {"x": np.ones((1, 3, 5, 5)), "w": np.ones((2, 2, 3, 3))},
                  ValueError, r"std_conv2d: w has 2 input channels per filter; x has 3 channels in 1 group\(s\), "
                              r"so w must be \[2, 3, kh, kw\] \(OIHW\)"),
        ErrorCase("negative-eps", lambda: {"x": np.ones((1, 3, 5, 5)), "w": np.ones((2, 3, 3, 3))},
                  ValueError, r"std_conv2d: eps must be a number >= 0, got -1e-10", {"eps": -1e-10}),
        ErrorCase("single-weight-filter", lambda: {"x": np.ones((1, 1, 4, 4)), "w": np.ones((2, 1, 1, 1))},
                  ValueError, r"std_conv2d: each filter needs more than one weight to standardise "
                              r"\(a single weight has variance 0 and standardises to 0\), got w of shape "
                              r"\(2, 1, 1, 1\)"),
    ),
    oracles=(
        Oracle("torch", "timm StdConv2d: F.batch_norm(w.reshape(1, O, -1), training=True, eps) + F.conv2d",
               _torch_timm),
        Oracle("tf", "big_transfer bit_tf2 StandardizedConv2D: tf.nn.moments(HWIO, [0, 1, 2]) + tf.nn.conv2d",
               _tf_bit),
    ),
    overrides=tuple(Override(kind, NORMWISE_F32, dtype="float32") for kind in ("forward", "grad", "builtin")),
    skips=(
        Skip("near-constant-filter", "numeric:w",
             "central differences step h = 1e-6 in w, a fifth to a tenth of the filters' spreads 5e-6..2e-5: "
             "w_hat curves on the scale sqrt(var + eps) ~ 1.1e-5..2.2e-5, so the O((h / 1.1e-5)^2) ~ 1e-2 "
             "truncation error is far above the numeric tolerance; parity_tests/test_std_conv2d.py checks this "
             "case with h = 1e-11"),
    ),
    porting=(
        PortingCase(
            "ws-eps-near-constant-filter",
            "BiT's reference code standardises with sqrt(var + 1e-10); timm builds its BiT ResNetV2 with "
            "StdConv2d(eps=1e-8) (class default 1e-6). On ordinary filters (var >~ 1e-3) the two differ by "
            "<~ 5e-6 relative, below float32 resolution of a conv output. On a filter whose weights are "
            "nearly constant (var ~ 2.5e-11..4e-10) timm's eps dominates the variance and shrinks w_hat 5-9x. Fix: "
            "eps=1e-10 in the ported layer.",
            _porting_near_constant,
            reference=Side("tf", "bit_tf2 StandardizedConv2D: (kernel - mean) / tf.sqrt(var + 1e-10)", _tf_bit_side),
            naive=Side("torch", "timm StdConv2d(eps=1e-8): F.batch_norm(w.reshape(1, O, -1), eps=1e-8)",
                       _torch_timm_side(TIMM_BIT_EPS)),
            fixed=Side("torch", "F.batch_norm(w.reshape(1, O, -1), ..., eps=1e-10)", _torch_timm_side(BIT_EPS)),
            seed=1911,
            source="google-research/big_transfer bit_tf2/models.py, bit_pytorch/models.py (1e-10); "
                   "huggingface/pytorch-image-models timm/layers/std_conv.py (default 1e-6), "
                   "timm/models/resnetv2.py _create_resnetv2_bit (1e-8)"),
        PortingCase(
            "ws-eps-1e-5-ordinary-filters",
            "The widely copied PyTorch StdConv2d of ViT-pytorch and TransUNet standardises with "
            "sqrt(v + 1e-5), BiT's with sqrt(v + 1e-10). On ordinary He-initialised 3x3 filters (var ~ 0.03) "
            "1e-5 already rescales w_hat by ~1 - 1e-5 / (2 var) ~ 1 - 2e-4, twenty times float32's tolerance "
            "(trained deep filters, var ~ 1e-3, ~5e-3). Fix: eps=1e-10 for BiT weights.",
            _porting_ordinary,
            reference=Side("tf", "bit_tf2 StandardizedConv2D: (kernel - mean) / tf.sqrt(var + 1e-10)", _tf_bit_side),
            naive=Side("torch", "var_mean(w, [1, 2, 3], unbiased=False); (w - m) / torch.sqrt(v + 1e-5)",
                       _torch_var_mean_side(VIT_PYTORCH_EPS)),
            fixed=Side("torch", "var_mean(w, [1, 2, 3], unbiased=False); (w - m) / torch.sqrt(v + 1e-10)",
                       _torch_var_mean_side(BIT_EPS)),
            seed=1912,
            source="jeonsworld/ViT-pytorch models/modeling_resnet.py, Beckschen/TransUNet "
                   "networks/vit_seg_modeling_resnet_skip.py (1e-5); google-research/big_transfer "
                   "bit_pytorch/models.py (1e-10)"),
    ),
)
