"""warmup_cosine_schedule: the learning rate rises linearly from 0 to base_lr over
warmup_steps, then falls along half a cosine to min_lr over decay_steps and stays there
(Loshchilov and Hutter's SGDR without restarts, with the linear warmup of Goyal et al.; the
schedule of most Transformer fine-tuning recipes). Keras' CosineDecay(0, decay_steps,
alpha=min_lr / base_lr, warmup_target=base_lr, warmup_steps=...) is the same function."""
import math

import numpy as np

from shared import lazy
from shared.concepts import _schedules
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side, Tolerance

NAME = "warmup_cosine_schedule"


def validate(step, *, base_lr, warmup_steps, decay_steps, min_lr):
    _schedules.validate_step(NAME, step)
    _schedules.require_positive(NAME, "base_lr", base_lr)
    _schedules.require_count(NAME, "warmup_steps", warmup_steps, 0)
    _schedules.require_count(NAME, "decay_steps", decay_steps, 1)
    if not isinstance(min_lr, (int, float)) or isinstance(min_lr, bool) or not 0 <= min_lr <= base_lr:
        raise ValueError(f"{NAME}: min_lr must be a number in [0, base_lr = {base_lr}], got {min_lr!r}")


def _steps(last):
    return lambda rng: {"step": np.arange(last + 1, dtype=np.float64)}


def _formula(inputs, base_lr, warmup_steps, decay_steps, min_lr=0.0):
    out = []
    for s in inputs["step"]:
        if s < warmup_steps:
            out.append(base_lr * s / warmup_steps)
        else:
            t = min(s - warmup_steps, decay_steps) / decay_steps
            out.append(min_lr + (base_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * t)))
    return np.array(out)


def _golden(**kw):
    return lambda inputs: _formula(inputs, **kw)


# -- oracles -----------------------------------------------------------------------------

def _keras_cosine_decay(step, *, base_lr, warmup_steps, decay_steps, min_lr=0.0):
    schedule = lazy.keras().optimizers.schedules.CosineDecay(
        0.0, decay_steps, alpha=min_lr / base_lr, warmup_target=base_lr, warmup_steps=warmup_steps)
    tf = lazy.tf()
    return tf.stack([tf.cast(schedule(s), step.dtype) for s in step])


def _torch_cosine_annealing(step, *, base_lr, warmup_steps, decay_steps, min_lr=0.0):
    """CosineAnnealingLR(T_max=decay_steps, eta_min=min_lr) stepped once per step; its lr held
    after T_max (it would climb back: we stop stepping it there)."""
    torch = lazy.torch()
    optimizer = torch.optim.SGD([torch.zeros(1)], lr=base_lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=decay_steps, eta_min=min_lr)
    lrs = []
    for s in range(int(step.max()) + 1):
        lrs.append(scheduler.get_last_lr()[0])
        if s < decay_steps:
            optimizer.step()
            scheduler.step()
    return torch.tensor([lrs[int(s)] for s in step], dtype=step.dtype)


# -- porting -----------------------------------------------------------------------------

W, D, BASE = 4, 10, 1.0


def _keras_side(step):
    return _keras_cosine_decay(step, base_lr=BASE, warmup_steps=W, decay_steps=D)


def _torch_sequential(step, first):
    torch = lazy.torch()
    optimizer = torch.optim.SGD([torch.zeros(1)], lr=BASE)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [first(optimizer), torch.optim.lr_scheduler.
                                                                  CosineAnnealingLR(optimizer, T_max=D)], milestones=[W])
    lrs = []
    for _ in range(int(step.max()) + 1):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return torch.tensor([lrs[int(s)] for s in step], dtype=step.dtype)


def _torch_every_step(step):
    torch = lazy.torch()
    optimizer = torch.optim.SGD([torch.zeros(1)], lr=BASE)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=D)
    lrs = []
    for _ in range(int(step.max()) + 1):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return torch.tensor([lrs[int(s)] for s in step], dtype=step.dtype)


def _torch_linear_lr(step):
    return _torch_sequential(step, lambda o: lazy.torch().optim.lr_scheduler.LinearLR(o, start_factor=1 / W,
                                                                                       total_iters=W))


def _torch_lambda_lr(step):
    return _torch_sequential(step, lambda o: lazy.torch().optim.lr_scheduler.LambdaLR(o, lambda s: s / W))


