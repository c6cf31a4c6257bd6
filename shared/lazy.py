"""Framework modules fetched on first use, for the oracles and porting cases in the
specs and for the implementations: `shared/` must stay importable with NumPy alone.
TensorFlow is imported quietly, once (its start-up logs kept out of the user's output)."""
import contextlib
import functools
import importlib
import os


def torch():
    return importlib.import_module("torch")


def F():
    return importlib.import_module("torch.nn.functional")


def tf():
    return import_tensorflow()


def keras():
    tf()  # TensorFlow first, quietly: Keras 3 picks it up as its backend
    return importlib.import_module("keras")


def scipy_special():
    return importlib.import_module("scipy.special")


@contextlib.contextmanager
def _stderr_silenced():
    """TensorFlow's C++ runtime prints start-up notes (and, without a GPU, a cuInit
    error) straight to file descriptor 2 before absl logging is initialised, so
    TF_CPP_MIN_LOG_LEVEL cannot hide them."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.cache  # the layout converters reach it for every TF tensor, also inside tf.function
def import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        tf = importlib.import_module("tensorflow")
        # the device platforms initialise on first use, whoever comes first (Keras, an
        # op, a device query): do it here, quietly, once
        tf.config.list_physical_devices()
    return tf
