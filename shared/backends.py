"""The three backends behind one small protocol, and discovery of frameworks and devices.

A backend turns NumPy arrays into its own tensors on a device, calls a function, and
returns a vector-Jacobian product: NumPy with the hand-written `<name>_backward`, torch
with autograd, TensorFlow with GradientTape. Frameworks are imported lazily, the first
time a backend is used, so `import shared` costs nothing.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from shared.checks import dtype_name
from shared.lazy import import_tensorflow  # noqa: F401  (here too: the backends' users call it)
from shared.trees import flatten, tree_map

BACKEND_NAMES = ("numpy", "torch", "tf")
PACKAGES = {"numpy": "numpy_impl", "torch": "torch_impl", "tf": "tf_impl"}
FRAMEWORK_MODULES = {"numpy": "numpy", "torch": "torch", "tf": "tensorflow"}
# every device a backend can have; which of them a machine has: get(name).devices()
DEVICES = {"numpy": ("cpu",), "torch": ("cpu", "gpu"), "tf": ("cpu", "gpu")}


def module(backend: str, concept):
    """The module that holds `concept` in `backend`'s package, e.g. torch_impl.mlp."""
    return implementation(backend, concept.module)


def implementation(backend: str, name: str):
    """The module `name` of `backend`'s package, e.g. implementation("torch", "bit") is
    torch_impl.bit: the engine's one way to the code under test."""
    return importlib.import_module(f"{PACKAGES[backend]}.{name}")


def resolved(fn: Callable, backend: str, uses: str) -> Callable:
    """An oracle's or porting side's function with the module it `uses` (spec.Oracle)
    bound as `impl`; unchanged when it uses none."""
    return functools.partial(fn, impl=implementation(backend, uses)) if uses else fn


def wrt_leaves(tree: dict[str, Any], wrt) -> dict[str, Any]:
    """The differentiated inputs by path: `x` for an array input, `params.Wq` for each leaf of
    a dict input (a layer's parameters); gradients come back under the same paths."""
    return flatten({k: tree[k] for k in wrt})


def output_parts(out, cotangent) -> list[tuple[Any, Any]]:
    """(output leaf, its cotangent) pairs: one for a function returning one array, one per
    part for a tuple (attention's output and weights each get a cotangent of their own)."""
    outs, vs = flatten(out), flatten(cotangent)
    return [(outs[path], vs[path]) for path in vs]


@dataclass(frozen=True)
class Impl:
    """A forward function and, for NumPy, its hand-written backward."""

    forward: Callable[..., Any]
    backward: Callable[..., Any] | None = None


class NumpyBackend:
    name = "numpy"

    def devices(self) -> list[str]:
        return ["cpu"]

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def device_names(self) -> dict[str, str]:
        return {"cpu": "CPU"}

    def impl(self, concept) -> Impl:
        found = module("numpy", concept)
        # optimizer steps and train steps have no `_backward`: nothing is differentiated
        return Impl(getattr(found, concept.fn_name), getattr(found, f"{concept.fn_name}_backward", None))

    def tensor(self, value: np.ndarray, device: str):
        return value

    def to_numpy(self, value) -> np.ndarray:
        return np.asarray(value)

    def scope(self, device: str):
        return contextlib.nullcontext()

    def convert(self, tree, device):
        return tree

    def call(self, fn, inputs, kwargs, device):
        return tree_map(self.to_numpy, fn(**inputs, **kwargs))

    def vjp(self, impl: Impl, inputs, kwargs, wrt, cotangent, device):
        if impl.backward is None:
            raise NotImplementedError("NumPy has no autodiff: this function has no backward")
        out = tree_map(np.asarray, impl.forward(**inputs, **kwargs))
        grads = impl.backward(cotangent, **inputs, **kwargs)
        if len(wrt) == 1:
            grads = (grads,)
        return out, {path: np.asarray(g) for path, g in wrt_leaves(dict(zip(wrt, grads)), wrt).items()}

    def gpu_setup(self) -> dict[str, dict[str, Any]]:
        return {"tf32": {}, "determinism": {}}


