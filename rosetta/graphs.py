"""Computational graphs (計算グラフ) drawn as the book draws them, with matplotlib and no network.

A graph is nodes placed on a grid and edges between them. An operation is a circle (×, +,
exp, /) or, for a whole layer, a box; a variable at the edge of the graph is plain text. Each
edge can carry its forward value above it (black, left to right) and its backward value below
it (red, right to left), as in ゼロから作るDeep Learning chapter 5. The notebooks call the
named graphs below; `overview()` is the README's picture.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKWARD = "#c0392b"  # the book's red for the backward pass


@dataclass(frozen=True)
class Node:
    name: str
    label: str
    x: float
    y: float
    kind: str = "op"  # op: a circle; layer: a box; var: plain text


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    forward: str = ""
    backward: str = ""


def draw(nodes, edges, title: str = "", ax=None, size=(9, 2.6)):
    """The figure of a graph; nodes at their (x, y) in grid units."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyBboxPatch
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    at = {n.name: n for n in nodes}
    for n in nodes:
        if n.kind == "op":
            ax.add_patch(Circle((n.x, n.y), 0.32, fill=False, lw=1.4))
        elif n.kind == "layer":
            width, height = _box(n)
            ax.add_patch(FancyBboxPatch((n.x - width / 2, n.y - height / 2), width, height,
                                        boxstyle="round,pad=0.05", fc="#eef3fb", ec="#34495e", lw=1.2))
        ax.text(n.x, n.y, n.label, ha="center", va="center", fontsize=11 if n.kind == "op" else 10)
    for e in edges:
        a, b = at[e.src], at[e.dst]
        start, end = _trim(a, b), _trim(b, a)
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=1.2))
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        if e.forward:
            ax.text(mid[0], mid[1] + 0.12, e.forward, ha="center", va="bottom", fontsize=9)
        if e.backward:
            ax.annotate("", xy=(start[0] + 0.15 * (end[0] - start[0]), start[1] - 0.22),
                        xytext=(end[0] - 0.15 * (end[0] - start[0]), end[1] - 0.22),
                        arrowprops=dict(arrowstyle="->", lw=1.0, color=BACKWARD))
            ax.text(mid[0], mid[1] - 0.3, e.backward, ha="center", va="top", fontsize=9, color=BACKWARD)
    half = [_box(n)[0] / 2 if n.kind == "layer" else 0.5 for n in nodes]
    ys = [n.y for n in nodes]
    ax.set_xlim(min(n.x - h for n, h in zip(nodes, half)) - 0.3, max(n.x + h for n, h in zip(nodes, half)) + 0.3)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return ax.figure


def _box(n: Node) -> tuple[float, float]:
    """A layer box's width and height in grid units, from its text."""
    lines = n.label.split("\n")
    return max(0.9, 0.15 * max(len(line) for line in lines)), 0.3 + 0.3 * len(lines)


def _trim(a: Node, b: Node) -> tuple[float, float]:
    """Where the edge from a toward b leaves a's outline (a box's edge, a circle, a word)."""
    dx, dy = b.x - a.x, b.y - a.y
    length = float(np.hypot(dx, dy)) or 1.0
    if a.kind == "layer":
        width, height = _box(a)
        # the first side of the box the line meets
        scale = min(width / 2 / abs(dx) if dx else np.inf, height / 2 / abs(dy) if dy else np.inf)
        return a.x + dx * scale + 0.08 * dx / length, a.y + dy * scale + 0.08 * dy / length
    gap = 0.36 if a.kind == "op" else 0.1 + 0.06 * len(a.label)
    return a.x + gap * dx / length, a.y + gap * dy / length


def sigmoid_values(x: float, dout: float = 1.0) -> dict[str, float]:
    """Forward and backward values along the book's sigmoid graph (5.5.2), node by node:
    x → ×(−1) → exp → +1 → / → y, and back again from dout."""
    a = -x
    b = np.exp(a)
    c = 1.0 + b
    y = 1.0 / c
    dc = -dout / c ** 2          # "/": d(1/c) = −1/c²
    db = dc                      # "+": passes it on
    da = db * b                  # "exp": times exp(a)
    dx = -da                     # "×(−1)"
    return {"x": x, "a": a, "b": b, "c": c, "y": y, "dout": dout, "dc": dc, "db": db, "da": da, "dx": dx}


