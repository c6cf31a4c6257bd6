"""The seed's TF Hub classifier, for real and offline: a feature extractor exported as a
reusable SavedModel and loaded back through hub.KerasLayer (hub.resolve ->
tf.saved_model.load), checked against the module it came from: features, parameter
counts, which variables one optimizer step moves, both `training` traces, and the errors
for handles that cannot be loaded."""
import urllib.error
import warnings

import numpy as np
import pytest

from shared import backends

if backends.installed("tf"):
    # TensorFlow's C++ runtime prints start-up notes to fd 2 before logging is set up; this
    # imports it with them silenced, so that `pytest -s` shows only the tests' own output
    backends.import_tensorflow()
pytest.importorskip("tensorflow", reason="tensorflow not installed")
# before tensorflow_hub, which imports it: without it the skip would blame tensorflow_hub
tf_keras = pytest.importorskip("tf_keras", reason="tf_keras not installed (hub.KerasLayer needs Keras 2)")
with warnings.catch_warnings():
    # tensorflow_hub imports pkg_resources, which warns about its own deprecation
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    hub = pytest.importorskip("tensorflow_hub", reason="tensorflow_hub not installed")

import tensorflow as tf  # noqa: E402

from tf_impl.hub import build_classifier, export_feature_extractor  # noqa: E402

IMAGE_SIZE = (12, 12)
CHANNELS = 8
OUT = 5
RNG = np.random.default_rng(8)
IMAGES = RNG.uniform(0.0, 1.0, (6,) + IMAGE_SIZE + (3,)).astype(np.float32)
LABELS = RNG.integers(0, OUT, len(IMAGES))
# The loaded __call__ runs the very ops the module traced, but grappler may rewrite the
# restored graph (e.g. fuse conv + bias add), which changes float32 rounding only.
RTOL, ATOL = 1e-5, 1e-6
COMBINATIONS = [(False, False), (False, True), (True, False), (True, True)]



class TinyFeatureExtractor(tf.Module):
    """A small backbone to export (a test fixture): 3x3 conv + bias, a batch-norm-like affine
    normalisation, ReLU, global average pooling. images [B, H, W, 3] -> features [B, channels].

    It has the variable kinds a real backbone exports: trainable (kernel, bias, gamma, beta)
    and non-trainable (moving mean and variance), and a `training` flag that changes the
    result (batch statistics vs moving ones). The moving statistics are not updated in
    training: this is an export fixture, not a BatchNorm (BiT uses GroupNorm, which has none).
    """

    def __init__(self, channels=8, seed=0, eps=1e-3, name=None):
        super().__init__(name=name)
        rng = np.random.default_rng(seed)
        f32 = np.float32
        self.eps = eps
        self.kernel = tf.Variable(rng.normal(0, (2 / 27) ** 0.5, (3, 3, 3, channels)).astype(f32), name="kernel")
        self.bias = tf.Variable(rng.normal(0, 0.1, channels).astype(f32), name="bias")
        self.gamma = tf.Variable(rng.uniform(0.5, 1.5, channels).astype(f32), name="gamma")
        self.beta = tf.Variable(rng.normal(0, 0.1, channels).astype(f32), name="beta")
        # not 0 and 1, so that inference differs from training on any batch
        self.moving_mean = tf.Variable(rng.normal(0, 0.1, channels).astype(f32), trainable=False,
                                       name="moving_mean")
        self.moving_variance = tf.Variable(rng.uniform(0.5, 2.0, channels).astype(f32), trainable=False,
                                           name="moving_variance")

    def __call__(self, images, training=False):
        y = tf.nn.conv2d(images, self.kernel, strides=1, padding="SAME") + self.bias
        if training:
            mean, variance = tf.nn.moments(y, axes=[0, 1, 2])
        else:
            mean, variance = self.moving_mean, self.moving_variance
        y = self.gamma * (y - mean) * tf.math.rsqrt(variance + self.eps) + self.beta
        return tf.reduce_mean(tf.nn.relu(y), axis=[1, 2])

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    module = TinyFeatureExtractor(channels=CHANNELS, seed=3)
    path = export_feature_extractor(module, tmp_path_factory.mktemp("hub") / "tiny", IMAGE_SIZE)
    return module, path


