"""The book's seq2seq (ゼロから作る 2, ch. 7) as an idiomatic nn.Module built from torch's
own layers, loaded from and saved to the canonical parameter dict (shared/concepts/_seq2seq.py);
autograd gives the gradients, torch_impl.optimizers the clipping and the step."""
import torch
from torch import nn

from shared import layouts
from shared.concepts import seq2seq_decode as decode_spec
from shared.concepts import seq2seq_train_step as spec
from shared.concepts._seq2seq import bias_names
from torch_impl import optimizers
from torch_impl.losses import softmax_with_loss

TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class Seq2seq(nn.Module):
    def __init__(self, cell, vocab, embed, hidden, **factory):
        super().__init__()
        self.cell = cell
        layer, step = (nn.LSTM, nn.LSTMCell) if cell == "lstm" else (nn.GRU, nn.GRUCell)
        self.enc_embed = nn.Embedding(vocab, embed, **factory)
        self.encoder = layer(embed, hidden, batch_first=True, **factory)
        self.dec_embed = nn.Embedding(vocab, embed, **factory)
        # a cell, not a layer: at step t the input may be the argmax of step t - 1's logits,
        # unknown until that step has run
        self.decoder = step(embed, hidden, **factory)
        self.out = nn.Linear(hidden, vocab, **factory)

    def forward(self, x, y_in, coins):
        """Logits [N, Ty, V]; coins[:, t] True feeds y_in[:, t], False the previous argmax."""
        _, state = self.encoder(self.enc_embed(x))
        if self.cell == "lstm":
            # only h_T crosses over; the book's Decoder starts its cell state at zero
            h = state[0][0]  # state = (h_n, c_n), h_n [layers = 1, N, H]
            state = (h, torch.zeros_like(h))
        else:
            state = state[0]  # [layers = 1, N, H] -> [N, H]
        logits, token = [], y_in[:, 0]
        for t in range(y_in.shape[1]):
            if t > 0:
                # argmax is a choice, not a function of the weights: no gradient flows through it
                token = torch.where(coins[:, t], y_in[:, t], logits[-1].argmax(-1))
            state = self.decoder(self.dec_embed(token), state)
            logits.append(self.out(state[0] if self.cell == "lstm" else state))
        return torch.stack(logits, 1)

    def _recurrent(self, side):
        layer = self.encoder if side == "enc" else self.decoder
        suffix = "_l0" if side == "enc" else ""  # nn.LSTM numbers its layers, nn.LSTMCell has one
        return [getattr(layer, name + suffix) for name in TORCH_NAMES]

    @classmethod
    def from_canonical(cls, params, cell):
        """nn.Embedding keeps its weight [V, E], the canonical layout: copied as it is.
        nn.Linear keeps weight [out, in]: the canonical W [H, V] transposed. The recurrent
        weights go through the shared converters (transposed, the same gate order)."""
        vocab, embed = params["enc_embed"].shape
        W = params["W"]
        # built on the meta device, then given memory: no random draw for weights that the
        # dict overwrites (nn.utils.skip_init does this too, but rejects nn.LSTM's signature)
        model = cls(cell, vocab, embed, W.shape[0], dtype=W.dtype, device="meta").to_empty(device=W.device)
        to_torch = layouts.gru_to_torch if cell == "gru" else layouts.rnn_to_torch
        with torch.no_grad():
            for side in ("enc", "dec"):
                getattr(model, f"{side}_embed").weight.copy_(params[f"{side}_embed"])
                canonical = [params[f"{side}_{n}"] for n in ("Wx", "Wh", *bias_names(cell))]
                for tensor, value in zip(model._recurrent(side), to_torch(*canonical)):
                    tensor.copy_(value)
            model.out.weight.copy_(W.T)
            model.out.bias.copy_(params["b"])
        return model

    def _canonical(self, value, grads=False):
        """{canonical name: value(tensor)} for every parameter."""
        out = {}
        for side in ("enc", "dec"):
            out[f"{side}_embed"] = value(getattr(self, f"{side}_embed").weight)
            weights = [value(t) for t in self._recurrent(side)]
            if self.cell == "gru":
                names, canonical = ("Wx", "Wh", "bx", "bh"), layouts.gru_from_torch(*weights)
            else:
                names, canonical = ("Wx", "Wh", "b"), list(layouts.rnn_from_torch(*weights))
                if grads:
                    # b feeds bias_ih and bias_hh alike, so its gradient is either one's
                    # (the same): their sum would count it twice
                    canonical[2] = weights[2]
            out.update({f"{side}_{n}": v for n, v in zip(names, canonical)})
        out["W"], out["b"] = value(self.out.weight).T, value(self.out.bias)
        return out

    def to_canonical(self):
        return self._canonical(lambda t: t.detach().clone())

    def canonical_grads(self):
        return self._canonical(lambda t: t.grad, grads=True)


def decode(params, x, y_in, coins, *, cell):
    decode_spec.validate(params, x, y_in, coins, cell=cell)
    model = Seq2seq.from_canonical(params, cell).eval()
    with torch.no_grad():
        logits = model(x, y_in, coins)
    return logits, logits.argmax(-1)


def _loss(model, batch, hyper):
    """Mean cross-entropy over N and T; `model` may also be a canonical params dict."""
    if isinstance(model, dict):
        model = Seq2seq.from_canonical(model, hyper["cell"]).train()
    y = batch["y"]
    logits = model(batch["x"], y[:, :-1], batch["coins"])
    # TimeSoftmaxWithLoss is one softmax-with-loss over all N * T positions
    return softmax_with_loss(logits.reshape(-1, logits.shape[-1]), y[:, 1:].reshape(-1))


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return Seq2seq.from_canonical(params, hyper["cell"]).train()


def loss(params, batch, hyper):
    """The training loss of the canonical `params`, forward only: the same function as
    numpy_impl's (the framework's model built from them, then its loss)."""
    return _loss(_model(params, batch, hyper), batch, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    model = _model(params, batch, hyper)
    loss_value = _loss(model, batch, hyper)
    loss_value.backward()
    grads = model.canonical_grads()
    clipped = grads
    if hyper["max_norm"] is not None:
        clipped, _ = optimizers.clip_by_global_norm(grads, max_norm=hyper["max_norm"])
    new_params, new_opt_state = optimizers.step_all(params, clipped, opt_state, hyper["optimizer"], hyper["opt"])
    # the contract's grads are the unclipped ones: the numeric check compares them with the loss
    return loss_value.detach(), grads, new_params, new_opt_state
