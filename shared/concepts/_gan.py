"""What gan_generator and gan_discriminator share: a DCGAN (Radford et al. 2016) sized for
the digits, 1 x 8 x 8 images in [-1, 1].

    generator      z [N, Z] -> affine -> reshape [N, C1, 2, 2]
                   -> conv_transpose2d(k=4, s=2, p=1) [N, C2, 4, 4] (no bias) -> batch_norm (batch
                   statistics) -> relu -> conv_transpose2d(k=4, s=2, p=1) [N, 1, 8, 8] -> tanh
    discriminator  x [N, 1, 8, 8] -> conv2d(k=4, s=2, p=1) [N, F1, 4, 4] -> leaky_relu(0.2)
                   -> conv2d(k=4, s=2, p=1) [N, F2, 2, 2] -> leaky_relu(0.2) -> flatten (C, H, W)
                   -> affine -> one logit per image [N]

k=4, s=2, p=1 is DCGAN's layer: it doubles (transposed) or halves (conv) the size
exactly, and equals TF's 'SAME' there (a crop/pad of k - s = 2 splits evenly, 1 and 1).

Canonical parameters (the concepts take them as named arguments, so the engine
differentiates each; a model is the dict of them, `generator(z, **params)`):

  generator
    W_fc    [Z, C1*2*2]     affine W [in, out]; its columns in (C, H, W) order, as the
                            reshape of the affine output to [N, C1, 2, 2] reads them
    b_fc    [C1*2*2]        same order
    W_t1    [C1, C2, 4, 4]  IOHW (torch's ConvTranspose2d layout); no bias: the batch norm
                            right after subtracts the batch mean, so a bias would cancel
                            exactly and get a zero gradient (DCGAN's bias=False)
    gamma1  [C2]            batch-norm scale, one per channel
    beta1   [C2]            batch-norm shift
    W_t2    [C2, 1, 4, 4]   IOHW
    b_t2    [1]
  discriminator
    W_c1    [F1, 1, 4, 4]   OIHW
    b_c1    [F1]
    W_c2    [F2, F1, 4, 4]  OIHW
    b_c2    [F2]
    W_fc    [F2*2*2, 1]     affine W [in, out]; rows in the (C, H, W) order of torch's
                            flatten(1) (Keras flattens NHWC in (H, W, C) order:
                            layouts.dense_rows_chw_to_hwc)
    b_fc    [1]

The batch norm always uses the batch's statistics (training mode), as the DCGAN
generator does in training; the running statistics are bookkeeping outside this
function (batch_norm_running_stats), so there is no momentum argument here.
"""
from __future__ import annotations

import numbers

import numpy as np

from shared import checks
from shared.spec import Override, Tolerance

KERNEL, STRIDE, PAD = 4, 2, 1
IMAGE = (1, 8, 8)
BASE = 2  # 8 / 2 / 2: the generator's first feature map is 2 x 2
HIDDEN = 4  # the discriminator's first feature map is 4 x 4
BN_EPS = 1e-5  # torch's BatchNorm2d default, as in the DCGAN reference code
NEGATIVE_SLOPE = 0.2  # DCGAN's LeakyReLU slope

GENERATOR_PARAMS = ("W_fc", "b_fc", "W_t1", "gamma1", "beta1", "W_t2", "b_t2")
DISCRIMINATOR_PARAMS = ("W_c1", "b_c1", "W_c2", "b_c2", "W_fc", "b_fc")
INIT_STD = 0.02  # DCGAN: every weight N(0, 0.02)

# float32 gradients behind the generator's batch norm. Its backward,
# gamma / sigma * (dy - mean(dy) - x_hat mean(dy x_hat)), cancels O(|dy|) terms to small
# values, and a weight gradient then sums N x (positions) such products (dW_t1: N x 2 x 2
# per entry): an entry of 0.05 carries the rounding of terms of the array's largest size
# (~10 in case n6-z8-c6-c5), so the error scales with the array's largest entry, not with
# each entry: the norm-wise bound the training steps use. Measured worst before this bound:
# TF grad:W_t1 abs 3.5e-6 on an entry of 0.05 (91% of the unscaled 1e-6 + 1e-5 |want|),
# with max |dW_t1| ~ 10.
BN_BACKWARD_F32 = Tolerance(1e-6, 1e-5, "float32 weight gradients behind batch norm's cancelling backward: "
                            "sums of N x positions products, rounding scales with the array's largest entry",
                            scaled=True)
BN_BACKWARD_OVERRIDES = (Override("grad", BN_BACKWARD_F32, dtype="float32"),
                         Override("builtin", BN_BACKWARD_F32, dtype="float32"))


def _require_int(concept, arg, value, minimum=1):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{concept}: {arg} must be an int >= {minimum}, got {value!r}")


def _require(concept, arg, a, shape, why):
    checks.require_float(concept, arg, a)
    checks.require_shape(concept, arg, a, shape, why)


