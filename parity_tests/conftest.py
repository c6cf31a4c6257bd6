"""What this machine has: which frameworks and which GPUs. Skips name these facts."""
import importlib.util
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist each worker is one process per core: one thread each (torch's and
# OpenBLAS's OpenMP pools, TensorFlow's two pools) keeps N workers on N cores instead of
# N^2 threads spinning against each other (the generic tests on 2 cores: 175 s -> 111 s).
# Set before any framework is imported; the notebooks' kernels inherit it.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, "1")
# xdist's workers set COLUMNS=80; `rosetta` reads it, so a test sees the width it sets itself
# (test_cli's 80-column tests), else the 120 columns of a piped run, with or without -n
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)

import pytest  # noqa: E402

from shared import backends, parity  # noqa: E402

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


def needs(*names: str, why: str = ""):
    """A skip mark for a test that needs these frameworks (backend names: numpy, torch, tf)
    or packages (tf_keras, tensorflow_hub): on a machine without one, the test is skipped
    naming it (and `why` the test needs it). A skip names a fact of the machine, declared
    here at collection, never decided inside a test."""
    modules = [backends.FRAMEWORK_MODULES.get(name, name) for name in names]
    absent = [module for module in modules if importlib.util.find_spec(module) is None]
    reason = f"{', '.join(absent)} not installed" + (f": {why}" if why else "")
    return pytest.mark.skipif(bool(absent), reason=reason)


def param(*values, id, backend, device="cpu", group=None):
    """A test parameter skipped where the machine lacks the backend or device; `group`
    keeps tests together on one pytest-xdist worker (--dist loadgroup), so that they
    share what the engine computes once per process (a case's NumPy reference)."""
    marks = [mark for mark in (machine_skip(backend, device),) if mark]
    if group:
        marks.append(pytest.mark.xdist_group(group))
    return pytest.param(*values, id=id, marks=marks)


@pytest.fixture(autouse=True)
def _references_follow_monkeypatches(request):
    """The engine shares each case's NumPy reference within a process; a test that patches
    an implementation must neither meet a reference computed without its patch nor leave
    one computed with it."""
    patched = "monkeypatch" in request.fixturenames
    if patched:
        parity.clear_references()
    yield
    if patched:
        parity.clear_references()


def usage_error(argv, capsys) -> str:
    """The one line `rosetta argv` prints for a bad command line; it must exit with status
    2 (argparse's usage error), write nothing to stdout and no traceback."""
    from rosetta import cli
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    return err
