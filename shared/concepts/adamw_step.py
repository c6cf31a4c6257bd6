"""adamw_step: Adam with decoupled weight decay (Loshchilov & Hutter)."""
from shared import lazy
from shared.concepts import _optimizers as opt
from shared.concepts.adam_step import SQUARES  # noqa: F401 (read by shared.training.validate_step_state)
from shared.concepts.adam_step import (adam_state_from_torch, adam_update, init_state, keras_adam_options,
                                       keras_adam_slots, torch_adam_state, validate_adam)
from shared.spec import Concept, Oracle, PortingCase, Side


def validate(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    validate_adam("adamw_step", param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                  weight_decay=weight_decay)


def _update(p, g, s, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    return adam_update(p - lr * weight_decay * p, g, s, t, lr, beta1, beta2, eps)


def _torch_adamw(p, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    return lazy.torch().optim.AdamW(p, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)


def _keras_adamw(dtype, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    return lazy.keras().optimizers.AdamW(learning_rate=lr, weight_decay=weight_decay,
                                         **keras_adam_options(dtype, state, beta1, beta2, eps))


CONCEPT = Concept(
    name="adamw_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=7,
    math="param <- param - lr weight_decay param;  then Adam's step on grad (no L2 term)",
    japanese="AdamW（分離された荷重減衰）",
    signature="adamw_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01) "
              "-> (param, state); state = {'m', 'v', 't'}; defaults as torch's AdamW",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update,
                    {"default": {}, "weight-decay-0.5-lr-0.01": {"weight_decay": 0.5, "lr": 0.01}},
                    seed=161, second_moments=("v",)),
    error_cases=opt.error_cases("adamw_step", init_state, ("beta1", -0.1)),
    oracles=(
        Oracle("torch", "torch.optim.AdamW",
               opt.torch_optimizer(_torch_adamw, torch_adam_state, adam_state_from_torch)),
        Oracle("tf", "keras.optimizers.AdamW", opt.keras_optimizer(_keras_adamw, keras_adam_slots, time_step=True)),
    ),
    porting=(
        PortingCase(
            "adamw-default-weight-decay",
            "torch's AdamW defaults to weight_decay=0.01 and eps=1e-8; Keras' AdamW to "
            "weight_decay=0.004 and epsilon=1e-7 (before the bias correction).",
            opt.least_squares(),
            reference=Side("torch", "torch.optim.AdamW([x])", opt.torch_run(lambda p: lazy.torch().optim.AdamW(p))),
            naive=Side("tf", "keras.optimizers.AdamW()", opt.keras_run(lambda: lazy.keras().optimizers.AdamW())),
            fixed=Side("tf", "keras.optimizers.AdamW(weight_decay=0.01, epsilon=1e-8)",
                       opt.keras_run(lambda: lazy.keras().optimizers.AdamW(weight_decay=0.01, epsilon=1e-8))),
            seed=169,
            source="torch.optim.AdamW and keras.optimizers.AdamW signatures"),
    ),
)