PORTING = (
    PortingCase(
        "torch-linearlr-warmup-starts-above-0",
        "Keras' CosineDecay(warmup_steps=4) warms up from initial_learning_rate (0 here): 0, 0.25, 0.5, 0.75, 1. "
        "torch's LinearLR cannot start at 0 (start_factor must be > 0): LinearLR(start_factor=1/4, total_iters=4) "
        "gives 0.25, 0.44, 0.63, 0.81, then the cosine. A LambdaLR of s / 4 for the warmup matches.",
        _steps(W + D),
        reference=Side("tf", "CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)", _keras_side),
        naive=Side("torch", "SequentialLR([LinearLR(start_factor=1/4, total_iters=4), CosineAnnealingLR(T_max=10)], "
                            "milestones=[4])", _torch_linear_lr),
        fixed=Side("torch", "SequentialLR([LambdaLR(lambda s: s / 4), CosineAnnealingLR(T_max=10)], milestones=[4])",
                   _torch_lambda_lr),
        seed=2360,
        source="torch.optim.lr_scheduler.LinearLR(start_factor=1/3): 'start_factor (float) ... 0 < start_factor <= 1'; "
               "keras.optimizers.schedules.CosineDecay(initial_learning_rate, decay_steps, alpha=0.0, "
               "warmup_target=None, warmup_steps=0)"),
    PortingCase(
        "torch-cosine-annealing-climbs-back",
        "torch's CosineAnnealingLR is periodic: stepped past T_max its learning rate climbs back up the "
        "cosine (0.024, 0.095, ... at T_max + 1, + 2); Keras' CosineDecay stays at alpha * initial after "
        "decay_steps. Stop stepping the scheduler at T_max (or set T_max to the whole run).",
        _steps(2 * D),
        reference=Side("tf", "CosineDecay(1.0, 10)", lambda step: _keras_cosine_decay(
            step, base_lr=BASE, warmup_steps=0, decay_steps=D)),
        naive=Side("torch", "CosineAnnealingLR(opt, T_max=10), scheduler.step() every step", _torch_every_step),
        fixed=Side("torch", "CosineAnnealingLR(opt, T_max=10), scheduler.step() while step < 10",
                   lambda step: _torch_cosine_annealing(step, base_lr=BASE, warmup_steps=0, decay_steps=D)),
        seed=2361,
        source="torch.optim.lr_scheduler.CosineAnnealingLR: the recursive form 'when last_epoch > T_max' "
               "follows the cosine's next period; keras.optimizers.schedules.CosineDecay: "
               "'step = min(step, decay_steps)'"),
)

KW = {"base_lr": 1e-3, "warmup_steps": 10, "decay_steps": 40}
CONCEPT = Concept(
    name=NAME,
    module="schedules",
    family="attention_transformer",
    lesson=9,
    math="lr(s) = base_lr s / W for s < W;  else t = min(s - W, D) / D,  lr = min_lr + (base_lr - min_lr) "
         "(1 + cos(pi t)) / 2",
    japanese="ウォームアップ付きコサイン減衰 (学習率スケジュール)",
    signature="warmup_cosine_schedule(step, *, base_lr, warmup_steps, decay_steps, min_lr=0.0) -> lr per step; "
              "step a float array of step numbers >= 0",
    differentiable=(),
    cases=(
        Case("warmup-10-decay-40", _steps(60), KW, golden=_golden(**KW),
             note="0 at step 0, base_lr at step 10, min_lr from step 50 on"),
        Case("min-lr", _steps(30), {**KW, "min_lr": 1e-4, "decay_steps": 20}, golden=_golden(**KW | {
            "min_lr": 1e-4, "decay_steps": 20})),
        Case("no-warmup", _steps(25), {"base_lr": 0.1, "warmup_steps": 0, "decay_steps": 20, "min_lr": 0.001},
             golden=_golden(base_lr=0.1, warmup_steps=0, decay_steps=20, min_lr=0.001),
             note="pure cosine annealing: torch's CosineAnnealingLR"),
        Case("by-hand", lambda rng: {"step": np.array([0.0, 2.0, 4.0, 9.0, 14.0, 20.0])},
             {"base_lr": 1.0, "warmup_steps": 4, "decay_steps": 10}, golden=lambda i: np.array(
                 [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]),
             note="half-way up (0.5), the top (1), half-way down (cos(pi/2): 0.5), the bottom and after"),
    ),
    error_cases=(
        ErrorCase("negative-step", lambda: {"step": np.array([-1.0, 0.0])}, ValueError,
                  r"warmup_cosine_schedule: step must be >= 0 \(0 is the first step\), got -1", KW),
        ErrorCase("integer-step", lambda: {"step": np.arange(3)}, TypeError,
                  r"warmup_cosine_schedule: step must be a floating-point array", KW),
        ErrorCase("decay-0", lambda: {"step": np.arange(3.0)}, ValueError,
                  r"decay_steps must be an int >= 1, got 0", KW | {"decay_steps": 0}),
        ErrorCase("min-above-base", lambda: {"step": np.arange(3.0)}, ValueError,
                  r"min_lr must be a number in \[0, base_lr = 0\.001\], got 0\.01", KW | {"min_lr": 0.01}),
    ),
    oracles=(
        Oracle("tf", "keras.optimizers.schedules.CosineDecay(0, D, alpha, warmup_target, warmup_steps)",
               _keras_cosine_decay),
        Oracle("torch", "torch.optim.lr_scheduler.CosineAnnealingLR", _torch_cosine_annealing,
               applies=lambda case: case.kwargs["warmup_steps"] == 0),
    ),
    porting=PORTING,
    overrides=(
        # Keras' schedules compute in float32 whatever the step's dtype (initial_learning_rate
        # becomes a float32 tensor): a few float32 roundings of lr <= base_lr through a cos
        Override("builtin", Tolerance(4 * 2.0 ** -24, 4 * 2.0 ** -24,
                                      "Keras schedules compute in float32: 4 roundings of values <= 1"),
                 dtype="float64", backend="tf"),
    ),
)
