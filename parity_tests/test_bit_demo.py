"""`rosetta demo bit`: BiT pre-trained on the digits 0-4, saved as a BiT .npz and a TF Hub
SavedModel, transferred to 5-9 in three regimes by NumPy, PyTorch and TensorFlow (through
hub.KerasLayer) from the same files and batches: the same losses step by step, a frozen
backbone that does not move, a command that writes its PNG, clear errors."""
import dataclasses
import importlib.util
import warnings

import numpy as np
import pytest

from parity_tests.conftest import needs, usage_error
from rosetta import cli
from rosetta.demos import bit as bit_demo
from shared import backends
from shared.concepts import _bit, bit_train_step

STEPS = 3
SHOTS = 2  # 10 labelled images: every step is the full (shuffled) batch


def _frameworks():
    return [name for name in ("numpy", "torch", "tf") if backends.installed(name)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """5 upstream steps (enough to move every weight off its init) and a scratch init, each
    written as a .npz and, where TF is installed, a SavedModel."""
    data = bit_demo.load_data(SHOTS, 0)
    pretrained = bit_demo.pretrain(data, 5, 0)
    directory = tmp_path_factory.mktemp("bit_demo")
    with_tf = all(importlib.util.find_spec(n) for n in ("tensorflow", "tf_keras", "tensorflow_hub"))
    paths = {"pretrained": bit_demo.save_weights(pretrained.params, directory, "pretrained", tf=with_tf),
             "scratch": bit_demo.save_weights(bit_demo.scratch_params(0), directory, "scratch", tf=with_tf)}
    batches = bit_demo.make_batches(len(data.shots_t), STEPS, 0)
    # 100 held-out images are enough to run the evaluation; the 880 would cost ~1 s per run
    data = dataclasses.replace(data, held_x=data.held_x[:100], held_t=data.held_t[:100])
    return data, paths, batches


@pytest.fixture(scope="module")
def runs(saved):
    data, paths, batches = saved
    names = [n for n in _frameworks() if n != "tf" or "hub" in paths["pretrained"]]
    return {(regime, name): bit_demo.train(name, paths[bit_demo.START[regime]], regime, data, batches, 0.1)
            for regime in bit_demo.REGIMES for name in names}


# Each float32 run follows the float64 trajectory of the same rule within eps32 B_MAX of the
# loss's scale: bit_train_step's float32 step tolerance (F32_STEP, derived there for 10
# momentum steps of TINY; loss@k is bounded by it; the demo's net is TINY twice as wide, the
# same 13 group norms in a row, and 3 steps here), so two float32 runs are within twice
# that. torch's b <- mu b + g, p <- p - lr b rounds once more per step than v <- mu v - lr g,
# one eps32 of the update, far inside B_MAX. A wrong layer, head or update shows at 1e-2..1.
TWO_RUNS_F32 = 2 * bit_train_step.EPS32 * bit_train_step.B_MAX


@needs("torch")
@pytest.mark.parametrize("regime", bit_demo.REGIMES)
def test_frameworks_give_the_same_losses_from_the_same_files(runs, regime):
    reference = np.array(runs[(regime, "numpy")].losses)
    assert len(reference) == STEPS
    # the first step of every regime has a zero head: logits 0, loss ln 5, whatever the backbone
    assert reference[0] == pytest.approx(np.log(bit_demo.CLASSES), rel=1e-6)  # float32 log
    others = [name for (r, name) in runs if r == regime and name != "numpy"]  # torch at least (@needs)
    for name in others:
        losses = np.array(runs[(regime, name)].losses)
        np.testing.assert_allclose(losses, reference, rtol=0, atol=TWO_RUNS_F32 * np.abs(reference).max(),
                                   err_msg=f"{regime}: {name} vs numpy")
    assert reference[-1] < reference[0]  # it learns: 3 full-batch steps lower the loss


@needs("torch")
def test_frozen_backbone_stays_bit_identical_and_fine_tuning_moves_it(runs):
    for (regime, name), run in runs.items():
        assert run.info["backbone unchanged"] is (regime == "frozen + head"), (regime, name)


@needs("tf", "tf_keras", "tensorflow_hub", "torch")
def test_tf_goes_through_hub_keras_layer(saved):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tensorflow_hub as hub
    _, paths, _ = saved
    sizes = {}
    for regime in ("frozen + head", "fine-tune"):
        model = bit_demo.tf_model(paths["pretrained"], regime)
        backbone, dense = model.layers
        assert isinstance(backbone, hub.KerasLayer)
        assert not np.any(dense.get_weights()[0]) and not np.any(dense.get_weights()[1])  # BiT's zero head
        sizes[regime] = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    config = bit_demo.CONFIG
    head = config["out_channels"][-1] * bit_demo.CLASSES + bit_demo.CLASSES
    backbone_size = sum(int(np.prod(shape)) for name, shape in _bit.param_shapes(config).items()
                        if not name.startswith("head/"))
    assert sizes == {"frozen + head": head, "fine-tune": backbone_size + head}


@needs("torch", "tf", "tf_keras")
def test_torch_and_keras_sgd_step_as_momentum_step():
    """The demo's torch and TF runs use the frameworks' own SGD(momentum=0.9); the NumPy run
    the contract's momentum_step. Three steps of the three from the same start and gradients."""
    import torch

    from numpy_impl.optimizers import momentum_step
    tf = backends.import_tensorflow()
    import tf_keras
    rng = np.random.default_rng(5)
    start, grads = rng.standard_normal(7), rng.standard_normal((3, 7))
    lr = 0.1
    p, state = start.copy(), {"v": np.zeros(7)}
    for g in grads:
        p, state = momentum_step(p, g, state, lr=lr, momentum=bit_demo.MOMENTUM)
    weight = torch.tensor(start, requires_grad=True)
    torch_sgd = torch.optim.SGD([weight], lr=lr, momentum=bit_demo.MOMENTUM)
    variable = tf.Variable(start)
    keras_sgd = tf_keras.optimizers.SGD(learning_rate=lr, momentum=bit_demo.MOMENTUM)
    for g in grads:
        weight.grad = torch.tensor(g)
        torch_sgd.step()
        keras_sgd.apply_gradients([(tf.constant(g), variable)])
    # float64 with |p| ~ 1: the rules differ in rounding only (~1e-16 per operation); Keras
    # casts the momentum 0.9 through float32 (2.6e-8 relative, momentum_step.py's
    # KERAS_MOMENTUM_FLOAT32), times |v| <= 3 lr max|g| ~ 1 over the steps: 1e-7 covers it
    np.testing.assert_allclose(weight.detach().numpy(), p, rtol=0, atol=1e-13)
    np.testing.assert_allclose(variable.numpy(), p, rtol=0, atol=1e-7)


def test_images_are_the_digits_repeated_into_4x4_squares_on_three_channels():
    pixels = np.random.default_rng(0).random((3, 64))
    x = bit_demo.images(pixels)
    assert x.shape == (3, 3, 32, 32)
    expected = pixels.reshape(3, 8, 8).repeat(4, axis=1).repeat(4, axis=2)  # the same by another route
    for channel in range(3):
        np.testing.assert_array_equal(x[:, channel], expected)


def test_random_crops_shift_each_image_by_at_most_the_padding():
    rng = np.random.default_rng(0)
    x = rng.random((200, 3, 8, 8)) + 1  # no zero pixels: a zero in a crop is padding
    crops = bit_demo.random_crops(x, np.random.default_rng(1), pad=2)
    assert crops.shape == x.shape
    seen = set()
    for image, crop in zip(x, crops):
        # the crop is the image moved by (dy, dx) with zeros where it left the frame: find which
        # by another route, shifting the image itself for every candidate
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = np.zeros_like(image)
                shifted[:, max(dy, 0):8 + min(dy, 0), max(dx, 0):8 + min(dx, 0)] = \
                    image[:, max(-dy, 0):8 - max(dy, 0), max(-dx, 0):8 - max(dx, 0)]
                if np.array_equal(crop, shifted):
                    matches.append((dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 25  # 200 draws of 25 equally likely shifts: every one occurs (P(miss) < 1e-2)


def test_the_split_holds_out_every_other_5_to_9_image():
    from sklearn.datasets import load_digits
    digits = load_digits()
    data = bit_demo.load_data(7, 3)
    assert np.array_equal(np.bincount(data.shots_t, minlength=5), [7] * 5)
    assert len(data.up_t) + len(data.up_test_t) == (digits.target < 5).sum()

    def rows(x, t):  # every image once, as (label, 8x8 pixels), sorted: a multiset
        pixels = x[:, 0, ::4, ::4].reshape(len(x), 64) * 16
        return sorted(zip(t.tolist(), map(tuple, np.rint(pixels).astype(int).tolist())))
    # shots and held out together are exactly the 5-9 images of scikit-learn's digits, each once
    together = rows(np.concatenate([data.shots_x, data.held_x]), np.concatenate([data.shots_t, data.held_t]))
    five_to_nine = digits.target >= 5
    expected = sorted(zip((digits.target[five_to_nine] - 5).tolist(),
                          map(tuple, digits.data[five_to_nine].astype(int).tolist())))
    assert together == expected


@needs("torch")
def test_demo_runs_end_to_end_and_writes_the_png(tmp_path, capsys):
    out = tmp_path / "bit.png"
    argv = ["demo", "bit", "--steps", "2", "--pretrain-steps", "2", "--shots", "1", "--out", str(out),
            "--workdir", str(tmp_path / "weights")]
    assert cli.main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    for regime in bit_demo.REGIMES:
        for name in _frameworks():
            assert f"│ {regime} │ {name} " in text, (regime, name)
    assert "upstream (digits 0-4):" in text and "held-out accuracy" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "weights" / "bit-pretrained.npz").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--shots", "0"], "argument --shots: must be an integer >= 1, got '0'"),
    (["--shots", "100000"], "argument --shots must be between 1 and"),
    (["--steps", "0"], "argument --steps: must be an integer >= 1, got '0'"),
    (["--pretrain-steps", "0"], "argument --pretrain-steps: must be an integer >= 1, got '0'"),
    (["--lr", "0"], "argument --lr: must be a finite number > 0"),
    (["--optimizer", "adam_step"], "argument --optimizer: invalid choice: 'adam_step' (choose from 'momentum_step')"),
    (["--dtype", "float64"], "argument --dtype: invalid choice: 'float64' (choose from 'float32')"),
])
def test_bad_bit_demo_arguments_are_clear_errors(argv, message, capsys):
    assert message in usage_error(["demo", "bit", *argv], capsys)
