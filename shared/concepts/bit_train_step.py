"""bit_train_step: one fine-tuning step of BiT (転移学習: transfer learning), a ResNet-v2 with
group norm (グループ正規化) and weight-standardised convolutions (重みの標準化); the network
and its parameters are in shared/concepts/_bit.py. It follows the train-step engine's
contract (shared/training.py):

  params     the canonical flat dict of _bit.param_names(config).
  opt_state  {name: the optimizer's state} for the TRAINED parameters only
             (init_opt_state(params, optimizer, opt, names=trained_names(config, train))).
  batch      {"x" [B, 3, H, W] float images, "t" [B] int class labels}
  hyper      {"config": a _bit config, "train": "head" | "all",
             "optimizer": "momentum_step" (the BiT-HyperRule's SGD with momentum 0.9) | "sgd_step",
             "opt": {"lr", "momentum"}}
             "head": the backbone is a fixed feature extractor (the seed's default,
             do_fine_tuning=False): only head/W and head/b get gradients and move; every
             other array comes back unchanged (bit-identical). "all": full fine-tuning.
  train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state)
             loss: the mean softmax cross-entropy of logits(x) against t; grads: one per
             trained parameter; params: all of them; opt_state: the trained ones'.

A fact worth a test: with BiT's zero head, logits = head/b for every image, so
dL/dfeatures = dL/dlogits @ head/W^T = 0 and EVERY backbone gradient is exactly 0 at step 1
(only the head moves; from step 2 on head/W != 0 and the backbone starts to learn). The
"all" case therefore starts from a random head.
"""
import numpy as np

from shared import checks, training
from shared.concepts import _bit
from shared.spec import Case, Concept, ErrorCase, Override, Tolerance
from shared.training import init_opt_state

CONCEPT_NAME = "bit_train_step"
HYPER_KEYS = ("config", "train", "optimizer", "opt")
TRAIN = ("head", "all")
OPTIMIZERS = ("momentum_step", "sgd_step")
HEAD = ("head/W", "head/b")
BATCH_KEYS = ("x", "t")
HYPERRULE_OPT = {"lr": 0.003, "momentum": 0.9}  # BiT-HyperRule: SGD momentum 0.9, lr 0.003
STEPS = (1, 10)
# float32 gradients (step 1; the "grad" kind), derived as the forward's bound in
# bit_features.py, extended through the backward. Three measured conditioning ratios:
#   K      the forward's sum over group norms of kappa_l = max_g max T_g / sigma_g (T the
#          conv terms' size; see bit_features.K_MAX): the activations a gradient reads carry
#          ~eps K of their scale;
#   rho_l  per group norm of the backward, dx = (dx_hat - mean dx_hat - x_hat mean(dx_hat x_hat))
#          / sigma_g with dx_hat = gamma dz: its rounding is eps max|dx_hat_g| / sigma_g, so
#          rho_l = max_g (max|dx_hat_g| / sigma_g) / max|dx| relative to what it returns;
#          the cotangents carry ~eps (K + sum_l rho_l) = eps KB of their scale;
#   R_A    per gradient array A, the cancellation of its sum over images and positions:
#          max sum|terms| / max|sum| (terms dz x_hat for gamma, dz for beta, dy x for a conv's
#          dw_hat, divided by the filter's sigma as the standardisation does; f dz and dz for
#          the head), as gan_train_step's R: the sum rounds at the size of its terms.
# Then |grad error of A| / max|A| <= eps32 KB R_A <= eps32 KB_MAX R_GRAD_MAX. Along both cases
# at step 1 (parity_tests/test_bit.py recomputes them): KB 158.9 ("all": K 144.2 + rho 14.7;
# "head" 147.1, its only backward is the head's), R_A <= 7.7 (block1/unit01/a/gn/beta). Assumed,
# not derived: ~1 eps per sum and unit gain between the norms; the backward convs' own term
# cancellation is not in KB. NumPy float32 reached 80 eps on block4/unit01/a/conv (R_A 2.3),
# torch 1.5e-5 of the max: 10% of eps32 KB_MAX R_GRAD_MAX (two maxima, on different arrays).
KB_MAX = 160
R_GRAD_MAX = 8
EPS32 = float(np.finfo(np.float32).eps)
F32_GRAD = Tolerance(EPS32 * KB_MAX * R_GRAD_MAX, 0.0, f"group norms forward and backward (KB <= {KB_MAX}) times "
                     f"the gradient sum's cancellation (R <= {R_GRAD_MAX}): eps32 KB R", scaled=True)
