"""The one training runner behind every `rosetta demo`: any step function, in any backend,
from the same weights and the same batches; one progress bar per run, the control run
(NumPy again from weights one rounding error away) and the drift report.

A trainer is anything with `step(batch) -> loss` (a number, or {name: number} for a step
with several losses, the GAN's D and G), `evaluate() -> {name: number or array}` and
`canonical() -> params` (NumPy arrays), and may add `info() -> dict` (what the run
reports besides, e.g. whether a frozen backbone stayed put). `Functional` is the trainer of the contract's
train steps (`train_step(params, opt_state, batch, hyper)`); a demo that trains through a
framework's own API (BiT's torch.optim and Keras routes) brings its own.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np

from rosetta.report import progress
from shared import backends
from shared.concepts import get
from shared.parity import cast_inputs
from shared.trees import tree_map

# the NumPy run again, from weights one rounding error away: how much of the frameworks'
# distance is training amplifying its rounding, whatever the framework
CONTROL = "numpy, nudged"
DRIFT = 1e-3  # a loss difference no rounding error explains: the runs have drifted apart
# one line style per framework: where the three agree, the thick, dashed and dotted lines overlap
STYLES = {"numpy": dict(color="C0", lw=3.0, alpha=0.5), "torch": dict(color="C1", lw=1.5, ls="--"),
          "tf": dict(color="C2", lw=1.0, ls=":"), CONTROL: dict(color="gray", lw=1.0, ls="-.")}


class Setup(NamedTuple):
    """What every framework's run starts from: the data split, the initial parameters and
    optimizer state, the hyper-parameters and every batch (and anything else a demo draws
    once, e.g. the GAN's fixed noise, in `extra`)."""

    split: Any
    params: dict
    opt_state: dict
    hyper: dict
    batches: list
    extra: dict = {}


def nudged(params: dict, dtype: str) -> dict:
    """Every weight (at any depth: the GAN's {"G", "D"}) moved to the next number
    representable in `dtype`: a change the size of one rounding error."""
    return tree_map(lambda p: np.nextafter(p.astype(dtype), np.inf), params)


@dataclass
class Run:
    """One training run: each loss at every step (`curves`; `losses` is the first, the one
    the drift report follows), every evaluation's numbers (`accuracy`: name -> one value per
    evaluation) and arrays (`arrays`: name -> one array per evaluation), the seconds, the
    final parameters (canonical NumPy arrays) and what a demo adds (`info`)."""

    backend: str
    curves: dict[str, list[float]] = field(default_factory=dict)
    eval_steps: list[int] = field(default_factory=list)
    accuracy: dict[str, list[float]] = field(default_factory=dict)
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)
    seconds: float = 0.0
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def losses(self) -> list[float]:
        return next(iter(self.curves.values()), [])

    @property
    def predictions(self) -> dict[str, np.ndarray]:
        """What the last evaluation predicted."""
        return {name: values[-1] for name, values in self.arrays.items()}

    @property
    def train_accuracy(self) -> list[float]:
        return self.accuracy["train accuracy"]

    @property
    def test_accuracy(self) -> list[float]:
        return self.accuracy["test accuracy"]


def train(label: str, trainer, batches: Iterable, *, steps: int | None = None, eval_every: int = 25,
          on_step: Callable[[int, Run], None] = lambda step, run: None) -> Run:
    """Step `trainer` through `batches` (`steps` of them when they come from a generator),
    evaluating every `eval_every` steps and after the last."""
    steps = len(batches) if steps is None else steps
    run = Run(label)
    start = time.perf_counter()
    for step, batch in enumerate(batches, start=1):
        loss = trainer.step(batch)
        for name, value in (loss.items() if isinstance(loss, dict) else (("loss", loss),)):
            run.curves.setdefault(name, []).append(float(value))
        if step % eval_every == 0 or step == steps:
            run.eval_steps.append(step)
            for name, value in trainer.evaluate().items():
                if np.ndim(value):
                    run.arrays.setdefault(name, []).append(np.asarray(value))
                else:
                    run.accuracy.setdefault(name, []).append(float(value))
        on_step(step, run)
    run.seconds = time.perf_counter() - start
    run.params = trainer.canonical()
    run.info.update(getattr(trainer, "info", dict)())
    return run


