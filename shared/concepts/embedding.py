"""embedding: look up one row of a weight matrix per token id (the book ❷'s Embedding, 4章).
Its backward adds each row's upstream gradients into that row of dW (np.add.at: a token
seen twice gets both); with `padding_idx` the padding token's row gets no gradient, as
torch's nn.Embedding(padding_idx=...) does."""
import numbers

import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side, Skip

NAME = "embedding"


def validate(ids, W, *, padding_idx):
    """Returns the vocabulary size."""
    checks.require_float(NAME, "W", W)
    checks.require_rank(NAME, "W", W, (2,), " ([vocabulary, d_model])")
    vocabulary = checks.shape_of(W)[0]
    checks.require_labels(NAME, "ids", ids, vocabulary, ids="token ids", of="rows of W (the vocabulary)")
    if padding_idx is not None and (not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool)
                                    or not 0 <= padding_idx < vocabulary):
        raise ValueError(f"{NAME}: padding_idx must be None or a token id in [0, {vocabulary - 1}], "
                         f"got {padding_idx!r}")
    return vocabulary


def _make(shape, vocabulary=10, d=4, pad=None):
    def make(rng):
        ids = rng.integers(0, vocabulary, size=shape)
        if pad is not None:
            ids.flat[::3] = pad  # every third token is padding
        return {"ids": ids, "W": rng.standard_normal((vocabulary, d))}
    return make


def _looked_up(inputs):
    W, ids = inputs["W"], inputs["ids"]
    return np.array([W[i] for i in ids.ravel()]).reshape(ids.shape + (W.shape[1],))


def _repeated(rng):
    return {"ids": np.array([[1, 1, 1], [0, 2, 1]]), "W": np.arange(12.0).reshape(3, 4)}


def _repeated_grad(inputs, v):
    # token 1 appears at (0, 0), (0, 1), (0, 2) and (1, 2): its row sums those four cotangents
    return {"W": np.stack([v[1, 0], v[0, 0] + v[0, 1] + v[0, 2] + v[1, 2], v[1, 1]])}


def _repeated_padded_grad(inputs, v):
    return {"W": np.stack([np.zeros(4), v[0, 0] + v[0, 1] + v[0, 2] + v[1, 2], v[1, 1]])}


# -- oracles -----------------------------------------------------------------------------

def _torch_embedding(ids, W, padding_idx=None):
    return lazy.F().embedding(ids, W, padding_idx=padding_idx)


def _keras_embedding(ids, W, padding_idx=None):
    keras = lazy.keras()
    layer = keras.layers.Embedding(int(W.shape[0]), int(W.shape[1]), dtype=W.dtype.name)
    layer.build(tuple(ids.shape))
    layer.set_weights([np.asarray(W)])
    return layer(ids)


# -- porting -----------------------------------------------------------------------------

def _one_step_inputs(rng):
    ids = rng.integers(1, 6, size=(2, 5))
    ids[:, 3:] = 0  # two padding tokens (id 0) at the end of each sentence
    return {"ids": ids, "W": rng.standard_normal((6, 4)), "v": rng.standard_normal((2, 5, 4))}


def _torch_step(ids, W, v):
    """nn.Embedding(6, 4, padding_idx=0) holding W, one SGD step (lr 1) on <E(ids), v>: the new weight."""
    torch = lazy.torch()
    layer = torch.nn.Embedding(6, 4, padding_idx=0, dtype=W.dtype)
    with torch.no_grad():
        layer.weight.copy_(W)
    (layer(ids) * v).sum().backward()
    with torch.no_grad():
        return layer.weight - layer.weight.grad


def _keras_step(fix):
    def run(ids, W, v):
        keras, tf = lazy.keras(), lazy.tf()
        layer = keras.layers.Embedding(6, 4, mask_zero=True, dtype=W.dtype.name)
        layer.build(tuple(ids.shape))
        layer.set_weights([W.numpy()])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(ids) * v)
        grad = tf.convert_to_tensor(tape.gradient(loss, layer.embeddings))  # an IndexedSlices
        if fix:  # the padding row keeps its value, as nn.Embedding(padding_idx=0)
            grad = grad * tf.cast(tf.range(6) != 0, grad.dtype)[:, None]
        return layer.embeddings - grad
    return run


