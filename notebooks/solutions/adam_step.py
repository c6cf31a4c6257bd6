"""A worked answer to exercise "adam_step" of notebook 03: `rosetta check adam_step notebooks/solutions/adam_step.py` passes every check."""
import numpy as np


def adam_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    grad = grad + weight_decay * param
    t = state["t"] + 1
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v, "t": t}
