"""`rosetta show NAME`: a concept's math and its three implementations side by side."""
from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from rosetta import source
from rosetta.cli import arguments
from shared.concepts import get


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="a concept's math and its three implementations side by side")
    p.add_argument("name", metavar="NAME", type=arguments.concept, help="a concept, e.g. softmax (rosetta list)")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    concept = get(args.name)
    header = (f"[bold]{concept.name}[/] — {concept.japanese}\n\n{escape(concept.math)}\n\n"
              f"[dim]signature[/] {escape(concept.signature)}\n[dim]gradients w.r.t.[/] "
              f"{', '.join(concept.differentiable) or 'none'}")
    console.print(Panel(header, title=f"rosetta show {concept.name}", expand=True))
    columns = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
    width = (console.width - 6) // 3
    code = []
    for where, text in source.concept_sources(concept).items():
        columns.add_column(where, ratio=1)
        code.append(Syntax(source.fit(text, width), "python", theme="ansi_dark", word_wrap=True,
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
