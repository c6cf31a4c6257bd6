"""adagrad_step: per-parameter learning rates that shrink with every squared gradient."""
import math

import numpy as np

from shared import checks, lazy
from shared.concepts import _optimizers as opt
from shared.spec import Concept, Oracle, PortingCase, Side


def init_state(param, **hyper):
    return {"h": np.zeros_like(param)}


SQUARES = ("h",)  # the sum of squared gradients: never negative


def validate(param, grad, state, *, lr, eps, eps_inside_sqrt):
    opt.validate("adagrad_step", param, grad, state, ("h",), lr=lr, squares=SQUARES)
    checks.require_nonnegative("adagrad_step", "eps", eps)
    checks.require_bool("adagrad_step", "eps_inside_sqrt", eps_inside_sqrt)


def _update(p, g, s, t, lr=0.01, eps=1e-7, eps_inside_sqrt=False):
    h = s["h"] + g * g
    denominator = math.sqrt(h + eps) if eps_inside_sqrt else math.sqrt(h) + eps
    return p - lr * g / denominator, {"h": h}


def _torch_adagrad(p, lr=0.01, eps=1e-7, eps_inside_sqrt=False):
    return lazy.torch().optim.Adagrad(p, lr=lr, eps=eps)


def _keras_adagrad(dtype, state, lr=0.01, eps=1e-7, eps_inside_sqrt=False):
    return lazy.keras().optimizers.Adagrad(learning_rate=lr, epsilon=eps)


def _inside(case):
    return case.kwargs.get("eps_inside_sqrt", False)


CONCEPT = Concept(
    name="adagrad_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=4,
    math="h <- h + grad^2;  param <- param - lr grad / (sqrt(h) + eps)   "
         "(eps_inside_sqrt: / sqrt(h + eps), Keras' form)",
    japanese="AdaGrad",
    signature="adagrad_step(param, grad, state, *, lr=0.01, eps=1e-7, eps_inside_sqrt=False) -> (param, state); "
              "state = {'h'}; eps=1e-7 outside the sqrt as in the book (torch: 1e-10 outside, Keras: 1e-7 inside)",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update,
                    {"default": {}, "eps-inside-sqrt": {"eps_inside_sqrt": True, "eps": 1e-7},
                     "lr-0.5-eps-0.1": {"lr": 0.5, "eps": 0.1}},
                    seed=131, second_moments=("h",)),
    error_cases=opt.error_cases("adagrad_step", init_state),
    oracles=(
        Oracle("torch", "torch.optim.Adagrad",
               opt.torch_optimizer(_torch_adagrad, lambda s: {"step": lazy.torch().tensor(0.0), "sum": s["h"].clone()},
                                   lambda torch_state: {"h": torch_state["sum"]}),
               applies=lambda case: not _inside(case)),
        Oracle("tf", "keras.optimizers.Adagrad",
               opt.keras_optimizer(_keras_adagrad, lambda optimizer: {"h": optimizer._accumulators[0]}),
               applies=_inside),
    ),
    porting=(
        PortingCase(
            "adagrad-defaults",
            "torch's Adagrad starts its accumulator at 0 with lr=0.01 and eps=1e-10 outside the "
            "sqrt; Keras' at 0.1 with learning_rate=0.001 and epsilon=1e-7 inside it. Matching "
            "lr and the start, eps^2 = 1e-20 inside the sqrt stands in for 1e-10 outside it.",
            opt.least_squares(),
            reference=Side("torch", "torch.optim.Adagrad([x])", opt.torch_run(lambda p: lazy.torch().optim.Adagrad(p))),
            naive=Side("tf", "keras.optimizers.Adagrad()", opt.keras_run(lambda: lazy.keras().optimizers.Adagrad())),
            fixed=Side("tf", "keras.optimizers.Adagrad(learning_rate=0.01, initial_accumulator_value=0.0, "
                             "epsilon=1e-20)",
                       opt.keras_run(lambda: lazy.keras().optimizers.Adagrad(
                           learning_rate=0.01, initial_accumulator_value=0.0, epsilon=1e-20))),
            seed=139,
            source="torch.optim.Adagrad and keras.optimizers.Adagrad signatures and update rules"),
    ),
)
