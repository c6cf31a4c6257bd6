"""`rosetta demo cnn`: the book's SimpleConvNet (ゼロから作る 7.5) on the digits."""
from __future__ import annotations

import numpy as np

from rosetta.demos import runner
from rosetta.demos.side_by_side import classifier_accuracy, plot_losses, pyplot
from shared.concepts import cnn_train_step as spec
from shared.data import digits

CONCEPT = "cnn_train_step"
OPTIONS = dict(help="the book's SimpleConvNet on the digits; one PNG of the curves and filters", steps=300,
               unit="100 images", lr=0.005, seeded="the initial weights and batches", optimizers=spec.OPTIMIZERS)
EVAL_EVERY = 25
CONTROL = False
NET = {"filters": 16, "kernel": 3, "hidden": 64}  # 16 x 8 x 8 -> pooled 16 x 4 x 4 = 256 -> 64 -> 10
HYPER = {"stride": 1, "pad": 1}


def options(args) -> dict:
    return {}


def setup(steps: int, optimizer: str, lr: float, seed: int = 0, batch_size: int = 100) -> runner.Setup:
    """Initial params and opt_state, hyper and every batch: the inputs all three share."""
    split = digits()
    rng = np.random.default_rng(seed)
    params = spec.init_params(rng, **NET, **HYPER)
    hyper = {"optimizer": optimizer, "opt": {"lr": lr}, **HYPER}
    batches = [spec.make_batch(rng, split.x_train, split.t_train, batch_size) for _ in range(steps)]
    return runner.Setup(split, params, spec.init_opt_state(params, optimizer, hyper["opt"]), hyper, batches)


def evaluation(setup: runner.Setup) -> runner.Evaluation:
    return classifier_accuracy(CONCEPT, setup.split, spec.images)


def describe(setup: runner.Setup, args) -> str:
    return (f"SimpleConvNet: Conv {NET['filters']} x {NET['kernel']}x{NET['kernel']} (pad {setup.hyper['pad']})-ReLU-"
            f"MaxPool 2x2, Affine {setup.params['W2'].shape[0]}->{NET['hidden']}-ReLU, Affine-Softmax on 1x8x8 "
            f"images; batches of 100 of {len(setup.split.t_train)} training digits, {len(setup.split.t_test)} test "
            "digits")


def title(args) -> str:
    return "SimpleConvNet on the digits"


def plot(runs: list[runner.Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: each
    framework's learned first-layer filters, one row per framework, on one colour scale
    (the same filters look the same)."""
    plt = pyplot()
    filters = [run.params["W1"] for run in runs]  # [F, C, k, k] each
    count = filters[0].shape[0]
    fig = plt.figure(figsize=(16, 4.5 + 1.1 * len(runs)))
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.5, 1.1 * len(runs)])
    ax_loss, ax_gap = top.subplots(1, 2)
    plot_losses(ax_loss, ax_gap, runs, "training loss (cross-entropy)",
                lambda run: f"{run.backend} (test accuracy {run.test_accuracy[-1]:.1%})")
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
