"""transformer_encoder_layer: self-attention, then a position-wise feed-forward net, each
inside a residual connection and a layer norm (Vaswani et al. 2017, 3.1). Post-LN (the
paper, torch's default) normalises after each residual sum, pre-LN (norm_first=True) before
each sublayer. See shared/concepts/_transformer.py for the parameter tree and the dropout
masks."""
import functools

import numpy as np

from shared import layouts, lazy
from shared.concepts import _transformer
from shared.concepts.layer_norm import _looped as looped_layer_norm
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side, Tolerance

NAME = "transformer_encoder_layer"
LAYERS = _transformer.ENCODER


def validate(x, params, dropout_masks, *, num_heads, mask, causal, norm_first, activation, eps, dropout,
             memory_mask=None):
    return _transformer.validate(NAME, LAYERS, x, None, params, dropout_masks, num_heads=num_heads, mask=mask,
                                 memory_mask=None, causal=causal, norm_first=norm_first, activation=activation,
                                 eps=eps, dropout=dropout)


def _silent_sublayers(rng):
    """Wo, bo, W2 and b2 zero: both sublayers output 0, whatever their inputs."""
    inputs = _transformer.make(LAYERS)(rng)
    p = inputs["params"]
    p["self_attn"]["Wo"][:], p["self_attn"]["bo"][:], p["W2"][:], p["b2"][:] = 0, 0, 0, 0
    return inputs


def _pre_ln_identity(inputs):
    return inputs["x"]  # h + 0 twice: the residual stream passes through untouched


def _post_ln_twice(inputs):
    p = inputs["params"]
    once = looped_layer_norm()({"x": inputs["x"], **p["norm1"]})
    return looped_layer_norm()({"x": once, **p["norm2"]})  # norm(h + 0) per sublayer


# -- the Keras oracle ------------------------------------------------------------------

def _keras_encoder(x, params, dropout_masks=None, *, num_heads, mask=None, causal=False, norm_first=False,
                   activation="relu", eps=1e-5, dropout=0.0):
    """The Keras layers a TensorFlow user composes (the TF tutorial's EncoderLayer):
    MultiHeadAttention, LayerNormalization and two Dense layers, holding our parameters."""
    keras, tf = lazy.keras(), lazy.tf()
    dtype, d, d_ff = x.dtype.name, int(x.shape[-1]), int(params["W1"].shape[1])
    attention = keras.layers.MultiHeadAttention(num_heads, key_dim=d // num_heads, dtype=dtype)
    attention.build(tuple(x.shape), tuple(x.shape))
    attention.set_weights([np.asarray(w) for w in layouts.mha_to_keras(params["self_attn"], num_heads)])
    act = {"relu": "relu", "gelu": functools.partial(keras.activations.gelu, approximate=False),
           "gelu_tanh": functools.partial(keras.activations.gelu, approximate=True)}[activation]
    dense1, dense2 = keras.layers.Dense(d_ff, activation=act, dtype=dtype), keras.layers.Dense(d, dtype=dtype)
    dense1.build(tuple(x.shape))
    dense2.build(tuple(x.shape[:-1]) + (d_ff,))
    dense1.set_weights([np.asarray(params["W1"]), np.asarray(params["b1"])])
    dense2.set_weights([np.asarray(params["W2"]), np.asarray(params["b2"])])
    norms = []
    for name in ("norm1", "norm2"):
        norm = keras.layers.LayerNormalization(epsilon=eps, dtype=dtype)
        norm.build(tuple(x.shape))
        norm.set_weights([np.asarray(params[name]["gamma"]), np.asarray(params[name]["beta"])])
        norms.append(norm)
    if mask is not None:  # Keras takes [B, Lq, Lk], one mask for every head
        mask = tf.broadcast_to(mask, (x.shape[0], num_heads, x.shape[1], x.shape[1]))[:, 0]

    def attend(h):
        return attention(h, h, attention_mask=mask, use_causal_mask=causal)

    def feed_forward(h):
        return dense2(dense1(h))
    if norm_first:
        h = x + attend(norms[0](x))
        return h + feed_forward(norms[1](h))
    h = norms[0](x + attend(x))
    return norms[1](h + feed_forward(h))


def _keras_applies(case) -> bool:
    inputs = case.inputs()
    mask = inputs.get("mask")
    return "dropout_masks" not in inputs and (mask is None or mask.ndim < 4 or mask.shape[1] == 1)


# -- porting -----------------------------------------------------------------------------

def _torch_encoder(**options):
    def run(x, params):
        torch = lazy.torch()
        module = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                                  dtype=x.dtype, **options)
        return torch.func.functional_call(module, layouts.encoder_layer_to_torch(params), (x,))
    return run


