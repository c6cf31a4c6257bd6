"""`rosetta fuzz`: bad and extreme inputs generated from every spec, one outcome in all backends."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding

from rosetta import fuzz
from rosetta.cli import arguments
from rosetta.cli.common import concepts as chosen_concepts
from rosetta.report import progress, results_table
from shared import backends


def add_parser(sub) -> None:
    p = sub.add_parser("fuzz", help="bad and extreme inputs generated from every spec: one outcome in all backends")
    p.add_argument("--examples", type=arguments.integer(1), help="how many variants, spread over every class of "
                   "every concept (default: all, ~50,000)")
    p.add_argument("--seed", type=arguments.integer(0), default=0, help="seed of the draw (default 0)")
    p.add_argument("--concept", nargs="+", metavar="NAME", type=arguments.concept, help="only these concepts")
    p.add_argument("--show", type=arguments.integer(0), default=20, help="problems to print (default 20)")
    p.add_argument("--json", metavar="PATH", type=arguments.output_file(),
                   help="write every variant's outcomes as JSON")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    concepts = chosen_concepts(args.concept)
    found = fuzz.variants(concepts)
    chosen = fuzz.draw(found, args.examples, args.seed)
    names = [name for name in backends.BACKEND_NAMES if backends.installed(name)]
    console.print(f"{len(chosen):,} of {len(found):,} variants (every class of every case of {len(concepts)} "
                  f"concepts, float64 and float32), seed {args.seed}, in {', '.join(names)}")
    results = []
    with progress() as bars:
        bar = bars.add_task("fuzz", total=len(chosen))
        for variant in chosen:
            bars.update(bar, description=variant.id[:52])
            results.append(fuzz.run_variant(variant, names))
            bars.advance(bar)
    _print_outcomes(console, results, names)
    problems = [(r, p) for r in results for p in r.problems]
    for result, (check, backend, detail) in problems[:args.show]:
        console.print(Padding(f"[red]{check}[/] {backend} {escape(result.variant.id)}: {escape(detail)}",
                              (0, 0, 0, 2)))
    if len(problems) > args.show:
        console.print(f"  ... and {len(problems) - args.show} more (--show N, or --json PATH for all)")
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "variants": len(found),
                                               "summary": fuzz.tally(results, names),
                                               "results": [fuzz.to_json(r) for r in results]}, indent=1) + "\n")
        console.print(f"wrote {len(results)} results to {args.json}")
    verdict = "[bold green]no problem[/]" if not problems else f"[bold red]{len(problems)} problems[/]"
    console.print(f"{len(results)} variants, {verdict}")
    return 0 if not problems else 1


def _print_outcomes(console: Console, results, names) -> None:
    """One row per class of variant, then what was declared and why."""
    per_backend = fuzz.CHECKS[:3]
    table = results_table(console, "Outcomes per class: rejected by the validator or accepted alike in every "
                          "backend, else a problem (per backend: " + "/".join(names) + ")",
                          ("class", "variants", "rejected", "accepted", "declared", *per_backend, "disagreement",
                           "policy"), left=("class",), whole=("class",))
    for kind, row in fuzz.tally(results, names).items():
        table.add_row(kind, *(str(row[c]) for c in ("variants", "rejected", "accepted", "declared")),
                      *("/".join(str(row[c][n]) for n in names) for c in per_backend),
                      str(row["disagreement"]), str(row["policy"]))
    console.print(table)
    for kind, concept in sorted({(r.variant.kind, r.variant.concept.name) for r in results if r.declared}):
        reasons = sorted(set(fuzz.DECLARED[kind, concept].values()))
        console.print(Padding(f"[dim]declared: {kind} {concept}: {escape('; '.join(reasons))}[/]", (0, 0, 0, 2)))
