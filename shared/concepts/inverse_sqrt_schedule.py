"""inverse_sqrt_schedule: the Transformer's learning rate (Vaswani et al. 2017, 5.3),
lrate = d_model^-0.5 min(step^-0.5, step warmup^-1.5): linear warmup to the peak
(d_model warmup)^-0.5 at step = warmup, then decay as 1 / sqrt(step). Neither torch nor Keras
ships it (both take it as a LambdaLR or a LearningRateSchedule subclass), so there is no
built-in check; the golden values are the paper's formula and its published peak."""
import math

import numpy as np

from shared.concepts import _schedules
from shared.spec import Case, Concept, ErrorCase

NAME = "inverse_sqrt_schedule"


def validate(step, *, d_model, warmup_steps, scale):
    _schedules.validate_step(NAME, step)
    _schedules.require_count(NAME, "d_model", d_model, 1)
    _schedules.require_count(NAME, "warmup_steps", warmup_steps, 1)
    _schedules.require_positive(NAME, "scale", scale)


def _formula(d_model, warmup_steps, scale=1.0):
    def golden(inputs):
        return np.array([0.0 if s == 0 else scale * d_model ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)
                         for s in inputs["step"]])
    return golden


def _steps(*steps):
    return lambda rng: {"step": np.array(steps, dtype=np.float64)}


PAPER = {"d_model": 512, "warmup_steps": 4000}
CONCEPT = Concept(
    name=NAME,
    module="schedules",
    family="attention_transformer",
    lesson=10,
    math="lr(s) = scale d_model^-0.5 min(s^-0.5, s W^-1.5) (0 at s = 0): the peak scale (d_model W)^-0.5 at s = W",
    japanese="逆平方根の学習率スケジュール (Transformer の学習率)",
    signature="inverse_sqrt_schedule(step, *, d_model, warmup_steps, scale=1.0) -> lr per step; "
              "step a float array of step numbers >= 0",
    differentiable=(),
    cases=(
        Case("paper-base-model", _steps(0, 1, 100, 1000, 3999, 4000, 4001, 10000, 100000), PAPER,
             golden=_formula(**PAPER), note="d_model 512, warmup 4000: the base model of the paper"),
        Case("paper-peak", _steps(4000), PAPER, golden=lambda i: np.array([1 / math.sqrt(512 * 4000)]),
             note="the peak (512 * 4000)^-0.5 = 6.988e-4, the figure usually quoted for the paper's schedule"),
        Case("small-scaled", lambda rng: {"step": np.arange(60.0)}, {"d_model": 16, "warmup_steps": 10, "scale": 2.0},
             golden=_formula(16, 10, 2.0)),
    ),
    error_cases=(
        ErrorCase("negative-step", lambda: {"step": np.array([-2.0])}, ValueError,
                  r"inverse_sqrt_schedule: step must be >= 0 \(0 is the first step\), got -2", PAPER),
        ErrorCase("warmup-0", lambda: {"step": np.arange(3.0)}, ValueError,
                  r"inverse_sqrt_schedule: warmup_steps must be an int >= 1, got 0", {"d_model": 8, "warmup_steps": 0}),
    ),
)
