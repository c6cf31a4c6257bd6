"""gan_train_step: one full training step of a DCGAN 敵対的生成ネットワーク（GAN）の学習ステップ
on the digits (Goodfellow et al. 2014; Radford et al. 2016): the discriminator's update,
then the generator's update against the UPDATED discriminator, the sequential form of the
PyTorch DCGAN tutorial. The networks are gan_generator and gan_discriminator
(architecture and canonical layouts in shared/concepts/_gan.py).

  params     {"G": generator params, "D": discriminator params}, each the canonical dict
             of _gan.GENERATOR_PARAMS / _gan.DISCRIMINATOR_PARAMS (init: _gan.init_params)
  opt_state  {"G": {name: adam state}, "D": {name: adam state}} (init_opt_state: one
             shared.training.init_opt_state per net)
  batch      {"x": real images [N, 1, 8, 8] in [-1, 1] (_gan.images of digits rows),
              "z": noise [N, Z], standard normal}. Every random draw is made by the case
             (make_batch), none inside train_step.
  hyper      {"g_loss": "non_saturating" | "minimax", "bn_eps": the generator's batch-norm
             eps, "negative_slope": the discriminator's leaky relu slope,
             "optimizer": "adam_step", "opt": {"lr", "beta1", "beta2", "eps"}} (opt goes as
             keyword arguments to each package's optimizers.adam_step, once per parameter)
  train_step(params, opt_state, batch, hyper) -> (losses, grads, params, opt_state)
             losses {"D": d_loss, "G": g_loss}, grads {"G": {...}, "D": {...}}
  samples(params, z, hyper) -> images [N, 1, 8, 8] (no gradient), for the demo.

The step, exactly in this order (BCE from logits, mean over the batch; s = sigmoid):

  1. fake = G(z)            batch norm with the batch's statistics (training mode)
  2. the discriminator      l_real = D(x), l_fake = D(fake) with fake a CONSTANT (detached:
                            no gradient reaches G)
        d_loss = BCE(1, l_real) + BCE(0, l_fake) = mean(softplus(-l_real)) + mean(softplus(l_fake))
        grads["D"] = d d_loss / d D;  D' = adam_step(D, grads["D"])
  3. the generator, against D' (held fixed: no gradient to D')
        non_saturating  g_loss = BCE(1, D'(fake)) = mean(softplus(-D'(fake)))      = -mean(log s(l))
        minimax         g_loss = -BCE(0, D'(fake)) = -mean(softplus(D'(fake)))     = mean(log(1 - s(l)))
        grads["G"] = d g_loss / d G;  G' = adam_step(G, grads["G"])
     fake is the SAME G(z) as in 1: G has not changed yet, so recomputing it gives the same.

Why two generator losses: minimax is the game's value function, G minimising
E[log(1 - D(G(z)))]; its gradient per logit is -s(l), which vanishes when D confidently
rejects the fakes (l -> -inf, early in training). The non-saturating loss -log D(G(z))
has the same fixed point and the gradient s(l) - 1 -> -1 there (Goodfellow 2014, sec. 3).

The numeric check differentiates d_loss in D's parameters (fake fixed) and g_loss in G's
parameters against D' (numpy_impl.gan.numeric_losses).
"""
import numpy as np

from shared import checks, training
from shared.concepts import _gan
from shared.concepts._gan_porting import PORTING_CASES
from shared.spec import Case, Concept, ErrorCase, Override, Tolerance

CONCEPT_NAME = "gan_train_step"
G_LOSSES = ("non_saturating", "minimax")
OPTIMIZERS = ("adam_step",)
HYPER_KEYS = ("g_loss", "bn_eps", "negative_slope", "optimizer", "opt")
NETS = ("G", "D")
PARAM_NAMES = {"G": _gan.GENERATOR_PARAMS, "D": _gan.DISCRIMINATOR_PARAMS}
BATCH_KEYS = ("x", "z")
# the parity cases' sizes: G 873 + D 621 parameters, so the float64 central differences
# (2 x 1,494 small forward passes per case) take a few seconds
BATCH_SIZE, Z_DIM, G_CHANNELS, D_CHANNELS = 8, 8, (8, 4), (4, 8)
# the DCGAN paper's Adam: lr 2e-4, beta1 0.5 (0.9 oscillated in their runs), eps explicit
DCGAN_ADAM = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "eps": 1e-8}


def make_batch(rng, images, batch_size: int, z_dim: int) -> dict:
    """batch_size real images drawn without replacement from `images` [M, 1, 8, 8] and as
    many noise vectors z ~ N(0, I) [batch_size, z_dim]."""
    index = rng.choice(len(images), batch_size, replace=False)
    return {"x": images[index], "z": rng.standard_normal((batch_size, z_dim))}


