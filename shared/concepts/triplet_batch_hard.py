"""triplet_batch_hard: Hermans et al. 2017's batch-hard triplet loss, per anchor the
farthest positive and the nearest negative; soft=True is their soft-margin variant
softplus(d_ap - d_an). The contract is in _mining.py."""
from shared.concepts import _mining as m
from shared.spec import Concept

CONCEPT = Concept(
    name="triplet_batch_hard",
    module="mining",
    family="contrastive_triplet",
    lesson=5,
    math=m.MATH + ";  mined per anchor: p = argmax d(a,p), n = argmin d(a,n) (lowest index on ties);  "
                  "soft: softplus(d(a,p) - d(a,n))",
    japanese=m.JAPANESE + " — batch-hard（ハードネガティブ）",
    signature='triplet_batch_hard(embeddings [B, D], labels [B] int, *, margin=1.0, distance="squared", '
              "soft=False) -> loss",
    differentiable=("embeddings",),
    cases=m.cases("batch_hard", extra=(("soft", {"soft": True}, 612),)),
    error_cases=m.error_cases("triplet_batch_hard"),
    skips=m.skips(),
)
