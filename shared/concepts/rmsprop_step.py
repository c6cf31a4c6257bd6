"""rmsprop_step: AdaGrad with a moving average instead of a sum, so old gradients fade."""
import math

import numpy as np

from shared import checks, lazy
from shared.concepts import _optimizers as opt
from shared.spec import Concept, Oracle, PortingCase, Side


def init_state(param, centered=False, **hyper):
    state = {"h": np.zeros_like(param)}
    if centered:
        state["g_avg"] = np.zeros_like(param)
    return state


SQUARES = ("h",)  # the running average of squared gradients: never negative


def validate(param, grad, state, *, lr, rho, eps, centered, eps_inside_sqrt):
    checks.require_bool("rmsprop_step", "centered", centered)
    keys = ("h", "g_avg") if centered else ("h",)
    opt.validate("rmsprop_step", param, grad, state, keys, lr=lr, squares=SQUARES, rho=rho)
    checks.require_nonnegative("rmsprop_step", "eps", eps)
    checks.require_bool("rmsprop_step", "eps_inside_sqrt", eps_inside_sqrt)


def _update(p, g, s, t, lr=0.01, rho=0.99, eps=1e-7, centered=False, eps_inside_sqrt=False):
    h = rho * s["h"] + (1 - rho) * g * g
    new = {"h": h}
    square = h
    if centered:
        new["g_avg"] = rho * s["g_avg"] + (1 - rho) * g
        square = h - new["g_avg"] ** 2
    denominator = math.sqrt(square + eps) if eps_inside_sqrt else math.sqrt(square) + eps
    return p - lr * g / denominator, new


def _torch_rmsprop(p, lr=0.01, rho=0.99, eps=1e-7, centered=False, eps_inside_sqrt=False):
    return lazy.torch().optim.RMSprop(p, lr=lr, alpha=rho, eps=eps, centered=centered)


def _to_torch(state):
    torch_state = {"step": lazy.torch().tensor(0.0), "square_avg": state["h"].clone()}
    if "g_avg" in state:
        torch_state["grad_avg"] = state["g_avg"].clone()
    return torch_state


def _from_torch(torch_state):
    state = {"h": torch_state["square_avg"]}
    if "grad_avg" in torch_state:
        state["g_avg"] = torch_state["grad_avg"]
    return state


def _keras_rmsprop(dtype, state, lr=0.01, rho=0.99, eps=1e-7, centered=False, eps_inside_sqrt=False):
    return lazy.keras().optimizers.RMSprop(learning_rate=lr, rho=rho, epsilon=eps, centered=centered)


def _keras_slots(optimizer):
    slots = {"h": optimizer._velocities[0]}
    if optimizer.centered:
        slots["g_avg"] = optimizer._average_gradients[0]
    return slots


def _inside(case):
    return case.kwargs.get("eps_inside_sqrt", False)


CONCEPT = Concept(
    name="rmsprop_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=5,
    math="h <- rho h + (1 - rho) grad^2;  param <- param - lr grad / (sqrt(h) + eps);  "
         "centered: g_avg <- rho g_avg + (1 - rho) grad and h - g_avg^2 in place of h",
    japanese="RMSProp",
    signature="rmsprop_step(param, grad, state, *, lr=0.01, rho=0.99, eps=1e-7, centered=False, "
              "eps_inside_sqrt=False) -> (param, state); state = {'h'} (+ 'g_avg' when centered); "
              "rho is the book's decay_rate and torch's alpha",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update,
                    {"default": {}, "eps-inside-sqrt": {"eps_inside_sqrt": True},
                     "rho-0.9-lr-0.001": {"rho": 0.9, "lr": 0.001}, "centered": {"centered": True},
                     "centered-eps-inside-sqrt": {"centered": True, "eps_inside_sqrt": True}},
                    seed=141, second_moments=("h",)),
    error_cases=opt.error_cases("rmsprop_step", init_state, ("rho", 1.0)),
    oracles=(
        Oracle("torch", "torch.optim.RMSprop", opt.torch_optimizer(_torch_rmsprop, _to_torch, _from_torch),
               applies=lambda case: not _inside(case)),
        Oracle("tf", "keras.optimizers.RMSprop", opt.keras_optimizer(_keras_rmsprop, _keras_slots), applies=_inside),
    ),
    porting=(
        PortingCase(
            "rmsprop-defaults",
            "torch's RMSprop defaults to lr=0.01, alpha=0.99, eps=1e-8 added to sqrt(h); Keras' to "
            "learning_rate=0.001, rho=0.9, epsilon=1e-7 added to h inside the sqrt. With lr and the "
            "decay matched, epsilon = eps^2 inside stands in for eps outside (sqrt(h + eps^2) is "
            "within eps of sqrt(h) + eps); rmsprop_step(eps_inside_sqrt=...) reproduces either exactly.",
            opt.least_squares(),
            reference=Side("torch", "torch.optim.RMSprop([x])", opt.torch_run(lambda p: lazy.torch().optim.RMSprop(p))),
            naive=Side("tf", "keras.optimizers.RMSprop()", opt.keras_run(lambda: lazy.keras().optimizers.RMSprop())),
            fixed=Side("tf", "keras.optimizers.RMSprop(learning_rate=0.01, rho=0.99, epsilon=1e-16)",
                       opt.keras_run(lambda: lazy.keras().optimizers.RMSprop(learning_rate=0.01, rho=0.99,
                                                                             epsilon=1e-16))),
            seed=149,
            source="torch.optim.RMSprop and keras.optimizers.RMSprop signatures and update rules"),
    ),
)
