"""momentum_step: SGD with momentum, the book's Momentum (a ball rolling downhill)."""
import numpy as np

from shared import lazy
from shared.concepts import _optimizers as opt
from shared.spec import Concept, Oracle, Override, PortingCase, Side, Tolerance

# Keras' SGD requires momentum to be a Python float and casts it with ops.cast, which
# converts a Python float through float32 first: 0.9 becomes 0.89999998 (2.6e-8 relative)
# in a float64 step. The error is 2.6e-8 of momentum * v, at most of the size of the
# state's largest entry: hence atol scaled to it.
KERAS_MOMENTUM_FLOAT32 = Tolerance(
    3e-8, 3e-8, "Keras casts SGD's momentum through float32 (2^-24 relative) even in float64", scaled=True)


def init_state(param, **hyper):
    return {"v": np.zeros_like(param)}


def validate(param, grad, state, *, lr, momentum):
    opt.validate("momentum_step", param, grad, state, ("v",), lr=lr, momentum=momentum)


def _update(p, g, s, t, lr=0.01, momentum=0.9):
    v = momentum * s["v"] - lr * g
    return p + v, {"v": v}


def torch_momentum(nesterov):
    """torch.optim.SGD keeps b = momentum b + grad and steps -lr b: our v is -lr b."""
    def make(p, lr=0.01, momentum=0.9):
        return lazy.torch().optim.SGD(p, lr=lr, momentum=momentum, nesterov=nesterov)

    def run(param, grad, state, lr=0.01, momentum=0.9):
        oracle = opt.torch_optimizer(lambda p: make(p, lr, momentum),
                                     lambda s: {"momentum_buffer": -s["v"] / lr},
                                     lambda torch_state: {"v": -lr * torch_state["momentum_buffer"]})
        return oracle(param, grad, state)
    return run


def keras_momentum(nesterov):
    def make(dtype, state, lr=0.01, momentum=0.9):
        return lazy.keras().optimizers.SGD(learning_rate=lr, momentum=momentum, nesterov=nesterov)
    return opt.keras_optimizer(make, lambda optimizer: {"v": optimizer.momentums[0]})


def _drop_lr_and_rescale_velocity(optimizer):
    for velocity in optimizer.momentums:
        velocity.assign(velocity / 10)


CONCEPT = Concept(
    name="momentum_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=2,
    math="v <- momentum v - lr grad;  param <- param + v",
    japanese="Momentum（モーメンタム）",
    signature="momentum_step(param, grad, state, *, lr=0.01, momentum=0.9) -> (param, state); "
              "state = {'v'} (the book's and Keras' velocity; torch's buffer b is -v / lr)",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update, {"default": {}, "lr-0.1-momentum-0.5": {"lr": 0.1, "momentum": 0.5}},
                    seed=111),
    error_cases=opt.error_cases("momentum_step", init_state, ("momentum", 1.0)),
    oracles=(
        Oracle("torch", "torch.optim.SGD(momentum=...)", torch_momentum(nesterov=False)),
        Oracle("tf", "keras.optimizers.SGD(momentum=...)", keras_momentum(nesterov=False)),
    ),
    overrides=(Override("builtin", KERAS_MOMENTUM_FLOAT32, dtype="float64", backend="tf"),),
    porting=(
        PortingCase(
            "momentum-learning-rate-change",
            "torch's SGD accumulates gradients (b = momentum b + g) and multiplies by the CURRENT lr; "
            "Keras (and the book) accumulate lr-scaled steps (v = momentum v - lr g). They agree while "
            "lr is constant; after a 10x drop at step 50, Keras' velocity still carries the old lr. "
            "Dividing the velocity by 10 at the drop reproduces torch.",
            opt.least_squares(),
            reference=Side("torch", "SGD([x], lr=0.05, momentum=0.9); lr /= 10 at step 50",
                           opt.torch_run(lambda p: lazy.torch().optim.SGD(p, lr=0.05, momentum=0.9), lr_drop_at=50)),
            naive=Side("tf", "keras.optimizers.SGD(0.05, momentum=0.9); learning_rate /= 10 at step 50",
                       opt.keras_run(lambda: lazy.keras().optimizers.SGD(0.05, momentum=0.9), lr_drop_at=50)),
            fixed=Side("tf", "... and at the drop: for v in optimizer.momentums: v.assign(v / 10)",
                       opt.keras_run(lambda: lazy.keras().optimizers.SGD(0.05, momentum=0.9), lr_drop_at=50,
                                     on_drop=_drop_lr_and_rescale_velocity)),
            seed=119,
            source="torch.optim.SGD docs (note on the Sutskever formulation); keras/src/optimizers/sgd.py update_step"),
    ),
)