def validate_generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps):
    concept = "gan_generator"
    checks.require_floats(concept, z=z, W_fc=W_fc, b_fc=b_fc, W_t1=W_t1, gamma1=gamma1, beta1=beta1, W_t2=W_t2,
                          b_t2=b_t2)
    checks.require_rank(concept, "z", z, (2,), " ([N, Z], one noise vector per image)")
    checks.require_nonempty(concept, "z", z)
    checks.require_float(concept, "W_t1", W_t1)
    checks.require_rank(concept, "W_t1", W_t1, (4,), " ([C1, C2, 4, 4], IOHW)")
    c1, c2 = checks.shape_of(W_t1)[:2]
    _require(concept, "W_t1", W_t1, (c1, c2, KERNEL, KERNEL), "IOHW, DCGAN's 4 x 4 kernel")
    z_dim = checks.shape_of(z)[1]
    _require(concept, "W_fc", W_fc, (z_dim, c1 * BASE * BASE),
             f"[Z, C1*2*2]: Z = {z_dim} from z, C1 = {c1} from W_t1, columns in (C, H, W) order")
    _require(concept, "b_fc", b_fc, (c1 * BASE * BASE,), "one bias per output of the affine")
    _require(concept, "gamma1", gamma1, (c2,), "one batch-norm scale per channel of W_t1's output")
    _require(concept, "beta1", beta1, (c2,), "one batch-norm shift per channel of W_t1's output")
    _require(concept, "W_t2", W_t2, (c2, IMAGE[0], KERNEL, KERNEL), "IOHW: C2 in, one image channel out")
    _require(concept, "b_t2", b_t2, (IMAGE[0],), "one bias per image channel")
    checks.require_nonnegative(concept, "bn_eps", bn_eps)


def validate_discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope):
    concept = "gan_discriminator"
    checks.require_floats(concept, x=x, W_c1=W_c1, b_c1=b_c1, W_c2=W_c2, b_c2=b_c2, W_fc=W_fc, b_fc=b_fc)
    shape = checks.shape_of(x)
    if len(shape) != 4 or shape[1:] != IMAGE:
        raise ValueError(f"{concept}: x must be images [N, 1, 8, 8] (NCHW; the digits' 64 pixels "
                         f"reshaped, scaled to [-1, 1]), got shape {shape}")
    checks.require_nonempty(concept, "x", x)
    checks.require_float(concept, "W_c1", W_c1)
    checks.require_rank(concept, "W_c1", W_c1, (4,), " ([F1, 1, 4, 4], OIHW)")
    f1 = checks.shape_of(W_c1)[0]
    _require(concept, "W_c1", W_c1, (f1, IMAGE[0], KERNEL, KERNEL), "OIHW, DCGAN's 4 x 4 kernel on 1 channel")
    _require(concept, "b_c1", b_c1, (f1,), "one bias per filter of W_c1")
    checks.require_float(concept, "W_c2", W_c2)
    checks.require_rank(concept, "W_c2", W_c2, (4,), " ([F2, F1, 4, 4], OIHW)")
    f2 = checks.shape_of(W_c2)[0]
    _require(concept, "W_c2", W_c2, (f2, f1, KERNEL, KERNEL), f"OIHW with F1 = {f1} input channels")
    _require(concept, "b_c2", b_c2, (f2,), "one bias per filter of W_c2")
    _require(concept, "W_fc", W_fc, (f2 * BASE * BASE, 1),
             f"[F2*2*2, 1]: the [{f2}, 2, 2] feature map flattened in (C, H, W) order, one logit")
    _require(concept, "b_fc", b_fc, (1,), "the logit's bias")
    if not isinstance(negative_slope, numbers.Real) or isinstance(negative_slope, bool):
        raise TypeError(f"{concept}: negative_slope must be a real number, got {negative_slope!r}")


def init_generator(rng: np.random.Generator, z_dim: int = 8, c1: int = 8, c2: int = 4) -> dict[str, np.ndarray]:
    """DCGAN's init: weights N(0, 0.02), biases 0, batch-norm gamma N(1, 0.02) and beta 0
    (the DCGAN reference code's weights_init)."""
    for arg, value in (("z_dim", z_dim), ("c1", c1), ("c2", c2)):
        _require_int("gan_generator", arg, value)
    return {"W_fc": INIT_STD * rng.standard_normal((z_dim, c1 * BASE * BASE)),
            "b_fc": np.zeros(c1 * BASE * BASE),
            "W_t1": INIT_STD * rng.standard_normal((c1, c2, KERNEL, KERNEL)),
            "gamma1": 1 + INIT_STD * rng.standard_normal(c2),
            "beta1": np.zeros(c2),
            "W_t2": INIT_STD * rng.standard_normal((c2, IMAGE[0], KERNEL, KERNEL)),
            "b_t2": np.zeros(IMAGE[0])}


def init_discriminator(rng: np.random.Generator, f1: int = 4, f2: int = 8) -> dict[str, np.ndarray]:
    """DCGAN's init: weights N(0, 0.02), biases 0."""
    for arg, value in (("f1", f1), ("f2", f2)):
        _require_int("gan_discriminator", arg, value)
    return {"W_c1": INIT_STD * rng.standard_normal((f1, IMAGE[0], KERNEL, KERNEL)),
            "b_c1": np.zeros(f1),
            "W_c2": INIT_STD * rng.standard_normal((f2, f1, KERNEL, KERNEL)),
            "b_c2": np.zeros(f2),
            "W_fc": INIT_STD * rng.standard_normal((f2 * BASE * BASE, 1)),
            "b_fc": np.zeros(1)}


def init_params(rng: np.random.Generator, z_dim: int = 8, g_channels=(8, 4), d_channels=(4, 8)):
    """{"G": generator params, "D": discriminator params}, drawn in that order."""
    return {"G": init_generator(rng, z_dim, *g_channels), "D": init_discriminator(rng, *d_channels)}


def images(x_flat: np.ndarray) -> np.ndarray:
    """The digits' [N, 64] rows in [0, 1] as the GAN's NCHW images in [-1, 1], the range
    of the generator's tanh."""
    return (2 * x_flat - 1).reshape(-1, *IMAGE)