def _size(variables):
    return int(sum(np.prod(v.shape) for v in variables))


def test_exported_object_has_the_reusable_saved_model_api(exported):
    module, path = exported
    loaded = tf.saved_model.load(path)
    assert len(loaded.variables) == len(module.variables)
    assert len(loaded.trainable_variables) == len(module.trainable_variables)
    assert list(loaded.regularization_losses) == []
    for training in (False, True):
        np.testing.assert_allclose(loaded(IMAGES, training=training).numpy(),
                                   module(IMAGES, training=training).numpy(), rtol=RTOL, atol=ATOL)


def test_classifier_computes_the_modules_features_then_the_dense_head(exported):
    module, path = exported
    model = build_classifier(path, IMAGE_SIZE, OUT)
    backbone, dense = model.layers
    assert isinstance(backbone, hub.KerasLayer)
    features = backbone(IMAGES).numpy()
    expected = module(IMAGES, training=False).numpy()
    assert features.shape == (len(IMAGES), CHANNELS)
    np.testing.assert_allclose(features, expected, rtol=RTOL, atol=ATOL)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(model(IMAGES).numpy(), expected @ kernel + bias, rtol=RTOL, atol=ATOL)


def test_module_parameter_count_is_the_architectures():
    module = TinyFeatureExtractor(channels=CHANNELS)
    # 3x3x3 kernel and bias, gamma and beta; the moving mean and variance are not trained
    assert _size(module.trainable_variables) == 27 * CHANNELS + 3 * CHANNELS
    assert _size(module.variables) - _size(module.trainable_variables) == 2 * CHANNELS


def _summary_counts(model):
    lines = []
    model.summary(print_fn=lines.append)
    counts = {}
    for line in lines:
        for key in ("Total", "Trainable", "Non-trainable"):
            if line.startswith(f"{key} params:"):
                counts[key] = int(line.split(":")[1].split()[0].replace(",", ""))
    return counts


@pytest.mark.parametrize("do_fine_tuning,do_dense_train", COMBINATIONS)
def test_parameter_counts(exported, do_fine_tuning, do_dense_train):
    module, path = exported
    model = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=do_fine_tuning,
                             do_dense_train=do_dense_train)
    backbone_all = _size(module.variables)
    backbone_trainable = _size(module.trainable_variables)
    dense = CHANNELS * OUT + OUT  # kernel + bias
    trainable = (backbone_trainable if do_fine_tuning else 0) + (dense if do_dense_train else 0)
    total = backbone_all + dense
    assert _summary_counts(model) == {"Total": total, "Trainable": trainable, "Non-trainable": total - trainable}
    assert _size(model.trainable_weights) == trainable
    assert _size(model.non_trainable_weights) == total - trainable


def _snapshot(layer):
    return [w.numpy().copy() for w in layer.weights]


def _changed(before, layer):
    return [not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.weights)]


@pytest.mark.parametrize("do_fine_tuning,do_dense_train", COMBINATIONS)
def test_one_step_moves_only_what_is_trainable(exported, do_fine_tuning, do_dense_train):
    module, path = exported
    model = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=do_fine_tuning,
                             do_dense_train=do_dense_train)
    backbone, dense = model.layers
    loss = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf_keras.optimizers.SGD(learning_rate=0.5)
    before_backbone, before_dense = _snapshot(backbone), _snapshot(dense)
    with tf.GradientTape() as tape:
        value = loss(LABELS, model(IMAGES, training=True))
    grads = tape.gradient(value, model.trainable_variables)
    if model.trainable_variables:
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    trainable_ids = {id(v) for v in module.trainable_variables}
    expected_backbone = [do_fine_tuning and id(v) in trainable_ids for v in module.variables]
    # the layer's weights are the module's variables in the module's order, trainable ones
    # first (hub.KerasLayer registers trainable_variables, then the rest of variables)
    order = sorted(range(len(module.variables)), key=lambda i: id(module.variables[i]) not in trainable_ids)
    assert _changed(before_backbone, backbone) == [expected_backbone[i] for i in order]
    assert _changed(before_dense, dense) == [do_dense_train] * 2


