"""triplet_mining: the loss AND the mined (anchor, positive, negative) triplets, for any
strategy, so that the three frameworks are compared on what they mined, not only on a
loss that could agree by accident. The differentiable losses are triplet_batch_all,
triplet_batch_hard and triplet_semi_hard; the contract is in _mining.py."""
import numpy as np

from shared.concepts import _mining as m
from shared.spec import Concept

EXTRA = {
    "batch_all": (("average-all", {"margin": 1.0, "average": "all"}, 611),),
    "batch_hard": (("soft", {"soft": True}, 612),),
    "semi_hard": (),
}

CONCEPT = Concept(
    name="triplet_mining",
    module="mining",
    family="contrastive_triplet",
    lesson=3,
    math=m.MATH + ";  returns (L, triplets [K, 3] int64, lexicographic: the triplets L averages over)",
    japanese=m.JAPANESE,
    signature='triplet_mining(embeddings [B, D], labels [B] int, *, strategy="batch_all", margin=1.0, '
              'distance="squared", average="positive", soft=False) -> (loss, triplets); strategy in '
              "batch_all | batch_hard | semi_hard; average (batch_all): 'positive' = mean over h > 0, "
              "'all' = over every valid triplet; soft (batch_hard): softplus(d_ap - d_an)",
    differentiable=(),
    outputs=("loss", "triplets"),
    cases=tuple(case for strategy in m.STRATEGIES
                for case in m.cases(strategy, mining=True, extra=EXTRA[strategy])),
    error_cases=m.error_cases("triplet_mining") + (
        m.ErrorCase("unknown-strategy", lambda: {"embeddings": np.zeros((4, 2)), "labels": np.arange(4)},
                    ValueError, r"triplet_mining: strategy must be one of \('batch_all', 'batch_hard', "
                                r"'semi_hard'\), got 'hard'", {"strategy": "hard"}),
        m.ErrorCase("soft-batch-all", lambda: {"embeddings": np.zeros((4, 2)), "labels": np.arange(4)},
                    ValueError, r"triplet_mining: soft=True .* for strategy 'batch_hard' only",
                    {"soft": True}),
    ),
)
