"""Recurrent facts the generic parity run does not state on its own: the weight converters
(element by element against the frameworks' own gate formulas, and round trips in every
framework), the book's LSTM gate order, and the addition task's data."""
import numpy as np
import pytest

from parity_tests.conftest import machine_skip, param
from shared import backends, data, layouts

RNG = np.random.default_rng(7)
D, H = 3, 4
LSTM = (RNG.standard_normal((D, 4 * H)), RNG.standard_normal((H, 4 * H)), RNG.standard_normal(4 * H))
GRU = (RNG.standard_normal((D, 3 * H)), RNG.standard_normal((H, 3 * H)), RNG.standard_normal(3 * H),
       RNG.standard_normal(3 * H))


def _block(a, k):
    return a[..., k * H:(k + 1) * H]


def test_torch_weights_are_the_transposes_with_the_bias_in_bias_ih():
    weight_ih, weight_hh, bias_ih, bias_hh = layouts.rnn_to_torch(*LSTM)
    np.testing.assert_array_equal(weight_ih, LSTM[0].T)
    np.testing.assert_array_equal(weight_hh, LSTM[1].T)
    np.testing.assert_array_equal(bias_ih, LSTM[2])
    assert not bias_hh.any()


def test_torch_two_biases_come_back_as_their_sum():
    Wx, Wh, b = layouts.rnn_from_torch(LSTM[0].T, LSTM[1].T, LSTM[2], 2 * LSTM[2])
    np.testing.assert_array_equal(b, 3 * LSTM[2])


def test_keras_gru_blocks_are_z_r_h_and_its_bias_has_two_rows():
    kernel, recurrent, bias = layouts.gru_to_keras(*GRU)
    Wx, Wh, bx, bh = GRU
    for ours, keras_slot in ((0, 1), (1, 0), (2, 2)):  # r -> slot 1, z -> slot 0, n -> slot 2
        np.testing.assert_array_equal(_block(kernel, keras_slot), _block(Wx, ours))
        np.testing.assert_array_equal(_block(recurrent, keras_slot), _block(Wh, ours))
        np.testing.assert_array_equal(_block(bias[0], keras_slot), _block(bx, ours))
        np.testing.assert_array_equal(_block(bias[1], keras_slot), _block(bh, ours))


def test_a_one_row_keras_gru_bias_is_refused_with_the_reason():
    kernel, recurrent, bias = layouts.gru_to_keras(*GRU)
    with pytest.raises(ValueError, match="reset_after=False"):
        layouts.gru_from_keras(kernel, recurrent, bias[0])


def test_the_books_lstm_slices_f_g_i_o():
    book = layouts.canonical_lstm_to_book(LSTM[0])
    for ours, book_slot in ((0, 2), (1, 0), (2, 1), (3, 3)):  # i f g o -> f g i o
        np.testing.assert_array_equal(_block(book, book_slot), _block(LSTM[0], ours))


ROUND_TRIPS = [
    ("rnn-torch", LSTM, layouts.rnn_to_torch, layouts.rnn_from_torch),
    ("rnn-keras", LSTM, layouts.rnn_to_keras, layouts.rnn_from_keras),
    ("gru-torch", GRU, layouts.gru_to_torch, layouts.gru_from_torch),
    ("gru-keras", GRU, layouts.gru_to_keras, layouts.gru_from_keras),
    ("lstm-book", LSTM[:1], lambda a: (layouts.canonical_lstm_to_book(a),),
     lambda a: (layouts.book_lstm_to_canonical(a),)),
]


@pytest.mark.parametrize("backend", [param("numpy", id="numpy", backend="numpy"),
                                     param("torch", id="torch", backend="torch"),
                                     param("tf", id="tf", backend="tf")])
@pytest.mark.parametrize("name, arrays, there, back", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_every_recurrent_converter_round_trips_exactly_in_every_framework(backend, name, arrays, there, back):
    b = backends.get(backend)
    tensors = [b.tensor(a, "cpu") for a in arrays]
    converted = there(*tensors)
    for got, want in zip(back(*converted), arrays):
        np.testing.assert_array_equal(b.to_numpy(got), want)
    for got, want in zip(converted, there(*arrays)):  # the same arrays in every framework
        np.testing.assert_array_equal(b.to_numpy(got), want)


@pytest.mark.skipif(machine_skip("torch"), reason="torch not installed")
def test_converted_torch_state_dict_loads_into_nn_lstm_and_comes_back():
    import torch
    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    lstm.load_state_dict(dict(zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                                  (torch.from_numpy(a) for a in layouts.rnn_to_torch(*LSTM)))))
    state = lstm.state_dict()
    back = layouts.rnn_from_torch(*(state[k].numpy() for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                               "bias_hh_l0")))
    for got, want in zip(back, LSTM):
        np.testing.assert_array_equal(got, want)


