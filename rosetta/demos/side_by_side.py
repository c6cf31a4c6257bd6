"""`rosetta demo mlp|cnn|seq2seq|metric`: one model's contract train step in every
installed framework, from the same initial weights and the same minibatches (and dropout
masks), with the control run; one table of what each run learned and one PNG. If the
three implementations agree, the curves lie on top of each other.

A demo module gives: CONCEPT (its train step), OPTIONS (its command line: help, steps,
unit, lr, seeded, optimizers), EVAL_EVERY, CONTROL, `setup(steps, optimizer, lr, seed,
**options) -> runner.Setup`, `options(args)`, `evaluation(setup)`, `describe(setup, args)`,
`title(args)`, `plot(runs, path, title)`, and optionally `add_arguments(parser)` and
`after(console, runs, setup, args)`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from rich.console import Console

from rosetta.demos import runner
from rosetta.report import results_table
from shared import backends
from shared.concepts import get
from shared.parity import cast_inputs


def train(demo, backend_name: str, setup: runner.Setup, *, params: dict | None = None, dtype: str = "float32",
          eval_every: int | None = None, on_step=lambda step, run: None) -> runner.Run:
    """One run of `demo`'s train step in `backend_name` (from `params`, default the setup's)."""
    trainer = runner.Functional(backend_name, demo.CONCEPT, setup, setup.params if params is None else params,
                                dtype=dtype, evaluation=demo.evaluation(setup))
    return runner.train(backend_name, trainer, setup.batches, eval_every=eval_every or demo.EVAL_EVERY,
                        on_step=on_step)


def main(demo, args, console: Console) -> int:
    """The demo's runs side by side: what they learned, the drift, the PNG."""
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    for name, why in missing.items():
        console.print(f"[yellow]{name} not run: {why}[/]")
    setup = demo.setup(args.steps, args.optimizer, args.lr, args.seed, **demo.options(args))
    console.print(f"{demo.describe(setup, args)}; {args.optimizer}(lr={args.lr}), {args.steps} steps, {args.dtype}")

    def make(backend, params):
        return runner.Functional(backend, demo.CONCEPT, setup, params, dtype=args.dtype,
                                 evaluation=demo.evaluation(setup))
    todo = runner.jobs([b.name for b in active], setup.params, control=demo.CONTROL,
                       nudge=lambda params: runner.nudged(params, args.dtype))
    runs = runner.run_all(todo, make, setup.batches, eval_every=demo.EVAL_EVERY)
    console.print(accuracy_table(console, runs))
    getattr(demo, "after", lambda *a: None)(console, runs, setup, args)
    if demo.CONTROL and len(runs) > 1:
        console.print(runner.drift_report(runs))
    demo.plot(runs, args.out, f"{demo.title(args)}, {args.optimizer}, {args.dtype}")
    console.print(f"wrote {args.out}")
    return 0


def accuracy_table(console: Console, runs: list[runner.Run]):
    reference = runs[0]
    metrics = list(reference.accuracy)
    # two-line headers: "teacher-forced" over "exact match" keeps every column readable in 120 characters
    table = results_table(console, "Same weights, same batches: accuracy per framework", (
        "framework", *(m.replace(" ", "\n", 1) for m in metrics), "final\nloss", f"max |loss -\n{reference.backend}|",
        "seconds"))
    for run in runs:
        gap = max(abs(a - b) for a, b in zip(run.losses, reference.losses))
        table.add_row(run.backend, *(f"{run.accuracy[m][-1]:.2%}" for m in metrics),
                      f"{run.losses[-1]:.4f}", f"{gap:.1e}", f"{run.seconds:.1f}")
    return table


def classifier_accuracy(concept_name: str, split, images: Callable = lambda x: x) -> runner.Evaluation:
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


def pyplot():
    """matplotlib's pyplot, drawing to files only (no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_losses(ax_loss, ax_gap, runs: list[runner.Run], ylabel: str, label: Callable[[runner.Run], str],
                title: str = "Loss per step: the curves should coincide") -> None:
    """Left: the loss per step of every run. Right: each run's distance from the first."""
    reference = runs[0]
    for run in runs:
        style = runner.STYLES.get(run.backend, {})
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
