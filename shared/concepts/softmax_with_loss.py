"""softmax_with_loss: the book's fused Softmax-with-Loss layer, backward (y - t) / N."""
import numpy as np

from shared import lazy
from shared.concepts import cross_entropy as ce
from shared.spec import Case, Concept, ErrorCase, Oracle


def validate(x, t):
    """Returns "labels" or "probabilities", the form t came in."""
    _, kind = ce.validate(x, t, from_logits=True, axis=-1, concept="softmax_with_loss", y_name="x")
    return kind


def _labels(rng):
    return {"x": 2 * rng.standard_normal((5, 4)), "t": rng.integers(0, 4, 5)}


def _one_hot(rng):
    inputs = _labels(rng)
    return {"x": inputs["x"], "t": np.eye(4)[inputs["t"]]}


CONCEPT = Concept(
    name="softmax_with_loss",
    module="losses",
    family="softmax_cross_entropy",
    lesson=3,
    math="L = cross_entropy(softmax(x), t) (mean over the batch);  dL/dx = (softmax(x) - t) / N",
    japanese="Softmax-with-Loss レイヤ",
    signature="softmax_with_loss(x, t) -> scalar; classes on the last axis, t one-hot or labels",
    differentiable=("x",),
    cases=(
        Case("labels", _labels, seed=51),
        Case("one-hot", _one_hot, seed=51),
        Case("overflow", lambda rng: {"x": np.array([[1010.0, 1000.0, 990.0]]), "t": np.array([0])}),
    ),
    error_cases=(
        ErrorCase("shape-mismatch", lambda: {"x": np.zeros((2, 3)), "t": np.array([0, 1, 2])},
                  ValueError, r"softmax_with_loss: t must have x's shape"),
        ErrorCase("label-out-of-range", lambda: {"x": np.zeros((2, 3)), "t": np.array([0, 7])},
                  ValueError, r"softmax_with_loss: t holds 7, out of range for 3 classes \(it must be in \[0, 2\]\)"),
        ErrorCase("float-labels", lambda: {"x": np.zeros((2, 3)), "t": np.array([0.0, 1.0])},
                  TypeError, r"softmax_with_loss: t must be integer class labels"),
        ErrorCase("integer-x", lambda: {"x": np.zeros((2, 3), dtype=np.int32), "t": np.array([0, 1])},
                  TypeError, r"softmax_with_loss: x must be a floating-point array"),
        ErrorCase("empty-batch", lambda: {"x": np.zeros((0, 3)), "t": np.zeros(0, dtype=np.int64)},
                  ValueError, r"softmax_with_loss: x is empty"),
    ),
    oracles=(
        Oracle("torch", "F.cross_entropy",
               lambda x, t: lazy.F().cross_entropy(x, t if t.dim() < x.dim() else t.to(x.dtype))),
        Oracle("tf", "keras.losses.(sparse_)categorical_crossentropy",
               lambda x, t: ce._keras_ce(x, t)),
    ),
)