PORTING = (
    PortingCase(
        "keras-mask-zero-still-trains-the-padding-row",
        "torch's nn.Embedding(padding_idx=0) gives the padding row no gradient, so it never moves; Keras' "
        "Embedding(mask_zero=True) only produces a mask for the layers after it: the padding row gets "
        "the gradients of every padding token and moves with each step.",
        _one_step_inputs,
        reference=Side("torch", "nn.Embedding(6, 4, padding_idx=0); loss.backward(); one SGD step", _torch_step),
        naive=Side("tf", "keras.layers.Embedding(6, 4, mask_zero=True); one SGD step", _keras_step(fix=False)),
        fixed=Side("tf", "the same, with the padding row's gradient zeroed: grad * (arange(6) != 0)[:, None]",
                   _keras_step(fix=True)),
        seed=2250,
        source="torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None): the entries at padding_idx "
               "do not contribute to the gradient; keras.layers.Embedding(mask_zero=False): whether the input "
               "value 0 is a special padding value that should be masked out"),
)


def _error(ids, W=None, padding_idx=None):
    def make():
        return {"ids": ids, "W": np.ones((5, 3)) if W is None else W}
    return make


CONCEPT = Concept(
    name=NAME,
    module="transformer",
    family="attention_transformer",
    lesson=1,
    math="y[..., :] = W[ids[...], :];  dW[t] = sum of dy[...] over the positions where ids == t "
         "(0 for t = padding_idx)",
    japanese="埋め込み (Embedding)",
    signature="embedding(ids, W, *, padding_idx=None) -> ids.shape + (d_model,); ids integer token ids in "
              "[0, vocabulary), W [vocabulary, d_model]",
    differentiable=("W",),
    cases=(
        Case("tokens", _make((2, 5)), seed=2260, golden=_looked_up, note="a batch of 2 sentences of 5 tokens"),
        Case("padding-idx-0", _make((3, 6), pad=0), {"padding_idx": 0}, seed=2261, golden=_looked_up,
             note="every third token is padding (id 0): row 0 is looked up but gets no gradient"),
        Case("padding-idx-last", _make((2, 6), pad=9), {"padding_idx": 9}, seed=2262, golden=_looked_up),
        Case("one-id", _make((1,), vocabulary=3), seed=2263, golden=_looked_up, note="a single token"),
        Case("repeated-ids-by-hand", _repeated, golden=_looked_up, golden_grad=_repeated_grad,
             note="token 1 four times: its row of dW is the sum of the four cotangents"),
        Case("repeated-ids-padding-by-hand", _repeated, {"padding_idx": 0}, golden=_looked_up,
             golden_grad=_repeated_padded_grad, note="as above with token 0 as padding: row 0 of dW is 0"),
    ),
    error_cases=(
        ErrorCase("id-out-of-range", _error(np.array([[1, 5]])), ValueError,
                  r"embedding: ids holds 5, out of range for 5 rows of W \(the vocabulary\) \(it must be in \[0, 4\]\)"),
        ErrorCase("negative-id", _error(np.array([-1, 2])), ValueError, r"embedding: ids holds -1, out of range"),
        ErrorCase("float-ids", _error(np.array([1.0, 2.0])), TypeError,
                  r"embedding: ids must be integer token ids, got dtype float64"),
        ErrorCase("padding-idx-out-of-range", _error(np.array([1, 2])), ValueError,
                  r"embedding: padding_idx must be None or a token id in \[0, 4\], got 5", {"padding_idx": 5}),
        ErrorCase("padding-idx-negative", _error(np.array([1, 2])), ValueError,
                  r"padding_idx must be None or a token id in \[0, 4\], got -1", {"padding_idx": -1}),
        ErrorCase("W-rank-1", _error(np.array([1, 2]), W=np.ones(5)), ValueError,
                  r"embedding: W must have rank 2 \(\[vocabulary, d_model\]\), got rank 1"),
    ),
    oracles=(
        Oracle("torch", "F.embedding", _torch_embedding),
        # a layer holding W as a variable: only its value is compared
        Oracle("tf", "keras.layers.Embedding (set_weights)", _keras_embedding, differentiable=False),
        # tf.nn.embedding_lookup has no padding_idx: its gradient reaches every row looked up
        Oracle("tf", "tf.nn.embedding_lookup", lambda ids, W, padding_idx=None: lazy.tf().nn.embedding_lookup(W, ids),
               applies=lambda case: case.kwargs.get("padding_idx") is None),
    ),
    porting=PORTING,
    # padding_idx is a convention, not a derivative: the output still reads W[padding_idx], so
    # central differences see a gradient in that row where the spec asks for 0 (the torch
    # oracle and the golden gradient hold the convention instead)
    skips=tuple(Skip(case, "numeric:W", "padding_idx zeroes the padding row's gradient by convention; "
                                        "finite differences measure its true derivative")
                for case in ("padding-idx-0", "padding-idx-last", "repeated-ids-padding-by-hand")),
)
