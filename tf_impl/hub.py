"""TF Hub transfer learning, offline: export a feature extractor as a reusable SavedModel,
and load it (or a tfhub.dev / Kaggle handle, when online) into the seed's classifier.

The seed's BiT fine-tuning model is

    Sequential([InputLayer(input_shape=IMAGE_SIZE + (3,)),
                hub.KerasLayer(model_handle, trainable=do_fine_tuning),
                Dense(out_features, trainable=do_dense_train)])

hub.KerasLayer is a tf_keras (Keras 2) layer: Keras 3 refuses it, so the classifier is
built with tf_keras, not tf.keras. The seed's handle (https://tfhub.dev/google/bit/s-r50x3/1)
needs a network; a directory written by `export_feature_extractor` goes through the very
same loading path (hub.resolve -> tf.saved_model.load -> KerasLayer) without one.

tensorflow_hub and tf_keras are imported on first use, so exporting needs only TensorFlow.
"""
from __future__ import annotations

import inspect
import logging
import os
import warnings

import tensorflow as tf

SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
REMOTE_SCHEMES = ("http://", "https://")


def import_hub():
    """tensorflow_hub and tf_keras, with the import-time noise kept out of the user's output."""
    with warnings.catch_warnings():
        # tensorflow_hub 0.16.1 does `from pkg_resources import parse_version`; setuptools
        # warns about that deprecation on every import, which is not the user's to fix
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tf_keras  # first: tensorflow_hub imports it, and a missing one should say so
        import tensorflow_hub as hub
    return hub, tf_keras


def _accepts_training(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins and some wrapped callables have no signature
        return False
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def export_feature_extractor(module, path, image_size) -> str:
    """Save `module` (images [B, H, W, 3] float32 in [0, 1] -> features [B, F]) as a reusable
    SavedModel in the TF Hub format (https://www.tensorflow.org/hub/reusable_saved_models).

    `module` is a tf.Module (or anything tracking its variables) whose call may take a Python
    bool `training`. `image_size` is (H, W). Returns the directory, a handle for
    hub.KerasLayer / `build_classifier`.
    """
    height, width = image_size
    spec = tf.TensorSpec([None, height, width, 3], tf.float32, name="images")
    with_training = _accepts_training(module.__call__)

    @tf.function
    def call(images, training=False):
        return module(images, training=training) if with_training else module(images)

    # A plain AutoTrackable: tf.Module would make `variables` a read-only property, and
    # what is saved is only what is assigned as an attribute, never a computed property.
    root = tf.train.Checkpoint()
    # tracking the module saves its variables' values and whatever else it owns
    root.module = module
    # Reusable SavedModel API: `__call__` is a tf.function and only its traced concrete
    # functions survive saving, so trace both values of the Python bool `training`:
    # hub.KerasLayer calls training=True when fine-tuning in fit(), training=False otherwise
    # (and always when trainable=False, as Keras does for BatchNormalization).
    call.get_concrete_function(spec, training=False)
    call.get_concrete_function(spec, training=True)
    root.__call__ = call
    # hub.KerasLayer registers `variables` as its weights, so model.summary() counts them and
    # the Keras checkpoint of the classifier saves them
    root.variables = list(module.variables)
    # hub.KerasLayer(trainable=True) registers exactly these as trainable weights (the rest
    # of `variables` as non-trainable, e.g. moving statistics), so fit() updates these alone
    root.trainable_variables = list(module.trainable_variables)
    # hub.KerasLayer adds each as a loss (zero unless trainable); they must be argument-less
    # tf.functions so that they are saved as functions and still callable after loading
    root.regularization_losses = [tf.function(loss, input_signature=[])
                                  for loss in getattr(module, "regularization_losses", ())]
    path = os.fspath(path)
    # the serving signature is for TF Serving and saved_model_cli; the Hub path uses __call__
    serving = call.get_concrete_function(spec, training=False)
    # saving logs "INFO:tensorflow:Assets written to: ..." through Python logging: keep it out
    # of the user's output (a notebook shows it as an error stream)
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        tf.saved_model.save(root, path, signatures={"serving_default": serving})
    finally:
        logger.setLevel(level)
    return path


def _is_remote(handle: str) -> bool:
    return handle.lower().startswith(REMOTE_SCHEMES)


def _check_local_handle(path: str) -> None:
    """Fail with the path and what is expected there, before hub's terser messages."""
    expected = (f"expected a SavedModel directory containing {SAVED_MODEL_PB}, "
                "e.g. one written by tf_impl.hub.export_feature_extractor")
    if not os.path.exists(path):
        raise FileNotFoundError(f"model handle {path!r} does not exist: {expected}")
    if not os.path.isdir(path):
        raise ValueError(f"model handle {path!r} is a file, not a directory: {expected}")
    if not any(os.path.isfile(os.path.join(path, name)) for name in (SAVED_MODEL_PB, SAVED_MODEL_PBTXT)):
        raise ValueError(f"model handle {path!r} has no {SAVED_MODEL_PB}: {expected}")


def build_classifier(handle, image_size, out_features, *, do_fine_tuning=False, do_dense_train=True):
    """The seed's model: a TF Hub feature extractor under a Dense head, in tf_keras.

    `handle` is a tfhub.dev / Kaggle URL (needs a network) or a local SavedModel directory
    (str or os.PathLike). `do_fine_tuning` makes the backbone's trainable variables trainable;
    `do_dense_train` does the same for the head.
    """
    hub, tf_keras = import_hub()
    handle = os.fspath(handle)
    remote = "://" in handle
    if not remote:
        _check_local_handle(handle)
    try:
        backbone = hub.KerasLayer(handle, trainable=do_fine_tuning)
    except OSError as err:  # urllib's URLError / HTTPError are OSErrors
        if not _is_remote(handle):
            raise
        raise OSError(
            f"the TF Hub handle {handle!r} could not be downloaded ({err}); this machine may be "
            "offline. A local SavedModel directory works offline, e.g. one written by "
            "tf_impl.hub.export_feature_extractor, or a model downloaded elsewhere and unpacked "
            "(or found in TFHUB_CACHE_DIR).") from err
    return tf_keras.Sequential([
        tf_keras.layers.InputLayer(input_shape=tuple(image_size) + (3,)),
        backbone,
        tf_keras.layers.Dense(out_features, trainable=do_dense_train),
    ])

