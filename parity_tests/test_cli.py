"""The `rosetta` command: the JSON contract other tools read, exit codes, and `show`."""
import json
import os
import subprocess
import sys

import pytest

import numpy_impl.activations as np_act
from parity_tests import mutants
from parity_tests.conftest import usage_error
from rosetta import cli
from shared.parity import RECORD_KEYS


def test_parity_json_has_meta_and_records_with_the_published_keys(tmp_path, capsys):
    path = tmp_path / "parity.json"
    assert cli.main(["parity", "--concept", "relu", "softmax", "--json", str(path)]) == 0
    payload = json.loads(path.read_text())
    assert set(payload) == {"meta", "records"}
    assert {"versions", "devices", "tf32", "gpu"} <= set(payload["meta"])
    assert payload["records"] and all(tuple(r) == RECORD_KEYS for r in payload["records"])
    checks = {r["check"].split(":")[0] for r in payload["records"]}
    assert checks == {"forward", "grad", "numeric", "builtin"}
    out = capsys.readouterr().out
    assert "GPU parity not run: no GPU" in out or "GPU parity run on" in out


def test_parity_exits_1_when_a_comparison_fails(monkeypatch, capsys):
    monkeypatch.setattr(np_act, "relu_backward", mutants.relu_backward_inverted_mask)
    assert cli.main(["parity", "--concept", "relu", "--backend", "numpy"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["parity", "--concept"], ["porting", "--concept"], ["show"]])
def test_an_unknown_concept_gets_did_you_mean_and_status_2(command, capsys):
    err = usage_error(command + ["sofmax"], capsys)
    assert "no concept named 'sofmax'; did you mean softmax" in err


@pytest.mark.parametrize("argv, says", [
    (["demo", "mlp", "--lr", "-1"], "argument --lr: must be a finite number > 0, got '-1'"),
    (["demo", "mlp", "--lr", "nan"], "argument --lr: must be a finite number > 0"),
    (["demo", "mlp", "--steps", "-1"], "argument --steps: must be an integer >= 1, got '-1'"),
    (["demo", "mlp", "--steps", "1.5"], "argument --steps: must be an integer >= 1, got '1.5'"),
    (["demo", "mlp", "--seed", "-3"], "argument --seed: must be an integer >= 0"),
    (["demo", "mlp", "--out", "/missing/dir/x.png"], "argument --out: the directory '/missing/dir' does not exist"),
    (["demo", "mlp", "--out", "curves.xyz"], "argument --out: must end in one of"),
    (["demo", "mlp", "--optimizer", "adamw"], "argument --optimizer: invalid choice: 'adamw'"),
    (["demo", "gan", "--optimizer", "sgd_step"], "argument --optimizer: invalid choice: 'sgd_step'"),
    (["demo", "bit", "--dtype", "float64"], "argument --dtype: invalid choice: 'float64'"),
    (["demo", "seq2seq", "--digits", "4"], "argument --digits: must be an integer from 1 to 3"),
    (["demo", "metric", "--margin", "0"], "argument --margin: must be a finite number > 0"),
    (["bench", "conv", "--repeat", "0"], "argument --repeat: must be an integer >= 1, got '0'"),
    (["bench", "conv", "--kernel", "40"], "argument --kernel: a 40x40 kernel does not fit a 32x32 image"),
    (["bench", "rnn", "--hidden", "0"], "argument --hidden: must be an integer >= 1"),
    (["parity", "--json", "/missing/dir/parity.json"], "argument --json: the directory '/missing/dir' does not exist"),
])
def test_a_bad_option_is_one_line_and_status_2_before_any_work(argv, says, monkeypatch, capsys):
    from rosetta.bench import conv, rnn
    from rosetta.cli import parity
    from rosetta.demos import bit, gan, metric, mlp, seq2seq

    def work(*args, **kwargs):
        raise AssertionError("work started before the options were checked")
    for module, name in ((mlp, "setup"), (seq2seq, "setup"), (metric, "setup"), (gan, "setup"),
                         (bit, "load_data"), (conv, "run_conv"), (rnn, "run_lstm"), (parity, "run")):
        monkeypatch.setattr(module, name, work)
    err = usage_error(argv, capsys)
    assert says in err and err.startswith(f"rosetta {' '.join(argv[:2 if argv[0] in ('demo', 'bench') else 1])}: "
                                          "error: ")


