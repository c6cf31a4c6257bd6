"""`rosetta demo mlp`: the three frameworks train from the same start and end alike."""
import pytest

from parity_tests.conftest import machine_skip
from shared import cli, demos


def test_demo_trains_all_frameworks_and_writes_the_png(tmp_path, capsys):
    out = tmp_path / "mlp.png"
    assert cli.main(["demo", "mlp", "--steps", "30", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    frameworks = [name for name in ("numpy", "torch", "tf") if not machine_skip(name)]
    assert all(f"│ {name}" in text for name in frameworks)
    assert "test accuracy" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_numpy_net_reaches_95_percent_on_held_out_digits():
    # the demo's default run, NumPy only (the frameworks follow it step for step: parity)
    split, params, opt_state, hyper, batches = demos.mlp_setup(500, "adam_step", 0.005)
    run = demos.train_mlp("numpy", split, params, opt_state, hyper, batches)
    assert run.test_accuracy[-1] >= 0.95, f"test accuracy {run.test_accuracy[-1]:.2%}"


@pytest.mark.parametrize("backend", ["torch", "tf"])
def test_frameworks_predict_the_same_digits_after_the_same_training(backend):
    if machine_skip(backend):
        pytest.skip(f"{backend} not installed")
    split, params, opt_state, hyper, batches = demos.mlp_setup(40, "adam_step", 0.005)
    numpy_run = demos.train_mlp("numpy", split, params, opt_state, hyper, batches, eval_every=20)
    other = demos.train_mlp(backend, split, params, opt_state, hyper, batches, eval_every=20)
    # float32 rounding moves scores by ~1e-6; the 359 test predictions (argmax) are
    # discrete and none lies that close to a tie here
    assert other.test_accuracy == numpy_run.test_accuracy


def test_bad_demo_arguments_are_clear_errors():
    with pytest.raises(SystemExit, match="--optimizer must be one of"):
        cli.main(["demo", "mlp", "--optimizer", "adamax"])
    with pytest.raises(SystemExit, match="--steps must be >= 1"):
        cli.main(["demo", "mlp", "--steps", "0"])
