"""Learning-rate schedules as pure functions of the step: the linear warmup + cosine decay of
fine-tuning recipes and the Transformer's inverse square root."""
import numpy as np

from shared.concepts import inverse_sqrt_schedule as inverse_sqrt_spec
from shared.concepts import warmup_cosine_schedule as cosine_spec


def warmup_cosine_schedule(step, *, base_lr, warmup_steps, decay_steps, min_lr=0.0):
    cosine_spec.validate(step, base_lr=base_lr, warmup_steps=warmup_steps, decay_steps=decay_steps, min_lr=min_lr)
    warmup = base_lr * step / max(warmup_steps, 1)
    t = np.minimum(step - warmup_steps, decay_steps) / decay_steps
    decay = min_lr + (base_lr - min_lr) * 0.5 * (1 + np.cos(np.pi * t))
    return np.where(step < warmup_steps, warmup, decay)


def inverse_sqrt_schedule(step, *, d_model, warmup_steps, scale=1.0):
    inverse_sqrt_spec.validate(step, d_model=d_model, warmup_steps=warmup_steps, scale=scale)
    # step^-0.5 is inf at step 0, where the warmup term min() picks is 0
    rising = step * warmup_steps ** -1.5
    falling = 1 / np.sqrt(np.where(step > 0, step, 1))
    return scale * d_model ** -0.5 * np.minimum(rising, falling)
