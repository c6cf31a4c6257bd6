"""`rosetta check CONCEPT PATH`: grade a learner's implementation (rosetta/check.py)."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rosetta import check
from rosetta.cli import arguments
from shared import backends
from shared.concepts import get


STYLES = {"ok": "green", "fail": "red", "hint": "bold", "advice": "dim", "summary": "", "error": "red"}


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="grade your own implementation of a concept: every case of its spec, forward "
                       "and backward, with a hint for the first mistake")
    p.add_argument("concept", metavar="CONCEPT", type=arguments.concept, help="a concept, e.g. softmax (rosetta list)")
    p.add_argument("path", metavar="PATH", help="your Python file: it defines the concept's function under its name "
                   "(and, for numpy, <name>_backward) with the package's signature (rosetta show CONCEPT)")
    p.add_argument("--backend", choices=backends.BACKEND_NAMES, default="numpy",
                   help="the framework your file is written in (default numpy)")
    p.add_argument("--json", metavar="OUT", type=arguments.output_file(), help="write every check as JSON")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    concept = get(args.concept)
    if not backends.installed(args.backend):
        console.print(f"[red]rosetta check: {backends.FRAMEWORK_MODULES[args.backend]} is not installed[/]")
        return 2
    report = check.report(concept, args.path, args.backend)
    for kind, text in report.lines():
        console.print(f"[{STYLES[kind]}]{escape(text)}[/]" if STYLES[kind] else escape(text))
    if args.json and not report.error:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in report.results], indent=1) + "\n")
    return report.code