def test_rosetta_alone_prints_the_help(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: rosetta") and "parity" in out and "demo" in out


def test_a_command_group_alone_prints_its_help(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: rosetta demo")
    assert all(name in out for name in ("mlp", "cnn", "seq2seq", "metric", "gan", "bit"))


def test_version(capsys):
    from importlib.metadata import version
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"rosetta (dl-rosetta) {version('dl-rosetta')}\n"


def test_show_reads_the_sources_without_importing_a_framework():
    # in a fresh interpreter: importing tf_impl would import TensorFlow (8-11 s, 690 MB)
    code = ("import sys; from rosetta import cli; cli.main(['show', 'conv2d']); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'tf_impl', 'torch_impl') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "80"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "[]"
    assert "def conv2d" in run.stdout and "torch_impl.conv" in run.stdout


def test_tables_at_80_columns_never_cut_a_name(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["parity", "--concept", "batch_norm_running_stats", "relu", "--backend", "numpy"]) == 0
    assert cli.main(["list"]) == 0
    assert cli.main(["porting", "--concept", "relu"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out  # rich's mark of a cut cell
    for name in ("batch_norm_running_stats", "float32", "float64", "relu-as-tf-maximum"):
        assert name in out
    from shared.concepts import all_concepts
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {c.name for c in all_concepts()} <= listed


def test_show_puts_the_three_implementations_side_by_side_in_120_columns(capsys):
    assert cli.main(["show", "softmax"]) == 0
    out = capsys.readouterr().out
    for text in ("ソフトマックス関数", "numpy_impl.activations", "torch_impl.activations",
                 "tf_impl.activations", "def softmax_backward", "torch.exp", "tf.exp"):
        assert text in out
    assert max(len(line) for line in out.splitlines()) <= 120


def test_list_names_every_concept(capsys):
    from shared.concepts import all_concepts
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(c.name in out for c in all_concepts())


def test_list_follows_the_learning_order_with_the_books_chapters(capsys, monkeypatch):
    from shared.concepts import by_family
    monkeypatch.setenv("COLUMNS", "120")
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    positions = []
    for family, concepts in by_family():
        assert family.title in flat and " ".join(family.book.split()) in flat, family.id
        positions += [flat.index(f" {c.name} ") for c in concepts]
    assert positions == sorted(positions)  # family by family, lesson by lesson


def _cells(line: str) -> int:
    """The terminal columns a line takes: CJK characters take two."""
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.mark.parametrize("argv", [["show", "conv2d"], ["show", "lstm", "--layer"], ["show", "bit_features"],
                                  ["show", "mlp_train_step", "--framework", "tf"]], ids=" ".join)
def test_show_at_80_columns_keeps_every_line_and_every_name_whole(argv, monkeypatch, capsys):
    import re
    from pathlib import Path
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert max(_cells(line) for line in out.splitlines()) <= 80
    # a name cut at the margin leaves fragments that are no name of the sources or the spec
    root = Path(__file__).resolve().parent.parent
    known = set(re.findall(r"\w+", "\n".join(p.read_text() for package in ("numpy_impl", "torch_impl", "tf_impl",
                                                                         "shared") for p in (root / package).rglob("*.py"))))
    code = "\n".join(line for line in out.splitlines() if not line.startswith(("│", "╭", "╰")))
    assert set(re.findall(r"[A-Za-z_]\w*", code)) <= known | {"also", "uses", "not", "shown", "the", "book", "s",
                                                              "layer", "forward", "and", "backward"}


def test_show_one_framework_or_the_books_layer(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.main(["show", "relu", "--framework", "torch"]) == 0
    out = capsys.readouterr().out
    assert "torch_impl.activations" in out and "numpy_impl.activations" not in out and "tf_impl" not in out
    assert cli.main(["show", "conv2d", "--layer"]) == 0
    out = capsys.readouterr().out
    assert "class Convolution" in out and "def backward(self" in out and "im2col" in out


def test_show_puts_the_three_side_by_side_only_when_they_fit(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "180")
    assert cli.main(["show", "softmax"]) == 0
    out = capsys.readouterr().out
    assert any(all(p in line for p in ("numpy_impl.activations", "torch_impl.activations", "tf_impl.activations"))
               for line in out.splitlines())
    assert max(_cells(line) for line in out.splitlines()) <= 180