def test_fit_fine_tunes_the_backbone(exported):
    """The seed's own training path: compile + fit, with the backbone's training=True trace."""
    module, path = exported
    model = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=True)
    model.compile(optimizer=tf_keras.optimizers.SGD(learning_rate=0.5),
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.evaluate(IMAGES, LABELS, verbose=0)
    model.fit(IMAGES, LABELS, epochs=3, batch_size=len(IMAGES), verbose=0)
    assert model.evaluate(IMAGES, LABELS, verbose=0) < before
    kernel = model.layers[0].trainable_weights[0]
    assert not np.array_equal(kernel.numpy(), module.kernel.numpy())  # its own copy moved, not the module


def test_both_training_traces_load_and_differ(exported):
    module, path = exported
    tuned = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=True).layers[0]
    frozen = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=False).layers[0]
    for training in (False, True):
        np.testing.assert_allclose(tuned(IMAGES, training=training).numpy(),
                                   module(IMAGES, training=training).numpy(), rtol=RTOL, atol=ATOL)
    # batch statistics vs moving ones: the two traces are distinct graphs
    assert not np.allclose(tuned(IMAGES, training=True).numpy(), tuned(IMAGES, training=False).numpy())
    # a frozen backbone always runs in inference mode, as Keras runs a frozen BatchNormalization
    np.testing.assert_array_equal(frozen(IMAGES, training=True).numpy(), frozen(IMAGES, training=False).numpy())


class _Regularized(TinyFeatureExtractor):
    def __init__(self):
        super().__init__(channels=4, seed=1)
        self.regularization_losses = [lambda: 1e-2 * tf.reduce_sum(self.kernel ** 2)]


class _NoTrainingArgument(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.ones([3, 2]))

    def __call__(self, images):
        return tf.reduce_mean(images, axis=[1, 2]) @ self.w


def test_regularization_losses_reach_the_model_only_when_fine_tuning(tmp_path):
    module = _Regularized()
    path = export_feature_extractor(module, tmp_path / "reg", IMAGE_SIZE)
    expected = 1e-2 * float(tf.reduce_sum(module.kernel ** 2))
    tuned = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=True)
    frozen = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=False)
    np.testing.assert_allclose([float(x) for x in tuned.losses], [expected], rtol=1e-6)
    assert [float(x) for x in frozen.losses] == [0.0]


def test_a_module_without_training_argument_exports(tmp_path):
    module = _NoTrainingArgument()
    path = export_feature_extractor(module, tmp_path / "plain", IMAGE_SIZE)
    layer = build_classifier(path, IMAGE_SIZE, OUT, do_fine_tuning=True).layers[0]
    for training in (False, True):
        np.testing.assert_allclose(layer(IMAGES, training=training).numpy(), module(IMAGES).numpy(),
                                   rtol=RTOL, atol=ATOL)


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        build_classifier(missing, IMAGE_SIZE, OUT)
    assert str(missing) in str(info.value) and "saved_model.pb" in str(info.value)


def test_directory_without_saved_model_is_named(tmp_path):
    (tmp_path / "variables").mkdir()
    with pytest.raises(ValueError, match="has no saved_model.pb") as info:
        build_classifier(tmp_path, IMAGE_SIZE, OUT)
    assert str(tmp_path) in str(info.value) and "export_feature_extractor" in str(info.value)


def test_file_handle_is_named(tmp_path):
    file = tmp_path / "saved_model.pb"
    file.write_bytes(b"")
    with pytest.raises(ValueError, match="not a directory") as info:
        build_classifier(file, IMAGE_SIZE, OUT)
    assert str(file) in str(info.value)


def test_offline_url_says_so_and_points_to_a_local_path(monkeypatch):
    # what hub.resolve raises here without a network (measured once on this machine);
    # patched so that the test never opens a connection
    offline = urllib.error.URLError(OSError(-2, "Name or service not known"))

    def resolve(handle):
        raise offline

    monkeypatch.setattr(hub.module_v2, "resolve", resolve)
    handle = "https://tfhub.dev/google/bit/s-r50x3/1"
    with pytest.raises(OSError, match="could not be downloaded") as info:
        build_classifier(handle, IMAGE_SIZE, OUT)
    message = str(info.value)
    assert handle in message and "offline" in message and "export_feature_extractor" in message
    assert info.value.__cause__ is offline
