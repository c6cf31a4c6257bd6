"""The book's fused Softmax-with-Loss backward (y - t) / N against the unfused chain:
cross_entropy's backward followed by softmax's backward."""
import numpy as np

from numpy_impl.activations import softmax, softmax_backward
from numpy_impl.losses import cross_entropy_backward, softmax_with_loss, softmax_with_loss_backward, cross_entropy


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return 2 * rng.standard_normal((6, 5)), rng.integers(0, 5, 6)


def _unfused(x, t, log_guard):
    y = softmax(x)
    dy = cross_entropy_backward(1.0, y, t, log_guard=log_guard)
    return softmax_backward(dy, x)


def test_fused_backward_equals_the_unfused_chain_without_the_guard():
    x, t = _batch()
    np.testing.assert_allclose(softmax_with_loss_backward(1.0, x, t), _unfused(x, t, 0.0),
                               rtol=1e-12, atol=1e-15)  # float64: same math, other rounding


def test_the_books_guard_is_the_only_difference_and_it_is_small():
    # with log(y + 1e-7) the chain differentiates a slightly different loss: the gradient
    # through the true class is scaled by y_t / (y_t + 1e-7), a relative change <= 1e-7 / y_t
    x, t = _batch()
    y_true = softmax(x)[np.arange(6), t]
    fused, unfused = softmax_with_loss_backward(1.0, x, t), _unfused(x, t, 1e-7)
    assert not np.allclose(fused, unfused, rtol=1e-12, atol=0)
    np.testing.assert_allclose(unfused, fused, rtol=2e-7 / y_true.min(), atol=1e-15)


def test_forward_is_cross_entropy_of_the_logits_for_one_hot_and_labels():
    x, t = _batch(1)
    one_hot = np.eye(5)[t]
    assert softmax_with_loss(x, t) == softmax_with_loss(x, one_hot)
    np.testing.assert_allclose(softmax_with_loss(x, t),
                               -np.mean(np.log(softmax(x)[np.arange(6), t])), rtol=1e-13)
    np.testing.assert_allclose(softmax_with_loss(x, t), cross_entropy(x, t, from_logits=True), rtol=0)
