"""`rosetta show NAME [--framework F] [--layer]`: a concept's math and Japanese term, its code in
NumPy, PyTorch and TensorFlow, and its cases and oracles. Read from the files: no framework is
imported. At 80 columns the three versions follow one another, each line whole; side by side
only where the terminal is wide enough for three columns of code."""
from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table

from rosetta import source
from rosetta.cli import arguments
from shared import backends
from shared.concepts import get
from shared.concepts._families import family

SIDE_BY_SIDE = 150  # columns from which three columns of code (~48 each) read without wrapping every line


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="a concept's math, its code in NumPy, PyTorch and TensorFlow, its cases and "
                       "oracles")
    p.add_argument("name", metavar="NAME", type=arguments.concept, help="a concept, e.g. softmax (rosetta list)")
    p.add_argument("--framework", choices=backends.BACKEND_NAMES, help="only this framework's code (default: all)")
    p.add_argument("--layer", action="store_true",
                   help="the book-style NumPy layer class (forward / backward), where the concept has one")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    concept = get(args.name)
    console.print(_header(concept))
    if args.layer:
        _print_layer(console, concept)
    else:
        _print_code(console, concept, [args.framework] if args.framework else list(backends.BACKEND_NAMES))
    console.print(_facts(concept))
    return 0


def _header(concept) -> Panel:
    where = family(concept.family)
    text = (f"[bold]{concept.name}[/] — {concept.japanese}\n\n{escape(concept.math)}\n\n"
            f"[dim]signature[/] {escape(concept.signature)}\n[dim]gradients w.r.t.[/] "
            f"{', '.join(concept.differentiable) or 'none'}\n[dim]family[/] {where.title} (lesson {concept.lesson}); "
            f"{where.book}")
    return Panel(text, title=f"rosetta show {concept.name}", expand=True)


def _versions(concept, names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(title, code, helpers not shown) per framework: the function itself (and NumPy's
    hand-written backward), not the module's private helpers it calls."""
    found = []
    for backend in names:
        package = backends.PACKAGES[backend]
        wanted = [concept.fn_name] + ([f"{concept.fn_name}_backward"] if backend == "numpy" else [])
        code = "\n\n".join(source.functions(package, concept.module, wanted, helpers=False))
        found.append((f"{package}.{concept.module}", code or f"# {concept.fn_name} not found",
                      source.helpers_of(package, concept.module, wanted)))
    return found


def _syntax(code: str, width: int) -> Syntax:
    return Syntax(source.fit(code, width), "python", theme="ansi_dark", word_wrap=False,
                  background_color="default")


def _print_code(console: Console, concept, names: list[str]) -> None:
    versions = _versions(concept, names)
    if len(versions) > 1 and console.width >= SIDE_BY_SIDE:
        columns = Table(expand=True, box=None, padding=(0, 1))
        width = (console.width - 2 * len(versions)) // len(versions)
        for title, _, _ in versions:
            columns.add_column(title, ratio=1, no_wrap=True)
        columns.add_row(*(_syntax(code, width) for _, code, _ in versions))
        console.print(columns)
    else:
        for title, code, _ in versions:
            console.print(Rule(title, align="left"))
            console.print(_syntax(code, console.width))
    for title, _, helpers in versions:
        if helpers:
            console.print(f"[dim]{title} also uses {', '.join(helpers)} (not shown)[/]")


def _print_layer(console: Console, concept) -> None:
    if not concept.book_layer:
        console.print(f"[yellow]{concept.name} has no book-style layer class: the function below is the layer[/]")
        return _print_code(console, concept, ["numpy"])
    title = f"numpy_impl.{concept.module}.{concept.book_layer}"
    console.print(Rule(f"{title}: the book's layer, forward and backward", align="left"))
    classes = source.with_bases("numpy_impl", concept.module, concept.book_layer)
    code = "\n\n".join(source.functions("numpy_impl", concept.module, classes, helpers=False))
    console.print(_syntax(code, console.width))
    helpers = source.helpers_of("numpy_impl", concept.module, classes)
    if helpers:
        console.print(f"[dim]numpy_impl.{concept.module} also uses {', '.join(helpers)} (not shown)[/]")


def _facts(concept) -> Panel:
    cases = ", ".join(case.name for case in concept.cases)
    lines = [f"[bold]cases[/] {escape(cases)}"]
    if concept.oracles:
        lines.append("[bold]built-in oracles[/] " + escape("; ".join(f"{o.backend}: {o.api}" for o in concept.oracles)))
    if concept.porting:
        lines.append("[bold]porting cases[/] " + escape(", ".join(case.name for case in concept.porting))
                     + " (rosetta porting --concept " + concept.name + ")")
    if concept.book_layer:
        lines.append(f"[bold]book-style layer[/] numpy_impl.{concept.module}.{concept.book_layer} "
                     f"(rosetta show {concept.name} --layer)")
    return Panel(Group(*lines), expand=True)
