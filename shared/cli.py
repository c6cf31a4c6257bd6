"""`rosetta`: run the parity suite, measure the porting cases, show a concept side by side."""
from __future__ import annotations

import argparse
import ast
import re
import json
import importlib.util
import os
import sys
import textwrap
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from shared import arguments, backends, parity, report
from shared.arguments import image_file, integer, output_file, positive_number
from shared.concepts import all_concepts, get
from shared.concepts.metric_train_step import LOSSES as METRIC_LOSSES

DTYPES = ("float64", "float32")
DRIFT = 1e-3  # a loss difference no rounding error explains: the runs have drifted apart


def _concepts(names):
    """The concepts named (checked by the parser), or all."""
    return [get(name) for name in names] if names else all_concepts()


def cmd_parity(args, console: Console) -> int:
    concepts = _concepts(args.concept)
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    wanted = {"cpu": ("cpu",), "gpu": ("gpu",), "all": ("cpu", "gpu")}[args.device]
    devices = {b.name: [d for d in b.devices() if d in wanted] for b in active}
    gpu_state = {"tf32": {}, "determinism": {}}
    for backend in active:
        if "gpu" in devices[backend.name]:
            for key, state in backend.gpu_setup().items():
                gpu_state[key].update(state)
    meta = report.environment(active, missing, gpu_state)
    _print_header(console, meta)
    dtypes = [args.dtype] if args.dtype else list(DTYPES)
    tasks = parity.plan(concepts, [b.name for b in active], dtypes, devices)
    if not tasks:
        console.print("[yellow]nothing to run[/] for the devices and backends asked for")
        return 0
    records = []
    progress = Progress(TextColumn("{task.description:<52}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=Console(stderr=True, emoji=False), transient=True)
    with progress:
        bar = progress.add_task("parity", total=len(tasks))
        for task in tasks:
            progress.update(bar, description=task.id[:52])
            records.extend(parity.run_task(task))
            progress.advance(bar)
    if args.verbose:
        console.print(report.records_table(records, console.width))
    console.print(report.parity_table(records, console.width))
    _print_summary(console, records, concepts)
    if args.json:
        report.write_json(args.json, meta, records)
        console.print(f"wrote {len(records)} records to {args.json}")
    return 0 if all(r.passed for r in records) else 1


def _print_header(console: Console, meta: dict) -> None:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    devices = ", ".join(f"{d['backend']}:{d['device']} ({d['name']})" for d in meta["devices"])
    lines = [f"[bold]versions[/] {versions}", f"[bold]devices[/]  {devices}",
             f"[bold]TF32[/]     {meta['tf32']}", f"[bold]determinism[/] {meta['determinism']}",
             f"[bold]{meta['gpu']}[/]"]
    for name, why in meta["missing_backends"].items():
        lines.append(f"[yellow]backend {name} not run: {why}[/]")
    console.print(Panel("\n".join(lines), title="rosetta parity", expand=False))


def _print_summary(console: Console, records, concepts) -> None:
    failed = [r for r in records if not r.passed]
    for r in failed:
        console.print(f"[red]FAIL[/] {r.backend}-{r.concept}-{r.case}-{r.dtype}-{r.device} {r.check}: "
                      f"abs {report.fmt(r.max_abs_err)}, rel {report.fmt(r.max_rel_err)} "
                      f"(atol {r.atol:.0e}, rtol {r.rtol:.0e}) {escape(r.note)}")
    worst = report.closest_by_kind(records)
    # one line each, wrapped at spaces: the test ids stay whole at any width
    console.print("[bold]Closest to its tolerance, per dtype and check kind[/]")
    for (dtype, kind), r in sorted(worst.items()):
        console.print(Padding(f"{dtype} {kind}: {r.ratio:.0%} of the tolerance (abs {report.fmt(r.max_abs_err)}, "
                              f"rel {report.fmt(r.max_rel_err)}; atol {r.atol:.0e}, rtol {r.rtol:.0e}) at "
                              f"{r.backend}-{r.concept}-{r.case}-{r.dtype}-{r.device} {escape(r.check)}",
                              (0, 0, 0, 2)))
    skips = [(c.name, s) for c in concepts for s in c.skips]
    for name, skip in skips:
        console.print(f"[dim]declared skip: {name} {skip.case} {skip.check}: {skip.reason}[/]")
    verdict = "[bold green]all passed[/]" if not failed else f"[bold red]{len(failed)} failed[/]"
    console.print(f"{len(records)} comparisons, {verdict}")


def cmd_porting(args, console: Console) -> int:
    from shared import porting
    results, not_run = [], []
    for concept in _concepts(args.concept):
        for case in concept.porting:
            absent = [b for b in porting.needed_backends(case) if not backends.installed(b)]
            if absent:
                not_run.append(f"{concept.name} {case.name}: needs {', '.join(absent)}, not installed")
                continue
            results.append(porting.run(concept, case))
    console.print(report.porting_table(results, console.width))
    for line in not_run:
        console.print(f"[yellow]not run: {line}[/]")
    if args.json:
        report.write_porting_json(args.json, results)
        console.print(f"wrote {len(results)} porting results to {args.json}")
    return 0 if all(r.shown for r in results) else 1


def cmd_guide(args, console: Console) -> int:
    from shared import guide
    total = sum(len(c.porting) for c in all_concepts())
    progress = Progress(TextColumn("{task.description:<52}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    with progress:
        bar = progress.add_task("porting cases", total=total)
        results = guide.run_cases(lambda concept, case: progress.update(bar, advance=1,
                                                                         description=f"{concept}: {case}"))
    try:
        text = guide.build(results)
    except ValueError as error:
        console.print(f"[red]rosetta guide: {escape(str(error))}[/]")
        return 2
    out = Path(args.out) if args.out else guide.DEFAULT_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    shown = sum(r.shown for r in results.values())
    console.print(f"wrote {out}: {len(results)} documented differences, {shown} of them shown by their case "
                  "(naive port outside the tolerance, fixed port inside)")
    return 0 if shown == len(results) else 1


def _sources(package: str, module: str, names: list[str]) -> list[str]:
    """The source of the named functions and of every function or class of the same
    module they use, directly or through one another (a private helper such as
    optimizers._adam, a model class), in file order. Read from the file, so `show`
    needs no framework installed."""
    # the package's directory, found without importing it (tf_impl/__init__ imports TensorFlow)
    spec = importlib.util.find_spec(package)
    path = Path(spec.origin).parent / f"{module}.py" if spec and spec.origin else None
    if path is None or not path.is_file():
        return []
    text = path.read_text()
    defined = {node.name: node for node in ast.parse(text).body
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    wanted, todo = set(), [name for name in names if name in defined]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name) and n.id in defined]
    return [ast.get_source_segment(text, node) for node in defined.values() if node.name in wanted]


def _join_comments(code: str) -> list[str]:
    """A comment written over several lines becomes one line, to be re-wrapped whole."""
    lines: list[str] = []
    for line in code.splitlines():
        text = line.strip()
        if text.startswith("#") and lines and lines[-1].strip().startswith("#") \
                and lines[-1].startswith(line[:len(line) - len(text)] + "#"):
            lines[-1] += " " + text.lstrip("# ")
        else:
            lines.append(line)
    return lines


def _fit(code: str, width: int) -> str:
    """Re-wrap source for a narrow column, keeping its shape: long comments become
    several comment lines, long code lines and bracket continuations hang 4 spaces in."""
    lines, depth, statement_indent = [], 0, ""
    for line in _join_comments(code):
        text = line.strip()
        if depth == 0:
            statement_indent = line[:len(line) - len(text)]
        indent = statement_indent + "    " if depth else statement_indent
        if "  # " in text and not text.startswith("#"):  # a trailing comment goes above its code
            text, comment = text.split("  # ", 1)
            lines += textwrap.wrap(comment, width, initial_indent=indent + "# ", subsequent_indent=indent + "# ")
        if text.startswith("#"):
            lines += textwrap.wrap(text.lstrip("# "), width, initial_indent=indent + "# ",
                                   subsequent_indent=indent + "# ")
            continue
        lines += textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=statement_indent + "    ",
                               break_on_hyphens=False) or [""]
        depth = max(0, depth + sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}"))
    return "\n".join(lines)


def cmd_show(args, console: Console) -> int:
    concept = get(args.name)
    header = (f"[bold]{concept.name}[/] — {concept.japanese}\n\n{escape(concept.math)}\n\n"
              f"[dim]signature[/] {escape(concept.signature)}\n[dim]gradients w.r.t.[/] "
              f"{', '.join(concept.differentiable) or 'none'}")
    console.print(Panel(header, title=f"rosetta show {concept.name}", expand=True))
    columns = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
    width = (console.width - 6) // 3
    code = []
    for backend, package in backends.PACKAGES.items():
        names = [concept.fn_name] + ([f"{concept.fn_name}_backward"] if backend == "numpy" else [])
        sources = _sources(package, concept.module, names)
        text = "\n\n".join(sources) or f"# {package}.{concept.module}.{concept.fn_name} not found"
        columns.add_column(f"{package}.{concept.module}", ratio=1)
        code.append(Syntax(_fit(text, width), "python", theme="ansi_dark", word_wrap=True,
                           background_color="default"))
    columns.add_row(*code)
    console.print(columns)
    extras = []
    if concept.oracles:
        oracles = ", ".join(f"{o.backend}: {o.api}" for o in concept.oracles)
        extras.append(f"[bold]built-in oracles[/] {escape(oracles)}")
    for case in concept.porting:
        extras.append(f"[bold]porting[/] {case.name}: {escape(case.summary)}")
    if extras:
        console.print(Panel(Group(*extras), expand=True))
    return 0


class _ResultsTable(Table):
    """A table that leaves out the cells of the columns it `drops`."""

    drops: tuple[int, ...] = ()

    def add_row(self, *cells, **options):
        super().add_row(*(cell for i, cell in enumerate(cells) if i not in self.drops), **options)


def _results_table(console: Console, title: str, columns, left=("framework",), whole=()) -> Table:
    """A table of results, one row per run. In a console narrower than report.WIDE the
    headers break at every space and hyphen, the frame thins and the seconds are left out,
    so that every figure stays whole at 80 columns; the `left` columns hold names."""
    narrow = console.width < report.WIDE
    table = _ResultsTable(title=title, title_justify="left",
                          **({"box": box.SIMPLE_HEAD, "pad_edge": False} if narrow else {}))
    if narrow:
        table.drops = tuple(i for i, column in enumerate(columns) if column == "seconds")
    for i, column in enumerate(columns):
        if i not in table.drops:
            header = re.sub(r"(?<=-)\s*|\s+", "\n", column) if narrow else column
            table.add_column(header, justify="left" if column in left else "right", overflow="fold",
                             no_wrap=column in whole)
    return table


def _train_side_by_side(args, console: Console, setup, describe, train, plot, title,
                        after=lambda runs, split: None, control=False) -> int:
    """`rosetta demo <model>`: the same weights and batches in every installed framework,
    progress per framework, one accuracy table, one PNG. `describe(split, params, hyper)`
    says what is trained on what; `after(runs, split)` prints anything more; `control`
    adds the NumPy run again from weights nudged by one rounding error (demos.CONTROL)."""
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    for name, why in missing.items():
        console.print(f"[yellow]{name} not run: {why}[/]")
    split, params, opt_state, hyper, batches = setup(args.steps, args.optimizer, args.lr, args.seed)
    console.print(f"{describe(split, params, hyper)}; {args.optimizer}(lr={args.lr}), {args.steps} steps, {args.dtype}")
    runs = []
    progress = Progress(TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                        console=Console(stderr=True, emoji=False))
    with progress:
        for backend in active:
            bar = progress.add_task(backend.name, total=args.steps, loss=float("nan"))
            runs.append(train(
                backend.name, split, params, opt_state, hyper, batches, dtype=args.dtype,
                on_step=lambda step, loss, bar=bar: progress.update(bar, completed=step, loss=loss)))
        if control and runs[0].backend == "numpy":
            from shared import demos
            bar = progress.add_task(demos.CONTROL, total=args.steps, loss=float("nan"))
            runs.append(train(
                "numpy", split, demos.nudged(params, args.dtype), opt_state, hyper, batches, dtype=args.dtype,
                on_step=lambda step, loss: progress.update(bar, completed=step, loss=loss)))
            runs[-1].backend = demos.CONTROL
    reference = runs[0]
    metrics = list(reference.accuracy)
    # two-line headers: "teacher-forced" over "exact match" keeps every column readable in 120 characters
    table = _results_table(console, "Same weights, same batches: accuracy per framework", (
        "framework", *(m.replace(" ", "\n", 1) for m in metrics), "final\nloss", f"max |loss -\n{reference.backend}|",
        "seconds"))
    for run in runs:
        gap = max(abs(a - b) for a, b in zip(run.losses, reference.losses))
        table.add_row(run.backend, *(f"{run.accuracy[m][-1]:.2%}" for m in metrics),
                      f"{run.losses[-1]:.4f}", f"{gap:.1e}", f"{run.seconds:.1f}")
    console.print(table)
    after(runs, split)
    if control and len(runs) > 1:
        _print_drift(console, runs)
    plot(runs, args.out, f"{title}, {args.optimizer}, {args.dtype}")
    console.print(f"wrote {args.out}")
    return 0


def _first_apart(losses, reference) -> int | None:
    """The first step (counted from 1) where two loss curves differ by more than DRIFT; None if never."""
    return next((step for step, (a, b) in enumerate(zip(losses, reference), 1) if abs(a - b) > DRIFT), None)


def _print_drift(console: Console, runs) -> None:
    """When each run's loss first left the first run's by more than DRIFT."""
    from shared import demos
    reference = runs[0]
    apart = {run.backend: _first_apart(run.losses, reference.losses) for run in runs[1:]}
    steps = ", ".join(f"{name}: {f'step {step}' if step else 'never'}" for name, step in apart.items())
    console.print(f"first step where |loss - {reference.backend}| > {DRIFT:g}: {steps}. Training amplifies a "
                  f"rounding error step by step; {demos.CONTROL!r} (the same NumPy run from weights one "
                  "rounding error away) shows how fast without any second framework. The parity cases "
                  "compare 1 and 10 steps.")


def cmd_demo_mlp(args, console: Console) -> int:
    from shared import demos

    def describe(split, params, hyper):
        return (f"MultiLayerNet {demos.DEMO_SIZES} (Affine-BatchNorm-ReLU-Dropout x2, Affine-Softmax), the same "
                f"dropout masks too; batches of 100 of {len(split.t_train)} training digits, "
                f"{len(split.t_test)} test digits")
    return _train_side_by_side(args, console, demos.mlp_setup, describe, demos.train_mlp,
                               demos.plot_mlp, "MultiLayerNet on the digits")


def cmd_demo_cnn(args, console: Console) -> int:
    from shared import demos

    def describe(split, params, hyper):
        net = demos.CNN_DEMO_NET
        return (f"SimpleConvNet: Conv {net['filters']} x {net['kernel']}x{net['kernel']} (pad {hyper['pad']})-ReLU-"
                f"MaxPool 2x2, Affine {params['W2'].shape[0]}->{net['hidden']}-ReLU, Affine-Softmax on 1x8x8 "
                f"images; batches of 100 of {len(split.t_train)} training digits, {len(split.t_test)} test digits")
    return _train_side_by_side(args, console, demos.cnn_setup, describe, demos.train_cnn,
                               demos.plot_cnn, "SimpleConvNet on the digits")


def cmd_demo_seq2seq(args, console: Console) -> int:
    from shared import demos
    from shared.data import decode

    def setup(steps, optimizer, lr, seed):
        return demos.seq2seq_setup(steps, optimizer, lr, seed, cell=args.cell, places=args.digits)

    def describe(split, params, hyper):
        net = demos.SEQ2SEQ_DEMO_NET
        return (f"seq2seq ({args.cell.upper()} encoder and decoder, embedding {net['embed']}, hidden {net['hidden']}, "
                f"teacher forcing, clip norm {hyper['max_norm']}) on sums of numbers up to {10 ** args.digits - 1}; "
                f"batches of {demos.SEQ2SEQ_BATCH} of {len(split.y_train)} training questions, "
                f"{demos.describe_test_part(split)}")

    def examples(runs, split):
        table = _results_table(console, "Free-running answers (the decoder fed its own predictions)",
                               ("question", "truth", *(run.backend for run in runs)),
                               left=("question", "truth", *(run.backend for run in runs)))
        for i in range(min(args.examples, len(split.y_test))):
            truth = decode(split.y_test[i, 1:])
            answers = [decode(run.predictions["free-running answers"][i]) for run in runs]
            table.add_row(escape(decode(split.x_test[i])), truth,
                          *(f"{a} {'ok' if a == truth else 'wrong'}" for a in answers))
        console.print(table)
        console.print("exact match is the same teacher-forced and free-running: a model right at every step when "
                      "fed the truth feeds itself the truth; per token, running free is lower (a wrong digit is fed "
                      "back)")
    return _train_side_by_side(args, console, setup, describe, demos.train_seq2seq,
                               demos.plot_seq2seq, f"seq2seq ({args.cell}) on the addition task", after=examples,
                               control=True)


def cmd_demo_metric(args, console: Console) -> int:
    from shared import demos

    def setup(steps, optimizer, lr, seed):
        return demos.metric_setup(steps, optimizer, lr, seed, loss=args.loss, margin=args.margin)

    def describe(split, params, hyper):
        sizes = " -> ".join(str(n) for n in (*params["W1"].shape, params["W2"].shape[1]))
        per_class = demos.METRIC_PER_CLASS
        what = ("Siamese pairs (half the same digit)" if args.loss == "contrastive"
                else f"labelled batches of {per_class} images of each of {demos.METRIC_BATCH // per_class} digits, "
                f"{args.loss.replace('_', '-')} mining")
        return (f"embedding net {sizes} (Affine-ReLU-Affine), {args.loss} loss (margin {hyper['margin']}), {what}; "
                f"batches of {demos.METRIC_BATCH} of {len(split.t_train)} training digits, recall@1 among "
                f"{len(split.t_test)} held-out digits")

    def explain(runs, split):
        console.print("recall@1: the share of held-out digits whose nearest other held-out digit, by the distance "
                      "between embeddings, is the same digit")
    return _train_side_by_side(args, console, setup, describe, demos.train_metric, demos.plot_metric,
                               f"Metric learning ({args.loss}) on the digits", after=explain, control=True)


def cmd_demo_gan(args, console: Console) -> int:
    from pathlib import Path

    import numpy as np

    from shared import demos, gan_demo
    from shared.concepts import _gan

    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    for name, why in missing.items():
        console.print(f"[yellow]{name} not run: {why}[/]")
    split, params, opt_state, hyper, batches, noise = gan_demo.setup(args.steps, args.lr, args.seed,
                                                                     g_loss=args.g_loss)
    net = gan_demo.DEMO_NET
    count = {name: sum(p.size for p in params[name].values()) for name in ("G", "D")}
    console.print(f"DCGAN on the digits: G z[{net['z_dim']}] -> Affine -> {net['g_channels'][0]}x2x2 -> ConvT -> "
                  f"{net['g_channels'][1]}x4x4 -> BatchNorm-ReLU -> ConvT -> tanh 1x8x8 ({count['G']:,} weights); "
                  f"D Conv {net['d_channels'][0]}x4x4 -> Conv {net['d_channels'][1]}x2x2 (LeakyReLU 0.2) -> one "
                  f"logit ({count['D']:,} weights); {args.g_loss.replace('_', '-')} G loss; batches of "
                  f"{gan_demo.BATCH} of {len(split.t_train)} training digits; adam_step(lr={args.lr}, beta1 "
                  f"{hyper['opt']['beta1']}, eps {hyper['opt']['eps']:g}), {args.steps} steps, {args.dtype}")
    runs = []
    progress = Progress(TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("D {task.fields[d]:.3f}  G {task.fields[g]:.3f}"), TimeElapsedColumn(),
                        console=Console(stderr=True, emoji=False))
    jobs = [(backend.name, backend.name, params) for backend in active]
    if active and active[0].name == "numpy":  # the control: NumPy again from weights one rounding error away
        jobs.append((demos.CONTROL, "numpy", demos.nudged(params, args.dtype)))
    with progress:
        for label, backend_name, start in jobs:
            bar = progress.add_task(label, total=args.steps, d=float("nan"), g=float("nan"))
            runs.append(gan_demo.train(
                backend_name, split, start, opt_state, hyper, batches, noise, dtype=args.dtype,
                on_step=lambda step, d, g, bar=bar: progress.update(bar, completed=step, d=d, g=g)))
            runs[-1].backend = label
    read = gan_demo.digit_reader(split)
    reference = runs[0]
    table = _results_table(console, "Same weights, batches and noise: what each framework's GAN learned", (
        "framework", "D loss\n(last 50)", "G loss\n(last 50)", "D(real)\nheld out", "D(fake)", "samples\nrecognised",
        "digits\ncovered", f"max |sample -\n{reference.backend}|", "seconds"))
    for run in runs:
        recognised, covered, _ = read(run.samples[-1])
        gap = float(np.abs(run.samples[-1].astype(np.float64) - reference.samples[-1]).max())
        table.add_row(run.backend, f"{np.mean(run.d_losses[-50:]):.3f}", f"{np.mean(run.g_losses[-50:]):.3f}",
                      f"{run.real_probability[-1]:.2f}", f"{run.fake_probability[-1]:.2f}", f"{recognised:.0%}",
                      str(covered), f"{gap:.1e}", f"{run.seconds:.1f}")
    console.print(table)
    real_read = read(_gan.images(split.x_test[:gan_demo.SAMPLES]))
    console.print(f"The reader is a logistic regression on the real training digits ({read.test_accuracy:.1%} on the "
                  f"held-out digits); it recognises {real_read[0]:.0%} of {gan_demo.SAMPLES} held-out real digits "
                  f"(probability > {gan_demo.CONFIDENT}), {real_read[1]} digits. Samples come from {gan_demo.SAMPLES} "
                  "fixed noise vectors, the same in every framework.")
    if len(runs) > 1:
        _print_drift(console, runs)
        agree = reference.eval_steps[gan_demo.last_agreeing(runs)]
        console.print(f"The samples of every run agree to 1e-3 per pixel up to step {agree} (evaluated every 50 "
                      "steps); after that each run follows its own path. A GAN is a two-player game and amplifies a "
                      "rounding error faster than a classifier: judge the frameworks by the first row of the PNG and "
                      "by the parity cases (1 and 10 steps), and their GANs by the quality of the second row.")
    out = Path(args.out)
    losses_out = out.with_name(f"{out.stem}-losses{out.suffix}")
    title = f"DCGAN on the digits, {args.g_loss.replace('_', '-')} G loss, {args.steps} steps, {args.dtype}"
    real = _gan.images(split.x_train[:gan_demo.SAMPLES])
    gan_demo.plot_samples(runs, real, read, out, f"{title}: the same noise, drawn by each framework")
    gan_demo.plot_losses(runs, losses_out, title)
    console.print(f"wrote {out} and {losses_out}")
    return 0


def cmd_demo_bit(args, console: Console) -> int:
    import tempfile

    from shared import bit_demo

    try:
        data = bit_demo.load_data(args.shots, args.seed)
    except ValueError as error:  # too many shots for the rarest digit: known only from the data
        args.parser.error(f"argument --{error}")
    if not backends.installed("torch"):
        raise SystemExit("rosetta: the BiT demo pre-trains with PyTorch, which is not installed")
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    for name, why in missing.items():
        console.print(f"[yellow]{name} not run: {why}[/]")
    names = [backend.name for backend in active]
    config = bit_demo.CONFIG
    console.print(f"BiT (ResNet-v2, group norm + weight-standardised convs), depth {config['depth']}, root "
                  f"{config['root_channels']}, widths {config['out_channels']}, {config['groups']} groups, "
                  f"{bit_demo._bit.param_count(config):,} weights; digits upsampled to 32x32x3. Upstream: digits "
                  f"0-4, {len(data.up_t)} training and {len(data.up_test_t)} held-out images, {args.pretrain_steps} "
                  f"steps of {bit_demo.PRETRAIN_BATCH} randomly cropped (torch, momentum SGD lr "
                  f"{bit_demo.PRETRAIN_LR}, {bit_demo.WARMUP} steps of warmup). "
                  f"Downstream: digits 5-9, {args.shots} labelled per class ({len(data.shots_t)}), "
                  f"{len(data.held_t)} held out; {args.steps} steps of {min(bit_demo.BATCH, len(data.shots_t))}, "
                  f"momentum_step(lr={args.lr}, momentum {bit_demo.MOMENTUM}), float32")
    if args.workdir:
        return _run_bit_demo(args, console, data, names, args.workdir)
    with tempfile.TemporaryDirectory(prefix="rosetta-bit-") as workdir:  # removed at the end, weights and all
        return _run_bit_demo(args, console, data, names, workdir)


def _run_bit_demo(args, console: Console, data, names: list[str], workdir: str) -> int:
    from shared import bit_demo, demos

    progress = Progress(TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                        console=Console(stderr=True, emoji=False))
    runs = []
    with progress:
        bar = progress.add_task("pre-train (torch, 0-4)", total=args.pretrain_steps, loss=float("nan"))
        pretrained = bit_demo.pretrain(data, args.pretrain_steps, args.seed,
                                       on_step=lambda step, loss: progress.update(bar, completed=step, loss=loss))
        paths = {"pretrained": bit_demo.save_weights(pretrained.params, workdir, "bit-pretrained", tf="tf" in names),
                 "scratch": bit_demo.save_weights(bit_demo.scratch_params(args.seed), workdir, "bit-scratch",
                                                  tf="tf" in names)}
        batches = bit_demo.make_batches(len(data.shots_t), args.steps, args.seed)
        jobs = list(names)
        if names[0] == "numpy":  # the control: NumPy again from weights one rounding error away
            jobs.append(demos.CONTROL)
            nudged = {"pretrained": bit_demo.nudged_weights(paths["pretrained"], workdir, "bit-pretrained-nudged"),
                      "scratch": bit_demo.nudged_weights(paths["scratch"], workdir, "bit-scratch-nudged")}
        for regime in bit_demo.REGIMES:
            for label in jobs:
                bar = progress.add_task(f"{regime}: {label}", total=args.steps, loss=float("nan"))
                start = (nudged if label == demos.CONTROL else paths)[bit_demo.START[regime]]
                runs.append(bit_demo.TRAINERS["numpy" if label == demos.CONTROL else label](
                    start, regime, data, batches, args.lr,
                    on_step=lambda step, loss, bar=bar: progress.update(bar, completed=step, loss=loss)))
                runs[-1].backend = label
    where = f"in {workdir}" if args.workdir else "in a temporary directory, removed at the end (--workdir keeps them)"
    console.print(f"upstream (digits 0-4): {pretrained.accuracy:.1%} held-out accuracy after {args.pretrain_steps} "
                  f"steps ({pretrained.seconds:.1f} s); weights {where}: bit-pretrained.npz (BiT checkpoint "
                  "names)" + (", bit-pretrained-hub/ (TF Hub SavedModel)" if "tf" in names else ""))
    table = _results_table(console, f"Transfer to digits 5-9 with {args.shots} labels per class: held-out accuracy "
                           f"({len(data.held_t)} images)", ("regime", "framework", "held-out\naccuracy", "final\nloss",
                                                            f"max |loss -\n{names[0]}|", "backbone\nunchanged",
                                                            "seconds"), left=("regime", "framework"))
    for run in runs:
        reference = next(r for r in runs if r.regime == run.regime)
        gap = max(abs(a - b) for a, b in zip(run.losses, reference.losses))
        table.add_row(run.regime, run.backend, f"{run.accuracy:.1%}", f"{run.losses[-1]:.4f}", f"{gap:.1e}",
                      "yes" if run.backbone_unchanged else "no", f"{run.seconds:.1f}")
    console.print(table)
    for run in runs[:len(names)]:
        console.print(f"{run.backend}: {run.route}")
    console.print("Every run starts from the same files and takes the same batches; the three updates are one rule "
                  "(momentum_step: v <- 0.9 v - lr g, p <- p + v), so the losses differ by float32 rounding, which "
                  "training amplifies step by step. Seconds include loading the weights and the evaluation.")
    if jobs[-1] == demos.CONTROL:
        apart = []
        for regime in bit_demo.REGIMES:
            control = next(r for r in runs if r.regime == regime and r.backend == demos.CONTROL)
            reference = next(r for r in runs if r.regime == regime)
            step = _first_apart(control.losses, reference.losses)
            apart.append(f"{regime}: {f'step {step}' if step else 'never'}")
        console.print(f"{demos.CONTROL!r} (the NumPy run from weights one float32 rounding error away, no second "
                      f"framework) leaves the NumPy run by more than {DRIFT:g} at: {', '.join(apart)}. Where it "
                      "parts early, that regime's result is as chaotic as the frameworks' spread shows: one ulp "
                      "changes it.")
    title = (f"BiT transfer, digits 0-4 -> 5-9, {args.shots} labels per class, {args.steps} steps, lr {args.lr} "
             f"(upstream held-out accuracy {pretrained.accuracy:.1%})")
    bit_demo.plot(runs, args.out, title)
    console.print(f"wrote {args.out}")
    return 0


def _bench_table(console: Console, title: str, reference: str, run) -> list:
    """`run(on_start)` checks and times every contender (bench.run_*), the progress line
    naming the one running; then one table of the results."""
    progress = Progress(TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=Console(stderr=True, emoji=False), transient=True)
    with progress:
        bar = progress.add_task("starting")
        results = run(lambda what: progress.update(bar, description=what))
    table = _results_table(console, title, ("implementation", "median ms", "GFLOP/s", "x torch built-in",
                                            f"max err vs {reference}"), left=("implementation",))
    for r in results:
        table.add_row(escape(r.name), f"{r.median_ms:.1f}", f"{r.gflops:.0f}", f"{r.ratio:.2f}", f"{r.max_err:.1e}")
    console.print(table)
    return results


def cmd_bench_conv(args, console: Console) -> int:
    from shared import bench
    if args.kernel > args.size + 2 * args.padding:
        args.parser.error(f"argument --kernel: a {args.kernel}x{args.kernel} kernel does not fit a {args.size}x"
                          f"{args.size} image with padding {args.padding}")
    shape = bench.Shape(args.batch, args.channels, args.size, args.filters, args.kernel, args.padding)
    if args.device == "gpu" and not (backends.installed("torch") and backends.get("torch").devices()[-1] == "gpu"):
        console.print("[yellow]no GPU: torch.cuda.is_available() is False; nothing to run on 'gpu'[/]")
        return 0
    if args.device == "gpu":  # TF32 off, as in the parity run: cuDNN would otherwise round to 10 bits
        console.print(f"GPU set-up: {backends.get('torch').gpu_setup()}")
    threads = bench.threads()
    console.print(f"conv2d forward + backward (y, dx, dw, db), {shape.describe()}, {args.device}; "
                  f"median of {args.repeat} runs each, after a check against F.conv2d and a warm-up")
    console.print("threads: " + ", ".join(f"{k} {v}" for k, v in threads.items()))
    results = _bench_table(console, "conv2d forward + backward", "F.conv2d",
                           lambda on_start: bench.run_conv(shape, args.repeat, args.device, on_start=on_start))
    console.print(f"{bench.flops(shape) / 1e9:.2f} GFLOP per forward + backward; max err relative to the largest "
                  "|value| of each of y, dx, dw, db")
    peak = floor = None
    if args.device == "cpu":
        peak = bench.numpy_peak_extra_bytes(shape)
        console.print(f"NumPy peak extra memory (tracemalloc): {peak / 2**20:.1f} MiB; the column matrix "
                      f"N*OH*OW x C*kh*kw alone is {bench.column_matrix_bytes(shape) / 2**20:.1f} MiB")
        numpy_ratio = next((r.ratio for r in results if r.name == bench.NUMPY), float("nan"))
        console.print(f"{bench.NUMPY} vs torch's built-in: {numpy_ratio:.2f}x (target <= 2.0x)")
        floor = bench.gemm_floor_ms(shape, args.repeat)
        builtin = next((r.median_ms for r in results if r.name == bench.BUILTIN), float("nan"))
        console.print(f"the three GEMMs alone (NumPy's BLAS, no im2col): {floor:.1f} ms = "
                      f"{bench.flops(shape) / floor / 1e6:.0f} GFLOP/s, {floor / builtin:.2f}x torch's built-in: "
                      "no im2col convolution can be faster on this machine")
    separable, full = bench.separable_flops(shape)
    console.print(f"depthwise-separable block (3x3 depthwise + 1x1 pointwise) at this shape: {separable / 1e6:.1f} "
                  f"MFLOP vs {full / 1e6:.1f} MFLOP for the full conv, ratio {separable / full:.3f} "
                  f"(= 1/O + 1/k^2 = {1 / shape.filters + 1 / shape.kernel ** 2:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(bench.to_json(shape, results, threads, peak, floor), indent=1) + "\n")
        console.print(f"wrote {args.json}")
    return 0


def cmd_bench_rnn(args, console: Console) -> int:
    from shared import bench
    shape = bench.RnnShape(args.batch, args.steps, args.features, args.hidden)
    threads = bench.threads()
    console.print(f"LSTM forward + BPTT (hs, c_T, dx, dh0, dc0, dWx, dWh, db), {shape.describe()}, cpu; "
                  f"cotangent: {bench.RNN_COTANGENT}; median of {args.repeat} runs each, after a check "
                  "against nn.LSTM and a warm-up")
    console.print("threads: " + ", ".join(f"{k} {v}" for k, v in threads.items()))
    results = _bench_table(console, "LSTM forward + BPTT", "nn.LSTM",
                           lambda on_start: bench.run_lstm(shape, args.repeat, on_start=on_start))
    console.print(f"{bench.lstm_flops(shape) / 1e9:.2f} GFLOP per forward + backward (matrix products only; "
                  "numpy_impl's lstm_backward runs the forward again, which is not counted); max err relative "
                  "to the largest |value| of each of the eight arrays (TimeLSTM: seven, it keeps no dc0)")
    ratios = {r.name: r.ratio for r in results}
    console.print(f"NumPy vs torch nn.LSTM: {ratios.get(bench.RNN_NUMPY, float('nan')):.2f}x (target <= 2.0x) "
                  "for lstm + lstm_backward, two forwards (lstm_backward computes its own); "
                  f"{ratios.get(bench.RNN_NUMPY_LAYER, float('nan')):.2f}x for the book's TimeLSTM, one forward")
    if args.json:
        Path(args.json).write_text(json.dumps(bench.lstm_to_json(shape, results, threads), indent=1) + "\n")
        console.print(f"wrote {args.json}")
    return 0


def cmd_list(args, console: Console) -> int:
    # the names one types never wrap; the Japanese term wraps, never cut; a narrow console
    # drops the module (`rosetta show` names it)
    wide = console.width >= report.WIDE
    table = Table(title="Concepts", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("concept", "module", "日本語", "cases", "oracles", "porting") if wide else (
            "concept", "日本語", "cases", "oracles", "porting"):
        table.add_column(column, no_wrap=column != "日本語", overflow="fold")
    for c in all_concepts():
        table.add_row(c.name, *([c.module] if wide else []), c.japanese, str(len(c.cases)), str(len(c.oracles)),
                      str(len(c.porting)))
    console.print(table)
    return 0


def _demo_parser(demo, name: str, help: str, run, *, steps: int, unit: str, lr: float, seeded: str,
                 optimizers, optimizer: str = "adam_step", dtypes=DTYPES):
    """`rosetta demo <name>` with the options every demo takes; the caller adds its own."""
    p = demo.add_parser(name, help=help)
    p.add_argument("--steps", type=integer(1), default=steps, help=f"training steps of {unit} (default {steps})")
    p.add_argument("--optimizer", choices=optimizers, default=optimizer,
                   help=f"the optimizer step (default {optimizer})")
    p.add_argument("--lr", type=positive_number(), default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--dtype", choices=dtypes, default="float32")
    p.add_argument("--backend", nargs="+", choices=backends.BACKEND_NAMES, help="only these frameworks")
    p.add_argument("--seed", type=integer(0), default=0, help=f"seed of {seeded}")
    p.add_argument("--out", type=image_file(), default=f"{name}-demo.png",
                   help=f"the image to write (default {name}-demo.png)")
    p.set_defaults(run=run, parser=p)
    return p


def _group(sub, name: str, help: str):
    """A command with subcommands (`demo`, `bench`); alone, it prints its help."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(run=lambda args, console: _print_help(p), parser=p)
    return p.add_subparsers(dest=name)


def cmd_fuzz(args, console: Console) -> int:
    from shared import fuzz
    concepts = _concepts(args.concept)
    found = fuzz.variants(concepts)
    chosen = fuzz.draw(found, args.examples, args.seed)
    names = [name for name in backends.BACKEND_NAMES if backends.installed(name)]
    console.print(f"{len(chosen):,} of {len(found):,} variants (every class of every case of {len(concepts)} "
                  f"concepts, float64 and float32), seed {args.seed}, in {', '.join(names)}")
    results = []
    progress = Progress(TextColumn("{task.description:<52}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=Console(stderr=True, emoji=False), transient=True)
    with progress:
        bar = progress.add_task("fuzz", total=len(chosen))
        for variant in chosen:
            progress.update(bar, description=variant.id[:52])
            results.append(fuzz.run_variant(variant, names))
            progress.advance(bar)
    rows = fuzz.tally(results, names)
    per_backend = fuzz.CHECKS[:3]
    table = _results_table(console, "Outcomes per class: rejected by the validator or accepted alike in every "
                           "backend, else a problem (per backend: " + "/".join(names) + ")",
                           ("class", "variants", "rejected", "accepted", "declared", *per_backend, "disagreement",
                            "policy"), left=("class",), whole=("class",))
    for kind, row in rows.items():
        table.add_row(kind, *(str(row[c]) for c in ("variants", "rejected", "accepted", "declared")),
                      *("/".join(str(row[c][n]) for n in names) for c in per_backend),
                      str(row["disagreement"]), str(row["policy"]))
    console.print(table)
    declared = sorted({(r.variant.kind, r.variant.concept.name) for r in results if r.declared})
    for kind, concept in declared:
        reasons = sorted(set(fuzz.DECLARED[kind, concept].values()))
        console.print(Padding(f"[dim]declared: {kind} {concept}: {escape('; '.join(reasons))}[/]", (0, 0, 0, 2)))
    problems = [(r, p) for r in results for p in r.problems]
    for result, (check, backend, detail) in problems[:args.show]:
        console.print(Padding(f"[red]{check}[/] {backend} {escape(result.variant.id)}: {escape(detail)}",
                              (0, 0, 0, 2)))
    if len(problems) > args.show:
        console.print(f"  ... and {len(problems) - args.show} more (--show N, or --json PATH for all)")
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "variants": len(found),
                                               "summary": rows, "results": [fuzz.to_json(r) for r in results]},
                                              indent=1) + "\n")
        console.print(f"wrote {len(results)} results to {args.json}")
    verdict = "[bold green]no problem[/]" if not problems else f"[bold red]{len(problems)} problems[/]"
    console.print(f"{len(results)} variants, {verdict}")
    return 0 if not problems else 1


def _print_help(parser) -> int:
    parser.print_help()
    return 0


def build_parser() -> argparse.ArgumentParser:
    from shared.concepts import cnn_train_step, gan_train_step, mlp_train_step, seq2seq_train_step
    from shared.concepts import metric_train_step

    parser = arguments.Parser(prog="rosetta", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rosetta (dl-rosetta) {arguments.version()}")
    parser.set_defaults(run=lambda args, console: _print_help(parser), parser=parser)
    sub = parser.add_subparsers(dest="command", metavar="{parity,porting,guide,fuzz,show,list,demo,bench}")
    p = sub.add_parser("parity", help="compare NumPy, PyTorch and TensorFlow on every case")
    p.add_argument("--concept", nargs="+", metavar="NAME", type=arguments.concept,
                   help="only these concepts (default: all)")
    p.add_argument("--device", choices=("cpu", "gpu", "all"), default="all",
                   help="cpu, gpu, or all devices the frameworks see (default)")
    p.add_argument("--dtype", choices=DTYPES, help="one dtype (default: float64 and float32)")
    p.add_argument("--backend", nargs="+", choices=backends.BACKEND_NAMES, help="only these backends")
    p.add_argument("--json", metavar="PATH", type=output_file(), help="write {meta, records} as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="also list every comparison")
    p.set_defaults(run=cmd_parity)
    p = sub.add_parser("porting", help="measure the framework differences the specs document")
    p.add_argument("--concept", nargs="+", metavar="NAME", type=arguments.concept)
    p.add_argument("--json", metavar="PATH", type=output_file())
    p.set_defaults(run=cmd_porting)
    p = sub.add_parser("guide", help="run every porting case and write the porting guide (docs/porting-guide.md)")
    p.add_argument("--out", metavar="PATH", type=output_file(),
                   help="where to write it (default docs/porting-guide.md)")
    p.set_defaults(run=cmd_guide)
    p = sub.add_parser("show", help="a concept's math and its three implementations side by side")
    p.add_argument("name", metavar="NAME", type=arguments.concept, help="a concept, e.g. softmax (rosetta list)")
    p.set_defaults(run=cmd_show)
    p = sub.add_parser("fuzz", help="bad and extreme inputs generated from every spec: one outcome in all backends")
    p.add_argument("--examples", type=integer(1), help="how many variants, spread over every class of every "
                   "concept (default: all, ~40,000)")
    p.add_argument("--seed", type=integer(0), default=0, help="seed of the draw (default 0)")
    p.add_argument("--concept", nargs="+", metavar="NAME", type=arguments.concept, help="only these concepts")
    p.add_argument("--show", type=integer(0), default=20, help="problems to print (default 20)")
    p.add_argument("--json", metavar="PATH", type=output_file(), help="write every variant's outcomes as JSON")
    p.set_defaults(run=cmd_fuzz)
    p = sub.add_parser("list", help="the concepts and how many cases, oracles and porting cases each has")
    p.set_defaults(run=cmd_list)
    demo = _group(sub, "demo", "train a model in the three frameworks side by side")
    _demo_parser(demo, "mlp", "the book's multi-layer net on the digits; one PNG of the curves", cmd_demo_mlp,
                 steps=500, unit="100 images", lr=0.005, seeded="the initial weights, batches and masks",
                 optimizers=mlp_train_step.OPTIMIZERS)
    _demo_parser(demo, "cnn", "the book's SimpleConvNet on the digits; one PNG of the curves and filters",
                 cmd_demo_cnn, steps=300, unit="100 images", lr=0.005, seeded="the initial weights and batches",
                 optimizers=cnn_train_step.OPTIMIZERS)
    p = _demo_parser(demo, "seq2seq", "the book's seq2seq on generated sums (\"57+8\" -> \"65\"); teacher-forced "
                     "vs free-running accuracy, decoded examples, one PNG", cmd_demo_seq2seq,
                     steps=1000, unit="128 questions", lr=0.01, seeded="the data, the initial weights and the batches",
                     optimizers=seq2seq_train_step.OPTIMIZERS)
    p.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="the recurrent layer (default lstm)")
    p.add_argument("--digits", type=integer(1, 3), default=2,
                   help="digits per number, 1 to 3: the questions hold 7 characters (default 2: \"57+8\")")
    p.add_argument("--examples", type=integer(0), default=8, help="decoded test questions to print (default 8)")
    p = _demo_parser(demo, "metric", "an embedding net on the digits with a contrastive or triplet loss; "
                     "recall@1 per framework, one PNG of the 2-D embeddings", cmd_demo_metric,
                     steps=1000, unit="64 digits", lr=0.005, seeded="the initial weights and the batches",
                     optimizers=metric_train_step.OPTIMIZERS)
    p.add_argument("--loss", choices=METRIC_LOSSES, default="semi_hard",
                   help="contrastive pairs or in-batch triplet mining (default semi_hard, as FaceNet)")
    p.add_argument("--margin", type=positive_number(), default=1.0, help="the loss's margin (default 1.0)")
    p = _demo_parser(demo, "gan", "DCGAN on the digits: D and G updated in turn; one PNG of generated digits per "
                     "framework, one of the D and G losses", cmd_demo_gan, steps=800, unit="64 digits", lr=2e-3,
                     seeded="the initial weights, the batches and the noise",
                     optimizers=gan_train_step.OPTIMIZERS)  # DCGAN's Adam, beta1 = 0.5
    p.add_argument("--g-loss", choices=("non_saturating", "minimax"), default="non_saturating",
                   help="the generator's loss: -log D(G(z)) (default, as DCGAN) or log(1 - D(G(z))) (the minimax game)")
    # the BiT-HyperRule's SGD with momentum, in float32: the TF Hub SavedModel takes float32 images
    p = _demo_parser(demo, "bit", "BiT transfer learning: pre-train on digits 0-4, then frozen + head, fine-tune and "
                     "scratch on a few labelled 5-9s, via a BiT .npz and a TF Hub SavedModel; one PNG", cmd_demo_bit,
                     steps=60, unit="up to 50 labelled digits", lr=0.03,
                     seeded="the initial weights, the upstream batches, the shots and the downstream batches",
                     optimizers=("momentum_step",), optimizer="momentum_step", dtypes=("float32",))
    p.add_argument("--shots", type=integer(1), default=10, help="labelled images per digit 5-9 (default 10)")
    p.add_argument("--pretrain-steps", type=integer(1), default=800,
                   help="upstream steps of 64 digits 0-4 (default 800)")
    p.add_argument("--workdir", help="where to write the .npz and the SavedModels (default: a temporary "
                   "directory, removed at the end)")
    bench = _group(sub, "bench", "time implementations side by side (speed lives here, not in tests)")
    p = bench.add_parser("conv", help="conv2d forward + backward: NumPy, torch, TF and the built-ins")
    p.add_argument("--repeat", type=integer(1), default=20, help="timed runs per implementation (default 20)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="gpu: torch_impl's im2col conv vs cuDNN (needs CUDA)")
    for name, default in (("batch", 8), ("channels", 64), ("size", 32), ("filters", 64), ("kernel", 3),
                          ("padding", 1)):
        p.add_argument(f"--{name}", type=integer(0 if name == "padding" else 1), default=default,
                       help=f"default {default}")
    p.add_argument("--json", metavar="PATH", type=output_file(), help="write the results as JSON")
    p.set_defaults(run=cmd_bench_conv, parser=p)
    p = bench.add_parser("rnn", help="LSTM forward + BPTT on CPU: NumPy, torch, TF loops and the built-ins")
    p.add_argument("--repeat", type=integer(1), default=20, help="timed runs per implementation (default 20)")
    for name, default, what in (("batch", 32, "N"), ("steps", 32, "T"), ("features", 128, "D"),
                                ("hidden", 128, "H")):
        p.add_argument(f"--{name}", type=integer(1), default=default, help=f"{what}, default {default}")
    p.add_argument("--json", metavar="PATH", type=output_file(), help="write the results as JSON")
    p.set_defaults(run=cmd_bench_rnn)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)  # a bad option exits here with status 2, before any work
    # emoji off: check names like "numeric:x:" would otherwise turn into emoji codes
    # the terminal's width, or COLUMNS; piped without COLUMNS (a CI log), 120 rather than rich's 80
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
    console = Console(width=width, emoji=False)
    return args.run(args, console)


if __name__ == "__main__":
    sys.exit(main())