class TorchBackend:
    name = "torch"

    def __init__(self):
        self._torch = None

    @property
    def torch(self):
        if self._torch is None:
            self._torch = importlib.import_module("torch")
        return self._torch

    def devices(self) -> list[str]:
        return ["cpu", "gpu"] if self.torch.cuda.is_available() else ["cpu"]

    def versions(self) -> dict[str, str]:
        v = {"torch": self.torch.__version__}
        if self.torch.cuda.is_available():
            v["cuda"] = str(self.torch.version.cuda)
        return v

    def device_names(self) -> dict[str, str]:
        names = {"cpu": "CPU"}
        if self.torch.cuda.is_available():
            names["gpu"] = f"cuda:0 {self.torch.cuda.get_device_name(0)}"
        return names

    def impl(self, concept) -> Impl:
        return Impl(getattr(module("torch", concept), concept.fn_name))

    def _device(self, device: str):
        return self.torch.device("cuda" if device == "gpu" else "cpu")

    def tensor(self, value: np.ndarray, device: str, requires_grad: bool = False):
        # np.array copies into a contiguous array and, unlike ascontiguousarray, keeps 0-d as 0-d
        t = self.torch.from_numpy(np.array(value)).to(self._device(device))
        return t.requires_grad_(requires_grad)

    def to_numpy(self, value) -> np.ndarray:
        if isinstance(value, self.torch.Tensor):
            return value.detach().cpu().numpy()
        return np.asarray(value)  # a Python number kept in a state, like Adam's step count

    def scope(self, device: str):
        return contextlib.nullcontext()  # torch places by tensor, not by scope

    def convert(self, tree, device):
        return tree_map(lambda v: self.tensor(v, device) if isinstance(v, np.ndarray) else v, tree)

    def call(self, fn, inputs, kwargs, device):
        return tree_map(self.to_numpy, fn(**self.convert(inputs, device), **kwargs))

    def vjp(self, impl: Impl, inputs, kwargs, wrt, cotangent, device):
        torch = self.torch
        tensors = {k: tree_map(lambda a: self.tensor(a, device, requires_grad=True), v) if k in wrt
                   else self.convert(v, device) for k, v in inputs.items()}
        out = impl.forward(**tensors, **kwargs)
        given, leaves = wrt_leaves(inputs, wrt), wrt_leaves(tensors, wrt)
        # an output with no graph path (step(x) = (x > 0)) has derivative 0 almost everywhere
        parts = [(o, v) for o, v in output_parts(out, cotangent) if o.requires_grad]
        grads = [None] * len(leaves)
        if parts:
            grads = torch.autograd.grad([o for o, _ in parts], list(leaves.values()),
                                        grad_outputs=[self.tensor(v.astype(dtype_name(o)), device)
                                                      for o, v in parts], allow_unused=True)
        return tree_map(self.to_numpy, out), {
            path: np.zeros_like(given[path]) if g is None else self.to_numpy(g)
            for path, g in zip(leaves, grads)}

    def gpu_setup(self) -> dict[str, dict[str, Any]]:
        """TF32 off, deterministic algorithms on; returns the state for the report."""
        torch = self.torch
        # cuBLAS reads this when its handle is created; it must be set before first use
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False  # torch's default is True for convolutions
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
        return {"tf32": {"torch.backends.cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                         "torch.backends.cudnn.allow_tf32": torch.backends.cudnn.allow_tf32},
                "determinism": {"torch.deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}}


class TFBackend:
    name = "tf"

    def __init__(self):
        self._tf = None

    @property
    def tf(self):
        if self._tf is None:
            self._tf = import_tensorflow()
        return self._tf

    def _gpus(self):
        return self.tf.config.list_physical_devices("GPU")

    def devices(self) -> list[str]:
        return ["cpu", "gpu"] if self._gpus() else ["cpu"]

    def versions(self) -> dict[str, str]:
        import keras
        return {"tensorflow": self.tf.__version__, "keras": keras.__version__}

    def device_names(self) -> dict[str, str]:
        names = {"cpu": "CPU"}
        gpus = self._gpus()
        if gpus:
            names["gpu"] = gpus[0].name
        return names

    def impl(self, concept) -> Impl:
        return Impl(getattr(module("tf", concept), concept.fn_name))

    def _device(self, device: str) -> str:
        return "/GPU:0" if device == "gpu" else "/CPU:0"

    def tensor(self, value: np.ndarray, device: str):
        with self.tf.device(self._device(device)):
            return self.tf.constant(value)

    def to_numpy(self, value) -> np.ndarray:
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)

    def scope(self, device: str):
        return self.tf.device(self._device(device))

    def convert(self, tree, device):
        return tree_map(lambda v: self.tensor(v, device) if isinstance(v, np.ndarray) else v, tree)

    def call(self, fn, inputs, kwargs, device):
        with self.scope(device):
            return tree_map(self.to_numpy, fn(**self.convert(inputs, device), **kwargs))

    def vjp(self, impl: Impl, inputs, kwargs, wrt, cotangent, device):
        tf = self.tf
        with self.scope(device):
            tensors = self.convert(inputs, device)
            leaves = wrt_leaves(tensors, wrt)
            with tf.GradientTape() as tape:
                for t in leaves.values():
                    tape.watch(t)
                out = impl.forward(**tensors, **kwargs)
            parts = output_parts(out, cotangent)
            grads = tape.gradient([o for o, _ in parts], list(leaves.values()),
                                  output_gradients=[self.tensor(v.astype(o.dtype.name), device) for o, v in parts],
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        # a gather's gradient (an embedding's) comes as IndexedSlices: made dense here
        return tree_map(self.to_numpy, out), {path: self.to_numpy(tf.convert_to_tensor(g))
                                              for path, g in zip(leaves, grads)}

    def gpu_setup(self) -> dict[str, dict[str, Any]]:
        tf = self.tf
        # TF enables TF32 for matmul and conv by default on Ampere and newer
        tf.config.experimental.enable_tensor_float_32_execution(False)
        tf.config.experimental.enable_op_determinism()
        return {"tf32": {"tf.tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled()},
                "determinism": {"tf.op_determinism": True}}


_CLASSES = {"numpy": NumpyBackend, "torch": TorchBackend, "tf": TFBackend}
_CACHE: dict[str, Any] = {}


def installed(name: str) -> bool:
    return importlib.util.find_spec(FRAMEWORK_MODULES[name]) is not None


def get(name: str):
    """The backend called `name`; raises ModuleNotFoundError if its framework is missing."""
    if name not in _CLASSES:
        raise ValueError(f"unknown backend {name!r}; choose from {BACKEND_NAMES}")
    if not installed(name):
        raise ModuleNotFoundError(f"backend {name!r} needs {FRAMEWORK_MODULES[name]}, which is not installed")
    if name not in _CACHE:
        _CACHE[name] = _CLASSES[name]()
    return _CACHE[name]


def discover(names=BACKEND_NAMES) -> tuple[list[Any], dict[str, str]]:
    """The installed backends, and for each missing one the reason."""
    found, missing = [], {}
    for name in names:
        if installed(name):
            found.append(get(name))
        else:
            missing[name] = f"{FRAMEWORK_MODULES[name]} not installed"
    return found, missing
