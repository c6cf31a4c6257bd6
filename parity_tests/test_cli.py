"""The `rosetta` command: the JSON contract other tools read, exit codes, and `show`."""
import json

import pytest

import numpy_impl.activations as np_act
from parity_tests import mutants
from shared import cli
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


def test_unknown_concept_is_a_clear_error():
    with pytest.raises(SystemExit, match="no concept named 'sofmax'"):
        cli.main(["parity", "--concept", "sofmax"])


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
