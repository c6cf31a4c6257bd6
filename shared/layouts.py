"""Canonical layouts and the only conversions between them and the frameworks' own.

Canonical (the math as the book and PyTorch write it):
  images               NCHW   [batch, channels, height, width]
  conv kernels         OIHW   [out channels, in channels / groups, kh, kw]
  transposed-conv      IOHW   [in channels, out channels, kh, kw]  (torch ConvTranspose2d)
  depthwise kernels    OIHW with groups = C: [C * M, 1, kh, kw], output channel c * M + m
  affine               W [in, out]  (the book and Keras; torch Linear.weight is W.T)
  recurrent cells      Wx [D, G*H], Wh [H, G*H], gate blocks on the last axis: LSTM
                       (i, f, g, o), GRU (r, z, n) with biases bx, bh; RNN and LSTM one
                       bias b (see shared/concepts/_rnn.py)
  multi-head attention Wq, Wk, Wv, Wo [d_model, d_model], bq, bk, bv, bo [d_model]: torch
                       packs q, k, v into in_proj_weight [3 d, d]; Keras keeps [d, heads, d_head]

TensorFlow and Keras keep images NHWC and kernels HWIO; Conv2DTranspose kernels
[kh, kw, out, in]; DepthwiseConv2D kernels [kh, kw, C, M]. Both frameworks compute
cross-correlation: no kernel is ever flipped.

torch's nn.RNN / nn.LSTM / nn.GRU keep weight_ih [G*H, D] = Wx.T, weight_hh = Wh.T and
two biases in the same gate order. Keras keeps kernel [D, G*H] = Wx, recurrent_kernel =
Wh and one bias; its LSTM order (i, f, c, o) is ours, its GRU order is (z, r, h) and, with
reset_after=True, its bias is [2, 3H] = (input bias, recurrent bias).

Every function takes a NumPy array, a torch tensor or a TF tensor and returns the same
kind, so a porter calls the same converter whichever side the weights come from.
"""
from __future__ import annotations

import numpy as np

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
# OIHW -> HWIO and IOHW -> [kh, kw, O, I] are the same permutation: (2, 3, 1, 0)
OIHW_TO_HWIO = (2, 3, 1, 0)
HWIO_TO_OIHW = (3, 2, 0, 1)


def _transpose(a, perm):
    if isinstance(a, np.ndarray):
        return a.transpose(perm)
    if hasattr(a, "permute"):  # torch
        return a.permute(perm)
    from shared import lazy  # a TF tensor: TensorFlow is already loaded
    return lazy.tf().transpose(a, perm)


def _concat(parts, axis):
    a = parts[0]
    if isinstance(a, np.ndarray):
        return np.concatenate(parts, axis=axis)
    if hasattr(a, "permute"):
        import torch  # a torch tensor: torch is already loaded
        return torch.cat(parts, dim=axis)
    from shared import lazy
    return lazy.tf().concat(parts, axis=axis)


def _reshape(a, shape):
    if isinstance(a, np.ndarray) or hasattr(a, "permute"):
        return a.reshape(shape)
    from shared import lazy
    return lazy.tf().reshape(a, shape)


def nchw_to_nhwc(x):
    """Images [B, C, H, W] (ours, torch) as [B, H, W, C] (TF and Keras' default)."""
    return _transpose(x, NCHW_TO_NHWC)


def nhwc_to_nchw(x):
    """Images [B, H, W, C] (TF, Keras) as [B, C, H, W] (ours, torch)."""
    return _transpose(x, NHWC_TO_NCHW)


def oihw_to_hwio(w):
    """A conv kernel for tf.nn.conv2d / keras Conv2D (groups: I is in channels / groups)."""
    return _transpose(w, OIHW_TO_HWIO)


def hwio_to_oihw(w):
    """A TF / Keras conv kernel [kh, kw, I, O] as ours and torch's [O, I, kh, kw]."""
    return _transpose(w, HWIO_TO_OIHW)