def _porting_inputs(rng):
    inputs = _transformer.make(LAYERS)(rng)
    return {"x": inputs["x"], "params": inputs["params"]}


SOURCE = ("torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=relu, "
          "layer_norm_eps=1e-05, batch_first=False, norm_first=False)")
PORTING = (
    PortingCase(
        "torch-norm-first",
        "A pre-LN checkpoint (GPT-2, ViT, most models since 2019) loaded into nn.TransformerEncoderLayer with its "
        "default norm_first=False runs the same weights as post-LN: every name and shape fits, the outputs do not.",
        _porting_inputs,
        reference=Side("torch", "nn.TransformerEncoderLayer(8, 2, 16, norm_first=True)  # how it was trained",
                       _torch_encoder(norm_first=True)),
        naive=Side("torch", "nn.TransformerEncoderLayer(8, 2, 16)", _torch_encoder()),
        fixed=Side("torch", "nn.TransformerEncoderLayer(8, 2, 16, norm_first=True)", _torch_encoder(norm_first=True)),
        seed=2320, source=SOURCE),
    PortingCase(
        "gelu-tanh-vs-exact",
        "torch's activation='gelu' is the exact x Phi(x); GPT-2, BERT's TF code and keras.ops.gelu's default use "
        "the tanh approximation, up to 1.6e-4 apart per unit (measured in the gelu concept's cases): a model "
        "trained with one and run with the other drifts by that much per layer.",
        _porting_inputs,
        reference=Side("torch", "nn.TransformerEncoderLayer(8, 2, 16, activation='gelu')", _torch_encoder(
            activation="gelu")),
        naive=Side("torch", "nn.TransformerEncoderLayer(8, 2, 16, activation=lambda x: F.gelu(x, approximate='tanh'))",
                   lambda x, params: _torch_encoder(activation=functools.partial(
                       lazy.F().gelu, approximate="tanh"))(x, params)),
        fixed=Side("torch", "nn.TransformerEncoderLayer(8, 2, 16, activation='gelu')", _torch_encoder(
            activation="gelu")),
        seed=2321, source=SOURCE + "; torch.nn.functional.gelu(input, approximate='none'); "
                                   "keras.ops.gelu(x, approximate=True)"),
)


def _error(**changes):
    def make():
        inputs = _transformer.make(LAYERS)(np.random.default_rng(0))
        for name, value in changes.items():
            if name in ("W1", "b2"):
                inputs["params"][name] = value
            else:
                inputs[name] = value
        return inputs
    return make


