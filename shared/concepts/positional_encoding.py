"""positional_encoding: the Transformer's sinusoidal position signal (Vaswani et al. 2017,
3.5), added to the token embeddings so that attention, which ignores order, can tell
positions apart. Feature 2i is sin(p / base^(2i/d)), feature 2i + 1 the cosine of the same
angle (interleaved, as the paper and the PyTorch tutorial; TensorFlow's tutorial
concatenates all sines, then all cosines: a porting case). Positions come as a float array,
so that a decoder at step t asks for position t and the dtype follows.

Neither torch nor Keras ships this function (keras_hub's SinePositionEncoding is another
package), so the built-in check is absent; the golden values are the paper's formula in
Python floats, one entry at a time."""
import math
import numbers

import numpy as np

from shared import checks
from shared.spec import Case, Concept, ErrorCase, PortingCase, Side

NAME = "positional_encoding"
BASE = 10000.0


def validate(positions, *, d_model, base):
    checks.require_float(NAME, "positions", positions)
    if not isinstance(d_model, numbers.Integral) or isinstance(d_model, bool) or d_model < 2 or d_model % 2:
        raise ValueError(f"{NAME}: d_model must be an even int >= 2 (a sine and a cosine per frequency), "
                         f"got {d_model!r}")
    if not isinstance(base, numbers.Real) or isinstance(base, bool) or base <= 1:
        raise ValueError(f"{NAME}: base must be a number > 1, got {base!r}")


def _positions(*shape, start=0.0):
    def make(rng):
        return {"positions": start + np.arange(np.prod(shape), dtype=np.float64).reshape(shape)}
    return make


def _formula(d_model, base=BASE):
    def golden(inputs):
        p = inputs["positions"]
        out = np.empty(p.shape + (d_model,))
        for index in np.ndindex(*p.shape):
            for i in range(d_model // 2):
                angle = float(p[index]) / base ** (2 * i / d_model)
                out[index + (2 * i,)] = math.sin(angle)
                out[index + (2 * i + 1,)] = math.cos(angle)
        return out
    return golden


def _concatenated(positions):
    """TensorFlow's tutorial: np.concatenate([sin(angles), cos(angles)], axis=-1)."""
    depth = 4
    rates = 1 / BASE ** (np.arange(depth) / depth)
    angles = positions[:, None] * rates[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)


def _interleaved(positions):
    out = _concatenated(positions)
    return np.stack([out[:, :4], out[:, 4:]], axis=-1).reshape(len(out), 8)


def _paper(positions):
    return _formula(8)({"positions": np.asarray(positions)})


PORTING = (
    PortingCase(
        "tf-tutorial-concatenated-sin-cos",
        "TensorFlow's Transformer tutorial builds the table as [all sines, all cosines]; the paper and the "
        "PyTorch tutorial interleave them (sin, cos, sin, cos, ...). A model trained with one and served "
        "with the other sees its positions scrambled; the converter reorders the columns.",
        _positions(6),
        reference=Side("numpy", "pe[:, 0::2] = sin(p w); pe[:, 1::2] = cos(p w)  # the paper", _paper),
        naive=Side("numpy", "np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)  # TF tutorial",
                   _concatenated),
        fixed=Side("numpy", "np.stack([pe[:, :d/2], pe[:, d/2:]], axis=-1).reshape(L, d)", _interleaved),
        dtype="float64", seed=2300,
        source="Vaswani et al. 2017, 3.5; tensorflow.org/text/tutorials/transformer (positional_encoding); "
               "pytorch.org/tutorials (PositionalEncoding)"),
)


CONCEPT = Concept(
    name=NAME,
    module="transformer",
    family="attention_transformer",
    lesson=2,
    math="w_i = base^(-2i / d_model);  PE[p, 2i] = sin(p w_i),  PE[p, 2i+1] = cos(p w_i);  "
         "dp = sum_i w_i (cos(p w_i) dy[2i] - sin(p w_i) dy[2i+1])",
    japanese="位置エンコーディング (Positional Encoding)",
    signature="positional_encoding(positions, *, d_model, base=10000.0) -> positions.shape + (d_model,); "
              "positions float (0, 1, 2, ... or any offsets)",
    differentiable=("positions",),
    cases=(
        Case("first-50", _positions(50), {"d_model": 16}, golden=_formula(16),
             note="positions 0..49: position 0 is (0, 1, 0, 1, ...) exactly"),
        Case("decoder-step-offset", _positions(1, start=37.0), {"d_model": 8}, golden=_formula(8),
             note="one position, 37: a decoder generating its 38th token"),
        Case("batch-of-positions", _positions(2, 3, start=5.0), {"d_model": 6}, golden=_formula(6)),
        Case("base-100", _positions(10), {"d_model": 4, "base": 100.0}, golden=_formula(4, 100.0)),
        Case("d_model-2", _positions(4), {"d_model": 2}, golden=_formula(2), note="one frequency, w = 1"),
    ),
    error_cases=(
        ErrorCase("odd-d_model", lambda: {"positions": np.arange(3.0)}, ValueError,
                  r"positional_encoding: d_model must be an even int >= 2 \(a sine and a cosine per frequency\), "
                  r"got 5", {"d_model": 5}),
        ErrorCase("integer-positions", lambda: {"positions": np.arange(3)}, TypeError,
                  r"positional_encoding: positions must be", {"d_model": 4}),
        ErrorCase("base-1", lambda: {"positions": np.arange(3.0)}, ValueError,
                  r"positional_encoding: base must be a number > 1, got 1\.0", {"d_model": 4, "base": 1.0}),
    ),
    porting=PORTING,
)
