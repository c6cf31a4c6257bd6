"""The computational graphs the notebooks draw: the sigmoid's values, node by node, are the
book's chain rule, and they end where the closed form does; every named graph draws."""
import math

import numpy as np
import pytest

from parity_tests.conftest import needs
from rosetta import graphs


@pytest.mark.parametrize("x", [-3.0, 0.0, 1.0, 4.5])
def test_the_sigmoid_graph_carries_the_closed_form(x):
    v = graphs.sigmoid_values(x, dout=0.7)
    y = 1 / (1 + np.exp(-x))
    assert v["y"] == pytest.approx(y, rel=1e-15)  # four float64 operations: a few ulp at most
    assert v["dx"] == pytest.approx(0.7 * y * (1 - y), rel=1e-13)  # dout·y(1−y), the book's (5.12)


def test_the_nodes_in_between_hold_the_book_s_intermediate_values():
    # figure 5-19: exp(-x), 1 + exp(-x), and on the way back -dout/c², then times exp(-x)
    v = graphs.sigmoid_values(1.0)
    e = math.exp(-1.0)
    assert (v["a"], v["b"], v["c"]) == (-1.0, e, 1 + e)
    assert v["dc"] == -1 / (1 + e) ** 2 and v["da"] == v["dc"] * e


@needs("matplotlib", why="the graphs are matplotlib figures")
@pytest.mark.parametrize("name", ["sigmoid", "affine", "softmax_with_loss", "im2col_conv", "rnn_unrolled",
                                  "siamese_triplet", "gan", "bit_unit", "attention",
                                  "overview"])
def test_every_graph_draws(name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure = getattr(graphs, name)()
    # every node drawn as text, on one set of axes without a frame
    assert len(figure.axes) == 1 and not figure.axes[0].axison and len(figure.axes[0].texts) >= 3
    plt.close(figure)
