"""transformer_decoder_layer: causal self-attention over the target so far, cross-attention
to the encoder's output (the memory), then the feed-forward net, each inside a residual
connection and a layer norm (Vaswani et al. 2017, 3.1). Post-LN or pre-LN as the encoder
layer; see shared/concepts/_transformer.py."""
import numpy as np

from shared import checks, layouts, lazy
from shared.concepts import _transformer
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side

NAME = "transformer_decoder_layer"
LAYERS = _transformer.DECODER


def validate(x, memory, params, dropout_masks, *, num_heads, mask, memory_mask, causal, norm_first, activation, eps,
             dropout):
    checks.require_array(NAME, "memory", memory)
    return _transformer.validate(NAME, LAYERS, x, memory, params, dropout_masks, num_heads=num_heads, mask=mask,
                                 memory_mask=memory_mask, causal=causal, norm_first=norm_first,
                                 activation=activation, eps=eps, dropout=dropout)


# -- porting -----------------------------------------------------------------------------

def _torch_decoder(causal):
    def run(x, memory, params):
        torch = lazy.torch()
        module = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                                  dtype=x.dtype)
        options = {"tgt_mask": torch.nn.Transformer.generate_square_subsequent_mask(
            x.shape[1], dtype=x.dtype)} if causal else {}
        return torch.func.functional_call(module, layouts.decoder_layer_to_torch(params), (x, memory), options)
    return run


def _porting_inputs(rng):
    inputs = _transformer.make(LAYERS)(rng)
    return {"x": inputs["x"], "memory": inputs["memory"], "params": inputs["params"]}


def _ours_causal(x, memory, params, *, impl):
    return impl.transformer_decoder_layer(x, memory, params, num_heads=2, causal=True)


PORTING = (
    PortingCase(
        "torch-decoder-without-causal-mask",
        "nn.TransformerDecoderLayer attends to every target position unless given tgt_mask (or "
        "tgt_is_causal with a mask): trained without one, each position sees the tokens it is asked to "
        "predict. The fix passes nn.Transformer.generate_square_subsequent_mask(L), a float mask of 0 and -inf.",
        _porting_inputs,
        reference=Side("numpy", "transformer_decoder_layer(x, memory, params, num_heads=2, causal=True)",
                       _ours_causal, uses="transformer"),
        naive=Side("torch", "nn.TransformerDecoderLayer(8, 2, 16, batch_first=True)(x, memory)", _torch_decoder(False)),
        fixed=Side("torch", "...(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(L))",
                   _torch_decoder(True)),
        seed=2340,
        source="torch.nn.TransformerDecoderLayer.forward(tgt, memory, tgt_mask=None, memory_mask=None, ..., "
               "tgt_is_causal=False); torch.nn.Transformer.generate_square_subsequent_mask(sz)"),
)


def _error(**changes):
    def make():
        inputs = _transformer.make(LAYERS)(np.random.default_rng(0))
        inputs.update(changes)
        return inputs
    return make


KW = {"num_heads": 2, "causal": True}
CONCEPT = Concept(
    name=NAME,
    module="transformer",
    family="attention_transformer",
    lesson=8,
    math="post-LN: h1 = LN1(x + drop(MHA(x, x, x, causal))),  h2 = LN2(h1 + drop(MHA(h1, m, m))),  "
         "y = LN3(h2 + drop(FF(h2)));  pre-LN: h1 = x + drop(MHA(LN1(x), causal)),  h2 = h1 + drop(MHA(LN2(h1), m, m)),  "
         "y = h2 + drop(FF(LN3(h2)));  the memory m gets the gradients of cross-attention's keys and values",
    japanese="Transformer デコーダ層",
    signature="transformer_decoder_layer(x, memory, params, dropout_masks=None, *, num_heads, mask=None, "
              "memory_mask=None, causal=False, norm_first=False, activation='relu', eps=1e-5, dropout=0.0) -> y; "
              "x [B, L, d], memory [B, S, d]; params self_attn, cross_attn (MHA), W1, b1, W2, b2, norm1..3",
    differentiable=("x", "memory", "params"),
    cases=(
        Case("post-ln-causal", _transformer.make(LAYERS), KW, seed=2330),
        Case("pre-ln-gelu-causal", _transformer.make(LAYERS), {**KW, "norm_first": True, "activation": "gelu"},
             seed=2331),
        Case("source-padding", _transformer.make(LAYERS, source=6, memory_mask=[[[[True] * 6]], [[[True] * 4 + [False] * 2]]]),
             KW, seed=2332, note="the source of sample 1 ends in two padding tokens"),
        Case("not-causal", _transformer.make(LAYERS), {"num_heads": 2}, seed=2333,
             note="torch's default: every target position sees every other"),
        Case("dropout-masks-pre-ln", _transformer.make(LAYERS, drop=0.25), {**KW, "dropout": 0.25, "norm_first": True},
             seed=2334),
        Case("length-1", _transformer.make(LAYERS, length=1, source=1), KW, seed=2335,
             note="the first step of generation: one target token, one source token"),
    ),
    error_cases=(
        ErrorCase("memory-width", _error(memory=np.ones((2, 5, 4))), ValueError,
                  r"transformer_decoder_layer: memory must have shape \[batch = 2, source length, d_model = 8\], "
                  r"got \(2, 5, 4\)", KW),
        ErrorCase("memory-missing", _error(memory=None), TypeError,
                  r"transformer_decoder_layer: memory must be an array", KW),
        ErrorCase("memory-mask-shape", _error(memory_mask=np.ones((4, 4), dtype=bool)), ValueError,
                  r"mask of shape \(4, 4\) does not broadcast to the attention scores' shape \(2, 2, 4, 5\)", KW),
    ),
    oracles=(
        Oracle("torch", "nn.TransformerDecoderLayer(batch_first=True, dropout=0) via torch.func.functional_call",
               _transformer.torch_layer("decoder"), applies=_transformer.torch_applies),
    ),
    porting=PORTING,
    overrides=(Override("grad", _transformer.FLOAT32_GRAD, dtype="float32"),),
)
