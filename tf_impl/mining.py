"""In-batch triplet mining in TensorFlow, mirroring numpy_impl.mining; GradientTape gives
the backward. The triplets are mined from distances behind tf.stop_gradient (indices
carry no gradient), then the loss gathers the chosen entries of the distance matrix.
TF Addons' triplet_semihard_loss / triplet_hard_loss are not used: the rules they
implement are written out here (see shared/concepts/_mining.py for where they differ)."""
import tensorflow as tf

from shared.concepts import _mining as spec
from tf_impl import numerics


def scaled_distances(x, distance):
    """(D / c, s), c = s^2 (squared) or s (euclidean), s a power of two >= max |x|: direct
    differences of x / s, so duplicated rows give exactly 0 and 1e30-sized float32
    embeddings neither overflow nor tie at inf (see numpy_impl.mining)."""
    s = tf.reshape(numerics.scale_of(x), [])
    u = x / s
    diff = u[:, None, :] - u[None, :, :]
    q = tf.reduce_sum(diff * diff, axis=-1)
    if distance == "squared":
        return q, s
    # sqrt's derivative is inf at 0 and tf.where passes inf * 0 = NaN back through the
    # unused branch: root a harmless 1 there instead, so the gradient at d = 0 is 0
    nonzero = q > 0
    return tf.where(nonzero, tf.sqrt(tf.where(nonzero, q, tf.ones_like(q))), tf.zeros_like(q)), s


def pairwise_distances(x, distance):
    return spec.times_c(*scaled_distances(x, distance), distance)


def _lowest_argmin(values, mask):
    """Per row, the lowest column holding the smallest value inside `mask`: tf.argmin
    does not promise which of equal values it returns."""
    masked = tf.where(mask, values, tf.fill(tf.shape(values), tf.constant(float("inf"), values.dtype)))
    best = tf.reduce_min(masked, axis=1, keepdims=True)
    width = tf.shape(values, out_type=tf.int64)[1]
    columns = tf.broadcast_to(tf.range(width), tf.shape(values, out_type=tf.int64))
    return tf.reduce_min(tf.where(mask & (masked == best), columns, width), axis=1)


def _lowest_argmax(values, mask):
    return _lowest_argmin(-values, mask)


def mine(D, labels, strategy, margin, average):
    same = tf.equal(labels[:, None], labels[None, :])
    positive = same & ~tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    negative = ~same
    has_negative = tf.reduce_any(negative, axis=1)
    if strategy == "batch_all":
        valid = positive[:, :, None] & negative[:, None, :]
        if average == "positive":
            valid = valid & (margin + D[:, :, None] - D[:, None, :] > 0)
        return tf.where(valid)  # row-major: lexicographic (a, p, n), int64
    if strategy == "batch_hard":
        anchors = tf.where(tf.reduce_any(positive, axis=1) & has_negative)[:, 0]
        return tf.stack([anchors, tf.gather(_lowest_argmax(D, positive), anchors),
                         tf.gather(_lowest_argmin(D, negative), anchors)], axis=1)
    pairs = tf.where(positive & has_negative[:, None])
    a, p = pairs[:, 0], pairs[:, 1]
    d_an, neg = tf.gather(D, a), tf.gather(negative, a)
    farther = neg & (d_an > tf.gather_nd(D, pairs)[:, None])
    n = tf.where(tf.reduce_any(farther, axis=1), _lowest_argmin(d_an, farther), _lowest_argmax(d_an, neg))
    return tf.stack([a, p, n], axis=1)


def _loss_and_triplets(embeddings, labels, *, strategy, margin, distance, average, soft):
    D, s = scaled_distances(embeddings, distance)  # mined and hinged in these units
    triplets = mine(tf.stop_gradient(D), labels, strategy, spec.over_c(margin, s, distance), average)
    d_ap = tf.gather_nd(D, tf.stack([triplets[:, 0], triplets[:, 1]], axis=1))
    d_an = tf.gather_nd(D, tf.stack([triplets[:, 0], triplets[:, 2]], axis=1))
    if soft:
        terms = tf.nn.softplus(spec.times_c(d_ap - d_an, s, distance))
    else:
        terms = tf.nn.relu(spec.times_c(spec.over_c(margin, s, distance) + d_ap - d_an, s, distance))
    # no triplet: 0, not mean([]) = NaN
    count = tf.cast(tf.maximum(tf.shape(triplets)[0], 1), D.dtype)
    return tf.reduce_sum(terms) / count, triplets


def triplet_mining(embeddings, labels, *, strategy="batch_all", margin=1.0, distance="squared",
                   average="positive", soft=False):
    spec.validate("triplet_mining", embeddings, labels, margin=margin, distance=distance,
                  strategy=strategy, average=average, soft=soft)
    return _loss_and_triplets(embeddings, labels, strategy=strategy, margin=margin, distance=distance,
                              average=average, soft=soft)


def triplet_batch_all(embeddings, labels, *, margin=1.0, distance="squared", average="positive"):
    spec.validate("triplet_batch_all", embeddings, labels, margin=margin, distance=distance, average=average)
    return _loss_and_triplets(embeddings, labels, strategy="batch_all", margin=margin, distance=distance,
                              average=average, soft=False)[0]


def triplet_batch_hard(embeddings, labels, *, margin=1.0, distance="squared", soft=False):
    spec.validate("triplet_batch_hard", embeddings, labels, margin=margin, distance=distance,
                  strategy="batch_hard", soft=soft)
    return _loss_and_triplets(embeddings, labels, strategy="batch_hard", margin=margin, distance=distance,
                              average="all", soft=soft)[0]


def triplet_semi_hard(embeddings, labels, *, margin=1.0, distance="squared"):
    spec.validate("triplet_semi_hard", embeddings, labels, margin=margin, distance=distance)
    return _loss_and_triplets(embeddings, labels, strategy="semi_hard", margin=margin, distance=distance,
                              average="all", soft=False)[0]
