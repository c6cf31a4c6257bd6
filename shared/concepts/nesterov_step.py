"""nesterov_step: momentum that looks ahead (Nesterov's accelerated gradient)."""
import numpy as np

from shared import lazy
from shared.concepts import _optimizers as opt
from shared.concepts.momentum_step import KERAS_MOMENTUM_FLOAT32, keras_momentum, torch_momentum
from shared.spec import Concept, Hint, Oracle, Override, PortingCase, Side


def init_state(param, **hyper):
    return {"v": np.zeros_like(param)}


def validate(param, grad, state, *, lr, momentum):
    opt.validate("nesterov_step", param, grad, state, ("v",), lr=lr, momentum=momentum)


def _update(p, g, s, t, lr=0.01, momentum=0.9):
    # Bengio et al. 2012 (arXiv:1212.0901) eq. 7 with constant momentum, in v's terms:
    # param += momentum^2 v_old - (1 + momentum) lr g
    v = momentum * s["v"] - lr * g
    return p + momentum * momentum * s["v"] - (1 + momentum) * lr * g, {"v": v}


def _book_nesterov(x, grad, state, lr=0.01, momentum=0.9):
    # ゼロから作る common/optimizer.py Nesterov.update, for one parameter
    v = state["v"] * momentum
    v = v - lr * grad
    x = x + momentum * momentum * v
    x = x - (1 + momentum) * lr * grad
    return x, {"v": v}


def _our_nesterov(A, b, x0, impl):
    """numpy_impl.optimizers.nesterov_step (the engine passes the module as `impl`)."""
    return opt.numpy_run(impl.nesterov_step, init_state, lr=0.01, momentum=0.9)(A, b, x0)


CONCEPT = Concept(
    name="nesterov_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=3,
    hints=(Hint("forward", "that is plain momentum: Nesterov adds momentum v - lr grad to the parameter after "
                  "updating v (a look-ahead along the new velocity)"),),
    math="v <- momentum v - lr grad;  param <- param + momentum v - lr grad  "
         "(= param + momentum^2 v_old - (1 + momentum) lr grad)",
    japanese="Nesterovの加速勾配法（NAG）",
    signature="nesterov_step(param, grad, state, *, lr=0.01, momentum=0.9) -> (param, state); state = {'v'}",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update, {"default": {}, "lr-0.1-momentum-0.5": {"lr": 0.1, "momentum": 0.5}},
                    seed=121),
    error_cases=opt.error_cases("nesterov_step", init_state, ("momentum", 1.5)),
    oracles=(
        Oracle("torch", "torch.optim.SGD(momentum=..., nesterov=True)", torch_momentum(nesterov=True)),
        Oracle("tf", "keras.optimizers.SGD(momentum=..., nesterov=True)", keras_momentum(nesterov=True)),
    ),
    overrides=(Override("builtin", KERAS_MOMENTUM_FLOAT32, dtype="float64", backend="tf"),),
    porting=(
        PortingCase(
            "book-nesterov-uses-the-new-velocity",
            "The book's Nesterov code multiplies the velocity by momentum^2 AFTER updating it, so "
            "each step applies momentum^3 v_old - (1 + momentum + momentum^2) lr grad instead of "
            "momentum^2 v_old - (1 + momentum) lr grad (Bengio et al. 2012, eq. 7; torch and Keras "
            "with nesterov=True). Use the velocity from before the update.",
            opt.least_squares(),
            reference=Side("torch", "SGD([x], lr=0.01, momentum=0.9, nesterov=True)",
                           opt.torch_run(lambda p: lazy.torch().optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True))),
            naive=Side("numpy", "v *= m; v -= lr*g; x += m*m*v; x -= (1+m)*lr*g  # the book",
                       opt.numpy_run(_book_nesterov, init_state)),
            fixed=Side("numpy", "numpy_impl.optimizers.nesterov_step(x, g, state, lr=0.01, momentum=0.9)",
                       _our_nesterov, uses="optimizers"),
            seed=129,
            source="oreilly-japan/deep-learning-from-scratch common/optimizer.py (class Nesterov); "
                   "arXiv:1212.0901 eq. 7"),
    ),
)