def init_opt_state(params, hyper) -> dict:
    """{"G": {name: state}, "D": {name: state}}: the optimizer's first state, per net."""
    return {net: training.init_opt_state(params[net], hyper["optimizer"], hyper["opt"]) for net in NETS}


def make_hyper(g_loss="non_saturating", opt=None, *, bn_eps=_gan.BN_EPS, negative_slope=_gan.NEGATIVE_SLOPE):
    return {"g_loss": g_loss, "bn_eps": bn_eps, "negative_slope": negative_slope, "optimizer": "adam_step",
            "opt": dict(DCGAN_ADAM if opt is None else opt)}


def init_inputs(rng, hyper, *, steps=10, batch_size=BATCH_SIZE, z_dim=Z_DIM, g_channels=G_CHANNELS,
                d_channels=D_CHANNELS, images=None) -> dict:
    """A run's train_step inputs: params (DCGAN's N(0, 0.02) init, G drawn before D),
    opt_state, `steps` batches of the digits' training images (make_batch) and hyper."""
    if images is None:
        from shared.data import digits
        images = _gan.images(digits().x_train)
    params = _gan.init_params(rng, z_dim, g_channels, d_channels)
    batches = [make_batch(rng, images, batch_size, z_dim) for _ in range(steps)]
    return {"params": params, "opt_state": init_opt_state(params, hyper), "batches": batches, "hyper": hyper}


def _require_dict_keys(arg, value, keys, why):
    if not isinstance(value, dict) or set(value) != set(keys):
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ValueError(f"{CONCEPT_NAME}: {arg} must be a dict with keys {tuple(keys)} ({why}), got {got}")


