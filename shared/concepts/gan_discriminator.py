"""gan_discriminator: DCGAN's discriminator for the digits, images [N, 1, 8, 8] in [-1, 1]
to one logit per image [N] (architecture and parameter layouts in
shared/concepts/_gan.py). The logit goes to binary_cross_entropy through a sigmoid."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _gan
from shared.spec import Case, Concept, ErrorCase, Oracle


def _weights(rng, f1, f2):
    # ~ 1/sqrt(fan_in): O(1) pre-activations on both sides of the leaky relu's kink
    return {"W_c1": rng.standard_normal((f1, 1, 4, 4)) / 4,
            "b_c1": 0.1 * rng.standard_normal(f1),
            "W_c2": rng.standard_normal((f2, f1, 4, 4)) / np.sqrt(16 * f1),
            "b_c2": 0.1 * rng.standard_normal(f2),
            "W_fc": rng.standard_normal((f2 * 4, 1)) / np.sqrt(f2 * 4),
            "b_fc": 0.1 * rng.standard_normal(1)}


def _random(n, f1, f2):
    def make(rng):
        return {"x": np.tanh(rng.standard_normal((n, *_gan.IMAGE))), **_weights(rng, f1, f2)}
    return make


def _digits(n, init):
    def make(rng):
        from shared.data import digits
        x = _gan.images(digits().x_train[rng.choice(200, n, replace=False)])
        params = _gan.init_discriminator(rng, 4, 8) if init else _weights(rng, 4, 8)
        return {"x": x, **params}
    return make


def _torch_sequential(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=_gan.NEGATIVE_SLOPE):
    """The discriminator as torch users write it, run by torch.func.functional_call with
    our tensors as its parameters, so autograd reaches them."""
    torch, nn = lazy.torch(), lazy.torch().nn
    f1, f2 = W_c1.shape[0], W_c2.shape[0]
    k, s, p = _gan.KERNEL, _gan.STRIDE, _gan.PAD
    model = nn.Sequential(
        nn.Conv2d(1, f1, k, s, p), nn.LeakyReLU(negative_slope),
        nn.Conv2d(f1, f2, k, s, p), nn.LeakyReLU(negative_slope),
        nn.Flatten(), nn.Linear(f2 * 4, 1),
    ).to(dtype=x.dtype, device=x.device)
    # Conv2d keeps OIHW, the canonical layout; nn.Linear keeps weight [out, in] = W.T
    params = {"0.weight": W_c1, "0.bias": b_c1, "2.weight": W_c2, "2.bias": b_c2,
              "5.weight": W_fc.T, "5.bias": b_fc}
    return torch.func.functional_call(model, params, (x,))[:, 0]


def _keras_sequential(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=_gan.NEGATIVE_SLOPE):
    """The discriminator as a Keras Sequential in NHWC; value only (the layers own their
    weights as variables)."""
    keras = lazy.keras()
    f2 = int(W_c2.shape[0])
    dtype = x.dtype.name

    def leaky(h):
        # not keras.layers.LeakyReLU: TF's LeakyRelu op keeps its slope as a float32
        # attribute, 2^-24 off in float64 (leaky_relu's porting case tf-leaky-relu-float64-alpha)
        return keras.ops.where(h > 0, h, negative_slope * h)

    model = keras.Sequential([
        keras.Input(_gan.IMAGE[1:] + _gan.IMAGE[:1], dtype=dtype),
        # k=4, s=2: 'same' pads k - s = 2 as (1, 1), torch's padding=1
        keras.layers.Conv2D(int(W_c1.shape[0]), _gan.KERNEL, strides=_gan.STRIDE, padding="same", dtype=dtype),
        keras.layers.Lambda(leaky, dtype=dtype),
        keras.layers.Conv2D(f2, _gan.KERNEL, strides=_gan.STRIDE, padding="same", dtype=dtype),
        keras.layers.Lambda(leaky, dtype=dtype),
        keras.layers.Flatten(dtype=dtype),  # NHWC: (H, W, C) order
        keras.layers.Dense(1, dtype=dtype),
    ])
    c = np.asarray
    model.layers[0].set_weights([layouts.oihw_to_hwio(c(W_c1)), c(b_c1)])
    model.layers[2].set_weights([layouts.oihw_to_hwio(c(W_c2)), c(b_c2)])
    model.layers[5].set_weights([layouts.dense_rows_chw_to_hwc(c(W_fc), f2, _gan.BASE, _gan.BASE), c(b_fc)])
    return model(layouts.nchw_to_nhwc(x))[:, 0]


def _good(**change):
    def make():
        inputs = _random(4, 4, 8)(np.random.default_rng(0))
        inputs.update(change)
        return inputs
    return make


CONCEPT = Concept(
    name="gan_discriminator",
    module="gan",
    family="gan",
    lesson=2,
    function="discriminator",
    math="h1 = leaky_relu(conv2d(x, W_c1, b_c1; s=2, p=1), 0.2),  h2 = leaky_relu(conv2d(h1, W_c2, b_c2; "
         "s=2, p=1), 0.2),  logit = flatten_CHW(h2) W_fc + b_fc;  backward: affine, leaky_relu (slope 1 or "
         "0.2) and conv2d backward, layer by layer",
    japanese="敵対的生成ネットワーク（DCGAN）の識別器",
    signature="discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=0.2) -> logits [N]; "
              "x [N, 1, 8, 8] in [-1, 1]; W_c1 [F1, 1, 4, 4] and W_c2 [F2, F1, 4, 4] OIHW; W_fc [F2*4, 1] rows "
              "(C, H, W); a model is the dict of the parameters, discriminator(x, **params), init: "
              "_gan.init_discriminator",
    differentiable=("x",) + _gan.DISCRIMINATOR_PARAMS,
    cases=(
        Case("n4-f4-f8", _random(4, 4, 8), seed=711, note="O(1) weights: both sides of the leaky relu"),
        Case("n5-f3-f6", _random(5, 3, 6), seed=712),
        Case("digits-n6", _digits(6, init=False), seed=713, note="real digits scaled to [-1, 1]"),
        Case("digits-dcgan-init-n8", _digits(8, init=True), seed=714, note="DCGAN's N(0, 0.02) init, biases 0"),
        Case("slope-0.01", _random(4, 4, 4), {"negative_slope": 0.01}, seed=715, note="torch's default slope"),
    ),
    error_cases=(
        ErrorCase("flat-images", _good(x=np.ones((4, 64))), ValueError,
                  r"gan_discriminator: x must be images \[N, 1, 8, 8\] \(NCHW; the digits' 64 pixels reshaped, "
                  r"scaled to \[-1, 1\]\), got shape \(4, 64\)"),
        ErrorCase("image-size", _good(x=np.ones((4, 1, 10, 10))), ValueError,
                  r"gan_discriminator: x must be images \[N, 1, 8, 8\] .*got shape \(4, 1, 10, 10\)"),
        ErrorCase("W_c2-in-channels", _good(W_c2=np.ones((8, 3, 4, 4))), ValueError,
                  r"gan_discriminator: W_c2 must have shape \(8, 4, 4, 4\) \(OIHW with F1 = 4 input channels\), "
                  r"got shape \(8, 3, 4, 4\)"),
        ErrorCase("W_fc-hwc-rows", _good(W_fc=np.ones((8, 1))), ValueError,
                  r"gan_discriminator: W_fc must have shape \(32, 1\) \(\[F2\*2\*2, 1\]: the \[8, 2, 2\] feature "
                  r"map flattened in \(C, H, W\) order, one logit\), got shape \(8, 1\)"),
        ErrorCase("b_c1-shape", _good(b_c1=np.ones(3)), ValueError,
                  r"gan_discriminator: b_c1 must have shape \(4,\) \(one bias per filter of W_c1\)"),
    ),
    oracles=(
        Oracle("torch", "nn.Sequential(Conv2d, LeakyReLU, Conv2d, LeakyReLU, Flatten, Linear) via "
                        "torch.func.functional_call", _torch_sequential),
        Oracle("tf", "keras.Sequential(Conv2D('same'), leaky, Conv2D('same'), leaky, Flatten, Dense) with W_fc's "
                     "rows reordered (C, H, W) -> (H, W, C)", _keras_sequential, differentiable=False),
    ),
)