def iohw_to_keras_transpose(w):
    """A torch ConvTranspose2d weight [I, O, kh, kw] as the kernel of tf.nn.conv2d_transpose
    and keras Conv2DTranspose, [kh, kw, O, I]."""
    return _transpose(w, OIHW_TO_HWIO)


def keras_transpose_to_iohw(w):
    """A Keras Conv2DTranspose kernel [kh, kw, O, I] as torch's ConvTranspose2d weight [I, O, kh, kw]."""
    return _transpose(w, HWIO_TO_OIHW)


def depthwise_oihw_to_hwcm(w, channels: int):
    """A depthwise kernel [C * M, 1, kh, kw] (output channel c * M + m) as TF's
    depthwise_conv2d / keras DepthwiseConv2D kernel [kh, kw, C, M]."""
    out, one, kh, kw = (int(d) for d in w.shape)
    if one != 1 or out % channels:
        raise ValueError(f"a depthwise kernel for {channels} channels has shape [C*M, 1, kh, kw], "
                         f"got {tuple(int(d) for d in w.shape)}")
    return _transpose(_reshape(w, (channels, out // channels, kh, kw)), (2, 3, 0, 1))


def hwcm_to_depthwise_oihw(w):
    """A TF depthwise kernel [kh, kw, C, M] as torch's grouped-conv weight [C * M, 1, kh, kw]."""
    kh, kw, channels, multiplier = (int(d) for d in w.shape)
    return _reshape(_transpose(w, (2, 3, 0, 1)), (channels * multiplier, 1, kh, kw))


def dense_rows_chw_to_hwc(W, channels: int, height: int, width: int):
    """The affine W [C*H*W, out] of a net that flattens NCHW feature maps (torch's
    flatten(1), the book's reshape), reordered for one that flattens NHWC (Keras Flatten):
    row (c, h, w) moves to row (h, w, c)."""
    out = int(W.shape[1])
    return _reshape(_transpose(_reshape(W, (channels, height, width, out)), (1, 2, 0, 3)), (-1, out))


def dense_rows_hwc_to_chw(W, channels: int, height: int, width: int):
    """The inverse of dense_rows_chw_to_hwc: a Keras Dense after Flatten (NHWC rows) for an NCHW net."""
    out = int(W.shape[1])
    return _reshape(_transpose(_reshape(W, (height, width, channels, out)), (2, 0, 1, 3)), (-1, out))


# ---- recurrent cells ----------------------------------------------------------------

def _gate_blocks(a, gates: int):
    size = int(a.shape[-1]) // gates
    return [a[..., k * size:(k + 1) * size] for k in range(gates)]


def _swap_first_two_gates(a):
    """(r, z, n) <-> (z, r, h): the GRU's first two gate blocks change places."""
    r, z, n = _gate_blocks(a, 3)
    return _concat([z, r, n], -1)


def rnn_to_torch(Wx, Wh, b):
    """Canonical RNN or LSTM parameters as torch's (weight_ih_l0, weight_hh_l0,
    bias_ih_l0, bias_hh_l0): the same gate order, transposed, the bias all in bias_ih."""
    return _transpose(Wx, (1, 0)), _transpose(Wh, (1, 0)), b, b * 0


def rnn_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    """(Wx, Wh, b): torch's two biases are only ever added, so one bias holds both."""
    return _transpose(weight_ih, (1, 0)), _transpose(weight_hh, (1, 0)), bias_ih + bias_hh


def gru_to_torch(Wx, Wh, bx, bh):
    """Canonical GRU parameters as torch's (weight_ih_l0, weight_hh_l0, bias_ih_l0,
    bias_hh_l0): same gate order (r, z, n), same two biases."""
    return _transpose(Wx, (1, 0)), _transpose(Wh, (1, 0)), bx, bh


def gru_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    """(Wx, Wh, bx, bh) from torch's GRU parameters: transposed, gate order and biases kept."""
    return _transpose(weight_ih, (1, 0)), _transpose(weight_hh, (1, 0)), bias_ih, bias_hh


def rnn_to_keras(Wx, Wh, b):
    """Canonical RNN or LSTM parameters as Keras SimpleRNN / LSTM weights [kernel,
    recurrent_kernel, bias]: the same arrays, since Keras' LSTM order (i, f, c, o) is ours."""
    return [Wx, Wh, b]


def rnn_from_keras(kernel, recurrent_kernel, bias):
    """(Wx, Wh, b) from Keras SimpleRNN / LSTM weights: the same arrays."""
    return kernel, recurrent_kernel, bias


def gru_to_keras(Wx, Wh, bx, bh):
    """Canonical GRU parameters as Keras GRU(reset_after=True) weights [kernel,
    recurrent_kernel, bias [2, 3H]], gate blocks reordered (r, z, n) -> (z, r, h)."""
    bias = _concat([_reshape(_swap_first_two_gates(bx), (1, -1)), _reshape(_swap_first_two_gates(bh), (1, -1))], 0)
    return [_swap_first_two_gates(Wx), _swap_first_two_gates(Wh), bias]


def gru_from_keras(kernel, recurrent_kernel, bias):
    """(Wx, Wh, bx, bh) from Keras GRU(reset_after=True) weights, gate blocks (z, r, h) -> (r, z, n)."""
    if len(bias.shape) != 2:
        raise ValueError("a Keras GRU with one bias vector was built with reset_after=False: it computes "
                         "r * (h @ Wh_n) instead of r * (h @ Wh_n + bh_n) and has no canonical (torch) form")
    return (_swap_first_two_gates(kernel), _swap_first_two_gates(recurrent_kernel),
            _swap_first_two_gates(bias[0]), _swap_first_two_gates(bias[1]))


def book_lstm_to_canonical(a):
    """ゼロから作る 2's LSTM slices its affine output (f, g, i, o); ours is (i, f, g, o).
    Works on Wx, Wh and b alike (the gate blocks are the last axis)."""
    f, g, i, o = _gate_blocks(a, 4)
    return _concat([i, f, g, o], -1)


def canonical_lstm_to_book(a):
    """Our LSTM gate blocks (i, f, g, o) in ゼロから作る 2's order (f, g, i, o)."""
    i, f, g, o = _gate_blocks(a, 4)
    return _concat([f, g, i, o], -1)


# ---- attention ----------------------------------------------------------------------
# Canonical multi-head attention parameters: Wq, Wk, Wv, Wo [d_model, d_model] and bq, bk,
# bv, bo [d_model] in y = x W + b; head h owns columns h d_head .. (h+1) d_head - 1 of Wq,
# Wk, Wv and the same rows of Wo.

MHA_PARAMS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def mha_to_torch(params) -> dict:
    """A state_dict for nn.MultiheadAttention(d_model, heads): q, k and v packed into
    in_proj_weight [3 d, d] (each block W.T, as nn.Linear keeps it) and in_proj_bias [3 d]."""
    return {"in_proj_weight": _concat([_transpose(params[w], (1, 0)) for w in ("Wq", "Wk", "Wv")], 0),
            "in_proj_bias": _concat([params[b] for b in ("bq", "bk", "bv")], 0),
            "out_proj.weight": _transpose(params["Wo"], (1, 0)),
            "out_proj.bias": params["bo"]}


def mha_from_torch(state_dict) -> dict:
    """Canonical parameters from nn.MultiheadAttention's state_dict (packed projections)."""
    if "in_proj_weight" not in state_dict:
        raise ValueError("this nn.MultiheadAttention keeps q_proj_weight, k_proj_weight and v_proj_weight "
                         "apart (kdim or vdim differ from embed_dim): canonical attention has d_model everywhere")
    weight, bias = state_dict["in_proj_weight"], state_dict["in_proj_bias"]
    d = int(weight.shape[1])
    params = {}
    for i, name in enumerate("qkv"):
        params[f"W{name}"] = _transpose(weight[i * d:(i + 1) * d], (1, 0))
        params[f"b{name}"] = bias[i * d:(i + 1) * d]
    params["Wo"] = _transpose(state_dict["out_proj.weight"], (1, 0))
    params["bo"] = state_dict["out_proj.bias"]
    return {name: params[name] for name in MHA_PARAMS}


def mha_to_keras(params, num_heads: int) -> list:
    """keras.layers.MultiHeadAttention(num_heads, key_dim=d_model // num_heads) weights in the
    order of get_weights(): query kernel [d, heads, d_head] and bias [heads, d_head], the same
    for key and value, output kernel [heads, d_head, d] and bias [d]."""
    d = int(params["Wq"].shape[0])
    split = (num_heads, d // num_heads)
    weights = []
    for name in "qkv":
        weights += [_reshape(params[f"W{name}"], (d,) + split), _reshape(params[f"b{name}"], split)]
    return weights + [_reshape(params["Wo"], split + (d,)), params["bo"]]


def mha_from_keras(weights, num_heads: int) -> dict:
    """Canonical parameters from keras.layers.MultiHeadAttention.get_weights()."""
    if len(weights) != 8:
        raise ValueError(f"expected the 8 weights of a MultiHeadAttention with biases, got {len(weights)}")
    d = int(weights[0].shape[0])
    params = {}
    for i, name in enumerate("qkv"):
        params[f"W{name}"] = _reshape(weights[2 * i], (d, d))
        params[f"b{name}"] = _reshape(weights[2 * i + 1], (d,))
    params["Wo"], params["bo"] = _reshape(weights[6], (d, d)), weights[7]
    return {name: params[name] for name in MHA_PARAMS}


# ---- Transformer layers --------------------------------------------------------------
# Canonical encoder layer: {"self_attn": MHA params, "W1" [d, d_ff], "b1", "W2" [d_ff, d], "b2",
# "norm1": {"gamma", "beta"}, "norm2": {...}}; a decoder layer adds "cross_attn" and "norm3".
# torch's nn.TransformerEncoderLayer / DecoderLayer name them self_attn.*, multihead_attn.*,
# linear1, linear2 (nn.Linear: weight = W.T) and norm1..3 (weight = gamma, bias = beta).

def _layer_to_torch(params, attentions, norms) -> dict:
    state = {}
    for ours, theirs in attentions:
        state.update({f"{theirs}.{k}": v for k, v in mha_to_torch(params[ours]).items()})
    for i in (1, 2):
        state[f"linear{i}.weight"] = _transpose(params[f"W{i}"], (1, 0))
        state[f"linear{i}.bias"] = params[f"b{i}"]
    for norm in norms:
        state[f"{norm}.weight"], state[f"{norm}.bias"] = params[norm]["gamma"], params[norm]["beta"]
    return state


def _layer_from_torch(state, attentions, norms) -> dict:
    params = {}
    for ours, theirs in attentions:
        prefix = f"{theirs}."
        params[ours] = mha_from_torch({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    for i in (1, 2):
        params[f"W{i}"], params[f"b{i}"] = _transpose(state[f"linear{i}.weight"], (1, 0)), state[f"linear{i}.bias"]
    for norm in norms:
        params[norm] = {"gamma": state[f"{norm}.weight"], "beta": state[f"{norm}.bias"]}
    return params


_ENCODER = ((("self_attn", "self_attn"),), ("norm1", "norm2"))
_DECODER = ((("self_attn", "self_attn"), ("cross_attn", "multihead_attn")), ("norm1", "norm2", "norm3"))


def encoder_layer_to_torch(params) -> dict:
    """A state_dict for nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward)."""
    return _layer_to_torch(params, *_ENCODER)


def encoder_layer_from_torch(state_dict) -> dict:
    """Canonical encoder-layer parameters from nn.TransformerEncoderLayer's state_dict."""
    return _layer_from_torch(state_dict, *_ENCODER)


def decoder_layer_to_torch(params) -> dict:
    """A state_dict for nn.TransformerDecoderLayer (cross-attention is its `multihead_attn`)."""
    return _layer_to_torch(params, *_DECODER)


def decoder_layer_from_torch(state_dict) -> dict:
    """Canonical decoder-layer parameters from nn.TransformerDecoderLayer's state_dict."""
    return _layer_from_torch(state_dict, *_DECODER)
