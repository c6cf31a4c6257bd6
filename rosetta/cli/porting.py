"""`rosetta porting`: measure the framework differences the specs document."""
from __future__ import annotations

from rich.console import Console

from rosetta import report
from rosetta.cli import arguments
from rosetta.cli.common import concepts
from shared import backends, porting


def add_parser(sub) -> None:
    p = sub.add_parser("porting", help="measure the framework differences the specs document")
    p.add_argument("--concept", nargs="+", metavar="NAME", type=arguments.concept)
    p.add_argument("--json", metavar="PATH", type=arguments.output_file())
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    results, not_run = [], []
    for concept in concepts(args.concept):
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
