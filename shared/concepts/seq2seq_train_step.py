"""seq2seq_train_step: one training step of the book's seq2seq (ゼロから作る 2, ch. 7) on
the addition task "16+75" -> "91": encoder, decoder with teacher forcing (or scheduled
sampling), softmax-with-loss over time, gradient clipping, one optimizer step.

  params     canonical, see shared/concepts/_seq2seq.py
  opt_state  {name: the optimizer's state for that parameter}
  batch      {"x": [N, Tx] question tokens, "y": [N, Ty + 1] answer tokens starting with
             '_' (decoder inputs y[:, :-1], targets y[:, 1:]), "coins": [N, Ty] bool,
             True = feed the ground truth at that step}
  hyper      {"cell": "lstm" | "gru", "optimizer": ..., "opt": {...},
             "max_norm": clip the gradients' global norm to this before the step, or None}
  train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state)
             grads are the loss's gradients BEFORE clipping (the numeric check compares
             them with central differences); the optimizer receives the clipped ones.
"""

import numpy as np

from shared import checks, training
from shared.concepts import _seq2seq
from shared.data import ADDITION_VOCAB, addition
from shared.spec import Case, Concept, ErrorCase, Override, Tolerance
from shared.training import init_opt_state

CONCEPT_NAME = "seq2seq_train_step"
OPTIMIZERS = ("sgd_step", "momentum_step", "adam_step")
HYPER_KEYS = ("cell", "optimizer", "opt", "max_norm")
PARITY_NET = {"vocab": len(ADDITION_VOCAB), "embed": 8, "hidden": 16}

# Adam's first step is lr * g / (|g| + eps): every weight moves by ~lr whatever the size of
# its gradient, so the gradient's float32 rounding (<= 4e-7 of the array's largest entry)
# is multiplied by lr / (|g| + eps), up to 0.01 / (8e-9 + 1e-8) = 5.5e5 for the recurrent
# weights whose gradients are ~1e-8 (as for AdaGrad in mlp_train_step). The float64
# reference's own gradients bound the weight error at 1.1e-5 (dec_Wh) and 1.5e-5 (enc_Wh),
# 2e-5 of the array's largest entry; measured 7.3e-6 of it. Every later step adds less.
ADAM_F32_AMPLIFIED = Tolerance(3e-5, 1e-5, "float32 Adam: lr / (|g| + eps) up to 5.5e5 on ~1e-8 gradients "
                               "amplifies their rounding; bound from the reference: 2e-5 of the array's max",
                               scaled=True)
ADAM_CASES = ("lstm-teacher-forcing", "lstm-scheduled-sampling", "gru-teacher-forcing")


def make_batch(rng, x, y, batch_size: int, truth_probability: float = 1.0) -> dict:
    """A random batch and its coins: each decoder step feeds the truth with the given
    probability (1 = teacher forcing, 0 = free running)."""
    index = rng.choice(len(x), batch_size)
    coins = rng.random((batch_size, y.shape[1] - 1)) < truth_probability
    return {"x": x[index], "y": y[index], "coins": coins}


def validate(params, opt_state, batch, hyper):
    concept = CONCEPT_NAME
    checks.require_keys(concept, "hyper", hyper, HYPER_KEYS)
    checks.require_choice(concept, "hyper['optimizer']", hyper["optimizer"], OPTIMIZERS)
    if hyper["max_norm"] is not None and not (isinstance(hyper["max_norm"], (int, float)) and hyper["max_norm"] > 0):
        raise ValueError(f"{concept}: hyper['max_norm'] must be a number > 0 or None, got {hyper['max_norm']!r}")
    if not isinstance(batch, dict) or set(batch) != {"x", "y", "coins"}:
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{concept}: batch must be a dict with keys ['coins', 'x', 'y'], got {got}")
    y = batch["y"]
    checks.require_integer(concept, "batch['y']", y, "integer token ids")
    checks.require_rank(concept, "batch['y']", y, (2,), " [N, Ty + 1]")
    if checks.shape_of(y)[1] < 2:
        raise ValueError(f"{concept}: batch['y'] must hold the start token and at least one answer token, "
                         f"got shape {checks.shape_of(y)}")
    _seq2seq.validate(concept, params, batch["x"], y[:, :-1], batch["coins"], hyper["cell"])
    vocab = checks.shape_of(params["enc_embed"])[0]
    checks.require_labels(concept, "batch['y']", y, vocab, "token ids", "tokens in the vocabulary")
    training.validate_step_state(concept, params, opt_state, hyper)


