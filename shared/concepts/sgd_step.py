"""sgd_step: plain stochastic gradient descent, param -= lr * grad."""
from shared import lazy
from shared.concepts import _optimizers as opt
from shared.spec import Concept, Oracle, PortingCase, Side


def init_state(param, **hyper):
    return {}


def validate(param, grad, state, *, lr):
    opt.validate("sgd_step", param, grad, state, (), lr=lr)


def _update(p, g, s, t, lr=0.01):
    return p - lr * g, {}


def _keras_sgd(dtype, state, lr=0.01):
    return lazy.keras().optimizers.SGD(learning_rate=lr)


def _keras_sgd_001():
    return lazy.keras().optimizers.SGD(learning_rate=0.01)


CONCEPT = Concept(
    name="sgd_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=1,
    math="param <- param - lr grad",
    japanese="確率的勾配降下法（SGD）",
    signature="sgd_step(param, grad, state, *, lr=0.01) -> (param, state); state = {}",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update, {"default": {}, "lr-0.5": {"lr": 0.5}}, seed=101),
    error_cases=opt.error_cases("sgd_step", init_state),
    oracles=(
        Oracle("torch", "torch.optim.SGD",
               opt.torch_optimizer(lambda p, lr=0.01: lazy.torch().optim.SGD(p, lr=lr),
                                   lambda state: {}, lambda torch_state: {})),
        Oracle("tf", "keras.optimizers.SGD", opt.keras_optimizer(_keras_sgd, lambda optimizer: {})),
    ),
    porting=(
        PortingCase(
            "keras-optimizer-float64-learning-rate",
            "Keras 3 keeps an optimizer's learning rate in a variable of dtype keras.config.floatx(), "
            "float32 by default, even when the model is float64: lr = 0.01 becomes 0.0099999998, and "
            "100 float64 SGD steps land ~1e-8 away from torch's. Build the optimizer after "
            "keras.config.set_floatx('float64').",
            opt.least_squares(),
            reference=Side("torch", "torch.optim.SGD([x], lr=0.01)  # float64, 100 steps",
                           opt.torch_run(lambda p: lazy.torch().optim.SGD(p, lr=0.01))),
            naive=Side("tf", "keras.optimizers.SGD(learning_rate=0.01)", opt.keras_run(_keras_sgd_001)),
            fixed=Side("tf", "keras.config.set_floatx('float64'); keras.optimizers.SGD(learning_rate=0.01)",
                       opt.keras_run(_keras_sgd_001, floatx="float64")),
            dtype="float64",
            seed=109,
            source="keras/src/optimizers/base_optimizer.py: "
                   "learning_rate = backend.Variable(..., dtype=backend.floatx())"),
    ),
)