# An evaluation: given the backend object and the dtype, it prepares its data once and
# returns evaluate(params, hyper) -> {name: a number (an accuracy) or an array (predictions)}
Evaluation = Callable[[object, str], Callable[[dict, dict], dict]]


class Functional:
    """A contract train step (`<module>.train_step` of `concept_name`) in one backend, on
    CPU: params and opt_state carried from step to step in the backend's tensors; every
    array starts as the same NumPy array, cast to `dtype`."""

    def __init__(self, backend_name: str, concept_name: str, setup: Setup, params: dict, *, dtype: str,
                 evaluation: Evaluation = lambda backend, dtype: lambda params, hyper: {}):
        self.backend = backends.get(backend_name)
        self.fn = self.backend.impl(get(concept_name)).forward
        self.dtype, self.hyper = dtype, setup.hyper
        inputs = cast_inputs({"params": params, "opt_state": setup.opt_state}, dtype)
        with self.backend.scope("cpu"):
            self.params = self.backend.convert(inputs["params"], "cpu")
            self.opt_state = self.backend.convert(inputs["opt_state"], "cpu")
            self._evaluate = evaluation(self.backend, dtype)

    def step(self, batch):
        with self.backend.scope("cpu"):
            batch = self.backend.convert(cast_inputs(batch, self.dtype), "cpu")
            loss, _, self.params, self.opt_state = self.fn(self.params, self.opt_state, batch, self.hyper)
            return tree_map(lambda value: float(self.backend.to_numpy(value)), loss)

    def evaluate(self) -> dict:
        with self.backend.scope("cpu"):
            return {name: self.backend.to_numpy(value) if np.ndim(value) else value
                    for name, value in self._evaluate(self.params, self.hyper).items()}

    def canonical(self) -> dict:
        return tree_map(self.backend.to_numpy, self.params)


def jobs(names: list[str], start, *, control: bool, nudge: Callable[[Any], Any]) -> list[tuple[str, str, Any]]:
    """(label, backend, start) of every run: each backend from `start`, and the control
    (NumPy from `nudge(start)`) when asked for and NumPy runs."""
    found = [(name, name, start) for name in names]
    if control and names and names[0] == "numpy":
        found.append((CONTROL, "numpy", nudge(start)))
    return found


def run_all(todo: list[tuple[str, str, Any]], make: Callable[[str, Any], Any], batches, *, eval_every: int,
            steps: int | None = None, prefix: str = "") -> list[Run]:
    """Train `make(backend, start)` for every job, one progress bar per run (stderr) with
    its latest losses."""
    steps = len(batches) if steps is None else steps
    runs = []
    with progress(len(prefix) + 13, "{task.fields[now]}", transient=False) as bars:
        for label, backend, start in todo:
            bar = bars.add_task(prefix + label, total=steps, now="")

            def show(step, run, bar=bar):
                now = "  ".join(f"{name} {values[-1]:.4f}" for name, values in run.curves.items())
                bars.update(bar, completed=step, now=now)
            runs.append(train(label, make(backend, start), batches, steps=steps, eval_every=eval_every,
                              on_step=show))
    return runs


def first_apart(losses, reference) -> int | None:
    """The first step (counted from 1) where two loss curves differ by more than DRIFT; None if never."""
    return next((step for step, (a, b) in enumerate(zip(losses, reference), 1) if abs(a - b) > DRIFT), None)


def drift_report(runs: list[Run]) -> str:
    """When each run's loss first left the first run's by more than DRIFT."""
    reference = runs[0]
    apart = {run.backend: first_apart(run.losses, reference.losses) for run in runs[1:]}
    steps = ", ".join(f"{name}: {f'step {step}' if step else 'never'}" for name, step in apart.items())
    return (f"first step where |loss - {reference.backend}| > {DRIFT:g}: {steps}. Training amplifies a rounding "
            f"error step by step; {CONTROL!r} (the same NumPy run from weights one rounding error away) shows how "
            "fast without any second framework. The parity cases compare 1 and 10 steps.")