def _case(name, cell, optimizer, opt_hyper, *, max_norm=None, truth_probability=1.0, seed=541, steps=10,
          batch_size=8):
    def make(rng):
        data = addition(count=500, seed=seed)
        params = _seq2seq.init_params(rng, cell, **PARITY_NET)
        # embeddings of the book's scale (0.01) would leave every logit near W's bias:
        # N(0, 1) embeddings give the parity check gates away from their linear range
        for side in ("enc", "dec"):
            params[f"{side}_embed"] = rng.standard_normal(params[f"{side}_embed"].shape)
        hyper = {"cell": cell, "optimizer": optimizer, "opt": opt_hyper, "max_norm": max_norm}
        batches = [make_batch(rng, data.x_train, data.y_train, batch_size, truth_probability)
                   for _ in range(steps)]
        return {"params": params, "opt_state": init_opt_state(params, optimizer, opt_hyper),
                "batches": batches, "hyper": hyper}
    return Case(name, make, seed=seed,
                note=f"{cell}, {optimizer}({opt_hyper}), max_norm {max_norm}, truth p = {truth_probability}")


def _bad(change):
    return training.error_inputs(_case("bad", "lstm", "sgd_step", {"lr": 0.1}, steps=1), change)


CONCEPT = Concept(
    name=CONCEPT_NAME,
    module="seq2seq",
    family="rnn_teacher_forcing",
    lesson=5,
    function="train_step",
    math="loss = mean_t cross_entropy(softmax(h_t^dec W + b), y_{t+1}),  h^dec from the decoder fed y_t "
         "(teacher forcing) or argmax logits_{t-1} (free running) by coin;  clip by global norm, then step",
    japanese="seq2seq（系列変換モデル）の学習ステップ：教師強制とスケジュールドサンプリング",
    signature="train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state); see the "
              "module docstring and shared/concepts/_seq2seq.py",
    differentiable=(),
    steps=(1, 10),
    overrides=tuple(Override("step", ADAM_F32_AMPLIFIED, case=case, dtype="float32") for case in ADAM_CASES),
    cases=(
        _case("lstm-teacher-forcing", "lstm", "adam_step", {"lr": 0.01}, seed=541),
        _case("lstm-scheduled-sampling", "lstm", "adam_step", {"lr": 0.01}, truth_probability=0.5, seed=542),
        # the gradients' global norm is 0.25-0.35 here: 0.1 clips every step
        _case("lstm-clipped-sgd", "lstm", "sgd_step", {"lr": 0.5}, max_norm=0.1, seed=543),
        _case("gru-teacher-forcing", "gru", "adam_step", {"lr": 0.01}, seed=544),
    ),
    error_cases=(
        ErrorCase("unknown-cell", _bad(lambda i: i["hyper"].update(cell="transformer")), ValueError,
                  r"seq2seq_train_step: cell must be one of \('lstm', 'gru'\)"),
        ErrorCase("coins-per-step", _bad(lambda i: i["batch"].update(coins=i["batch"]["coins"][:, :2])), ValueError,
                  r"seq2seq_train_step: coins must have shape \(8, 4\) \(one coin per decoder step"),
        ErrorCase("float-tokens", _bad(lambda i: i["batch"].update(x=i["batch"]["x"].astype(np.float64))), TypeError,
                  r"seq2seq_train_step: x must be integer token ids, got dtype float64"),
        ErrorCase("negative-max-norm", _bad(lambda i: i["hyper"].update(max_norm=-1.0)), ValueError,
                  r"seq2seq_train_step: hyper\['max_norm'\] must be a number > 0 or None"),
    ),
)
