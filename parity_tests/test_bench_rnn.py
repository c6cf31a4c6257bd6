"""`rosetta bench rnn`: every contender's output and gradients are checked against
nn.LSTM before it gets a time. The times themselves are never asserted: they depend on
the machine."""
import json

from parity_tests.conftest import needs
from rosetta import bench
from rosetta.bench import rnn
from shared import backends


@needs("torch", why="the bench's reference is nn.LSTM")
def test_bench_rnn_checks_every_implementation_against_torch(tmp_path, capsys, monkeypatch):
    from rosetta import cli

    # the pause only protects timings, and a 2 x 3 LSTM's timings mean nothing
    monkeypatch.setattr(bench, "SETTLE_S", 0.0)

    path = tmp_path / "bench.json"
    tiny = ["--batch", "2", "--steps", "3", "--features", "4", "--hidden", "5", "--repeat", "2"]
    assert cli.main(["bench", "rnn", *tiny, "--json", str(path)]) == 0
    payload = json.loads(path.read_text())
    results = {r["name"]: r for r in payload["results"]}
    expected = {rnn.RNN_NUMPY, rnn.RNN_NUMPY_LAYER, "torch_impl.rnn.lstm (loop, autograd)", rnn.RNN_BUILTIN}
    if backends.installed("tf"):
        expected |= {"tf_impl.rnn.lstm (loop, GradientTape)", "keras LSTM (built-in, eager)",
                     "keras LSTM (built-in, tf.function)"}
    assert set(results) == expected
    # float32 throughout: 3 steps of sums of D + H = 9 products, then the sigmoid / tanh
    # and BPTT back through them, in another order than nn.LSTM's; each error is relative
    # to the array's largest |value|, so a few eps32 (1.2e-7) each, measured 3.6e-7.
    # 1e-5 leaves room for other BLAS orders yet is far below a wrong gate order or a
    # missing bias (errors of order 1e-1)
    assert all(r["max_err"] < 1e-5 for r in results.values()), results
    assert results[rnn.RNN_BUILTIN]["ratio"] == 1.0
    assert all(r["ratio"] > 0 and r["median_ms"] > 0 for r in results.values())
    assert payload["dtype"] == "float32" and payload["shape"] == {"batch": 2, "steps": 3, "features": 4, "hidden": 5}
    assert "NumPy vs torch nn.LSTM:" in capsys.readouterr().out


def test_bench_rnn_flops_count_the_six_matrix_products_per_step():
    # forward x_t Wx, h Wh; backward dA Wx^T, dA Wh^T, x_t^T dA, h^T dA: each 2 N (D or H) 4H
    n, t, d, h = 2, 3, 4, 5
    per_step = 3 * (2 * n * d * 4 * h + 2 * n * h * 4 * h)
    assert rnn.lstm_flops(rnn.RnnShape(n, t, d, h)) == t * per_step
