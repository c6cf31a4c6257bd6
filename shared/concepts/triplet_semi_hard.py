"""triplet_semi_hard: FaceNet's semi-hard negatives (Schroff et al. 2015) with TF Addons'
triplet_semihard_loss rule: per positive pair, the nearest negative farther than the
positive, else the farthest negative. The contract is in _mining.py."""
from shared.concepts import _mining as m
from shared.spec import Concept

CONCEPT = Concept(
    name="triplet_semi_hard",
    module="mining",
    family="contrastive_triplet",
    lesson=6,
    math=m.MATH + ";  mined per positive pair (a,p): n = argmin {d(a,n) : d(a,n) > d(a,p)}, "
                  "or argmax d(a,n) when that set is empty (TF Addons' rule)",
    japanese=m.JAPANESE + " — semi-hard（セミハードネガティブ）",
    signature='triplet_semi_hard(embeddings [B, D], labels [B] int, *, margin=1.0, distance="squared") -> loss',
    differentiable=("embeddings",),
    cases=m.cases("semi_hard"),
    error_cases=m.error_cases("triplet_semi_hard"),
    skips=m.skips(),
)
