"""The BiT-HyperRule: fine-tuning hyper-parameters chosen from the downstream dataset alone
(Kolesnikov et al. 2020, "Big Transfer (BiT): General Visual Representation Learning",
sec. 3.3), framework-neutral. As the reference code (google-research/big_transfer,
bit_hyperrule.py) computes it, for SGD with momentum 0.9 and batch size 512:

  resolution   images with area < 96 x 96 pixels: resize to 160 x 160, random crop 128 x 128;
               larger ones: resize to 512 x 512, crop 480 x 480 (the released code's values;
               tutorials often use smaller ones, e.g. keras-io's BiT example 384 / 224)
  mixup        alpha 0.1 for datasets of >= 20,000 labelled examples, none below
  schedule     small (< 20k examples): 500 steps; medium (< 500k): 10,000; large: 20,000.
               lr rises linearly from 0 over the first "support" steps, then is divided
               by 10 after each of the next three supports:
                 small   [100, 200, 300, 400, 500]
                 medium  [500, 3000, 6000, 9000, 10000]
                 large   [500, 6000, 12000, 18000, 20000]
               at step s the lr is base_lr * s / warmup during the warmup, base_lr / 10^k
               where k supports lie strictly before s, and the training ends at the last.
  base lr      0.003

転移学習 (transfer learning) with BiT needs no search over these: that is the point of the rule.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

SMALL, MEDIUM = 20_000, 500_000  # dataset sizes that separate small, medium and large tasks
SMALL_IMAGE_AREA = 96 * 96
SUPPORTS = {"small": (100, 200, 300, 400, 500), "medium": (500, 3000, 6000, 9000, 10_000),
            "large": (500, 6000, 12_000, 18_000, 20_000)}
BASE_LR = 0.003
BATCH_SIZE = 512  # the rule's lr is for this batch size
MIXUP_ALPHA = 0.1


@dataclass(frozen=True)
class HyperRule:
    """What the rule chooses for one dataset."""

    precrop: int          # resize the image to precrop x precrop, then
    crop: int             # take a random crop x crop (a central one at test time)
    mixup_alpha: float    # 0: no mixup
    supports: tuple       # (warmup end, first decay, second, third, last step)
    base_lr: float = BASE_LR

    @property
    def steps(self) -> int:
        return self.supports[-1]


def _require_positive_int(arg, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"hyperrule: {arg} must be an int >= 1, got {value!r}")


def size_class(dataset_size: int) -> str:
    """"small", "medium" or "large" by the number of labelled training examples."""
    _require_positive_int("dataset_size", dataset_size)
    return "small" if dataset_size < SMALL else "medium" if dataset_size < MEDIUM else "large"


def resolution(image_size: tuple[int, int]) -> tuple[int, int]:
    """(precrop, crop) for images of (height, width) pixels."""
    if len(image_size) != 2:
        raise ValueError(f"hyperrule: image_size must be (height, width), got {image_size!r}")
    height, width = image_size
    _require_positive_int("image height", height)
    _require_positive_int("image width", width)
    return (160, 128) if height * width < SMALL_IMAGE_AREA else (512, 480)


def hyper_rule(image_size: tuple[int, int], dataset_size: int, base_lr: float = BASE_LR) -> HyperRule:
    """The BiT-HyperRule's choices for a dataset of `dataset_size` labelled images of
    `image_size` = (height, width) pixels."""
    if not isinstance(base_lr, numbers.Real) or isinstance(base_lr, bool) or base_lr <= 0:
        raise ValueError(f"hyperrule: base_lr must be a number > 0, got {base_lr!r}")
    kind = size_class(dataset_size)
    precrop, crop = resolution(image_size)
    return HyperRule(precrop, crop, 0.0 if kind == "small" else MIXUP_ALPHA, SUPPORTS[kind], float(base_lr))


def learning_rate(step: int, rule: HyperRule) -> float | None:
    """The lr at `step` (0-based, as the reference loop counts), or None once training is over."""
    if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 0:
        raise ValueError(f"hyperrule: step must be an int >= 0, got {step!r}")
    warmup, *decays, last = rule.supports
    if step < warmup:
        return rule.base_lr * step / warmup
    if step >= last:
        return None
    # decays strictly before this step: at a support itself the old lr still holds
    return rule.base_lr / 10 ** sum(1 for s in decays if s < step)
