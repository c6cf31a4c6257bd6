"""`rosetta`: run the parity suite, measure the porting cases, show a concept side by side."""
from __future__ import annotations

import importlib
import os
import sys

from rich.console import Console

# one module per command, each with add_parser(sub); in the order `rosetta --help` lists them
COMMANDS = ("parity", "porting", "guide", "fuzz", "show", "list", "check", "demo", "bench")


def build_parser():
    from rosetta.cli import arguments
    from rosetta.cli.common import print_help
    parser = arguments.Parser(prog="rosetta", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rosetta (dl-rosetta) {arguments.version()}")
    parser.set_defaults(run=lambda args, console: print_help(parser), parser=parser)
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS:
        importlib.import_module(f"rosetta.cli.{name}").add_parser(sub)
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
