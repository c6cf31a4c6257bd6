"""Convolution facts the generic parity run does not state on its own: the layout
converters (element by element, and round trips in every framework), im2col and col2im
as adjoints on random geometries, TensorFlow's 'same' split, and the FLOP counts."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpy_impl import conv
from parity_tests.conftest import machine_skip, needs, param
from shared import backends, layouts
from shared.concepts import _conv

RNG = np.random.default_rng(5)
OIHW = RNG.standard_normal((4, 3, 2, 5))   # distinct sizes: a wrong axis cannot go unnoticed
IOHW = RNG.standard_normal((3, 4, 2, 5))
DEPTHWISE = RNG.standard_normal((6, 1, 2, 3))  # C = 3 channels, M = 2
DENSE = RNG.standard_normal((3 * 2 * 4, 5))   # C, H, W = 3, 2, 4


def test_oihw_to_hwio_moves_every_element_where_keras_expects_it():
    hwio = layouts.oihw_to_hwio(OIHW)
    for o, i, p, q in np.ndindex(OIHW.shape):
        assert hwio[p, q, i, o] == OIHW[o, i, p, q]


def test_transposed_conv_kernel_goes_to_keras_kh_kw_out_in():
    keras_kernel = layouts.iohw_to_keras_transpose(IOHW)
    for i, o, p, q in np.ndindex(IOHW.shape):
        assert keras_kernel[p, q, o, i] == IOHW[i, o, p, q]


def test_depthwise_kernel_output_channel_c_times_m_plus_m_goes_to_hwcm():
    hwcm = layouts.depthwise_oihw_to_hwcm(DEPTHWISE, 3)
    for c, m, p, q in np.ndindex(3, 2, 2, 3):
        assert hwcm[p, q, c, m] == DEPTHWISE[c * 2 + m, 0, p, q]


def test_dense_rows_follow_the_flatten_order():
    hwc = layouts.dense_rows_chw_to_hwc(DENSE, 3, 2, 4)
    for c, h, w in np.ndindex(3, 2, 4):
        np.testing.assert_array_equal(hwc[(h * 4 + w) * 3 + c], DENSE[(c * 2 + h) * 4 + w])


def test_depthwise_converter_rejects_a_full_kernel():
    with pytest.raises(ValueError, match=r"a depthwise kernel for 3 channels has shape \[C\*M, 1, kh, kw\]"):
        layouts.depthwise_oihw_to_hwcm(OIHW, 3)


ROUND_TRIPS = [
    ("nchw", RNG.standard_normal((2, 3, 4, 5)), layouts.nchw_to_nhwc, layouts.nhwc_to_nchw),
    ("oihw", OIHW, layouts.oihw_to_hwio, layouts.hwio_to_oihw),
    ("iohw", IOHW, layouts.iohw_to_keras_transpose, layouts.keras_transpose_to_iohw),
    ("depthwise", DEPTHWISE, lambda w: layouts.depthwise_oihw_to_hwcm(w, 3), layouts.hwcm_to_depthwise_oihw),
    ("dense-rows", DENSE, lambda W: layouts.dense_rows_chw_to_hwc(W, 3, 2, 4),
     lambda W: layouts.dense_rows_hwc_to_chw(W, 3, 2, 4)),
]


@pytest.mark.parametrize("backend", [param("numpy", id="numpy", backend="numpy"),
                                     param("torch", id="torch", backend="torch"),
                                     param("tf", id="tf", backend="tf")])
@pytest.mark.parametrize("name, array, there, back", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_every_converter_round_trips_exactly_in_every_framework(backend, name, array, there, back):
    b = backends.get(backend)
    converted = there(b.tensor(array, "cpu"))
    assert type(converted).__module__.split(".")[0] == type(b.tensor(array, "cpu")).__module__.split(".")[0]
    np.testing.assert_array_equal(b.to_numpy(back(converted)), array)
    np.testing.assert_array_equal(b.to_numpy(converted), there(array))  # the same permutation everywhere


@st.composite
def geometries(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.integers(0, 2), st.sampled_from(["valid", "same"]),
                             st.tuples(*[st.integers(0, 2)] * 4)))
    size = [draw(st.integers(_conv.effective(k, d), 9)) for k, d in zip(kernel, dilation)]
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size), kernel, dict(
        stride=stride, padding=padding, dilation=dilation)


@settings(max_examples=60, deadline=None)
@given(geometries(), st.booleans(), st.integers(0, 2**31))
def test_im2col_and_col2im_are_adjoint(geometry, channels_last, seed):
    # <im2col(x), c> = <x, col2im(c)>: the identity that makes each the other's backward
    shape, kernel, options = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    col = conv.im2col(x, kernel, channels_last=channels_last, **options)
    c = rng.standard_normal(col.shape)
    back = conv.col2im(c, shape, kernel, channels_last=channels_last, **options)
    assert np.isclose(np.sum(col * c), np.sum(x * back), rtol=1e-12, atol=1e-12)  # float64 sums of <= 1e3 terms


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (8, 3, 2, (0, 1)),   # the porting case: even size, the extra pixel at the end
    (7, 3, 2, (1, 1)),
    (8, 1, 2, (0, 0)),
    (5, 4, 1, (1, 2)),   # an even kernel at stride 1 is asymmetric too
    (9, 2, 3, (0, 0)),
])
def test_same_padding_matches_tensorflows_split(size, kernel, stride, expected):
    assert _conv.same_padding(size, kernel, stride) == expected
    if machine_skip("tf"):
        return
    # independent: TF's own SAME conv equals its VALID conv on the explicitly padded input
    from shared import lazy
    tf = lazy.tf()
    x = tf.constant(np.random.default_rng(size).standard_normal((1, size, 1, 1)))
    w = tf.ones((kernel, 1, 1, 1), tf.float64)
    same = tf.nn.conv2d(x, w, (stride, 1), "SAME")
    padded = tf.nn.conv2d(tf.pad(x, [[0, 0], list(expected), [0, 0], [0, 0]]), w, (stride, 1), "VALID")
    np.testing.assert_array_equal(same.numpy(), padded.numpy())


def test_conv2d_without_bias_is_conv2d_with_a_zero_bias():
    x, w = RNG.standard_normal((2, 3, 5, 5)), RNG.standard_normal((4, 3, 3, 3))
    np.testing.assert_array_equal(conv.conv2d(x, w, padding=1), conv.conv2d(x, w, np.zeros(4), padding=1))
    dy = RNG.standard_normal((2, 4, 5, 5))
    without = conv.conv2d_backward(dy, x, w, padding=1)
    assert len(without) == 2
    for got, want in zip(without, conv.conv2d_backward(dy, x, w, np.zeros(4), padding=1)):
        np.testing.assert_array_equal(got, want)


@needs("torch")
@pytest.mark.parametrize("groups, w_shape", [(1, (64, 64, 3, 3)), (64, (64, 1, 3, 3)), (4, (8, 16, 3, 3))])
def test_conv2d_flops_match_torchs_flop_counter(groups, w_shape):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.zeros((8, 64, 32, 32))
    with FlopCounterMode(display=False) as counter:
        y = torch.nn.functional.conv2d(x, torch.zeros(w_shape), padding=1, groups=groups)
    assert _conv.conv2d_flops(tuple(x.shape), w_shape, tuple(y.shape[2:])) == counter.get_total_flops()


def test_separable_flops_ratio_is_mobilenets_closed_form():
    # Howard et al. 2017: (C k^2 HW + C O HW) / (C O k^2 HW) = 1/O + 1/k^2 for M = 1
    x_shape, out, k = (8, 64, 32, 32), 128, 3
    full = _conv.conv2d_flops(x_shape, (out, 64, k, k), (32, 32))
    separable = _conv.separable_flops(x_shape, (64, 1, k, k), (out, 64, 1, 1), (32, 32))
    assert separable / full == pytest.approx(1 / out + 1 / k**2, rel=1e-12)


@needs("torch")
@pytest.mark.parametrize("options", [dict(padding=1), dict(stride=2, padding="same", groups=2),
                                     dict(dilation=2, padding=(0, 1, 2, 0))])
def test_the_books_convolution_layer_caches_col_and_agrees_with_torch(options):
    # the layer reuses forward's column matrix in backward (the bench times it)
    import torch
    from shared.concepts.conv2d import _torch_conv2d
    x, w, b = RNG.standard_normal((2, 4, 7, 6)), RNG.standard_normal((6, 4 // options.get("groups", 1), 3, 3)), \
        RNG.standard_normal(6)
    layer = conv.Convolution(w, b, **options)
    y = layer.forward(x)
    dy = RNG.standard_normal(y.shape)
    dx = layer.backward(dy)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = _torch_conv2d(xt, wt, bt, **options)
    want = torch.autograd.grad(yt, (xt, wt, bt), torch.tensor(dy))
    for got, expected in zip((y, dx, layer.dW, layer.db), (yt, *want)):
        # float64 sums of <= 36 products, in another order
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=1e-12, atol=1e-13)


@needs("torch", why="the bench's reference is F.conv2d")
def test_bench_conv_checks_every_implementation_against_torch(tmp_path, capsys):
    from rosetta import cli

    path = tmp_path / "bench.json"
    small = ["--repeat", "1", "--batch", "2", "--channels", "3", "--size", "6", "--filters", "4"]
    assert cli.main(["bench", "conv", *small, "--json", str(path)]) == 0
    payload = json.loads(path.read_text())
    names = {r["name"] for r in payload["results"]}
    assert {"numpy_impl.Convolution (im2col, the book's layer)", "torch F.conv2d (built-in)"} <= names
    # float32 outputs and gradients vs F.conv2d, relative to each array's largest value
    assert all(r["max_err"] < 1e-5 for r in payload["results"])
    assert payload["column_matrix_bytes"] == 2 * 6 * 6 * 3 * 9 * 4
    assert payload["gemm_floor_ms"] > 0
    out = capsys.readouterr().out
    assert "vs torch's built-in" in out and "depthwise-separable" in out and "the three GEMMs alone" in out


def test_bench_gemm_floor_does_the_convolutions_flops():
    from rosetta.bench import conv

    shape = conv.Shape(2, 3, 6, 4, 3, 1)
    # against conv2d_flops, itself checked against torch's FLOP counter above
    assert sum(2 * m * k * n for m, k, n in conv.gemm_shapes(shape)) == conv.flops(shape)
