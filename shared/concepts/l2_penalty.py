"""l2_penalty: the book's weight decay, 0.5 lam sum W^2 added to the loss."""
import math

from shared import lazy
from shared.concepts import _penalties
from shared.spec import Concept, Oracle, PortingCase, Side


def validate(W, *, lam):
    _penalties.validate("l2_penalty", W, lam)


def _golden(W, lam):
    return 0.5 * lam * math.fsum(float(w) ** 2 for w in W.flat)  # an exactly rounded sum


def _keras_l2(W, *, lam):
    # Keras' L2(l2) computes l2 * sum(W^2): half the book's coefficient gives the book's penalty
    return lazy.keras().regularizers.L2(l2=lam / 2)(W)


def _book_l2_torch(W):
    return 0.5 * 0.01 * (W ** 2).sum()


CONCEPT = Concept(
    name="l2_penalty",
    module="regularizers",
    family="optimizers_mlp",
    lesson=10,
    math="penalty = 0.5 lam sum W^2;  d penalty / dW = lam W  (the book's weight decay)",
    japanese="荷重減衰（Weight decay, L2正則化）",
    signature="l2_penalty(W, *, lam) -> scalar; add it to the loss for every weight matrix (not the biases)",
    differentiable=("W",),
    cases=_penalties.cases(_golden, lambda W, lam: lam * W),
    overrides=(_penalties.KERAS_FACTOR_FLOAT32,),
    error_cases=_penalties.error_cases("l2_penalty"),
    oracles=(Oracle("tf", "keras.regularizers.L2(lam / 2)", _keras_l2),),
    porting=(
        PortingCase(
            "keras-l2-coefficient",
            "Keras' L2(l2) regulariser adds l2 * sum(W^2), with gradient 2 l2 W; the book's weight "
            "decay adds 0.5 lam sum(W^2), gradient lam W, as torch's SGD(weight_decay=lam) does. "
            "The book's lam is Keras' L2(lam / 2).",
            lambda rng: {"W": rng.standard_normal((5, 4))},
            reference=Side("torch", "0.5 * 0.01 * (W ** 2).sum()  # the book, lam = 0.01", _book_l2_torch),
            naive=Side("tf", "keras.regularizers.L2(0.01)(W)", lambda W: lazy.keras().regularizers.L2(0.01)(W)),
            fixed=Side("tf", "keras.regularizers.L2(0.005)(W)", lambda W: lazy.keras().regularizers.L2(0.005)(W)),
            seed=179,
            source="keras.regularizers.L2 docs (loss = l2 * reduce_sum(square(x))); ゼロから作る 6.4.2"),
    ),
)
