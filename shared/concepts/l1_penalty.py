"""l1_penalty: lam sum |W|, whose gradient lam sign(W) pushes weights to exactly 0."""
import math

import numpy as np

from shared import lazy
from shared.concepts import _penalties
from shared.spec import Concept, Oracle


def validate(W, *, lam):
    _penalties.validate("l1_penalty", W, lam)


CONCEPT = Concept(
    name="l1_penalty",
    module="regularizers",
    family="optimizers_mlp",
    lesson=9,
    math="penalty = lam sum |W|;  d penalty / dW = lam sign(W)  (0 at W = 0)",
    japanese="L1正則化",
    signature="l1_penalty(W, *, lam) -> scalar",
    differentiable=("W",),
    cases=_penalties.cases(lambda W, lam: lam * math.fsum(abs(float(w)) for w in W.flat),
                           lambda W, lam: lam * np.sign(W)),
    overrides=(_penalties.KERAS_FACTOR_FLOAT32,),
    error_cases=_penalties.error_cases("l1_penalty"),
    oracles=(Oracle("tf", "keras.regularizers.L1(lam)", lambda W, *, lam: lazy.keras().regularizers.L1(l1=lam)(W)),),
)
