"""`rosetta demo mlp`: the book's multi-layer net trained three times on the digits, from
the same initial weights and the same minibatches and dropout masks, one curve per
framework in one PNG. If the three implementations agree, the curves lie on top of
each other."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from shared import backends
from shared.concepts import cnn_train_step as cnn_spec
from shared.concepts import get
from shared.concepts import mlp_train_step as spec
from shared.concepts.batch_norm import BOOK_EPS
from shared.data import digits
from shared.parity import cast_inputs

DEMO_SIZES = (64, 100, 100, 10)


@dataclass
class Run:
    """One framework's training: the loss at every step, accuracies every `eval_every`,
    and the final parameters (canonical NumPy arrays)."""

    backend: str
    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    params: dict = field(default_factory=dict)


def mlp_setup(steps: int, optimizer: str, lr: float, seed: int = 0, batch_size: int = 100):
    """Initial params and opt_state, hyper and every batch: the inputs all three share."""
    split = digits()
    rng = np.random.default_rng(seed)
    params = spec.init_params(rng, DEMO_SIZES)
    hyper = {"optimizer": optimizer, "opt": {"lr": lr}, "weight_decay": 1e-4, "dropout": 0.2,
             "bn_momentum": 0.9, "bn_eps": BOOK_EPS}
    batches = [spec.make_batch(rng, split.x_train, split.t_train, batch_size, DEMO_SIZES[1:-1], hyper["dropout"])
               for _ in range(steps)]
    return split, params, spec.init_opt_state(params, optimizer, hyper["opt"]), hyper, batches


def train(concept_name: str, backend_name: str, split, params, opt_state, hyper, batches, *, dtype="float32",
          eval_every=25, images: Callable = lambda x: x,
          on_step: Callable[[int, float], None] = lambda step, loss: None) -> Run:
    """Train with `backend_name`'s train_step of `concept_name`; every array starts as the
    same NumPy array. `images` shapes the digits as the model reads them."""
    backend = backends.get(backend_name)
    concept = get(concept_name)
    train_step = backend.impl(concept).forward
    predict = backends.module(backend_name, concept).predict
    run = Run(backend_name)
    inputs = cast_inputs({"params": params, "opt_state": opt_state, "batches": batches,
                          "x_train": images(split.x_train), "x_test": images(split.x_test)}, dtype)
    start = time.perf_counter()
    with backend.scope("cpu"):
        params = backend.convert(inputs["params"], "cpu")
        opt_state = backend.convert(inputs["opt_state"], "cpu")
        x_train, x_test = backend.convert(inputs["x_train"], "cpu"), backend.convert(inputs["x_test"], "cpu")
        for step, batch in enumerate(inputs["batches"], start=1):
            loss, _, params, opt_state = train_step(params, opt_state, backend.convert(batch, "cpu"), hyper)
            run.losses.append(float(backend.to_numpy(loss)))
            if step % eval_every == 0 or step == len(inputs["batches"]):
                run.eval_steps.append(step)
                for x, t, curve in ((x_train, split.t_train, run.train_accuracy),
                                    (x_test, split.t_test, run.test_accuracy)):
                    scores = backend.to_numpy(predict(params, x, hyper))
                    curve.append(float((scores.argmax(axis=1) == t).mean()))
            on_step(step, run.losses[-1])
    run.seconds = time.perf_counter() - start
    run.params = {name: backend.to_numpy(value) for name, value in params.items()}
    return run


def train_mlp(backend_name: str, split, params, opt_state, hyper, batches, **options) -> Run:
    return train("mlp_train_step", backend_name, split, params, opt_state, hyper, batches, **options)


def plot_mlp(runs: list[Run], path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    styles = {"numpy": dict(color="C0", lw=3.0, alpha=0.5), "torch": dict(color="C1", lw=1.5, ls="--"),
              "tf": dict(color="C2", lw=1.0, ls=":")}
    fig, (ax_loss, ax_gap, ax_acc) = plt.subplots(1, 3, figsize=(16, 4.5))
    reference = runs[0]
    for run in runs:
        style = styles.get(run.backend, {})
        steps = np.arange(1, len(run.losses) + 1)
        ax_loss.plot(steps, run.losses, label=run.backend, **style)
        if run is not reference:
            gap = np.abs(np.array(run.losses) - np.array(reference.losses))
            # dots, not lines: steps where the two agree exactly (gap 0) have no place on a log scale
            ax_gap.plot(steps, gap, ".", ms=3, color=style.get("color"), label=f"|{run.backend} - {reference.backend}|")
        ax_acc.plot(run.eval_steps, run.test_accuracy, label=f"{run.backend} test", **style)
        ax_acc.plot(run.eval_steps, run.train_accuracy, label=f"{run.backend} train", **{**style, "color": "gray"})
    ax_loss.set(xlabel="step", ylabel="training loss (cross-entropy + weight decay)", yscale="log",
                title="Loss per step: the curves should coincide")
    ax_gap.set(xlabel="step", ylabel="absolute difference of the loss", yscale="log",
               title=f"How far apart: loss minus {reference.backend}'s")
    ax_acc.set(xlabel="step", ylabel="accuracy", ylim=(0.8, 1.0), title="Accuracy on the digits")
    for ax in (ax_loss, ax_gap):
        ax.legend()
    ax_acc.legend(fontsize="small", ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- `rosetta demo cnn`: the book's SimpleConvNet (ゼロから作る 7.5) ----------------------

CNN_DEMO_NET = {"filters": 16, "kernel": 3, "hidden": 64}  # 16 x 8 x 8 -> pooled 16 x 4 x 4 = 256 -> 64 -> 10
CNN_DEMO_HYPER = {"stride": 1, "pad": 1}


def cnn_setup(steps: int, optimizer: str, lr: float, seed: int = 0, batch_size: int = 100):
    """Initial params and opt_state, hyper and every batch: the inputs all three share."""
    split = digits()
    rng = np.random.default_rng(seed)
    params = cnn_spec.init_params(rng, **CNN_DEMO_NET, **CNN_DEMO_HYPER)
    hyper = {"optimizer": optimizer, "opt": {"lr": lr}, **CNN_DEMO_HYPER}
    batches = [cnn_spec.make_batch(rng, split.x_train, split.t_train, batch_size) for _ in range(steps)]
    return split, params, cnn_spec.init_opt_state(params, optimizer, hyper["opt"]), hyper, batches


def train_cnn(backend_name: str, split, params, opt_state, hyper, batches, **options) -> Run:
    return train("cnn_train_step", backend_name, split, params, opt_state, hyper, batches,
                 images=cnn_spec.images, **options)


def plot_cnn(runs: list[Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: each
    framework's learned first-layer filters, one row per framework, on one colour scale
    (the same filters look the same)."""
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    styles = {"numpy": dict(color="C0", lw=3.0, alpha=0.5), "torch": dict(color="C1", lw=1.5, ls="--"),
              "tf": dict(color="C2", lw=1.0, ls=":")}
    filters = [run.params["W1"] for run in runs]  # [F, C, k, k] each
    count = filters[0].shape[0]
    fig = plt.figure(figsize=(16, 4.5 + 1.1 * len(runs)))
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.5, 1.1 * len(runs)])
    ax_loss, ax_gap = top.subplots(1, 2)
    reference = runs[0]
    for run in runs:
        style = styles.get(run.backend, {})
        steps = np.arange(1, len(run.losses) + 1)
        ax_loss.plot(steps, run.losses, label=f"{run.backend} (test accuracy {run.test_accuracy[-1]:.1%})", **style)
        if run is not reference:
            gap = np.abs(np.array(run.losses) - np.array(reference.losses))
            # dots, not lines: steps where the two agree exactly (gap 0) have no place on a log scale
            ax_gap.plot(steps, gap, ".", ms=3, color=style.get("color"), label=f"|{run.backend} - {reference.backend}|")
    ax_loss.set(xlabel="step", ylabel="training loss (cross-entropy)", yscale="log",
                title="Loss per step: the curves should coincide")
    ax_gap.set(xlabel="step", ylabel="absolute difference of the loss", yscale="log",
               title=f"How far apart: loss minus {reference.backend}'s")
    ax_loss.legend()
    if len(runs) > 1:
        ax_gap.legend()
    limit = max(np.abs(w).max() for w in filters)
    axes = np.atleast_2d(bottom.subplots(len(runs), count))
    for row, (run, w) in enumerate(zip(runs, filters)):
        for f, ax in enumerate(axes[row]):
            ax.imshow(w[f, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(run.backend, rotation=0, ha="right", va="center")
    bottom.suptitle(f"First-layer filters W1[f, 0] after training (red +, blue -, |w| <= {limit:.2f})")
    top.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
