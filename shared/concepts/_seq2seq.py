"""The seq2seq model's shared contract (ゼロから作る 2, chapter 7): an encoder and a
decoder, each an embedding and one recurrent layer, and an affine + softmax over the
vocabulary at every decoder step.

  encoder   h_enc = last hidden state of cell(embed(x, enc_embed))            x [N, Tx]
  decoder   h_0 = h_enc (an LSTM's cell state starts at 0, as the book's Decoder)
            input token at step t:
              t = 0          the start token y_in[:, 0] ('_')
              coins[:, t]    True:  the ground truth y_in[:, t]            (teacher forcing)
                             False: argmax of the logits of step t - 1     (free running)
            logits_t = h_t W + b                                            [N, V]
  loss      mean over N and T of -log softmax(logits_t)[target_t]          (TimeSoftmaxWithLoss)

Teacher forcing 教師強制 feeds the truth, so training never sees the model's own mistakes;
free running 自由走行 feeds the model's own prediction, as inference must; scheduled
sampling mixes the two with coin flips, which the case draws (never the implementation).
The argmax path carries no gradient (it is a choice, not a function of the weights).

Canonical parameters (cell = "lstm" or "gru", see _rnn.py for the gate layouts):
  enc_embed [V, E], enc_Wx [E, G*H], enc_Wh [H, G*H], enc_b [G*H] (GRU: enc_bx, enc_bh),
  dec_embed [V, E], dec_Wx, dec_Wh, dec_b (GRU: dec_bx, dec_bh), W [H, V], b [V].
"""
from __future__ import annotations

import numpy as np

from shared import checks
from shared.concepts._rnn import GATES

CELLS = ("lstm", "gru")


def bias_names(cell: str) -> tuple[str, ...]:
    return ("bx", "bh") if cell == "gru" else ("b",)


def param_names(cell: str) -> list[str]:
    layer = ["embed", "Wx", "Wh", *bias_names(cell)]
    return [f"enc_{n}" for n in layer] + [f"dec_{n}" for n in layer] + ["W", "b"]


def layer_params(params, side: str, cell: str) -> dict:
    """The recurrent layer's canonical arguments (Wx, Wh, b / bx, bh) of 'enc' or 'dec'."""
    return {n: params[f"{side}_{n}"] for n in ("Wx", "Wh", *bias_names(cell))}


def init_params(rng: np.random.Generator, cell: str, vocab: int, embed: int, hidden: int) -> dict:
    """The book's Seq2seq init: embeddings ~ N(0, 0.01^2), recurrent weights Xavier
    (std 1/sqrt(fan_in)), biases 0."""
    gates = GATES[cell]
    params = {}
    for side in ("enc", "dec"):
        params[f"{side}_embed"] = 0.01 * rng.standard_normal((vocab, embed))
        params[f"{side}_Wx"] = rng.standard_normal((embed, gates * hidden)) / np.sqrt(embed)
        params[f"{side}_Wh"] = rng.standard_normal((hidden, gates * hidden)) / np.sqrt(hidden)
        for name in bias_names(cell):
            params[f"{side}_{name}"] = np.zeros(gates * hidden)
    params["W"] = rng.standard_normal((hidden, vocab)) / np.sqrt(hidden)
    params["b"] = np.zeros(vocab)
    return params


def validate(concept: str, params, x, y_in, coins, cell: str):
    """(N, Tx, Ty, V) after checking the tokens, the coins and every parameter's shape."""
    checks.require_choice(concept, "cell", cell, CELLS)
    expected = param_names(cell)
    if not isinstance(params, dict) or set(params) != set(expected):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{concept}: params for cell={cell!r} must be {expected}, got {got}")
    checks.require_tree(concept, "params", params)
    checks.require_rank(concept, "params['enc_embed']", params["enc_embed"], (2,), " [V, E]")
    checks.require_rank(concept, "params['W']", params["W"], (2,), " [H, V]")
    vocab, embed = checks.shape_of(params["enc_embed"])
    hidden = checks.shape_of(params["W"])[0]
    gates = GATES[cell]
    for side in ("enc", "dec"):
        for name, shape, what in (("embed", (vocab, embed), "[V, E]"), ("Wx", (embed, gates * hidden), "[E, G*H]"),
                                  ("Wh", (hidden, gates * hidden), "[H, G*H]"),
                                  *((b, (gates * hidden,), "[G*H]") for b in bias_names(cell))):
            key = f"{side}_{name}"
            checks.require_shape(concept, f"params[{key!r}]", params[key], shape, what)
    checks.require_shape(concept, "params['W']", params["W"], (hidden, vocab), "[H, V]")
    checks.require_shape(concept, "params['b']", params["b"], (vocab,), "[V]")
    for name, tokens in (("x", x), ("y_in", y_in)):
        checks.require_labels(concept, name, tokens, vocab, "token ids", "tokens in the vocabulary")
        checks.require_rank(concept, name, tokens, (2,), " [N, T]")
    n, tx = checks.shape_of(x)
    ty = checks.shape_of(y_in)[1]
    if n == 0 or tx == 0 or ty == 0:
        raise ValueError(f"{concept}: x and y_in need at least one sequence and one step, "
                         f"got shapes {(n, tx)} and {checks.shape_of(y_in)}")
    checks.require_shape(concept, "y_in", y_in, (n, ty), f"[N, Ty] with N = {n} from x")
    checks.require_array(concept, "coins", coins)
    checks.require_shape(concept, "coins", coins, (n, ty), "one coin per decoder step: True = the ground truth")
    if checks.dtype_name(coins) != "bool":
        raise TypeError(f"{concept}: coins must be booleans (True = feed the ground truth), "
                        f"got dtype {checks.dtype_name(coins)}")
    return n, tx, ty, vocab
