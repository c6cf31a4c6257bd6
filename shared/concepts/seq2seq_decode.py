"""seq2seq_decode: the seq2seq decoder's outputs step by step, teacher-forced, free-running
(inference: each step is fed the previous step's argmax) or mixed by coins."""
import numpy as np

from shared.concepts import _rnn, _seq2seq
from shared.concepts.seq2seq_train_step import PARITY_NET
from shared.data import addition
from shared.spec import Case, Concept, ErrorCase


def validate(params, x, y_in, coins, *, cell):
    return _seq2seq.validate("seq2seq_decode", params, x, y_in, coins, cell)


def _make(cell, truth_probability, seed):
    def make(rng):
        data = addition(count=100, seed=seed)
        params = _seq2seq.init_params(rng, cell, **PARITY_NET)
        for side in ("enc", "dec"):  # as in seq2seq_train_step's cases
            params[f"{side}_embed"] = rng.standard_normal(params[f"{side}_embed"].shape)
        index = rng.choice(len(data.x_train), 6)
        y_in = data.y_train[index, :-1]
        return {"params": params, "x": data.x_train[index], "y_in": y_in,
                "coins": rng.random(y_in.shape) < truth_probability}
    return make


def _tied_logits(cell, seed):
    """W = 0 and b with two equal maxima (tokens 3 and 7): every step's logits tie, exactly,
    and the argmax fed back must be the lowest index, 3, in every framework."""
    make = _make(cell, 0.0, seed)

    def tied(rng):
        inputs = make(rng)
        params = inputs["params"]
        params["W"] = np.zeros_like(params["W"])
        params["b"] = np.zeros_like(params["b"])
        params["b"][[3, 7]] = 1.0
        return inputs
    return tied


def _golden(cell):
    """The decoder run with _rnn.python_loop (plain-Python scalar arithmetic) one step at a
    time: an implementation of the recurrences independent of the three packages."""
    step = _rnn.python_loop(cell)

    def run(params, side, inputs, h, c):
        weights = {k: params[f"{side}_{k}"] for k in ("Wx", "Wh", *_seq2seq.bias_names(cell))}
        out = step({"x": inputs[:, None], "h0": h, **({"c0": c} if cell == "lstm" else {}), **weights})
        return (out[0][:, 0], out[1][:, 0]) if cell == "lstm" else (out[:, 0], None)

    def golden(inputs):
        params, x, y_in, coins = inputs["params"], inputs["x"], inputs["y_in"], inputs["coins"]
        h = c = np.zeros((x.shape[0], params["W"].shape[0]))
        for t in range(x.shape[1]):
            h, c = run(params, "enc", params["enc_embed"][x[:, t]], h, c)
        c, token, logits = np.zeros_like(h), y_in[:, 0], []
        for t in range(y_in.shape[1]):
            if t > 0:
                token = np.where(coins[:, t], y_in[:, t], logits[-1].argmax(axis=1))
            h, c = run(params, "dec", params["dec_embed"][token], h, c)
            logits.append(h @ params["W"] + params["b"])
        logits = np.stack(logits, axis=1)
        return logits, logits.argmax(axis=2)
    return golden


def _bad(**changes):
    def make():
        inputs = _make("lstm", 1.0, 0)(np.random.default_rng(0))
        inputs.update(changes)
        return inputs
    return make


CONCEPT = Concept(
    name="seq2seq_decode",
    module="seq2seq",
    family="rnn_teacher_forcing",
    lesson=6,
    function="decode",
    math="h_0 = encoder(x);  token_t = y_in[:, t] if coins[:, t] (or t = 0) else argmax logits_{t-1};  "
         "h_t = cell(embed(token_t), h_{t-1});  logits_t = h_t W + b",
    japanese="seq2seq のデコーダ：教師強制（teacher forcing）と自由走行（推論時の生成）",
    signature="decode(params, x, y_in, coins, *, cell) -> (logits [N, Ty, V], tokens [N, Ty] = argmax logits)",
    differentiable=(),
    outputs=("logits", "tokens"),
    cases=(
        Case("lstm-teacher-forced", _make("lstm", 1.0, 551), {"cell": "lstm"}, seed=551, golden=_golden("lstm")),
        Case("lstm-free-running", _make("lstm", 0.0, 552), {"cell": "lstm"}, seed=552, golden=_golden("lstm"),
             note="inference: only the start token comes from y_in"),
        Case("lstm-scheduled", _make("lstm", 0.5, 553), {"cell": "lstm"}, seed=553, golden=_golden("lstm")),
        Case("gru-teacher-forced", _make("gru", 1.0, 554), {"cell": "gru"}, seed=554, golden=_golden("gru")),
        Case("gru-free-running", _make("gru", 0.0, 555), {"cell": "gru"}, seed=555, golden=_golden("gru")),
        Case("tied-logits", _tied_logits("lstm", 556), {"cell": "lstm"}, seed=556, golden=_golden("lstm"),
             note="every logit row ties tokens 3 and 7 exactly: argmax takes the lowest index, 3"),
    ),
    error_cases=(
        ErrorCase("gru-params-for-lstm", _bad(), ValueError,
                  r"seq2seq_decode: params for cell='gru' must be", {"cell": "gru"}),
        ErrorCase("int-coins", _bad(coins=np.ones((6, 4), dtype=np.int64)), TypeError,
                  r"seq2seq_decode: coins must be booleans", {"cell": "lstm"}),
    ),
)
