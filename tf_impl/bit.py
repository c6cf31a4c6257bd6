"""BiT (Kolesnikov et al. 2020): a pre-activation ResNet-v2 with GroupNorm and
weight-standardised convolutions, in TensorFlow, twice:

- functional: features / logits / train_step on the canonical flat parameter dict (NCHW
  images, OIHW kernels, head W [C, K]), built from this repo's parity-tested
  tf_impl.conv.std_conv2d (im2col; NHWC inside via shared.layouts), tf_impl.layers.group_norm
  and tf_impl.pooling.max_pool2d; GradientTape gives the gradients, tf_impl.optimizers the
  step. It mirrors numpy_impl.bit and torch_impl.bit.
- ResNetV2, a tf.Module written as TensorFlow's BiT is (big_transfer bit_tf2/models.py):
  NHWC images, HWIO kernels standardised with tf.nn.moments over (H, W, I) then tf.nn.conv2d,
  bit_tf2's group_normalize (tf.nn.moments + tf.nn.batch_normalization on an NHWGS view),
  tf.nn.max_pool2d. Its variables carry the BiT checkpoint names
  ("resnet/block1/unit01/a/group_norm/gamma", ... see shared/bit_weights.py), it is loaded from
  canonical params through shared.bit_weights, and it maps images [B, H, W, 3] in [0, 1] to
  features [B, C_last], the contract of a TF Hub image feature vector: so
  tf_impl.hub.export_feature_extractor saves it as a reusable SavedModel and
  tf_impl.hub.build_classifier loads it under a Dense head. It is the oracle the functional
  version is checked against. It holds the backbone only (like BiT's feature-vector hub
  modules): the head is the classifier's Dense.

Porting notes: BiT's own code (bit_pytorch, bit_tf2) standardises with eps 1e-10 and normalises
groups with eps 1e-5 (bit_tf2/normalization.py's default, torch nn.GroupNorm's default); timm's
BiT uses ws eps 1e-8 (config "ws_eps" overrides, as in torch_impl.bit). bit_tf2's Keras head
is a Dense "head/dense"; the .npz checkpoints keep a 1x1 conv "head/conv2d".
"""
import tensorflow as tf

from shared import bit_weights, layouts
from shared.concepts import _bit
from shared.concepts import bit_train_step as spec
from tf_impl import optimizers
from tf_impl.activations import relu
from tf_impl.conv import std_conv2d
from tf_impl.layers import affine, group_norm
from tf_impl.losses import softmax_with_loss
from tf_impl.pooling import max_pool2d

WS_EPS = _bit.WS_EPS  # 1e-10: bit_tf2 StandardizedConv2D / bit_pytorch StdConv2d; timm's BiT: 1e-8
GN_EPS = _bit.GN_EPS  # 1e-5: bit_tf2/normalization.py group_normalize's default (and nn.GroupNorm's)
HEAD = spec.HEAD


# ---- names --------------------------------------------------------------------------

def _units(config):
    """(block i from 1, unit j from 1, stride) for every unit: the stride (2 in blocks 2-4)
    sits in unit01, on its 3x3 conv and its projection."""
    for i, depth in enumerate(config["depth"], start=1):
        for j in range(1, depth + 1):
            yield i, j, (2 if (i > 1 and j == 1) else 1)


def _eps(config, key, default):
    return config.get(key, default) if hasattr(config, "get") else default


# ---- functional (this repo's layers; NCHW at the boundary) ------------------------------

def _gn_relu(h, params, prefix, config):
    return relu(group_norm(h, params[prefix + "gamma"], params[prefix + "beta"], groups=config["groups"],
                           eps=_eps(config, "gn_eps", GN_EPS)))


def _unit(h, params, p, stride, config):
    ws = _eps(config, "ws_eps", WS_EPS)
    u = _gn_relu(h, params, p + "a/gn/", config)  # pre-activation
    shortcut = std_conv2d(u, params[p + "a/proj"], stride=stride, eps=ws) if p + "a/proj" in params else h
    t = std_conv2d(u, params[p + "a/conv"], eps=ws)
    t = std_conv2d(_gn_relu(t, params, p + "b/gn/", config), params[p + "b/conv"], stride=stride, padding=1,
                   eps=ws)  # the stride sits on the 3x3
    t = std_conv2d(_gn_relu(t, params, p + "c/gn/", config), params[p + "c/conv"], eps=ws)
    return t + shortcut


