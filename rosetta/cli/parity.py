"""`rosetta parity`: every case of every concept in every backend, dtype and device."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel

from rosetta import report
from rosetta.cli import arguments
from rosetta.cli.common import concepts as chosen_concepts
from rosetta.report import progress
from shared import backends, parity


def add_parser(sub) -> None:
    p = sub.add_parser("parity", help="compare NumPy, PyTorch and TensorFlow on every case")
    p.add_argument("--concept", nargs="+", metavar="NAME", type=arguments.concept,
                   help="only these concepts (default: all)")
    p.add_argument("--device", choices=("cpu", "gpu", "all"), default="all",
                   help="cpu, gpu, or all devices the frameworks see (default)")
    p.add_argument("--dtype", choices=parity.DTYPES, help="one dtype (default: float64 and float32)")
    p.add_argument("--backend", nargs="+", choices=backends.BACKEND_NAMES, help="only these backends")
    p.add_argument("--json", metavar="PATH", type=arguments.output_file(), help="write {meta, records} as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="also list every comparison")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    concepts = chosen_concepts(args.concept)
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    wanted = {"cpu": ("cpu",), "gpu": ("gpu",), "all": ("cpu", "gpu")}[args.device]
    devices = {b.name: [d for d in b.devices() if d in wanted] for b in active}
    meta = report.environment(active, missing, _gpu_setup(active, devices))
    _print_header(console, meta)
    tasks = parity.plan(concepts, [b.name for b in active], [args.dtype] if args.dtype else parity.DTYPES, devices)
    if not tasks:
        console.print("[yellow]nothing to run[/] for the devices and backends asked for")
        return 0
    records = []
    with progress() as bar_set:
        bar = bar_set.add_task("parity", total=len(tasks))
        for task in tasks:
            bar_set.update(bar, description=task.id[:52])
            records.extend(parity.run_task(task))
            bar_set.advance(bar)
    if args.verbose:
        console.print(report.records_table(records, console.width))
    console.print(report.parity_table(records, console.width))
    _print_summary(console, records, concepts)
    if args.json:
        report.write_json(args.json, meta, records)
        console.print(f"wrote {len(records)} records to {args.json}")
    return 0 if all(r.passed for r in records) else 1


def _gpu_setup(active, devices) -> dict:
    """TF32 off and determinism on for every backend that runs on a GPU: what it set."""
    gpu_state = {"tf32": {}, "determinism": {}}
    for backend in active:
        if "gpu" in devices[backend.name]:
            for key, state in backend.gpu_setup().items():
                gpu_state[key].update(state)
    return gpu_state


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
    for concept in concepts:
        for skip in concept.skips:
            console.print(f"[dim]declared skip: {concept.name} {skip.case} {skip.check}: {skip.reason}[/]")
    verdict = "[bold green]all passed[/]" if not failed else f"[bold red]{len(failed)} failed[/]"
    console.print(f"{len(records)} comparisons, {verdict}")
