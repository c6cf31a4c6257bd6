"""What several commands share: the concepts asked for, a command with subcommands."""
from __future__ import annotations

from shared.concepts import all_concepts, get


def concepts(names):
    """The concepts named (checked by the parser), or all, in learning order."""
    return [get(name) for name in names] if names else all_concepts()


def print_help(parser) -> int:
    parser.print_help()
    return 0


def group(sub, name: str, help: str):
    """A command with subcommands (`demo`, `bench`); alone, it prints its help."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(run=lambda args, console: print_help(p), parser=p)
    return p.add_subparsers(dest=name)