def feature_map(x, params, config):
    """relu(final group norm) of the last block: [B, C_last, h, w], before the pooling."""
    h = std_conv2d(x, params["root/conv"], stride=2, padding=3, eps=_eps(config, "ws_eps", WS_EPS))
    # BiT's root pads with ZEROS (bit_tf2 PaddingFromKernelSize(3), bit_pytorch ConstantPad2d(1, 0)),
    # then a VALID 3x3/2 max pool; max_pool2d's own padding would pad with -inf
    h = max_pool2d(tf.pad(h, [[0, 0], [0, 0], [1, 1], [1, 1]]), 3, stride=2)
    for i, j, stride in _units(config):
        h = _unit(h, params, f"block{i}/unit{j:02d}/", stride, config)
    return _gn_relu(h, params, "gn/", config)


def features(x, params, config):
    """x [B, 3, H, W] (canonical NCHW) -> [B, C_last]: the global average of the final
    pre-activated map (what the head reads)."""
    _bit.validate_features(x, params, config)
    return tf.reduce_mean(feature_map(x, params, config), axis=[2, 3])


def logits(x, params, config):
    """[B, K] = features @ head/W + head/b (BiT's 1x1 conv head on the pooled map)."""
    return affine(features(x, params, config), params["head/W"], params["head/b"])


def gradients(x, t, params, config, *, train="all"):
    """(loss, {name: gradient}) of the mean softmax cross-entropy of the logits, by
    GradientTape. train="head": the backbone is a fixed feature extractor, run outside the
    tape (nothing of it is recorded); only head/W and head/b get gradients."""
    trained = tuple(spec.trained_names(config, train))
    leaves = {name: (tf.convert_to_tensor(params[name]) if name in trained else params[name]) for name in params}
    if train == "head":
        f = tf.stop_gradient(features(x, leaves, config))  # no tape is open: never recorded
    with tf.GradientTape() as tape:
        tape.watch([leaves[n] for n in trained])
        if train == "all":
            f = features(x, leaves, config)
        loss_value = softmax_with_loss(affine(f, leaves["head/W"], leaves["head/b"]), t)
    return loss_value, dict(zip(trained, tape.gradient(loss_value, [leaves[n] for n in trained])))


def loss(params, batch, hyper):
    """The training loss, forward only: the mean softmax cross-entropy of the logits."""
    spec.validate_model(params, batch, hyper)
    return softmax_with_loss(logits(batch["x"], params, hyper["config"]), batch["t"])


def train_step(params, opt_state, batch, hyper):
    """One step per shared/concepts/bit_train_step.py: batch {"x": [N, 3, H, W], "t": [N] labels},
    hyper {"config", "train": "head" | "all", "optimizer": "momentum_step" | "sgd_step", "opt"},
    opt_state {name: state} for the trained parameters only.

    "head": the backbone is a fixed feature extractor, run outside the tape (nothing of it is
    recorded); only head/W and head/b get gradients and move, every other entry of params is
    handed back as it came (the same object). "all": every parameter, one tape.
    Returns (loss, grads of the trained parameters, every parameter, the trained ones' states)."""
    spec.validate(params, opt_state, batch, hyper)
    loss_value, grads = gradients(batch["x"], batch["t"], params, hyper["config"], train=hyper["train"])
    stepped, new_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, {**params, **stepped}, new_state


# ---- the tf.Module (BiT checkpoint names, TensorFlow's own kernels, NHWC) ----------------

