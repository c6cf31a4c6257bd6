"""What the weight-decay penalties share: validator, cases, error cases."""
import numpy as np

from shared import checks
from shared.spec import Case, ErrorCase, Override, Tolerance

# keras.regularizers.L1/L2 store their factor with ops.convert_to_tensor, a float32 tensor,
# and cast it to the weights' dtype when called: in float64 the factor, hence the penalty
# and its gradient, is off by up to 2^-24 = 6e-8 relative.
KERAS_FACTOR_FLOAT32 = Override(
    "builtin", Tolerance(1e-14, 6e-8, "Keras regularisers keep their factor as a float32 tensor, even for "
                                      "float64 weights (2^-24 relative)"),
    dtype="float64", backend="tf")


def validate(concept, W, lam):
    checks.require_float(concept, "W", W)
    checks.require_nonnegative(concept, "lam", lam)


def cases(golden, golden_grad):
    """`golden(W, lam)` and `golden_grad(W, lam)` are the penalty's closed forms."""
    def case(name, make, lam, seed=0, note=""):
        return Case(name, make, {"lam": lam}, seed=seed, note=note,
                    golden=lambda inputs: np.array(golden(inputs["W"], lam)),
                    golden_grad=lambda inputs, v: {"W": v * golden_grad(inputs["W"], lam)})

    return (
        case("matrix", lambda rng: {"W": rng.standard_normal((4, 3))}, 0.1, seed=171),
        case("with-zeros", lambda rng: {"W": np.array([[0.0, -1.5, 2.0], [0.5, 0.0, -0.25]])}, 0.01,
             note="|w| has no derivative at 0: the subgradient 0 (sign(0)), as torch and TF choose"),
        case("vector-lam-1", lambda rng: {"W": rng.standard_normal(6)}, 1.0, seed=172),
    )


def error_cases(concept):
    return (
        ErrorCase("negative-lam", lambda: {"W": np.ones((2, 2))}, ValueError,
                  rf"{concept}: lam must be a number >= 0, got -0.1", {"lam": -0.1}),
        ErrorCase("integer-W", lambda: {"W": np.ones((2, 2), dtype=np.int64)}, TypeError,
                  rf"{concept}: W must be a floating-point array", {"lam": 0.1}),
    )