KW = {"num_heads": 2}
CONCEPT = Concept(
    name=NAME,
    module="transformer",
    family="attention_transformer",
    lesson=7,
    math="post-LN: h = LN1(x + drop(MHA(x, x, x))),  y = LN2(h + drop(FF(h)));  "
         "pre-LN: h = x + drop(MHA(LN1(x))),  y = h + drop(FF(LN2(h)));  FF(h) = drop(act(h W1 + b1)) W2 + b2;  "
         "backward: each residual sum passes its gradient to both branches",
    japanese="Transformer エンコーダ層",
    signature="transformer_encoder_layer(x, params, dropout_masks=None, *, num_heads, mask=None, causal=False, "
              "norm_first=False, activation='relu' | 'gelu' | 'gelu_tanh', eps=1e-5, dropout=0.0) -> y [B, L, d]; "
              "params self_attn (MHA), W1 [d, d_ff], b1, W2 [d_ff, d], b2, norm1 and norm2 {gamma, beta}",
    differentiable=("x", "params"),
    cases=(
        Case("post-ln-relu", _transformer.make(LAYERS), KW, seed=2310, note="the paper's layer, torch's default"),
        Case("pre-ln-gelu", _transformer.make(LAYERS), {**KW, "norm_first": True, "activation": "gelu"}, seed=2311),
        Case("key-padding", _transformer.make(LAYERS, mask=[[[[True] * 4]], [[[True] * 3 + [False]]]]), KW, seed=2312,
             note="the last token of sample 1 is padding"),
        Case("causal-pre-ln", _transformer.make(LAYERS), {**KW, "causal": True, "norm_first": True}, seed=2313),
        Case("dropout-masks", _transformer.make(LAYERS, drop=0.25), {**KW, "dropout": 0.25}, seed=2314,
             note="injected masks after attention, inside and after the feed-forward net"),
        Case("gelu-tanh-dropout-pre-ln", _transformer.make(LAYERS, drop=0.1),
             {**KW, "dropout": 0.1, "norm_first": True, "activation": "gelu_tanh"}, seed=2315),
        Case("length-1", _transformer.make(LAYERS, batch=3, length=1), KW, seed=2316),
        Case("pre-ln-silent-sublayers-are-the-identity", _silent_sublayers, {**KW, "norm_first": True}, seed=2317,
             golden=_pre_ln_identity, note="Wo, bo, W2, b2 = 0: pre-LN passes x through exactly"),
        Case("post-ln-silent-sublayers-normalise-twice", _silent_sublayers, KW, seed=2318, golden=_post_ln_twice,
             note="Wo, bo, W2, b2 = 0: post-LN gives LN2(LN1(x)), the looped definition"),
    ),
    error_cases=(
        ErrorCase("d_model-not-divisible", _error(), ValueError,
                  r"transformer_encoder_layer: d_model = 8 is not divisible by num_heads = 3", {"num_heads": 3}),
        ErrorCase("W1-shape", _error(W1=np.ones((4, 16))), ValueError,
                  r"transformer_encoder_layer: params\['W1'\] must have shape \(d_model = 8, d_ff\), got \(4, 16\)",
                  KW),
        ErrorCase("activation", _error(), ValueError,
                  r"transformer_encoder_layer: activation must be one of \('relu', 'gelu', 'gelu_tanh'\), got 'swish'",
                  {**KW, "activation": "swish"}),
        ErrorCase("dropout-mask-values", _error(dropout_masks={"attn": np.full((2, 4, 8), 2.0),
                                                               "ff": np.ones((2, 4, 16)), "out": np.ones((2, 4, 8))}),
                  ValueError, r"dropout_masks\['attn'\] must hold only 0 \(drop\) and 1 \(keep\), found 2\.0", KW),
        ErrorCase("dropout-1", _error(), ValueError, r"dropout must be a number in \[0\.0, 1\.0\), got 1\.0",
                  {**KW, "dropout": 1.0}),
        ErrorCase("mask-dtype", _error(mask=np.ones((4, 4))), TypeError, r"mask must be boolean", KW),
    ),
    oracles=(
        Oracle("torch", "nn.TransformerEncoderLayer(batch_first=True, dropout=0) via torch.func.functional_call",
               _transformer.torch_layer("encoder"), applies=_transformer.torch_applies),
        Oracle("tf", "keras MultiHeadAttention + LayerNormalization + Dense (set_weights)", _keras_encoder,
               differentiable=False, applies=_keras_applies),
    ),
    porting=PORTING,
    overrides=(
        # Keras' MultiHeadAttention scales by 1/sqrt(key_dim) rounded to float32 (see
        # multi_head_attention.py): 2^-24 relative in every score; the layer norms after it
        # divide by a standard deviation >= 0.3 here, so <= 3x the attention's 1e-6 bound
        Override("builtin", Tolerance(3e-6, 3e-6, "Keras scales by 1/sqrt(key_dim) rounded to float32; the layer "
                                                  "norms after it amplify by 1/std <= 3"),
                 dtype="float64", backend="tf"),
        Override("grad", _transformer.FLOAT32_GRAD, dtype="float32"),
    ),
)
