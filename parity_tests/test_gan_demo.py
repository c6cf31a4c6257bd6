"""`rosetta demo gan`: the three frameworks train the DCGAN from the same start and draw the
same digits until training has amplified float32 rounding; the NumPy GAN learns."""
import re

import numpy as np
import pytest

from numpy_impl import gan
from parity_tests.conftest import machine_skip, param, usage_error
from rosetta import cli
from rosetta.demos import gan as gan_demo
from rosetta.demos import runner
from rosetta.demos.side_by_side import train
from shared.concepts import _gan
from shared.data import digits

LR = 2e-3  # the demo's default


def test_demo_trains_all_frameworks_and_writes_both_pngs(tmp_path, capsys):
    out = tmp_path / "gan.png"
    assert cli.main(["demo", "gan", "--steps", "20", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    frameworks = [name for name in ("numpy", "torch", "tf") if not machine_skip(name)]
    assert all(f"│ {name}" in text for name in frameworks + ["numpy, nudged"])
    assert re.search(r"┃\s*samples\s*┃", text) and "recognised" in text
    # 20 steps is before any run parts from the others (the first |loss| gap > 1e-3 came at step 45)
    assert "agree to 1e-3 per pixel up to step 20" in " ".join(text.split())
    for png in (out, tmp_path / "gan-losses.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_demos_widest_table_stays_whole_at_80_columns(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["demo", "gan", "--steps", "2", "--out", str(tmp_path / "gan.png")]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text  # rich's mark of a cut cell
    frameworks = [name for name in ("numpy", "torch", "tf") if not machine_skip(name)]
    assert all(re.search(rf"^ {name} +\d", text, re.MULTILINE) for name in frameworks)
    assert "float32" in text


@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in ["torch", "tf"]])
def test_frameworks_draw_the_same_digits_after_the_same_training(backend):
    setup = gan_demo.setup(20, LR, 0)
    numpy_run = train(gan_demo, "numpy", setup, eval_every=10)
    other = train(gan_demo, backend, setup, eval_every=10)
    # float32 rounding (~1e-7 per step) grows in this two-player game (the demo's nudged NumPy
    # run grows the same from one ulp): torch's samples measured 3e-7, 5e-6, 1e-5 from NumPy's
    # at steps 10, 20, 30, the losses 1.4e-6 at step 20; 1e-4 is far below a visible difference
    gap = np.abs(other.arrays["samples"][-1].astype(np.float64) - numpy_run.arrays["samples"][-1]).max()
    assert gap < 1e-4, f"samples {gap:.1e} apart after 20 steps"
    np.testing.assert_allclose(other.curves["D"], numpy_run.curves["D"], atol=1e-4)
    np.testing.assert_allclose(other.curves["G"], numpy_run.curves["G"], atol=1e-4)


def _pixel_distance(samples, real):
    """Wasserstein-1 distance between the samples' pixel values and the real digits' (sorted
    values against the real quantiles): 0 when the ink is distributed as in real digits."""
    values = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    return np.abs(values - np.quantile(real.ravel(), (np.arange(values.size) + 0.5) / values.size)).mean()


def test_the_numpy_gan_learns_how_digits_are_inked():
    # 200 of the demo's 800 steps, NumPy only (6 s). At DCGAN's init the generator draws gray
    # images (tanh of ~0, distance 0.70 from the digits' mostly-white pixels); measured 0.13
    # after 200 steps and <= 0.16 from step 50 on
    setup = gan_demo.setup(200, LR, 0)
    real = _gan.images(setup.split.x_test)
    before = _pixel_distance(gan.generator(setup.extra["noise"], **setup.params["G"]), real)
    run = train(gan_demo, "numpy", setup, eval_every=200)
    after = _pixel_distance(run.arrays["samples"][-1], real)
    assert before > 0.6 and after < 0.3, f"pixel distance {before:.2f} -> {after:.2f}"
    assert run.accuracy["D(real)"][-1] > run.accuracy["D(fake)"][-1] - 0.1  # D has not been fooled outright


def test_last_agreeing_finds_where_the_runs_part():
    same = np.zeros((2, 1, 8, 8))
    runs = [runner.Run("numpy", eval_steps=[10, 20, 30], arrays={"samples": [same, same, same]}),
            runner.Run("torch", eval_steps=[10, 20, 30], arrays={"samples": [same, same + 5e-4, same + 0.5]})]
    assert gan_demo.last_agreeing(runs) == 1
    assert gan_demo.last_agreeing(runs, within=1e-4) == 0


def test_the_reader_recognises_real_digits_and_not_noise():
    split = digits()
    read = gan_demo.digit_reader(split)
    recognised, covered, digit = read(_gan.images(split.x_test))
    assert recognised > 0.6 and covered == 10 and digit.shape == (len(split.x_test),)
    noise = np.random.default_rng(0).uniform(-1, 1, (100, 1, 8, 8))
    assert read(noise)[0] < recognised / 2


def test_bad_gan_demo_arguments_are_clear_errors(capsys):
    # DCGAN trains with Adam (beta1 = 0.5)
    assert "argument --optimizer: invalid choice: 'sgd_step' (choose from 'adam_step')" in usage_error(
        ["demo", "gan", "--optimizer", "sgd_step"], capsys)
    assert "argument --steps: must be an integer >= 1" in usage_error(["demo", "gan", "--steps", "0"], capsys)
