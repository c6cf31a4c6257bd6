"""Framework modules fetched on first use, for the oracles and porting cases in the
specs: `shared/` must stay importable with NumPy alone."""
import importlib


def torch():
    return importlib.import_module("torch")


def F():
    return importlib.import_module("torch.nn.functional")


def tf():
    from shared.backends import import_tensorflow
    return import_tensorflow()


def keras():
    tf()  # TensorFlow first, quietly: Keras 3 picks it up as its backend
    return importlib.import_module("keras")


def scipy_special():
    return importlib.import_module("scipy.special")
