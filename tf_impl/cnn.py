"""The book's SimpleConvNet as a tf.Module running in TensorFlow's own layouts (NHWC
images, HWIO kernels), loaded from and saved to the canonical parameter dict with
shared.layouts; GradientTape gives the gradients, tf_impl.optimizers the step."""
import tensorflow as tf

from shared import layouts
from shared.concepts import cnn_train_step as spec
from tf_impl import optimizers
from tf_impl.activations import relu
from tf_impl.layers import affine
from tf_impl.losses import softmax_with_loss

# The flatten before W2. TensorFlow flattens the NHWC feature map in (H, W, C) order, as
# keras.layers.Flatten does; the canonical W2 has its rows in (C, H, W) order. We keep
# TF's flatten and reorder W2's rows at the boundary (layouts.dense_rows_chw_to_hwc in,
# dense_rows_hwc_to_chw out), rather than transposing the feature map back to NCHW
# inside the forward pass: the model then holds its weights exactly as a Keras
# Conv2D/Flatten/Dense model would, so this is the conversion a real port of the
# book's or torch's weights into Keras needs, and the parity tests check it. Both
# reorderings are permutations: round trips move values without arithmetic, exactly.


def _to_tf_layout(params, fmap):
    """Canonical arrays -> the model's: W1 OIHW -> HWIO, W2 rows (C, H, W) -> (H, W, C)."""
    return {**params, "W1": layouts.oihw_to_hwio(params["W1"]),
            "W2": layouts.dense_rows_chw_to_hwc(params["W2"], *fmap)}


def _to_canonical_layout(tensors, fmap):
    """The inverse of _to_tf_layout, for parameters and for their gradients alike (the
    gradient of a permuted variable is the permuted gradient)."""
    return {**tensors, "W1": layouts.hwio_to_oihw(tensors["W1"]),
            "W2": layouts.dense_rows_hwc_to_chw(tensors["W2"], *fmap)}


class SimpleConvNet(tf.Module):
    """Variables named as the canonical dict, in TF's layouts: W1 is HWIO, W2's rows
    follow the NHWC flatten. `fmap` is the pooled feature map's canonical [C, h, w]."""

    def __init__(self, params, *, stride, pad, fmap):
        super().__init__()
        self.stride, self.pad, self.fmap = stride, pad, tuple(fmap)
        self.params = {name: tf.Variable(value, name=name)
                       for name, value in _to_tf_layout(params, self.fmap).items()}

    @classmethod
    def from_canonical(cls, params, hyper, image_hw):
        fmap = spec.model_feature_shape(params, hyper, image_hw)
        return cls(params, stride=hyper["stride"], pad=hyper["pad"], fmap=fmap)

    def to_canonical(self):
        return _to_canonical_layout({name: tf.convert_to_tensor(v) for name, v in self.params.items()}, self.fmap)

    def canonical_grads(self, grads):
        """{name: gradient of the variable} (TF's layouts) -> canonical layouts."""
        return _to_canonical_layout(grads, self.fmap)

    def __call__(self, x_nchw):
        P, p = self.params, self.pad
        x = layouts.nchw_to_nhwc(x_nchw)
        c = tf.nn.conv2d(x, P["W1"], strides=self.stride, padding=[[0, 0], [p, p], [p, p], [0, 0]]) + P["b1"]
        h = tf.nn.max_pool2d(relu(c), ksize=spec.POOL, strides=spec.POOL, padding="VALID")
        h = relu(affine(h, P["W2"], P["b2"]))  # affine flattens h [N, h, w, C] in (H, W, C) order
        return affine(h, P["W3"], P["b3"])


def predict(params, x, hyper):
    return SimpleConvNet.from_canonical(params, hyper, x.shape[2:])(x)


def _loss(model, batch, hyper):
    return softmax_with_loss(model(batch["x"]), batch["t"])


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return SimpleConvNet.from_canonical(params, hyper, batch["x"].shape[2:])


def loss(params, batch, hyper):
    """The training loss of the canonical `params`, forward only: the same function as
    numpy_impl's (the framework's model built from them, then its loss)."""
    return _loss(_model(params, batch, hyper), batch, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    model = _model(params, batch, hyper)
    names = list(model.params)
    with tf.GradientTape() as tape:
        loss_value = _loss(model, batch, hyper)
    grads = model.canonical_grads(dict(zip(names, tape.gradient(loss_value, [model.params[n] for n in names]))))
    new_params, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, new_params, new_opt_state