def _group_normalize(x, gamma, beta, groups, eps=GN_EPS):
    """bit_tf2/normalization.py group_normalize on NHWC x: an NHWGS view, tf.nn.moments over
    (H, W, S), tf.nn.batch_normalization with gamma, beta reshaped to [G, S]."""
    channels = x.shape[-1]
    shape = tf.shape(x)
    extra = [groups, channels // groups]
    y = tf.reshape(x, tf.concat([shape[:-1], extra], axis=0))
    mean, var = tf.nn.moments(y, [1, 2, 4], keepdims=True)
    y = tf.nn.batch_normalization(y, mean, var, tf.reshape(beta, extra), tf.reshape(gamma, extra), eps)
    return tf.reshape(y, shape)


def _standardized_conv2d(x, kernel, *, stride=1, padding=0, eps=WS_EPS):
    """bit_tf2 StandardizedConv2D: the HWIO kernel standardised over (H, W, I), then
    tf.nn.conv2d on NHWC x with symmetric zero padding (PaddingFromKernelSize + VALID)."""
    mean, var = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
    w = (kernel - mean) / tf.sqrt(var + eps)
    return tf.nn.conv2d(x, w, strides=stride, padding=[[0, 0], [padding, padding], [padding, padding], [0, 0]])


class ResNetV2(tf.Module):
    """BiT's backbone as a tf.Module: images [B, H, W, 3] (NHWC, float, BiT takes [0, 1]) ->
    features [B, C_last]. Variables named as the BiT checkpoint (shared.bit_weights.bit_name),
    kernels HWIO, all trainable (GroupNorm has no statistics to keep). Built from canonical
    params (the head, if given, is left out) with their dtype, or `dtype`."""

    def __init__(self, params, config, *, dtype=None, ws_eps=None, gn_eps=None, name="bit"):
        super().__init__(name=name)
        self.groups = int(config["groups"])
        self.depth = tuple(int(d) for d in config["depth"])
        self.ws_eps = float(ws_eps if ws_eps is not None else _eps(config, "ws_eps", WS_EPS))
        self.gn_eps = float(gn_eps if gn_eps is not None else _eps(config, "gn_eps", GN_EPS))
        arrays = bit_weights.to_bit_npz({k: v for k, v in params.items() if k not in HEAD}, head=False)
        # tf.Variable names are exactly the checkpoint's (no module name scope), "...:0" in .name
        self.bit_vars = {key: tf.Variable(value if dtype is None else value.astype(dtype), name=key)
                        for key, value in arrays.items()}

    @classmethod
    def from_bit_npz(cls, path_or_mapping, config, **kwargs):
        """Straight from a BiT .npz (a path, or a mapping / NpzFile): its head is ignored."""
        if isinstance(path_or_mapping, (str, bytes)) or hasattr(path_or_mapping, "__fspath__"):
            params = bit_weights.load_bit_npz(path_or_mapping, config, head=False)
        else:
            params = bit_weights.from_bit_npz(path_or_mapping, config, head=False)
        return cls(params, config, **kwargs)

    def to_canonical(self):
        """The canonical backbone params (NumPy copies, no head)."""
        return bit_weights.from_bit_npz({k: v.numpy() for k, v in self.bit_vars.items()}, head=False)

    def _w(self, name):
        return self.bit_vars[bit_weights.bit_name(name)]

    def _gn_relu(self, h, prefix):
        return tf.nn.relu(_group_normalize(h, self._w(prefix + "gamma"), self._w(prefix + "beta"), self.groups,
                                          self.gn_eps))

    def _conv(self, h, name, stride=1, padding=0):
        return _standardized_conv2d(h, self._w(name), stride=stride, padding=padding, eps=self.ws_eps)

    def feature_map(self, images):
        h = self._conv(images, "root/conv", stride=2, padding=3)
        h = tf.nn.max_pool2d(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, "VALID")  # zero pad, as BiT
        for i, j, stride in _units({"depth": self.depth}):
            p = f"block{i}/unit{j:02d}/"
            u = self._gn_relu(h, p + "a/gn/")
            shortcut = self._conv(u, p + "a/proj", stride) if j == 1 else h
            t = self._conv(u, p + "a/conv")
            t = self._conv(self._gn_relu(t, p + "b/gn/"), p + "b/conv", stride, 1)
            t = self._conv(self._gn_relu(t, p + "c/gn/"), p + "c/conv")
            h = t + shortcut
        return self._gn_relu(h, "gn/")

    def __call__(self, images, training=False):
        """`training` is accepted for the TF Hub reusable-SavedModel API and ignored:
        GroupNorm and weight standardisation behave the same in training and inference."""
        del training
        x = tf.convert_to_tensor(images, dtype=self._w("root/conv").dtype)
        return tf.reduce_mean(self.feature_map(x), axis=[1, 2])

    def features_nchw(self, x):
        """Features from canonical NCHW images (layouts.nchw_to_nhwc at the boundary)."""
        return self(layouts.nchw_to_nhwc(tf.convert_to_tensor(x)))
