"""Learning-rate schedules as pure functions of the step tensor (a
keras.optimizers.schedules.LearningRateSchedule's __call__ would call them)."""
import math

import tensorflow as tf

from shared.concepts import inverse_sqrt_schedule as inverse_sqrt_spec
from shared.concepts import warmup_cosine_schedule as cosine_spec


def warmup_cosine_schedule(step, *, base_lr, warmup_steps, decay_steps, min_lr=0.0):
    cosine_spec.validate(step, base_lr=base_lr, warmup_steps=warmup_steps, decay_steps=decay_steps, min_lr=min_lr)
    warmup = base_lr * step / max(warmup_steps, 1)
    t = tf.minimum(step - warmup_steps, decay_steps) / decay_steps
    decay = min_lr + (base_lr - min_lr) * 0.5 * (1 + tf.cos(math.pi * t))
    return tf.where(step < warmup_steps, warmup, decay)


def inverse_sqrt_schedule(step, *, d_model, warmup_steps, scale=1.0):
    inverse_sqrt_spec.validate(step, d_model=d_model, warmup_steps=warmup_steps, scale=scale)
    rising = step * warmup_steps ** -1.5
    falling = tf.math.rsqrt(tf.where(step > 0, step, tf.ones_like(step)))
    return scale * d_model ** -0.5 * tf.minimum(rising, falling)
