"""dropout: drop units with probability p during training; the mask is injected."""
import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, PortingCase, Side


def validate(x, mask, *, p):
    checks.require_floats("dropout", x=x, mask=mask)
    checks.require_shape("dropout", "mask", mask, checks.shape_of(x), "one keep/drop decision per unit of x")
    checks.require_number_in("dropout", "p", p, 0.0, 1.0, hi_open=True)
    checks.require_values_in("dropout", "mask", mask, (0.0, 1.0), "0 (drop) and 1 (keep)")


def mask_for(rng, shape, p):
    """The injected mask: 1 keeps a unit, with probability 1 - p."""
    return (rng.uniform(size=shape) >= p).astype(np.float64)


def _make(shape, p):
    def make(rng):
        return {"x": rng.standard_normal(shape), "mask": mask_for(rng, shape, p)}
    return make


def _closed_form(p):
    return lambda inputs: inputs["x"] * inputs["mask"] / (1 - p)


def _closed_form_grad(p):
    return lambda inputs, v: {"x": v * inputs["mask"] / (1 - p)}


def _case(name, shape, p, seed):
    return Case(name, _make(shape, p), {"p": p}, seed=seed, golden=_closed_form(p), golden_grad=_closed_form_grad(p))


def _book_inference(x):
    # ゼロから作る 6.4.3: at inference the book's Dropout returns x * (1.0 - dropout_ratio)
    return x * (1.0 - 0.5)


CONCEPT = Concept(
    name="dropout",
    module="layers",
    family="optimizers_mlp",
    lesson=11,
    math="y = x * mask / (1 - p), mask_i = 1 with probability 1 - p (inverted dropout: inference "
         "is the identity);  dx = dy * mask / (1 - p)",
    japanese="Dropout（ドロップアウト）",
    signature="dropout(x, mask, *, p) -> same shape as x; p is the DROP probability, as in torch "
              "Dropout(p) and Keras Dropout(rate); mask (0 drop, 1 keep) comes from the caller",
    differentiable=("x",),
    cases=(
        _case("p-0.5", (6, 8), 0.5, seed=91),
        _case("p-0.2-rank-4", (2, 3, 4, 4), 0.2, seed=92),
        _case("p-0", (4, 5), 0.0, seed=93),
    ),
    error_cases=(
        ErrorCase("p-is-1", lambda: {"x": np.ones((2, 3)), "mask": np.ones((2, 3))}, ValueError,
                  r"dropout: p must be a number in \[0.0, 1.0\), got 1.0", {"p": 1.0}),
        ErrorCase("mask-shape", lambda: {"x": np.ones((2, 3)), "mask": np.ones(3)}, ValueError,
                  r"dropout: mask must have shape \(2, 3\) \(one keep/drop decision per unit of x\)",
                  {"p": 0.5}),
        ErrorCase("mask-not-binary", lambda: {"x": np.ones((2, 2)), "mask": np.array([[1.0, 0.0], [0.5, 1.0]])},
                  ValueError, r"dropout: mask must hold only 0 \(drop\) and 1 \(keep\), found 0.5", {"p": 0.5}),
        ErrorCase("integer-x", lambda: {"x": np.ones((2, 2), dtype=np.int32), "mask": np.ones((2, 2))},
                  TypeError, r"dropout: x must be a floating-point array", {"p": 0.5}),
    ),
    porting=(
        PortingCase(
            "book-dropout-scales-at-inference",
            "The book's Dropout keeps units unscaled in training and multiplies by 1 - p at "
            "inference; torch and Keras (and we) scale kept units by 1/(1 - p) in training "
            "and leave inference alone. Weights trained one way and run the other are off "
            "by the factor 1 - p.",
            lambda rng: {"x": rng.standard_normal((4, 6))},
            reference=Side("torch", "nn.Dropout(0.5).eval()(x)",
                           lambda x: lazy.torch().nn.Dropout(0.5).eval()(x)),
            naive=Side("numpy", "x * (1.0 - 0.5)  # the book's Dropout, train_flg=False", _book_inference),
            fixed=Side("numpy", "x  # inverted dropout: nothing to do at inference", lambda x: x),
            seed=94,
            source="ゼロから作る 6.4.3 Dropout class; torch.nn.Dropout docs ('scaled by 1/(1-p) during training')"),
    ),
)