def test_the_addition_task_is_the_books_format_and_its_sums_are_right():
    split = data.addition(count=200, seed=3)
    assert split.x_train.shape == (180, 7) and split.y_train.shape == (180, 5)
    for x, y in zip(split.x_train, split.y_train):
        question, answer = data.decode(x), data.decode(y)
        a, b = question.strip().split("+")
        assert answer[0] == "_" and int(answer[1:]) == int(a) + int(b)


@pytest.mark.skipif(machine_skip("tf"), reason="tensorflow not installed")
def test_converted_weights_load_into_keras_gru_and_come_back():
    from shared import lazy
    keras = lazy.keras()
    layer = keras.layers.GRU(H, reset_after=True, dtype="float64")
    layer.build((None, None, D))
    layer.set_weights(layouts.gru_to_keras(*GRU))  # set_weights checks every shape
    for got, want in zip(layouts.gru_from_keras(*layer.get_weights()), GRU):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_books_time_layers_agree_with_the_functions_and_carry_state_when_stateful(kind):
    # the functions' backward is checked against finite differences and torch by the
    # parity run; the layer classes must compute the same thing in the book's form
    from numpy_impl import rnn
    from shared.concepts import _rnn
    inputs = _rnn.make_inputs(kind, 2, 6, 3, 4)(np.random.default_rng(11))
    x, weights = inputs["x"], {k: v for k, v in inputs.items() if k not in ("x", "h0", "c0")}
    layer = {"rnn": rnn.TimeRNN, "lstm": rnn.TimeLSTM, "gru": rnn.TimeGRU}[kind](**weights, stateful=True)
    zeros = {k: np.zeros((2, 4)) for k in ("h0", "c0") if k in inputs}
    whole = getattr(rnn, kind)(x, **zeros, **weights)
    hs = whole[0] if kind == "lstm" else whole
    # stateful: two blocks of 3 steps give the same states as one pass of 6 (the same
    # operations in the same order: equal to the last bit)
    first, second = layer.forward(x[:, :3]), layer.forward(x[:, 3:])
    np.testing.assert_array_equal(np.concatenate([first, second], axis=1), hs)
    # backward on the last block equals the function's on that block from the carried state
    dhs = np.random.default_rng(12).standard_normal(second.shape)
    dx = layer.backward(dhs)
    block = {"h0": hs[:, 2]} | ({"c0": whole[1][:, 2]} if kind == "lstm" else {})
    dy = np.stack([dhs, np.zeros_like(dhs)]) if kind == "lstm" else dhs
    want = getattr(rnn, f"{kind}_backward")(dy, x[:, 3:], **block, **weights)
    np.testing.assert_array_equal(dx, want[0])  # one shared time loop: bit for bit
    for got, expected in zip(layer.grads.values(), want[-len(weights):]):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in ("torch", "tf")])
@pytest.mark.parametrize("step, states", [("rnn_step", 1), ("lstm_step", 2), ("gru_step", 1)])
def test_one_step_returns_the_same_states_in_every_package(backend, step, states):
    # rnn_step -> h, lstm_step -> (h, c), gru_step -> h: the same return in all three packages
    rng = np.random.default_rng(11)
    x_t, h, c = rng.standard_normal((2, D)), rng.standard_normal((2, H)), rng.standard_normal((2, H))
    params = {"rnn_step": (RNG.standard_normal((D, H)), RNG.standard_normal((H, H)), RNG.standard_normal(H)),
              "lstm_step": LSTM, "gru_step": GRU}[step]
    carried = (h, c)[:states]
    want = getattr(backends.implementation("numpy", "rnn"), step)(x_t, *carried, *params)
    b = backends.get(backend)
    with b.scope("cpu"):
        got = getattr(backends.implementation(backend, "rnn"), step)(*b.convert([x_t, *carried, *params], "cpu"))
    want, got = (want, got) if states == 2 else ((want,), (got,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        # float64, a few products and one tanh or sigmoid per entry
        np.testing.assert_allclose(b.to_numpy(g), w, rtol=1e-12, atol=1e-14)
