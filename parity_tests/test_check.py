"""`rosetta check`: a learner's file graded against the spec. The mutants of
parity_tests/mutants.py are the catalogue of typical mistakes: each, written as a learner
would hand it in, fails the check and gets the hint its concept's spec declares for it."""
import json

import pytest

from parity_tests import mutants
from parity_tests.conftest import needs
from rosetta import check, cli
from shared.concepts import all_concepts, get

# concept -> (the mistaken function, the backward handed in with it); "numpy_impl" = the package's own
CATALOGUE = {
    "softmax": ("softmax_without_max_shift", "numpy_impl.activations.softmax_backward"),
    "cross_entropy": ("cross_entropy_divided_by_classes", "numpy_impl.losses.cross_entropy_backward"),
    "relu": ("numpy_impl.activations.relu", "relu_backward_inverted_mask"),
    "adam_step": ("adam_without_bias_correction", None),
    "nesterov_step": ("nesterov_as_plain_momentum", None),
    "batch_norm": ("batch_norm_with_running_stats_in_training", "numpy_impl.layers.batch_norm_backward"),
    "im2col": ("im2col_ignoring_the_column_stride", "numpy_impl.conv.im2col_backward"),
    "col2im": ("col2im_overwriting_overlaps", "numpy_impl.conv.col2im_backward"),
    "lstm": ("lstm_with_input_and_forget_gates_swapped", "lstm_backward_with_input_and_forget_gates_swapped"),
    "triplet_loss": ("triplet_loss_with_the_margin_subtracted", "numpy_impl.metric.triplet_loss_backward"),
}


def _line(name: str, source: str) -> str:
    """`from ... import source as name`: a mutant by its name, or a package function by its path."""
    module, _, attr = source.rpartition(".") if "." in source else ("parity_tests.mutants", "", source)
    return f"from {module} import {attr} as {name}\n"


def _learner_file(tmp_path, concept, forward, backward) -> str:
    path = tmp_path / f"my_{concept.name}.py"
    text = _line(concept.fn_name, forward)
    if backward:
        text += _line(f"{concept.fn_name}_backward", backward)
    path.write_text(text)
    return str(path)


def test_every_mistake_of_the_catalogue_is_a_mutant_and_every_concept_hint_is_tested():
    assert all(hasattr(mutants, name) for name, _ in CATALOGUE.values() if "." not in name)
    hinted = {c.name for c in all_concepts() if c.hints}
    assert hinted == set(CATALOGUE), "a spec's hint needs its mutant here, and a mutant here its hint"


@pytest.mark.parametrize("name", CATALOGUE)
def test_a_typical_mistake_fails_with_its_hint(name, tmp_path, capsys):
    concept = get(name)
    path = _learner_file(tmp_path, concept, *CATALOGUE[name])
    assert cli.main(["check", name, path]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "FAIL" in out
    assert f"hint {concept.hints[0].text}" in out


@pytest.mark.parametrize("name", ["softmax", "relu", "conv2d", "adam_step", "lstm", "triplet_batch_hard"])
def test_the_packages_own_implementation_passes(name, tmp_path, capsys):
    concept = get(name)
    package = f"numpy_impl.{concept.module}"
    backward = f"{package}.{concept.fn_name}_backward" if concept.differentiable else None
    path = _learner_file(tmp_path, concept, f"{package}.{concept.fn_name}", backward)
    assert cli.main(["check", name, path, "--json", str(tmp_path / "out.json")]) == 0
    results = json.loads((tmp_path / "out.json").read_text())
    assert results and all(r["passed"] for r in results)
    kinds = {r["check"].split(":")[0] for r in results}
    assert kinds == ({"forward", "grad", "numeric"} if concept.differentiable else {"forward"})
    assert "hint" not in capsys.readouterr().out


@needs("torch")
def test_a_torch_file_is_graded_by_autograd(tmp_path, capsys):
    path = tmp_path / "my_softmax.py"
    path.write_text("import torch\n\n\ndef softmax(x, *, axis=-1):\n    return torch.exp(x) / torch.exp(x).sum(dim=axis, "
                    "keepdim=True)\n")
    assert cli.main(["check", "softmax", str(path), "--backend", "torch"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "grad:x" in out and "hint softmax overflows" in out


@pytest.mark.parametrize("text, says", [
    ("def softmax(x, axis=-1):\n    return x\n", "softmax(x, axis=-1) should be softmax(x, *, axis=-1)"),
    ("import numpy as np\n", "defines no function softmax"),
    ("def softmax(x, *, axis=-1)\n", "does not import: SyntaxError"),
    ("import numpy as np\ndef softmax(x, *, axis=-1):\n    return x\n", "defines no function softmax_backward"),
])
def test_a_file_that_cannot_be_graded_exits_2_saying_why(text, says, tmp_path, capsys):
    path = tmp_path / "my_softmax.py"
    path.write_text(text)
    assert cli.main(["check", "softmax", str(path)]) == 2
    assert says in " ".join(capsys.readouterr().out.split())


def test_a_train_step_is_left_to_rosetta_parity(tmp_path):
    path = tmp_path / "step.py"
    path.write_text("from numpy_impl.mlp import train_step\n")
    with pytest.raises(check.CheckError, match="training step"):
        check.grade(get("mlp_train_step"), check.load(get("mlp_train_step"), path, "numpy"))


def test_bad_input_handling_is_advice_not_a_failure(tmp_path, capsys):
    path = tmp_path / "my_relu.py"
    path.write_text("import numpy as np\n\n\ndef relu(x):\n    return np.maximum(x, 0)\n\n\n"
                    "def relu_backward(dy, x):\n    return dy * (x > 0)\n")
    assert cli.main(["check", "relu", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "advice (not graded): bad input" in out