# float32 steps (the "step" kind: param@k, state@k, loss@k for k > 1). The momentum buffer
# of array A after k steps is v_k = -lr sum_j mu^(k-j) g_j, and each step's gradient g_j
# carries eps KB_j R_jA of max|g_jA| by the model above, with KB_j and R_jA measured at step j
# (they move: along the "all" case R_jA reaches 21.4 at step 6, KB_j 180.6 at step 9). So
#     |error of v_kA| <= eps E_kA,   E_kA = sum_j mu^(k-j) lr KB_j R_jA max|g_jA|,
# and relative to max|v_kA| the bound is eps E_kA / max|v_kA|: large where the momentum sums
# gradients of alternating sign (their sizes add, v cancels). A parameter carries the sum of
# its buffers' errors, p_k - p_0 = sum_i v_i: eps (sum_i E_iA / max|p_kA| + 1). B = the largest
# of both ratios over the arrays and steps; parity_tests/test_bit.py recomputes it along both
# cases: 10,805 ("all", state@10:block1/unit01/b/gn/beta; "head" 1,085, param@10:head/b), so
# B_MAX = 11,000. Assumed, not derived: the float32 run's drift (its parameters differ from
# float64's by <= 43 eps of their max) moves the gradients by less than their rounding; the
# per-step model above was exceeded by 9% at one step ("all" step 4, block4/unit01/b/conv:
# 188 eps R vs KB 172, the backward convs' own cancellation), inside the margin below. loss@k:
# the forward's eps K <= eps 1300 (bit_features) is below it. Measured with NumPy float32: the
# worst state@10 was 1,414 eps of its max (13% of B_MAX), where B = 10,805.
B_MAX = 11_000
EPS64 = float(np.finfo(np.float64).eps)
F32_STEP = Tolerance(EPS32 * B_MAX, 0.0, f"momentum sums each step's gradient error eps KB_j R_j; relative to "
                     f"the buffer (or parameter) it is eps B, B <= {B_MAX}", scaled=True)
# float64: both sides round by the same model: 2 eps64 B_MAX (torch vs NumPy measured 4.4e-13 of
# the max on state@10:block1/unit01/b/gn/beta, 8% of it)
F64_STEP = Tolerance(2 * EPS64 * B_MAX, 0.0, f"momentum sums each step's gradient error, two sides: "
                     f"2 eps64 B, B <= {B_MAX}", scaled=True)


def trained_names(config, train):
    return HEAD if train == "head" else _bit.param_names(config)


def validate_model(params, batch, hyper):
    """What the loss needs: the config, params, and the batch."""
    concept = CONCEPT_NAME
    config = hyper["config"]
    _bit.validate_config(config, concept)
    if not isinstance(batch, dict) or set(batch) != set(BATCH_KEYS):
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{concept}: batch must be a dict with keys {BATCH_KEYS} (images and labels), got {got}")
    _bit.validate_params(params, config, concept)
    dtype = checks.dtype_name(params["root/conv"])
    checks.require_batch(concept, dtype, {"batch['x']": batch["x"]}, {"batch['t']": batch["t"]}, config["classes"])
    _bit.validate_images(batch["x"], concept)
    checks.require_shape(concept, "batch['t']", batch["t"], checks.shape_of(batch["x"])[:1], "one label per image")


def validate(params, opt_state, batch, hyper):
    concept = CONCEPT_NAME
    checks.require_keys(concept, "hyper", hyper, HYPER_KEYS)
    checks.require_choice(concept, "hyper['train']", hyper["train"], TRAIN)
    checks.require_choice(concept, "hyper['optimizer']", hyper["optimizer"], OPTIMIZERS)
    validate_model(params, batch, hyper)
    trained = trained_names(hyper["config"], hyper["train"])
    if not isinstance(opt_state, dict) or set(opt_state) != set(trained):
        got = sorted(opt_state) if isinstance(opt_state, dict) else type(opt_state).__name__
        shown = trained if len(trained) <= 4 else f"all {len(trained)} parameters"
        raise ValueError(f"{concept}: with train={hyper['train']!r} opt_state must hold one state per trained "
                         f"parameter ({shown}), got {got if len(got) <= 4 else f'{len(got)} keys'}")
    training.validate_step_state(concept, params, opt_state, hyper, trained)


def make_batch(rng, config, batch_size, hw):
    """Images uniform in [0, 1] (BiT's input range) and random labels."""
    return {"x": rng.uniform(0.0, 1.0, (batch_size, 3, *hw)),
            "t": rng.integers(0, config["classes"], batch_size).astype(np.int64)}


