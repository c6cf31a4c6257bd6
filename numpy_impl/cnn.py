"""The book's SimpleConvNet (ゼロから作る 7.5) from our NumPy layers, with its backward
written out layer by layer:

    x -> Conv -> ReLU -> Pool -> Affine -> ReLU -> Affine -> Softmax-with-Loss

A model is its dict of canonical parameters (see shared/concepts/cnn_train_step.py); the
functions below take it, like the book's methods take `self.params`.
"""

from numpy_impl import optimizers
from numpy_impl.activations import relu, relu_backward
from numpy_impl.conv import conv2d, conv2d_backward
from numpy_impl.layers import affine, affine_backward
from numpy_impl.losses import softmax_with_loss, softmax_with_loss_backward
from numpy_impl.pooling import max_pool2d, max_pool2d_backward
from shared.concepts import cnn_train_step as spec


def _conv(hyper):
    return {"stride": hyper["stride"], "padding": hyper["pad"]}


def _forward(params, x, hyper):
    """Scores, and every layer's input: what the backward pass needs."""
    c = conv2d(x, params["W1"], params["b1"], **_conv(hyper))  # [N, F, OH, OW]
    r = relu(c)
    p = max_pool2d(r, spec.POOL, stride=spec.POOL)             # [N, F, h, w]
    a = affine(p, params["W2"], params["b2"])                  # flattens p in (C, H, W) order, as the book
    h = relu(a)
    scores = affine(h, params["W3"], params["b3"])
    return scores, (x, c, r, p, a, h)


def predict(params, x, hyper):
    return _forward(params, x, hyper)[0]


def loss(params, batch, hyper):
    """The training loss, forward only: what the gradient check differentiates numerically."""
    return softmax_with_loss(predict(params, batch["x"], hyper), batch["t"])


def _gradients(params, batch, hyper):
    """(loss, grads) by backpropagation, from the loss back to the first convolution."""
    scores, (x, c, r, p, a, h) = _forward(params, batch["x"], hyper)
    loss_value = softmax_with_loss(scores, batch["t"])
    grads = {}
    d_scores = softmax_with_loss_backward(1.0, scores, batch["t"])
    dh, grads["W3"], grads["b3"] = affine_backward(d_scores, h, params["W3"], params["b3"])
    da = relu_backward(dh, a)
    dp, grads["W2"], grads["b2"] = affine_backward(da, p, params["W2"], params["b2"])  # dp has p's shape again
    dr = max_pool2d_backward(dp, r, spec.POOL, stride=spec.POOL)  # to the max of each window only
    dc = relu_backward(dr, c)
    _, grads["W1"], grads["b1"] = conv2d_backward(dc, x, params["W1"], params["b1"], **_conv(hyper))
    return loss_value, grads


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    loss_value, grads = _gradients(params, batch, hyper)
    new_params, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, new_params, new_opt_state
