"""What this machine has: which frameworks and which GPUs. Skips name these facts."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from shared import backends  # noqa: E402

NO_GPU = {
    "torch": "no GPU: torch.cuda.is_available() is False",
    "tf": "no GPU: tf.config.list_physical_devices('GPU') is empty",
}


def machine_skip(backend: str, device: str = "cpu"):
    """A skip mark for a missing framework or GPU, or None when the test can run."""
    if not backends.installed(backend):
        return pytest.mark.skip(reason=f"{backends.FRAMEWORK_MODULES[backend]} not installed")
    if device == "gpu" and "gpu" not in backends.get(backend).devices():
        return pytest.mark.skip(reason=NO_GPU[backend])
    return None


def param(*values, id, backend, device="cpu"):
    mark = machine_skip(backend, device)
    return pytest.param(*values, id=id, marks=[mark] if mark else [])
