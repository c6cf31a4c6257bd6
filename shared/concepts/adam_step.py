"""adam_step: momentum (m) and RMSProp (v) together, with their start-up bias corrected."""
import math

import numpy as np

from shared import checks, lazy
from shared.concepts import _optimizers as opt
from shared.spec import Concept, ErrorCase, Hint, Oracle, PortingCase, Side


def init_state(param, **hyper):
    return {"m": np.zeros_like(param), "v": np.zeros_like(param), "t": 0}


SQUARES = ("v",)  # the running average of squared gradients: never negative


def validate_adam(concept, param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    opt.validate(concept, param, grad, state, ("m", "v", "t"), lr=lr, squares=SQUARES, beta1=beta1, beta2=beta2)
    checks.require_nonnegative(concept, "eps", eps)
    checks.require_nonnegative(concept, "weight_decay", weight_decay)


def validate(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    validate_adam("adam_step", param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                  weight_decay=weight_decay)


def adam_update(p, g, s, t, lr, beta1, beta2, eps):
    """Kingma & Ba, Algorithm 1, for one scalar at step t + 1."""
    t = t + 1
    m = beta1 * s["m"] + (1 - beta1) * g
    v = beta2 * s["v"] + (1 - beta2) * g * g
    return p - lr * (m / (1 - beta1 ** t)) / (math.sqrt(v / (1 - beta2 ** t)) + eps), {"m": m, "v": v}


def _update(p, g, s, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    return adam_update(p, g + weight_decay * p, s, t, lr, beta1, beta2, eps)


def torch_adam_state(state):
    torch = lazy.torch()
    return {"step": torch.tensor(float(state["t"])), "exp_avg": state["m"].clone(),
            "exp_avg_sq": state["v"].clone()}


def adam_state_from_torch(torch_state):
    return {"m": torch_state["exp_avg"], "v": torch_state["exp_avg_sq"], "t": int(torch_state["step"])}


def keras_adam_options(dtype, state, beta1, beta2, eps):
    """Keras' Adam adds epsilon to sqrt(v) BEFORE the bias correction (the paper's
    'epsilon hat'): epsilon = eps sqrt(1 - beta2^t) at step t is exactly Algorithm 1's eps.
    The betas go in as tensors of the parameter's dtype: Keras ops.casts Python floats
    through float32 (porting case keras-adam-float64-betas)."""
    tf = lazy.tf()
    t = state["t"] + 1
    return {"beta_1": tf.constant(beta1, dtype), "beta_2": tf.constant(beta2, dtype),
            "epsilon": eps * math.sqrt(1 - beta2 ** t)}


def _keras_adam(dtype, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    return lazy.keras().optimizers.Adam(learning_rate=lr, **keras_adam_options(dtype, state, beta1, beta2, eps))


def keras_adam_slots(optimizer):
    return {"m": optimizer._momentums[0], "v": optimizer._velocities[0]}


def _torch_adam(p, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    return lazy.torch().optim.Adam(p, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)


def _epsilon_per_step(eps, beta2=0.999):
    def before_step(optimizer, t):
        optimizer.epsilon = eps * math.sqrt(1 - beta2 ** t)
    return before_step


def _tensor_betas():
    tf = lazy.tf()
    return {"beta_1": tf.constant(0.9, tf.float64), "beta_2": tf.constant(0.999, tf.float64)}


PORTING = (
    PortingCase(
        "keras-adam-epsilon",
        "Keras' Adam defaults to epsilon=1e-7 (torch 1e-8) and adds it to sqrt(v) before the bias "
        "correction (the paper's 'epsilon hat', also the book's Adam), where it weighs "
        "1/sqrt(1 - beta_2^t) times more: 32x at t=1. With gradients ~1e-6 (a badly scaled "
        "loss, or late training) Keras' steps come out several times smaller. Setting "
        "epsilon=1e-8 is not enough; epsilon = 1e-8 * sqrt(1 - beta_2**t) before each step "
        "reproduces torch.",
        opt.least_squares(gradient_scale=1e-6),
        reference=Side("torch", "torch.optim.Adam([x])", opt.torch_run(lambda p: lazy.torch().optim.Adam(p))),
        naive=Side("tf", "keras.optimizers.Adam()", opt.keras_run(lambda: lazy.keras().optimizers.Adam())),
        fixed=Side("tf", "optimizer.epsilon = 1e-8 * sqrt(1 - 0.999**t)  # before step t",
                   opt.keras_run(lambda: lazy.keras().optimizers.Adam(), before_step=_epsilon_per_step(1e-8))),
        seed=159,
        source="Kingma & Ba, Adam, section 2 ('epsilon hat'); keras/src/optimizers/adam.py; tf-keras#315"),
    PortingCase(
        "keras-adam-float64-betas",
        "In float64, Keras' Adam still rounds beta_1 and beta_2 to float32 (ops.cast of a Python "
        "float converts it at TensorFlow's default float32 first): 0.999 becomes 0.99900001, "
        "so 1 - beta_2 is off by 1.3e-5 relative and the first step by 6.7e-6. Pass the betas "
        "as float64 tensors (and build under floatx float64 for the learning rate). "
        "eps=0 on both sides keeps the epsilon-hat difference out of this case.",
        opt.least_squares(),
        reference=Side("torch", "torch.optim.Adam([x], eps=0)  # float64",
                       opt.torch_run(lambda p: lazy.torch().optim.Adam(p, eps=0.0))),
        naive=Side("tf", "keras.config.set_floatx('float64'); keras.optimizers.Adam(epsilon=0)",
                   opt.keras_run(lambda: lazy.keras().optimizers.Adam(epsilon=0.0), floatx="float64")),
        fixed=Side("tf", "keras.optimizers.Adam(beta_1=tf.constant(0.9, tf.float64), "
                         "beta_2=tf.constant(0.999, tf.float64), epsilon=0)",
                   opt.keras_run(lambda: lazy.keras().optimizers.Adam(epsilon=0.0, **_tensor_betas()),
                                 floatx="float64")),
        dtype="float64",
        seed=158,
        source="keras/src/optimizers/adam.py: ops.cast(self.beta_1, variable.dtype)"),
    PortingCase(
        "adam-weight-decay-coupled-or-decoupled",
        "Keras' weight_decay is decoupled in every optimizer (p -= lr wd p, outside Adam's "
        "rescaling); torch's Adam(weight_decay) adds wd p to the gradient (L2), which Adam then "
        "rescales. torch's AdamW is the decoupled one.",
        opt.least_squares(),
        reference=Side("tf", "keras.optimizers.Adam(0.01, weight_decay=0.1, epsilon=1e-8)",
                       opt.keras_run(lambda: lazy.keras().optimizers.Adam(0.01, weight_decay=0.1, epsilon=1e-8))),
        naive=Side("torch", "torch.optim.Adam([x], lr=0.01, weight_decay=0.1)",
                   opt.torch_run(lambda p: lazy.torch().optim.Adam(p, lr=0.01, weight_decay=0.1))),
        fixed=Side("torch", "torch.optim.AdamW([x], lr=0.01, weight_decay=0.1)",
                   opt.torch_run(lambda p: lazy.torch().optim.AdamW(p, lr=0.01, weight_decay=0.1))),
        seed=157,
        source="Loshchilov & Hutter, Decoupled Weight Decay Regularization; keras base_optimizer "
               "_apply_weight_decay; torch.optim.Adam docs"),
)

CONCEPT = Concept(
    name="adam_step",
    module="optimizers",
    family="optimizers_mlp",
    lesson=6,
    hints=(Hint("forward", "divide m by 1 - beta1^t and v by 1 - beta2^t (bias correction): m and v start at 0, "
                  "so without it the first steps are about 3x too small"),),
    math="t <- t + 1;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  "
         "param <- param - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps);  "
         "g = grad + weight_decay param (L2, as torch's Adam)",
    japanese="Adam",
    signature="adam_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0) "
              "-> (param, state); state = {'m', 'v', 't'}; eps as in the paper's Algorithm 1 and torch",
    differentiable=(),
    outputs=("param", "state"),
    cases=opt.cases(init_state, _update,
                    {"default": {}, "large-eps": {"eps": 0.1, "lr": 0.01},
                     "weight-decay": {"weight_decay": 0.1}, "betas-0.5-0.9": {"beta1": 0.5, "beta2": 0.9}},
                    seed=151, second_moments=("v",)),
    error_cases=opt.error_cases("adam_step", init_state, ("beta2", 1.0)) + (
        ErrorCase("t-not-an-int", lambda: {"param": np.ones(2), "grad": np.ones(2),
                                               "state": {"m": np.zeros(2), "v": np.zeros(2), "t": 1.5}},
                      TypeError, r"adam_step: state\['t'\] must be the number of steps taken"),),
    oracles=(
        Oracle("torch", "torch.optim.Adam",
               opt.torch_optimizer(_torch_adam, torch_adam_state, adam_state_from_torch)),
        Oracle("tf", "keras.optimizers.Adam",
               opt.keras_optimizer(_keras_adam, keras_adam_slots, time_step=True),
               # Keras' weight_decay is decoupled: it has no coupled (L2) Adam
               applies=lambda case: not case.kwargs.get("weight_decay")),
    ),
    porting=PORTING,
)