def sigmoid(x: float = 1.0, dout: float = 1.0):
    """The book's figure 5-19/5-20: the sigmoid as four nodes, with its values at x."""
    v = sigmoid_values(x, dout)
    nodes = [Node("x", "x", 0, 0, "var"), Node("neg", "×−1", 1.8, 0), Node("exp", "exp", 3.6, 0),
             Node("add", "+1", 5.4, 0), Node("div", "/", 7.2, 0), Node("y", "y", 9.0, 0, "var")]
    f = "{:.3g}".format
    edges = [Edge("x", "neg", f(v["x"]), f(v["dx"])), Edge("neg", "exp", f(v["a"]), f(v["da"])),
             Edge("exp", "add", f(v["b"]), f(v["db"])), Edge("add", "div", f(v["c"]), f(v["dc"])),
             Edge("div", "y", f(v["y"]), f(v["dout"]))]
    return draw(nodes, edges, f"sigmoid at x = {f(x)}: forward above, backward below (dx = dout·y(1−y))")


def chain(labels: list[tuple[str, str]], forward: list[str], backward: list[str], title: str = "", size=None):
    """A left-to-right chain of nodes [(label, kind), ...] with a value on each edge."""
    nodes, right = [], 0.0
    for i, (label, kind) in enumerate(labels):
        half = _box(Node("", label, 0, 0))[0] / 2 if kind == "layer" else 0.06 * len(label)
        words = forward[i - 1:i] + backward[i - 1:i] if i else []
        gap = max(1.4, 0.13 * max(map(len, words), default=0)) if i else 0.0  # room for the edge's values
        nodes.append(Node(str(i), label, right + gap + half, 0, kind))
        right += gap + 2 * half
    edges = [Edge(str(i), str(i + 1), forward[i] if i < len(forward) else "",
                  backward[i] if i < len(backward) else "") for i in range(len(labels) - 1)]
    return draw(nodes, edges, title, size=size or (0.75 * right + 1.5, 2.4))


def affine():
    """The book's figure 5-25: the Affine layer as a matrix product and a sum, with shapes."""
    nodes = [Node("X", "X (N, D)", 0, 1, "var"), Node("W", "W (D, H)", 0, -1, "var"), Node("dot", "dot", 2.4, 0),
             Node("B", "b (H,)", 2.4, -1.8, "var"), Node("add", "+", 4.8, 0), Node("Y", "Y (N, H)", 7.0, 0, "var")]
    edges = [Edge("X", "dot", "", "dY·Wᵀ"), Edge("W", "dot", "", "Xᵀ·dY"), Edge("dot", "add", "X·W", "dY"),
             Edge("B", "add", "", "Σₙ dY"), Edge("add", "Y", "", "dY")]
    return draw(nodes, edges, "Affine: Y = X·W + b (forward above, backward below)", size=(9, 4))


def softmax_with_loss():
    """The book's figure 5-29, simplified: Softmax then Cross Entropy Error, and the backward (y − t)/N."""
    return chain([("a", "var"), ("Softmax", "layer"), ("Cross Entropy Error", "layer"), ("L", "var")],
                 ["a", "y", "L"], ["(y − t) / N", "−t / (N y)", "1"],
                 "Softmax-with-Loss: the backward of the pair is simply (y − t) / N")


def im2col_conv():
    """The book's figure 7-19: convolution as im2col, one matrix product, and a reshape."""
    return chain([("x (N, C, H, W)", "var"), ("im2col", "layer"), ("· Wᵀ + b", "layer"), ("reshape", "layer"),
                  ("y (N, FN, OH, OW)", "var")],
                 ["x", "col (N·OH·OW, C·kh·kw)", "(N·OH·OW, FN)"], ["col2im(dcol)", "dcol = dy·W", "dy"],
                 "Convolution by im2col: dW = dyᵀ·col, dx = col2im(dy·W)", size=None)


def rnn_unrolled(steps: int = 3):
    """The second book's figure 5-8: an RNN unrolled in time, the same weights at every step,
    and BPTT's gradients flowing back along h."""
    nodes, edges = [], []
    for t in range(steps):
        x = 2.6 * t
        nodes += [Node(f"x{t}", f"x{t}", x, -1.6, "var"), Node(f"c{t}", "RNN", x, 0, "layer"),
                  Node(f"h{t}", f"h{t}", x, 1.5, "var")]
        edges += [Edge(f"x{t}", f"c{t}"), Edge(f"c{t}", f"h{t}")]
        if t:
            edges.append(Edge(f"c{t - 1}", f"c{t}", f"h{t - 1}", f"dh{t - 1}"))
    return draw(nodes, edges, "RNN unrolled: h_t = tanh(x_t·Wx + h_{t−1}·Wh + b); BPTT sends dh back along h",
                size=(8, 4))


