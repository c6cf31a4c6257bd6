"""`rosetta list`: the concepts in learning order (the book's chapters, then beyond)."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from rosetta import report
from shared.concepts import by_family


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="the concepts in learning order, with the book's chapters and the E資格 topics of each "
                       "family and how many cases, oracles and porting cases each concept has")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    # the names one types never wrap; the Japanese term wraps, never cut; a narrow console
    # drops the module (`rosetta show` names it)
    wide = console.width >= report.WIDE
    table = Table(title="Concepts, in learning order", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("concept", "module", "日本語", "cases", "oracles", "porting") if wide else (
            "concept", "日本語", "cases", "oracles", "porting"):
        table.add_column(column, no_wrap=column != "日本語", overflow="fold")
    for number, (family, concepts) in enumerate(by_family(), 1):
        # the family's title, where the book and the E資格 syllabus teach it, in the column that
        # wraps: a long one never widens the names' column
        table.add_row(f"[bold]{number}.[/]", *([""] if wide else []), f"[bold]{family.title}[/]", "", "", "")
        table.add_row("", *([""] if wide else []), f"[dim]{family.book}; E資格: {family.syllabus}[/]", "", "", "")
        for c in concepts:
            table.add_row(c.name, *([c.module] if wide else []), c.japanese, str(len(c.cases)),
                          str(len(c.oracles)), str(len(c.porting)))
    console.print(table)
    return 0