def _as_part(arg, validate_net, *args, **kwargs):
    """A network's own validation, its message prefixed with this concept and the part."""
    try:
        validate_net(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{CONCEPT_NAME}: {arg}: {error}") from error


def validate(params, opt_state, batch, hyper):
    concept = CONCEPT_NAME
    checks.require_keys(concept, "hyper", hyper, HYPER_KEYS)
    checks.require_choice(concept, "hyper['g_loss']", hyper["g_loss"], G_LOSSES)
    checks.require_choice(concept, "hyper['optimizer']", hyper["optimizer"], OPTIMIZERS)
    _require_dict_keys("params", params, NETS, "the generator G and the discriminator D")
    for net in NETS:
        _require_dict_keys(f"params[{net!r}]", params[net], PARAM_NAMES[net], "_gan's canonical parameters")
    _require_dict_keys("batch", batch, BATCH_KEYS, "real images x [N, 1, 8, 8] and noise z [N, Z]")
    x, z = batch["x"], batch["z"]
    checks.require_float(concept, "batch['x']", x)
    if len(checks.shape_of(x)) != 4 or checks.shape_of(x)[1:] != _gan.IMAGE:
        raise ValueError(f"{concept}: batch['x'] must be real images [N, 1, 8, 8] (NCHW, in [-1, 1]: "
                         f"_gan.images of the digits' rows), got shape {checks.shape_of(x)}")
    checks.require_float(concept, "batch['z']", z)
    checks.require_rank(concept, "batch['z']", z, (2,), " ([N, Z], one noise vector per image)")
    if checks.shape_of(z)[0] != checks.shape_of(x)[0]:
        raise ValueError(f"{concept}: batch['z'] must have one row per real image (N = {checks.shape_of(x)[0]} "
                         f"from batch['x']: as many fakes as reals), got shape {checks.shape_of(z)}")
    _as_part("params['G']", _gan.validate_generator, z, **params["G"], bn_eps=hyper["bn_eps"])
    _as_part("params['D']", _gan.validate_discriminator, x, **params["D"], negative_slope=hyper["negative_slope"])
    _require_dict_keys("opt_state", opt_state, NETS, "one optimizer state per net")
    for net in NETS:
        _require_dict_keys(f"opt_state[{net!r}]", opt_state[net], PARAM_NAMES[net], "one state per parameter")


# The discriminator's conv biases in the parity cases, away from 0 (DCGAN's init has 0).
# At DCGAN's init the generator's images are nearly constant (pixel std
# 0.006-0.05), so with zero biases D's pre-activations on them are tiny (median |.| ~1e-3
# after conv 1, ~1e-4 after conv 2, weights N(0, 0.02)), and in every case 1-3 of the 256
# after conv 2 lay within the central differences' step h = 1e-6 of the leaky relu's kink,
# where a difference in b_c1 or b_c2 measures a mix of the slopes 1 and 0.2 (numeric:D.b_c2
# was off by up to 4.8e-4 on gradients of ~5e-3). Biases of magnitude 0.05-0.15 put every
# fake's pre-activation >= 0.034 (3e4 h) from the kink, as cnn_train_step moves its b1;
# the real images' pre-activations stay spread on both sides (nearest measured: 2.7e-5).
KINK_CLEAR_BIAS = (0.05, 0.15)


def kink_clear_biases(rng, D) -> dict:
    """D with b_c1, b_c2 drawn as +-U(KINK_CLEAR_BIAS): random signs, magnitudes >= 0.05."""
    D = dict(D)
    for name in ("b_c1", "b_c2"):
        n = len(D[name])
        D[name] = rng.uniform(*KINK_CLEAR_BIAS, n) * rng.choice([-1.0, 1.0], n)
    return D


def _case(name, g_loss, opt, *, seed, bn_eps=_gan.BN_EPS, note=""):
    hyper = make_hyper(g_loss, opt, bn_eps=bn_eps)

    def make(rng):
        inputs = init_inputs(rng, make_hyper(g_loss, opt, bn_eps=bn_eps))
        inputs["params"]["D"] = kink_clear_biases(rng, inputs["params"]["D"])
        return inputs
    summary = (f"{g_loss}, adam_step({hyper['opt']}), bn_eps {bn_eps}, 10 steps of {BATCH_SIZE} digits + "
               f"z [{BATCH_SIZE}, {Z_DIM}], G channels {G_CHANNELS}, D channels {D_CHANNELS}, DCGAN init "
               f"but D's conv biases +-U{KINK_CLEAR_BIAS} (KINK_CLEAR_BIAS)")
    return Case(name, make, seed=seed, note=summary + (f"; {note}" if note else ""))


CASES = (
    _case("non-saturating-adam", "non_saturating", DCGAN_ADAM, seed=801, note="the DCGAN paper's Adam"),
    _case("minimax-adam", "minimax", DCGAN_ADAM, seed=802, note="the game's own loss for G"),
    _case("non-saturating-lr2e-3", "non_saturating", dict(DCGAN_ADAM, lr=2e-3), seed=803,
          note="10x the paper's lr: 10 steps move the weights visibly"),
    _case("keras-eps", "non_saturating", dict(DCGAN_ADAM, eps=1e-7), bn_eps=1e-3, seed=804,
          note="Keras' defaults: Adam epsilon 1e-7, BatchNormalization epsilon 1e-3"),
)


# float32 training steps. D's gradient is the sum of a real half (pushing D(x) up) and a fake
# half (pushing D(G(z)) down); while D cannot yet tell them apart the two nearly cancel: for
# b_fc, mean(s(l_real)) - 1 + mean(s(l_fake)) ~ 0. With t_n the contribution of image n (2N of
# them), R = max sum_n |t_n| / max |sum_n t_n| per array; along these cases' 10 steps R reaches
# 1,288 (D.b_c2, D.b_fc), 130 (D.b_c1), 79 (D.W_fc), <= 13 elsewhere in D, and <= 4.6 for G's
# arrays (test_gan_step measures it). float32 rounds the halves, not their small sum, so the
# gradient's error relative to its largest entry is ~eps32 R, and Adam hands that relative
# error on to m, to v (doubled: v ~ g^2) and to the step, lr m / sqrt(v); a bias starting at 0
# is made of those steps alone. The table's 1e-6 assumes R ~ 1; here: 2 eps32 R_MAX = 3.1e-4 of
# the array's largest entry. G's own gradients do not cancel (R <= 4.6), but G's step is taken
# through D', which carries D's error: G's float32 checks reached 4.4e-6 of the largest entry
# (minimax, param@10:G.b_fc), D's 9.4e-5 (state@1:D.b_c2.v): 30% of this bound. It also
# covers Adam's first step on entries whose |g| is near eps (lr g / (|g| + eps) changes by
# lr eps / (|g| + eps)^2 per unit of g, 55 at |g| = 1.8e-7 in D.W_fc: ADAM_F32_AMPLIFIED's effect).
R_MAX = 1300
EPS32 = float(np.finfo(np.float32).eps)
HALVES_CANCEL_F32 = Tolerance(2 * EPS32 * R_MAX, 1e-5, f"float32 GAN step: D's gradient is a real half minus a "
                              f"fake half, cancelling up to R = {R_MAX}; Adam passes the relative error on "
                              "(v doubles it)", scaled=True)


def _make_first(rng):
    return init_inputs(rng, make_hyper(), steps=1)


def _spoiled(change):
    return training.error_inputs(Case("non-saturating-adam-1-step", _make_first, seed=801), change)


CONCEPT = Concept(
    name=CONCEPT_NAME,
    module="gan",
    family="gan",
    lesson=3,
    function="train_step",
    math="fake = G(z);  D step: d_loss = BCE(1, D(x)) + BCE(0, D(fake)) with fake constant, D' = adam(D, dd_loss/dD);  "
         "G step against D': g_loss = BCE(1, D'(fake)) (non-saturating) or -BCE(0, D'(fake)) (minimax), "
         "G' = adam(G, dg_loss/dG) through D' and G's batch norm",
    japanese="敵対的生成ネットワーク（GAN）の学習ステップ",
    signature="train_step(params, opt_state, batch, hyper) -> ({'D': d_loss, 'G': g_loss}, grads, params, opt_state); "
              "params {'G': generator params, 'D': discriminator params}; samples(params, z, hyper) -> images; "
              "see the module docstring",
    differentiable=(),
    steps=(1, 10),
    cases=CASES,
    overrides=(Override("step", HALVES_CANCEL_F32, dtype="float32"),),
    porting=PORTING_CASES,
    error_cases=(
        ErrorCase("unknown-g-loss", _spoiled(lambda i: i["hyper"].update(g_loss="wasserstein")), ValueError,
                  r"gan_train_step: hyper\['g_loss'\] must be one of \('non_saturating', 'minimax'\), "
                  r"got 'wasserstein'"),
        ErrorCase("sgd-optimizer", _spoiled(lambda i: i["hyper"].update(optimizer="sgd_step")), ValueError,
                  r"gan_train_step: hyper\['optimizer'\] must be one of \('adam_step',\), got 'sgd_step'"),
        ErrorCase("hyper-without-bn-eps", _spoiled(lambda i: i["hyper"].pop("bn_eps")), ValueError,
                  r"gan_train_step: hyper must be a dict with keys \('g_loss', 'bn_eps', 'negative_slope', "
                  r"'optimizer', 'opt'\), got \['g_loss', 'negative_slope', 'opt', 'optimizer'\]"),
        ErrorCase("params-without-D", _spoiled(lambda i: i["params"].pop("D")), ValueError,
                  r"gan_train_step: params must be a dict with keys \('G', 'D'\) \(the generator G and the "
                  r"discriminator D\), got \['G'\]"),
        ErrorCase("generator-without-gamma1", _spoiled(lambda i: i["params"]["G"].pop("gamma1")), ValueError,
                  r"gan_train_step: params\['G'\] must be a dict with keys \('W_fc', 'b_fc', 'W_t1', 'gamma1', "
                  r"'beta1', 'W_t2', 'b_t2'\) \(_gan's canonical parameters\), got "
                  r"\['W_fc', 'W_t1', 'W_t2', 'b_fc', 'b_t2', 'beta1'\]"),
        ErrorCase("batch-without-z", _spoiled(lambda i: i["batch"].pop("z")), ValueError,
                  r"gan_train_step: batch must be a dict with keys \('x', 'z'\) \(real images x \[N, 1, 8, 8\] "
                  r"and noise z \[N, Z\]\), got \['x'\]"),
        ErrorCase("flat-images", _spoiled(lambda i: i["batch"].update(x=i["batch"]["x"].reshape(8, 64))), ValueError,
                  r"gan_train_step: batch\['x'\] must be real images \[N, 1, 8, 8\] \(NCHW, in \[-1, 1\]: "
                  r"_gan.images of the digits' rows\), got shape \(8, 64\)"),
        ErrorCase("fewer-z-than-x", _spoiled(lambda i: i["batch"].update(z=i["batch"]["z"][:5])), ValueError,
                  r"gan_train_step: batch\['z'\] must have one row per real image \(N = 8 from batch\['x'\]: "
                  r"as many fakes as reals\), got shape \(5, 8\)"),
        ErrorCase("z-dim-vs-W_fc", _spoiled(lambda i: i["batch"].update(z=np.ones((8, 5)))), ValueError,
                  r"gan_train_step: params\['G'\]: gan_generator: W_fc must have shape \(5, 32\) \(\[Z, C1\*2\*2\]: "
                  r"Z = 5 from z"),
        ErrorCase("D-W_c2-channels", _spoiled(lambda i: i["params"]["D"].update(W_c2=np.ones((8, 3, 4, 4)))),
                  ValueError,
                  r"gan_train_step: params\['D'\]: gan_discriminator: W_c2 must have shape \(8, 4, 4, 4\) "
                  r"\(OIHW with F1 = 4 input channels\), got shape \(8, 3, 4, 4\)"),
        ErrorCase("opt-state-per-net", _spoiled(lambda i: i.update(opt_state=i["opt_state"]["G"])), ValueError,
                  r"gan_train_step: opt_state must be a dict with keys \('G', 'D'\) \(one optimizer state per "
                  r"net\), got \['W_fc', 'W_t1', 'W_t2', 'b_fc', 'b_t2', 'beta1', 'gamma1'\]"),
    ),
)