def _case(name, train, *, seed, batch_size=2, hw=(32, 32), steps=max(STEPS), note=""):
    def make(rng):
        config = dict(_bit.TINY)
        # "all": a random head, or every backbone gradient is exactly 0 at step 1 (module docstring);
        # random group-norm gammas and betas, so that none sits at a special value
        params = _bit.init_params(rng, config, head="zeros" if train == "head" else "random", norm="random")
        hyper = {"config": config, "train": train, "optimizer": "momentum_step", "opt": dict(HYPERRULE_OPT)}
        batches = [make_batch(rng, config, batch_size, hw) for _ in range(steps)]
        return {"params": params, "batches": batches, "hyper": hyper,
                "opt_state": init_opt_state(params, "momentum_step", HYPERRULE_OPT,
                                            names=trained_names(config, train))}
    return Case(name, make, seed=seed, note=f"TINY, train={train!r}, momentum_step{HYPERRULE_OPT}, {steps} steps "
                                            f"of {batch_size} images {hw[0]}x{hw[1]}" + (f"; {note}" if note else ""))


CASES = (
    _case("head", "head", seed=801, note="BiT's zero head: the backbone is frozen"),
    _case("all", "all", seed=802, batch_size=3, hw=(40, 32), note="random head, full fine-tuning, non-square"),
)


def _bad(change, name="all"):
    case = next(c for c in CASES if c.name == name)

    def make(rng):
        inputs = case.make(rng)
        return dict(inputs, batches=inputs["batches"][:1])
    return training.error_inputs(Case(case.name, make, seed=case.seed), change)


CONCEPT = Concept(
    name=CONCEPT_NAME,
    module="bit",
    family="bit_transfer",
    lesson=4,
    function="train_step",
    math="L = mean_b -log softmax(features(x_b) @ W + b)[t_b], features = BiT's ResNet-v2 (GN + WS conv, "
         "shared/concepts/_bit.py); train='head': grads of W, b only; 'all': of every parameter; then "
         "momentum_step v <- mu v + g, p <- p - lr v",
    japanese="BiT の転移学習（ファインチューニング）の学習ステップ（グループ正規化・重みの標準化）",
    signature="train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state); "
              "see the module docstring",
    differentiable=(),
    steps=STEPS,
    # central differences of 64 entries per array (all of the smaller ones): every one of the
    # 45 arrays, 1,429 of TINY's 6,125 parameters, ~9 s (all of them took ~45 s, mostly the
    # per-layer call overhead of ~12,000 forward passes)
    numeric_entries=64,
    cases=CASES,
    overrides=(Override("grad", F32_GRAD, dtype="float32"), Override("step", F32_STEP, dtype="float32"),
               Override("step", F64_STEP, dtype="float64")),
    error_cases=(
        ErrorCase("unknown-train", _bad(lambda i: i["hyper"].update(train="backbone")), ValueError,
                  r"bit_train_step: hyper\['train'\] must be one of \('head', 'all'\), got 'backbone'"),
        ErrorCase("mode-instead-of-train", _bad(lambda i: i["hyper"].update(mode=i["hyper"].pop("train"))),
                  ValueError, r"bit_train_step: hyper must be a dict with keys \('config', 'train', 'optimizer', "
                              r"'opt'\), got \['config', 'mode', 'opt', 'optimizer'\]"),
        ErrorCase("float-labels", _bad(lambda i: i["batch"].update(t=i["batch"]["t"].astype(np.float64))),
                  TypeError, r"bit_train_step: batch\['t'\] must be integer class labels, got dtype float64"),
        ErrorCase("head-opt-state-for-all", _bad(lambda i: i.update(opt_state={k: v for k, v in i["opt_state"].items()
                                                                             if k in HEAD})),
                  ValueError, r"bit_train_step: with train='all' opt_state must hold one state per trained "
                              r"parameter \(all 45 parameters\), got \['head/W', 'head/b'\]"),
        ErrorCase("missing-param", _bad(lambda i: i["params"].pop("block3/unit01/a/proj"), name="head"),
                  ValueError, r"bit_train_step: params must hold exactly the 45 canonical arrays of this config; "
                              r"missing \['block3/unit01/a/proj'\], extra \[\]"),
        ErrorCase("unknown-optimizer", _bad(lambda i: i["hyper"].update(optimizer="adam_step")), ValueError,
                  r"bit_train_step: hyper\['optimizer'\] must be one of \('momentum_step', 'sgd_step'\), "
                  r"got 'adam_step'"),
    ),
)
