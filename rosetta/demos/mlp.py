"""`rosetta demo mlp`: the book's multi-layer net (ゼロから作る 6章) on the digits."""
from __future__ import annotations

import numpy as np

from rosetta.demos import runner
from rosetta.demos.side_by_side import classifier_accuracy, plot_losses, pyplot
from shared.concepts import mlp_train_step as spec
from shared.concepts.batch_norm import BOOK_EPS
from shared.data import digits

CONCEPT = "mlp_train_step"
OPTIONS = dict(help="the book's multi-layer net on the digits; one PNG of the curves", steps=500, unit="100 images",
               lr=0.005, seeded="the initial weights, batches and masks", optimizers=spec.OPTIMIZERS)
EVAL_EVERY = 25
CONTROL = False
SIZES = (64, 100, 100, 10)


def options(args) -> dict:
    return {}


def setup(steps: int, optimizer: str, lr: float, seed: int = 0, batch_size: int = 100) -> runner.Setup:
    """Initial params and opt_state, hyper and every batch: the inputs all three share."""
    split = digits()
    rng = np.random.default_rng(seed)
    params = spec.init_params(rng, SIZES)
    hyper = {"optimizer": optimizer, "opt": {"lr": lr}, "weight_decay": 1e-4, "dropout": 0.2,
             "bn_momentum": 0.9, "bn_eps": BOOK_EPS}
    batches = [spec.make_batch(rng, split.x_train, split.t_train, batch_size, SIZES[1:-1], hyper["dropout"])
               for _ in range(steps)]
    return runner.Setup(split, params, spec.init_opt_state(params, optimizer, hyper["opt"]), hyper, batches)


def evaluation(setup: runner.Setup) -> runner.Evaluation:
    return classifier_accuracy(CONCEPT, setup.split)


def describe(setup: runner.Setup, args) -> str:
    return (f"MultiLayerNet {SIZES} (Affine-BatchNorm-ReLU-Dropout x2, Affine-Softmax), the same dropout masks too; "
            f"batches of 100 of {len(setup.split.t_train)} training digits, {len(setup.split.t_test)} test digits")


def title(args) -> str:
    return "MultiLayerNet on the digits"


def plot(runs: list[runner.Run], path, title: str) -> None:
    plt = pyplot()
    fig, (ax_loss, ax_gap, ax_acc) = plt.subplots(1, 3, figsize=(16, 4.5))
    plot_losses(ax_loss, ax_gap, runs, "training loss (cross-entropy + weight decay)", lambda run: run.backend)
    for run in runs:
        style = runner.STYLES.get(run.backend, {})
        ax_acc.plot(run.eval_steps, run.test_accuracy, label=f"{run.backend} test", **style)
        ax_acc.plot(run.eval_steps, run.train_accuracy, label=f"{run.backend} train", **{**style, "color": "gray"})
    ax_acc.set(xlabel="step", ylabel="accuracy", ylim=(0.8, 1.0), title="Accuracy on the digits")
    ax_acc.legend(fontsize="small", ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
