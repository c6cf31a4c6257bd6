"""A worked answer to exercise "momentum_step" of notebook 03: `rosetta check momentum_step notebooks/solutions/momentum_step.py` passes every check."""
import numpy as np


def momentum_step(param, grad, state, *, lr=0.01, momentum=0.9):
    v = momentum * state["v"] - lr * grad
    return param + v, {"v": v}
