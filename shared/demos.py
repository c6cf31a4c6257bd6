"""`rosetta demo mlp|cnn|seq2seq`: a model trained three times, in NumPy, PyTorch and
TensorFlow, from the same initial weights and the same minibatches (and dropout masks),
one curve per framework in one PNG. If the three implementations agree, the curves lie
on top of each other."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from shared import backends
from shared.concepts import _seq2seq, get
from shared.concepts import cnn_train_step as cnn_spec
from shared.concepts import mlp_train_step as spec
from shared.concepts import seq2seq_train_step as seq2seq_spec
from shared.concepts.batch_norm import BOOK_EPS
from shared.data import ADDITION_VOCAB, Sequences, addition, digits
from shared.parity import cast_inputs
from shared.training import init_opt_state
from shared.trees import tree_map

DEMO_SIZES = (64, 100, 100, 10)
# one line style per framework: where the three agree, the thick, dashed and dotted lines overlap
STYLES = {"numpy": dict(color="C0", lw=3.0, alpha=0.5), "torch": dict(color="C1", lw=1.5, ls="--"),
          "tf": dict(color="C2", lw=1.0, ls=":")}
# the NumPy run again, from weights one rounding error away: how much of the frameworks'
# distance is training amplifying its rounding, whatever the framework
CONTROL = "numpy, nudged"
STYLES[CONTROL] = dict(color="gray", lw=1.0, ls="-.")


def nudged(params: dict, dtype: str) -> dict:
    """Every weight (at any depth: the GAN's {"G", "D"}) moved to the next number
    representable in `dtype`: a change the size of one rounding error."""
    return tree_map(lambda p: np.nextafter(p.astype(dtype), np.inf), params)


@dataclass
class Run:
    """One framework's training: the loss at every step, the accuracies every `eval_every`
    steps (name -> one value per evaluation), what the last evaluation predicted, and the
    final parameters (canonical NumPy arrays)."""

    backend: str
    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    accuracy: dict[str, list[float]] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def train_accuracy(self) -> list[float]:
        return self.accuracy["train accuracy"]

    @property
    def test_accuracy(self) -> list[float]:
        return self.accuracy["test accuracy"]


# An evaluation: given the backend object and the dtype, it prepares its data once and
# returns evaluate(params, hyper) -> {name: a number (an accuracy) or an array (predictions)}
Evaluation = Callable[[object, str], Callable[[dict, dict], dict]]


def classifier_accuracy(concept_name: str, split, images: Callable = lambda x: x) -> Evaluation:
    """Accuracy on the training and the test images, from the model module's predict.
    `images` shapes the digits as the model reads them."""
    def prepare(backend, dtype):
        predict = backends.module(backend.name, get(concept_name)).predict
        x = backend.convert(cast_inputs({"train": images(split.x_train), "test": images(split.x_test)}, dtype), "cpu")
        labels = {"train": split.t_train, "test": split.t_test}

        def evaluate(params, hyper):
            return {f"{name} accuracy": (backend.to_numpy(predict(params, x[name], hyper)).argmax(axis=1) == t).mean()
                    for name, t in labels.items()}
        return evaluate
    return prepare


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


def train(concept_name: str, backend_name: str, params, opt_state, hyper, batches, evaluation: Evaluation, *,
          dtype="float32", eval_every=25, on_step: Callable[[int, float], None] = lambda step, loss: None) -> Run:
    """Train with `backend_name`'s train_step of `concept_name`; every array starts as the
    same NumPy array. `evaluation` runs every `eval_every` steps and after the last."""
    backend = backends.get(backend_name)
    train_step = backend.impl(get(concept_name)).forward
    run = Run(backend_name)
    inputs = cast_inputs({"params": params, "opt_state": opt_state, "batches": batches}, dtype)
    start = time.perf_counter()
    with backend.scope("cpu"):
        evaluate = evaluation(backend, dtype)
        params = backend.convert(inputs["params"], "cpu")
        opt_state = backend.convert(inputs["opt_state"], "cpu")
        for step, batch in enumerate(inputs["batches"], start=1):
            loss, _, params, opt_state = train_step(params, opt_state, backend.convert(batch, "cpu"), hyper)
            run.losses.append(float(backend.to_numpy(loss)))
            if step % eval_every == 0 or step == len(inputs["batches"]):
                run.eval_steps.append(step)
                for name, value in evaluate(params, hyper).items():
                    if np.ndim(value):
                        run.predictions[name] = backend.to_numpy(value)
                    else:
                        run.accuracy.setdefault(name, []).append(float(value))
            on_step(step, run.losses[-1])
    run.seconds = time.perf_counter() - start
    run.params = {name: backend.to_numpy(value) for name, value in params.items()}
    return run


def train_mlp(backend_name: str, split, params, opt_state, hyper, batches, **options) -> Run:
    return train("mlp_train_step", backend_name, params, opt_state, hyper, batches,
                 classifier_accuracy("mlp_train_step", split), **options)


def plot_losses(ax_loss, ax_gap, runs: list[Run], ylabel: str, label: Callable[[Run], str],
                title: str = "Loss per step: the curves should coincide") -> None:
    """Left: the loss per step of every run. Right: each run's distance from the first."""
    reference = runs[0]
    for run in runs:
        style = STYLES.get(run.backend, {})
        steps = np.arange(1, len(run.losses) + 1)
        ax_loss.plot(steps, run.losses, label=label(run), **style)
        if run is not reference:
            gap = np.abs(np.array(run.losses) - np.array(reference.losses))
            # dots, not lines: steps where the two agree exactly (gap 0) have no place on a log scale
            ax_gap.plot(steps, gap, ".", ms=3, color=style.get("color"), label=f"|{run.backend} - {reference.backend}|")
    ax_loss.set(xlabel="step", ylabel=ylabel, yscale="log", title=title)
    ax_gap.set(xlabel="step", ylabel="absolute difference of the loss", yscale="log",
               title=f"How far apart: loss minus {reference.backend}'s")
    ax_loss.legend()
    if len(runs) > 1:
        ax_gap.legend()


def plot_mlp(runs: list[Run], path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_gap, ax_acc) = plt.subplots(1, 3, figsize=(16, 4.5))
    plot_losses(ax_loss, ax_gap, runs, "training loss (cross-entropy + weight decay)",
                lambda run: run.backend)
    for run in runs:
        style = STYLES.get(run.backend, {})
        ax_acc.plot(run.eval_steps, run.test_accuracy, label=f"{run.backend} test", **style)
        ax_acc.plot(run.eval_steps, run.train_accuracy, label=f"{run.backend} train", **{**style, "color": "gray"})
    ax_acc.set(xlabel="step", ylabel="accuracy", ylim=(0.8, 1.0), title="Accuracy on the digits")
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
    return train("cnn_train_step", backend_name, params, opt_state, hyper, batches,
                 classifier_accuracy("cnn_train_step", split, cnn_spec.images), **options)


def plot_cnn(runs: list[Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: each
    framework's learned first-layer filters, one row per framework, on one colour scale
    (the same filters look the same)."""
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

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


# ---- `rosetta demo seq2seq`: the book's seq2seq on the addition task (ゼロから作る 2, 7.3) ----

SEQ2SEQ_DEMO_NET = {"embed": 16, "hidden": 64}
SEQ2SEQ_BATCH = 128
SEQ2SEQ_MAX_NORM = 5.0  # the book's max_grad


def seq2seq_setup(steps: int, optimizer: str, lr: float, seed: int = 0, *, cell: str = "lstm", places: int = 2,
                  count: int = 10000, batch_size: int = SEQ2SEQ_BATCH):
    """Initial params and opt_state, hyper and every batch (teacher forcing: every coin
    True): the inputs all three share. The test part keeps only questions that never
    occur in the training part, so its accuracy is on sums the model has not seen
    (with 1-digit numbers there are only 100 questions, all seen: then it keeps them all)."""
    data = addition(count=count, seed=seed, max_value=10 ** places - 1)  # numbers of up to `places` digits
    unseen = ~seen_in_training(data)
    keep = unseen if unseen.any() else np.ones_like(unseen)
    split = Sequences(data.x_train, data.y_train, data.x_test[keep], data.y_test[keep])
    rng = np.random.default_rng(seed)
    params = _seq2seq.init_params(rng, cell, len(ADDITION_VOCAB), **SEQ2SEQ_DEMO_NET)
    hyper = {"cell": cell, "optimizer": optimizer, "opt": {"lr": lr}, "max_norm": SEQ2SEQ_MAX_NORM}
    batches = [seq2seq_spec.make_batch(rng, split.x_train, split.y_train, batch_size) for _ in range(steps)]
    return split, params, init_opt_state(params, optimizer, hyper["opt"]), hyper, batches


def describe_test_part(split) -> str:
    seen = int(seen_in_training(split).sum())
    return (f"{len(split.y_test)} test questions, " + ("none of which is in the training part" if seen == 0
            else f"{seen} of them also in the training part"))


def seen_in_training(split) -> np.ndarray:
    """[N_test] bool: the test question also occurs among the training questions."""
    seen = {row.tobytes() for row in split.x_train}
    return np.array([row.tobytes() in seen for row in split.x_test], dtype=bool)


def seq2seq_accuracy(split, cell: str) -> Evaluation:
    """Exact-match and per-token accuracy on the test questions, teacher-forced (every step
    fed the true previous token) and free-running (fed its own previous prediction, as at
    inference); also the free-running answers themselves.

    Exact match is the same number both ways: a model that gets every token right when
    fed the truth feeds itself the truth when running free, and the other way round. The
    per-token accuracies differ: running free, one wrong digit is fed back and can spoil
    the rest of the answer (exposure bias)."""
    y_in, target = split.y_test[:, :-1], split.y_test[:, 1:]

    def prepare(backend, dtype):
        decode = backends.module(backend.name, get("seq2seq_decode")).decode
        x, y_in_, teacher, free = backend.convert(
            [split.x_test, y_in, np.ones(y_in.shape, bool), np.zeros(y_in.shape, bool)], "cpu")

        def evaluate(params, hyper):
            result = {}
            for mode, coins in (("teacher-forced", teacher), ("free-running", free)):
                _, tokens = decode(params, x, y_in_, coins, cell=cell)
                right = backend.to_numpy(tokens) == target
                result[f"{mode} exact match"] = right.all(axis=1).mean()
                result[f"{mode} per token"] = right.mean()
                result[f"{mode} answers"] = tokens
            return result
        return evaluate
    return prepare


def train_seq2seq(backend_name: str, split, params, opt_state, hyper, batches, **options) -> Run:
    return train("seq2seq_train_step", backend_name, params, opt_state, hyper, batches,
                 seq2seq_accuracy(split, hyper["cell"]), **options)


def plot_seq2seq(runs: list[Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: per-token
    and exact-match accuracy on unseen questions, teacher-forced vs free-running."""
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    fig, ((ax_loss, ax_gap), (ax_token, ax_exact)) = plt.subplots(2, 2, figsize=(14, 9))
    plot_losses(ax_loss, ax_gap, runs, "training loss (softmax cross-entropy per token)", lambda run: run.backend,
                "Loss per step: together until training has amplified\nthe rounding errors (the nudged run: how fast)")
    for ax, metric in ((ax_token, "per token"), (ax_exact, "exact match")):
        for run in runs:
            style = STYLES.get(run.backend, {})
            for mode, marker in (("teacher-forced", "o"), ("free-running", "x")):
                ax.plot(run.eval_steps, run.accuracy[f"{mode} {metric}"], marker=marker, ms=4,
                        label=f"{run.backend} {mode}", **style)
        ax.set(xlabel="step", ylabel=f"{metric} accuracy on unseen questions", ylim=(0, 1))
        ax.legend(fontsize="small", ncol=2, loc="upper left")
    ax_token.set_title("Per token: running free, a wrong digit is fed back\nand can spoil the rest (exposure bias)")
    ax_exact.set_title("Whole answer right: the same teacher-forced and free-running\n(see demos.seq2seq_accuracy)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- `rosetta demo metric`: an embedding net on the digits, metric learning (距離学習) ------

METRIC_BATCH = 64
METRIC_PER_CLASS = 8  # mining batches of 8 digits x 8 images: every anchor has 7 positives, 56 negatives


def metric_setup(steps: int, optimizer: str, lr: float, seed: int = 0, *, loss: str = "semi_hard",
                 margin: float = 1.0, batch_size: int = METRIC_BATCH):
    """Initial params and opt_state, hyper and every batch (Siamese pairs for the
    contrastive loss, labelled batches for mining): the inputs all three share."""
    from shared.concepts import metric_train_step as metric_spec
    split = digits()
    rng = np.random.default_rng(seed)
    # 2-D embeddings (metric_spec.DEMO_SIZES): the PNG shows them as they are, no projection
    params = metric_spec.init_params(rng, metric_spec.DEMO_SIZES)
    hyper = {"loss": loss, "margin": margin, "distance": "euclidean" if loss == "contrastive" else "squared",
             "normalize": False, "optimizer": optimizer, "opt": {"lr": lr}}
    batches = [metric_spec.make_batch(rng, split.x_train, split.t_train, batch_size, loss, per_class=METRIC_PER_CLASS)
               for _ in range(steps)]
    return split, params, init_opt_state(params, optimizer, hyper["opt"]), hyper, batches


def recall_at_1(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """The share of points whose nearest OTHER point (Euclidean) has the same label."""
    d = np.sum((embeddings[:, None, :] - embeddings[None, :, :]) ** 2, axis=-1)
    np.fill_diagonal(d, np.inf)  # a point is not its own neighbour
    return float((labels[d.argmin(axis=1)] == labels).mean())


def metric_recall(split) -> Evaluation:
    """recall@1 among the held-out digits, from each framework's own embeddings; also the
    embeddings themselves (the PNG draws them)."""
    def prepare(backend, dtype):
        embed = backends.module(backend.name, get("metric_train_step")).embed
        (x,) = backend.convert(cast_inputs([split.x_test], dtype), "cpu")

        def evaluate(params, hyper):
            e = backend.to_numpy(embed(params, x, hyper)).astype(np.float64)
            return {"test recall@1": recall_at_1(e, split.t_test), "test embeddings": e}
        return evaluate
    return prepare


def train_metric(backend_name: str, split, params, opt_state, hyper, batches, **options) -> Run:
    return train("metric_train_step", backend_name, params, opt_state, hyper, batches, metric_recall(split),
                 **options)


def _plane(e: np.ndarray) -> np.ndarray:
    """Two coordinates to draw: the embedding itself if it is 2-D, else its first two
    principal components."""
    if e.shape[1] <= 2:
        return e
    centred = e - e.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def plot_metric(runs: list[Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: each run's
    embeddings of the held-out digits, coloured by digit (the same net draws the same map)."""
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    labels = digits().t_test  # the split is fixed: the embeddings are of these digits, in this order
    fig = plt.figure(figsize=(4.6 * max(len(runs), 3), 9))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    ax_loss, ax_gap = top.subplots(1, 2)
    plot_losses(ax_loss, ax_gap, runs, "training loss", lambda run: run.backend,
                "Loss per step: one mining choice flipped by rounding moves a run apart")
    top.subplots_adjust(top=0.85)  # room for the figure's title above the panels' own
    axes = np.atleast_1d(bottom.subplots(1, len(runs)))
    for ax, run in zip(axes, runs):
        xy = _plane(run.predictions["test embeddings"])
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=9)
        ax.set_title(f"{run.backend}: recall@1 {run.accuracy['test recall@1'][-1]:.1%}")
        ax.set_aspect("equal", adjustable="datalim")
    bottom.colorbar(points, ax=list(axes), ticks=range(10), label="digit")
    bottom.suptitle("Embeddings of the held-out digits")
    top.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
