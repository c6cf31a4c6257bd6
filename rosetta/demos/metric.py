"""`rosetta demo metric`: an embedding net on the digits, metric learning (距離学習) with a
contrastive or a triplet loss; recall@1 per framework."""
from __future__ import annotations

import numpy as np

from rosetta.cli.arguments import positive_number
from rosetta.demos import runner
from rosetta.demos.side_by_side import plot_losses, pyplot
from shared import backends
from shared.concepts import get
from shared.concepts import metric_train_step as spec
from shared.data import digits
from shared.parity import cast_inputs
from shared.training import init_opt_state

CONCEPT = "metric_train_step"
OPTIONS = dict(help="an embedding net on the digits with a contrastive or triplet loss; recall@1 per framework, one "
               "PNG of the 2-D embeddings", steps=1000, unit="64 digits", lr=0.005,
               seeded="the initial weights and the batches", optimizers=spec.OPTIMIZERS)
EVAL_EVERY = 25
CONTROL = True
BATCH = 64
PER_CLASS = 8  # mining batches of 8 digits x 8 images: every anchor has 7 positives, 56 negatives


def add_arguments(p) -> None:
    p.add_argument("--loss", choices=spec.LOSSES, default="semi_hard",
                   help="contrastive pairs or in-batch triplet mining (default semi_hard, as FaceNet)")
    p.add_argument("--margin", type=positive_number(), default=1.0, help="the loss's margin (default 1.0)")


def options(args) -> dict:
    return {"loss": args.loss, "margin": args.margin}


def setup(steps: int, optimizer: str, lr: float, seed: int = 0, *, loss: str = "semi_hard", margin: float = 1.0,
          batch_size: int = BATCH) -> runner.Setup:
    """Initial params and opt_state, hyper and every batch (Siamese pairs for the
    contrastive loss, labelled batches for mining): the inputs all three share."""
    split = digits()
    rng = np.random.default_rng(seed)
    # 2-D embeddings (spec.DEMO_SIZES): the PNG shows them as they are, no projection
    params = spec.init_params(rng, spec.DEMO_SIZES)
    hyper = {"loss": loss, "margin": margin, "distance": "euclidean" if loss == "contrastive" else "squared",
             "normalize": False, "optimizer": optimizer, "opt": {"lr": lr}}
    batches = [spec.make_batch(rng, split.x_train, split.t_train, batch_size, loss, per_class=PER_CLASS)
               for _ in range(steps)]
    return runner.Setup(split, params, init_opt_state(params, optimizer, hyper["opt"]), hyper, batches)


def recall_at_1(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """The share of points whose nearest OTHER point (Euclidean) has the same label."""
    d = np.sum((embeddings[:, None, :] - embeddings[None, :, :]) ** 2, axis=-1)
    np.fill_diagonal(d, np.inf)  # a point is not its own neighbour
    return float((labels[d.argmin(axis=1)] == labels).mean())


def evaluation(setup: runner.Setup) -> runner.Evaluation:
    """recall@1 among the held-out digits, from each framework's own embeddings; also the
    embeddings themselves (the PNG draws them)."""
    split = setup.split

    def prepare(backend, dtype):
        embed = backends.module(backend.name, get(CONCEPT)).embed
        (x,) = backend.convert(cast_inputs([split.x_test], dtype), "cpu")

        def evaluate(params, hyper):
            e = backend.to_numpy(embed(params, x, hyper)).astype(np.float64)
            return {"test recall@1": recall_at_1(e, split.t_test), "test embeddings": e}
        return evaluate
    return prepare


def describe(setup: runner.Setup, args) -> str:
    params, hyper = setup.params, setup.hyper
    sizes = " -> ".join(str(n) for n in (*params["W1"].shape, params["W2"].shape[1]))
    what = ("Siamese pairs (half the same digit)" if args.loss == "contrastive"
            else f"labelled batches of {PER_CLASS} images of each of {BATCH // PER_CLASS} digits, "
            f"{args.loss.replace('_', '-')} mining")
    return (f"embedding net {sizes} (Affine-ReLU-Affine), {args.loss} loss (margin {hyper['margin']}), {what}; "
            f"batches of {BATCH} of {len(setup.split.t_train)} training digits, recall@1 among "
            f"{len(setup.split.t_test)} held-out digits")


def title(args) -> str:
    return f"Metric learning ({args.loss}) on the digits"


def after(console, runs, setup, args) -> None:
    console.print("recall@1: the share of held-out digits whose nearest other held-out digit, by the distance "
                  "between embeddings, is the same digit")


def plane(e: np.ndarray) -> np.ndarray:
    """Two coordinates to draw: the embedding itself if it is 2-D, else its first two
    principal components."""
    if e.shape[1] <= 2:
        return e
    centred = e - e.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def plot(runs: list[runner.Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: each run's
    embeddings of the held-out digits, coloured by digit (the same net draws the same map)."""
    plt = pyplot()
    labels = digits().t_test  # the split is fixed: the embeddings are of these digits, in this order
    fig = plt.figure(figsize=(4.6 * max(len(runs), 3), 9))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    ax_loss, ax_gap = top.subplots(1, 2)
    plot_losses(ax_loss, ax_gap, runs, "training loss", lambda run: run.backend,
                "Loss per step: one mining choice flipped by rounding moves a run apart")
    top.subplots_adjust(top=0.85)  # room for the figure's title above the panels' own
    axes = np.atleast_1d(bottom.subplots(1, len(runs)))
    for ax, run in zip(axes, runs):
        xy = plane(run.predictions["test embeddings"])
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=9)
        ax.set_title(f"{run.backend}: recall@1 {run.accuracy['test recall@1'][-1]:.1%}")
        ax.set_aspect("equal", adjustable="datalim")
    bottom.colorbar(points, ax=list(axes), ticks=range(10), label="digit")
    bottom.suptitle("Embeddings of the held-out digits")
    top.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
