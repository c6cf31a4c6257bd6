"""triplet_batch_all: Hermans et al. 2017's batch-all triplet loss, every valid triplet
of the batch; by default the mean runs over the active ones (h > 0) only. The mined
triplets themselves are compared by triplet_mining; the contract is in _mining.py."""
from shared.concepts import _mining as m
from shared.spec import Concept

CONCEPT = Concept(
    name="triplet_batch_all",
    module="mining",
    family="contrastive_triplet",
    lesson=4,
    math=m.MATH + ";  mined: every valid (a,p,n) with h > 0 (average='positive') or all of them ('all')",
    japanese=m.JAPANESE + " — batch-all",
    signature='triplet_batch_all(embeddings [B, D], labels [B] int, *, margin=1.0, distance="squared", '
              'average="positive") -> loss',
    differentiable=("embeddings",),
    cases=m.cases("batch_all", extra=(("average-all", {"margin": 1.0, "average": "all"}, 611),)),
    error_cases=m.error_cases("triplet_batch_all"),
    skips=m.skips(selecting=False),
)
