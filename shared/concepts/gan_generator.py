"""gan_generator: DCGAN's generator for the digits, noise z [N, Z] to images [N, 1, 8, 8] in
[-1, 1] (architecture and parameter layouts in shared/concepts/_gan.py)."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _gan
from shared.spec import Case, Concept, ErrorCase, Oracle


def _random(n, z_dim, c1, c2):
    # weights ~ 1/sqrt(fan_in), not DCGAN's 0.02: O(1) activations reach tanh's curved
    # part and both sides of the relu, so every branch of the backward is exercised
    def make(rng):
        fan_t1, fan_t2 = c1 * _gan.KERNEL ** 2 / 4, c2 * _gan.KERNEL ** 2 / 4  # taps per output pixel at s=2
        return {"z": rng.standard_normal((n, z_dim)),
                "W_fc": rng.standard_normal((z_dim, c1 * 4)) / np.sqrt(z_dim),
                "b_fc": 0.1 * rng.standard_normal(c1 * 4),
                "W_t1": rng.standard_normal((c1, c2, 4, 4)) / np.sqrt(fan_t1),
                "gamma1": 1 + 0.3 * rng.standard_normal(c2),
                "beta1": 0.3 * rng.standard_normal(c2),
                "W_t2": rng.standard_normal((c2, 1, 4, 4)) / np.sqrt(fan_t2),
                "b_t2": 0.1 * rng.standard_normal(1)}
    return make


def _dcgan_init(n, z_dim):
    def make(rng):
        return {"z": rng.standard_normal((n, z_dim)), **_gan.init_generator(rng, z_dim)}
    return make


def _torch_sequential(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=_gan.BN_EPS):
    """The generator as torch users write it, an nn.Sequential; torch.func.functional_call
    runs it with our tensors as its parameters, so autograd reaches them."""
    torch, nn = lazy.torch(), lazy.torch().nn
    c1, c2 = W_t1.shape[:2]
    k, s, p = _gan.KERNEL, _gan.STRIDE, _gan.PAD
    model = nn.Sequential(
        nn.Linear(W_fc.shape[0], W_fc.shape[1]),
        nn.Unflatten(1, (c1, _gan.BASE, _gan.BASE)),
        nn.ConvTranspose2d(c1, c2, k, s, p, bias=False),
        nn.BatchNorm2d(c2, eps=bn_eps),
        nn.ReLU(),
        nn.ConvTranspose2d(c2, 1, k, s, p),
        nn.Tanh(),
    ).to(dtype=z.dtype, device=z.device).train()  # train(): batch statistics
    # nn.Linear keeps weight [out, in] = W.T; ConvTranspose2d keeps IOHW, the canonical layout
    params = {"0.weight": W_fc.T, "0.bias": b_fc, "2.weight": W_t1, "3.weight": gamma1, "3.bias": beta1,
              "5.weight": W_t2, "5.bias": b_t2}
    return torch.func.functional_call(model, params, (z,))


def _keras_sequential(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=_gan.BN_EPS):
    """The generator as a Keras Sequential in NHWC, loaded with the canonical weights; a
    layer owns its weights as variables, so only the value is compared."""
    keras = lazy.keras()
    c1, c2 = (int(d) for d in W_t1.shape[:2])
    dtype = z.dtype.name
    model = keras.Sequential([
        keras.Input((int(z.shape[1]),), dtype=dtype),
        keras.layers.Dense(c1 * 4, dtype=dtype),
        # the affine's columns are (C, H, W): reshape to [C1, 2, 2], then permute to NHWC
        keras.layers.Reshape((c1, _gan.BASE, _gan.BASE), dtype=dtype),
        keras.layers.Permute((2, 3, 1), dtype=dtype),
        # k=4, s=2: 'same' crops k - s = 2 as (1, 1), torch's padding=1
        keras.layers.Conv2DTranspose(c2, _gan.KERNEL, strides=_gan.STRIDE, padding="same", use_bias=False,
                                     dtype=dtype),
        keras.layers.BatchNormalization(epsilon=bn_eps, dtype=dtype),
        keras.layers.ReLU(dtype=dtype),
        keras.layers.Conv2DTranspose(1, _gan.KERNEL, strides=_gan.STRIDE, padding="same", dtype=dtype),
        keras.layers.Activation("tanh", dtype=dtype),
    ])
    c = lambda t: np.asarray(t)  # noqa: E731
    model.layers[0].set_weights([c(W_fc), c(b_fc)])
    model.layers[3].set_weights([layouts.iohw_to_keras_transpose(c(W_t1))])
    model.layers[4].set_weights([c(gamma1), c(beta1), np.zeros(c2), np.ones(c2)])
    model.layers[6].set_weights([layouts.iohw_to_keras_transpose(c(W_t2)), c(b_t2)])
    return layouts.nhwc_to_nchw(model(z, training=True))


def _good(**change):
    def make():
        inputs = _random(4, 8, 8, 4)(np.random.default_rng(0))
        inputs.update(change)
        return inputs
    return make


CONCEPT = Concept(
    name="gan_generator",
    module="gan",
    family="gan",
    lesson=1,
    function="generator",
    math="a = z W_fc + b_fc,  h0 = reshape(a, [N, C1, 2, 2]),  t1 = conv_transpose2d(h0, W_t1; s=2, p=1),  "
         "y = tanh(conv_transpose2d(relu(gamma1 x_hat(t1) + beta1), W_t2, b_t2; s=2, p=1)), x_hat with the "
         "batch's per-channel mean and variance;  backward: tanh' = 1 - y^2, batch_norm's training "
         "backward, each transposed conv's backward is a conv2d",
    japanese="敵対的生成ネットワーク（DCGAN）の生成器",
    signature="generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=1e-5) -> images [N, 1, 8, 8]; "
              "z [N, Z]; W_fc [Z, C1*4] (columns (C, H, W)), W_t1 [C1, C2, 4, 4] and W_t2 [C2, 1, 4, 4] IOHW; "
              "batch norm in training mode (batch statistics); a model is the dict of the parameters, "
              "generator(z, **params), init: _gan.init_generator",
    differentiable=("z",) + _gan.GENERATOR_PARAMS,
    cases=(
        Case("n4-z8-c8-c4", _random(4, 8, 8, 4), seed=701, note="O(1) weights: tanh and relu both bend"),
        Case("n6-z8-c6-c5", _random(6, 8, 6, 5), seed=702, note="channel counts that differ everywhere"),
        Case("dcgan-init-n8", _dcgan_init(8, 8), seed=703,
             note="DCGAN's N(0, 0.02) init: the batch norm rescales the tiny activations back to O(1)"),
        Case("keras-eps-1e-3", _random(5, 8, 4, 4), {"bn_eps": 1e-3}, seed=704,
             note="Keras BatchNormalization's default epsilon"),
    ),
    error_cases=(
        ErrorCase("z-rank", _good(z=np.ones((4, 8, 1))), ValueError,
                  r"gan_generator: z must have rank 2 \(\[N, Z\], one noise vector per image\), "
                  r"got rank 3 \(shape \(4, 8, 1\)\)"),
        ErrorCase("W_fc-shape", _good(W_fc=np.ones((8, 16))), ValueError,
                  r"gan_generator: W_fc must have shape \(8, 32\) \(\[Z, C1\*2\*2\]: Z = 8 from z, C1 = 8 from "
                  r"W_t1, columns in \(C, H, W\) order\), got shape \(8, 16\)"),
        ErrorCase("W_t1-kernel", _good(W_t1=np.ones((8, 4, 3, 3))), ValueError,
                  r"gan_generator: W_t1 must have shape \(8, 4, 4, 4\) \(IOHW, DCGAN's 4 x 4 kernel\), "
                  r"got shape \(8, 4, 3, 3\)"),
        ErrorCase("gamma1-shape", _good(gamma1=np.ones(5)), ValueError,
                  r"gan_generator: gamma1 must have shape \(4,\) \(one batch-norm scale per channel of W_t1's "
                  r"output\), got shape \(5,\)"),
        ErrorCase("W_t2-channels", _good(W_t2=np.ones((4, 3, 4, 4))), ValueError,
                  r"gan_generator: W_t2 must have shape \(4, 1, 4, 4\) \(IOHW: C2 in, one image channel out\), "
                  r"got shape \(4, 3, 4, 4\)"),
        ErrorCase("negative-eps", _good(), ValueError, r"gan_generator: bn_eps must be a number >= 0",
                  {"bn_eps": -1.0}),
    ),
    overrides=_gan.BN_BACKWARD_OVERRIDES,
    oracles=(
        Oracle("torch", "nn.Sequential(Linear, Unflatten, ConvTranspose2d, BatchNorm2d, ReLU, ConvTranspose2d, "
                        "Tanh) via torch.func.functional_call", _torch_sequential),
        Oracle("tf", "keras.Sequential(Dense, Reshape, Permute, Conv2DTranspose('same'), BatchNormalization, "
                     "ReLU, Conv2DTranspose, tanh)", _keras_sequential, differentiable=False),
    ),
)
