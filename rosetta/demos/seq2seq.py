"""`rosetta demo seq2seq`: the book's seq2seq on the addition task (ゼロから作る② 7.3),
teacher-forced vs free-running."""
from __future__ import annotations

import numpy as np
from rich.markup import escape

from rosetta.cli.arguments import integer
from rosetta.demos import runner
from rosetta.demos.side_by_side import plot_losses, pyplot
from rosetta.report import results_table
from shared import backends
from shared.concepts import _seq2seq, get
from shared.concepts import seq2seq_train_step as spec
from shared.data import ADDITION_VOCAB, Sequences, addition, decode
from shared.training import init_opt_state

CONCEPT = "seq2seq_train_step"
OPTIONS = dict(help="the book's seq2seq on generated sums (\"57+8\" -> \"65\"); teacher-forced vs free-running "
               "accuracy, decoded examples, one PNG", steps=1000, unit="128 questions", lr=0.01,
               seeded="the data, the initial weights and the batches", optimizers=spec.OPTIMIZERS)
EVAL_EVERY = 25
CONTROL = True
NET = {"embed": 16, "hidden": 64}
BATCH = 128
MAX_NORM = 5.0  # the book's max_grad


def add_arguments(p) -> None:
    p.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="the recurrent layer (default lstm)")
    p.add_argument("--digits", type=integer(1, 3), default=2,
                   help="digits per number, 1 to 3: the questions hold 7 characters (default 2: \"57+8\")")
    p.add_argument("--examples", type=integer(0), default=8, help="decoded test questions to print (default 8)")


def options(args) -> dict:
    return {"cell": args.cell, "places": args.digits}


def setup(steps: int, optimizer: str, lr: float, seed: int = 0, *, cell: str = "lstm", places: int = 2,
          count: int = 10000, batch_size: int = BATCH) -> runner.Setup:
    """Initial params and opt_state, hyper and every batch (teacher forcing: every coin
    True): the inputs all three share. The test part keeps only questions that never
    occur in the training part, so its accuracy is on sums the model has not seen
    (with 1-digit numbers there are only 100 questions, all seen: then it keeps them all)."""
    data = addition(count=count, seed=seed, max_value=10 ** places - 1)  # numbers of up to `places` digits
    unseen = ~seen_in_training(data)
    keep = unseen if unseen.any() else np.ones_like(unseen)
    split = Sequences(data.x_train, data.y_train, data.x_test[keep], data.y_test[keep])
    rng = np.random.default_rng(seed)
    params = _seq2seq.init_params(rng, cell, len(ADDITION_VOCAB), **NET)
    hyper = {"cell": cell, "optimizer": optimizer, "opt": {"lr": lr}, "max_norm": MAX_NORM}
    batches = [spec.make_batch(rng, split.x_train, split.y_train, batch_size) for _ in range(steps)]
    return runner.Setup(split, params, init_opt_state(params, optimizer, hyper["opt"]), hyper, batches)


def describe_test_part(split) -> str:
    seen = int(seen_in_training(split).sum())
    return (f"{len(split.y_test)} test questions, " + ("none of which is in the training part" if seen == 0
            else f"{seen} of them also in the training part"))


def seen_in_training(split) -> np.ndarray:
    """[N_test] bool: the test question also occurs among the training questions."""
    seen = {row.tobytes() for row in split.x_train}
    return np.array([row.tobytes() in seen for row in split.x_test], dtype=bool)


def evaluation(setup: runner.Setup) -> runner.Evaluation:
    """Exact-match and per-token accuracy on the test questions, teacher-forced (every step
    fed the true previous token) and free-running (fed its own previous prediction, as at
    inference); also the free-running answers themselves.

    Exact match is the same number both ways: a model that gets every token right when
    fed the truth feeds itself the truth when running free, and the other way round. The
    per-token accuracies differ: running free, one wrong digit is fed back and can spoil
    the rest of the answer (exposure bias)."""
    split, cell = setup.split, setup.hyper["cell"]
    y_in, target = split.y_test[:, :-1], split.y_test[:, 1:]

    def prepare(backend, dtype):
        decoder = backends.module(backend.name, get("seq2seq_decode")).decode
        x, y_in_, teacher, free = backend.convert(
            [split.x_test, y_in, np.ones(y_in.shape, bool), np.zeros(y_in.shape, bool)], "cpu")

        def evaluate(params, hyper):
            result = {}
            for mode, coins in (("teacher-forced", teacher), ("free-running", free)):
                _, tokens = decoder(params, x, y_in_, coins, cell=cell)
                right = backend.to_numpy(tokens) == target
                result[f"{mode} exact match"] = right.all(axis=1).mean()
                result[f"{mode} per token"] = right.mean()
                result[f"{mode} answers"] = tokens
            return result
        return evaluate
    return prepare


def describe(setup: runner.Setup, args) -> str:
    return (f"seq2seq ({args.cell.upper()} encoder and decoder, embedding {NET['embed']}, hidden {NET['hidden']}, "
            f"teacher forcing, clip norm {setup.hyper['max_norm']}) on sums of numbers up to {10 ** args.digits - 1}; "
            f"batches of {BATCH} of {len(setup.split.y_train)} training questions, {describe_test_part(setup.split)}")


def title(args) -> str:
    return f"seq2seq ({args.cell}) on the addition task"


def after(console, runs: list[runner.Run], setup: runner.Setup, args) -> None:
    """Decoded test questions, one column per run."""
    split = setup.split
    labels = [run.backend for run in runs]
    table = results_table(console, "Free-running answers (the decoder fed its own predictions)",
                          ("question", "truth", *labels), left=("question", "truth", *labels))
    for i in range(min(args.examples, len(split.y_test))):
        truth = decode(split.y_test[i, 1:])
        answers = [decode(run.predictions["free-running answers"][i]) for run in runs]
        table.add_row(escape(decode(split.x_test[i])), truth,
                      *(f"{a} {'ok' if a == truth else 'wrong'}" for a in answers))
    console.print(table)
    console.print("exact match is the same teacher-forced and free-running: a model right at every step when fed the "
                  "truth feeds itself the truth; per token, running free is lower (a wrong digit is fed back)")


def plot(runs: list[runner.Run], path, title: str) -> None:
    """Top: the loss per step and its distance from the first run's. Below: per-token
    and exact-match accuracy on unseen questions, teacher-forced vs free-running."""
    plt = pyplot()
    fig, ((ax_loss, ax_gap), (ax_token, ax_exact)) = plt.subplots(2, 2, figsize=(14, 9))
    plot_losses(ax_loss, ax_gap, runs, "training loss (softmax cross-entropy per token)", lambda run: run.backend,
                "Loss per step: together until training has amplified\nthe rounding errors (the nudged run: how fast)")
    for ax, metric in ((ax_token, "per token"), (ax_exact, "exact match")):
        for run in runs:
            style = runner.STYLES.get(run.backend, {})
            for mode, marker in (("teacher-forced", "o"), ("free-running", "x")):
                ax.plot(run.eval_steps, run.accuracy[f"{mode} {metric}"], marker=marker, ms=4,
                        label=f"{run.backend} {mode}", **style)
        ax.set(xlabel="step", ylabel=f"{metric} accuracy on unseen questions", ylim=(0, 1))
        ax.legend(fontsize="small", ncol=2, loc="upper left")
    ax_token.set_title("Per token: running free, a wrong digit is fed back\nand can spoil the rest (exposure bias)")
    ax_exact.set_title("Whole answer right: the same teacher-forced and free-running\n(see seq2seq.evaluation)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