def siamese_triplet():
    """A triplet through one shared embedding net f, two distances, and the hinge."""
    nodes = [Node("a", "anchor", 0, 1.6, "var"), Node("p", "positive", 0, 0, "var"),
             Node("n", "negative", 0, -1.6, "var"), Node("f", "f (shared weights)", 2.8, 0, "layer"),
             Node("dap", "d(a, p)", 5.6, 0.9, "layer"), Node("dan", "d(a, n)", 5.6, -0.9, "layer"),
             Node("hinge", "max(0, m + d_ap − d_an)", 10.0, 0, "layer"), Node("L", "L", 12.6, 0, "var")]
    edges = [Edge("a", "f"), Edge("p", "f"), Edge("n", "f"), Edge("f", "dap"), Edge("f", "dan"),
             Edge("dap", "hinge", "", "+1 if active"), Edge("dan", "hinge", "", "−1 if active"), Edge("hinge", "L")]
    return draw(nodes, edges, "Triplet loss: one net, three inputs; the gradient of f sums the three branches",
                size=(11, 4))


def gan():
    """The DCGAN's two graphs: D sees real and fake; G is scored through D."""
    nodes = [Node("z", "z", 0, -1, "var"), Node("G", "G", 2, -1, "layer"), Node("x", "x (real)", 2, 1, "var"),
             Node("D1", "D", 4.4, 1, "layer"), Node("D2", "D", 4.4, -1, "layer"),
             Node("Lr", "BCE(1, ·)", 7, 1, "layer"), Node("Lf", "BCE(0, ·) for D\nBCE(1, ·) for G", 7.4, -1, "layer")]
    edges = [Edge("z", "G"), Edge("G", "D2", "fake"), Edge("x", "D1"), Edge("D1", "Lr", "D(x)"),
             Edge("D2", "Lf", "D(G(z))")]
    return draw(nodes, edges, "GAN: D's step detaches the fake; G's step flows back through D into G", size=(10, 3.6))


def bit_unit():
    """BiT's pre-activation bottleneck unit (ResNet v2): norm and ReLU before each convolution."""
    labels = [("x", "var"), ("GN·ReLU", "layer"), ("StdConv 1×1", "layer"), ("GN·ReLU", "layer"),
              ("StdConv 3×3", "layer"), ("GN·ReLU", "layer"), ("StdConv 1×1", "layer"), ("+ shortcut", "layer"),
              ("y", "var")]
    return chain(labels, [], [], "BiT unit: pre-activation bottleneck with group norm and standardized weights",
                 )


def attention():
    """Scaled dot-product attention: two matrix products around a masked softmax, with the
    gradients each node sends back."""
    nodes = [Node("q", "q (Lq, d)", 0, 1.2, "var"), Node("k", "k (Lk, d)", 0, -0.6, "var"),
             Node("dot", "q·kᵀ/√d", 2.6, 0.3, "layer"), Node("mask", "mask", 5.2, 1.7, "var"),
             Node("sm", "softmax\n(allowed keys)", 5.2, 0.3, "layer"), Node("v", "v (Lk, dv)", 5.2, -1.6, "var"),
             Node("av", "A·v", 8.2, 0.3, "layer"), Node("out", "out (Lq, dv)", 10.6, 0.3, "var")]
    edges = [Edge("q", "dot", "", "dS·k/√d"), Edge("k", "dot", "", "dSᵀ·q/√d"), Edge("mask", "sm"),
             Edge("dot", "sm", "S", "dS"), Edge("sm", "av", "A", "d_out·vᵀ"), Edge("v", "av", "", "Aᵀ·d_out"),
             Edge("av", "out", "", "d_out")]
    return draw(nodes, edges, "Attention: A = softmax(q·kᵀ/√d) over the allowed keys, out = A·v; "
                              "dS = A ⊙ (dA − Σ_keys dA ⊙ A)", size=(11, 4.2))


def overview():
    """The README's picture: one spec, three implementations, the engine that compares them."""
    nodes = [Node("spec", "shared/concepts: the spec", 4.5, 2.2, "layer"),
             Node("np", "numpy_impl\n(backward by hand)", 1.2, 0.4, "layer"),
             Node("pt", "torch_impl\n(autograd)", 4.5, 0.4, "layer"),
             Node("tf", "tf_impl\n(GradientTape)", 7.8, 0.4, "layer"),
             Node("eng", "parity engine: outputs AND gradients", 4.5, -1.4, "layer"),
             Node("out", "notebooks · porting guide · rosetta check", 4.5, -3.0, "layer")]
    edges = [Edge("spec", "np"), Edge("spec", "pt"), Edge("spec", "tf"),
             Edge("np", "eng"), Edge("pt", "eng"), Edge("tf", "eng"), Edge("eng", "out")]
    return draw(nodes, edges, "dl-rosetta: one concept, three implementations, one contract", size=(9, 5.6))
