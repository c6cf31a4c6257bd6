"""`rosetta guide`: run every porting case and write docs/porting-guide.md (and, by default, the
notebooks' index and the spec part of docs/families/)."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rosetta import guide, notebook, reference
from rosetta.cli import arguments
from rosetta.report import progress
from shared.concepts import all_concepts


def add_parser(sub) -> None:
    p = sub.add_parser("guide", help="run every porting case and write the porting guide (docs/porting-guide.md)")
    p.add_argument("--out", metavar="PATH", type=arguments.output_file(),
                   help="where to write it (default docs/porting-guide.md)")
    p.set_defaults(run=run)


def run(args, console: Console) -> int:
    total = sum(len(c.porting) for c in all_concepts())
    with progress(to_stdout=console) as bars:
        bar = bars.add_task("porting cases", total=total)
        results = guide.run_cases(lambda concept, case: bars.update(bar, advance=1, description=f"{concept}: {case}"))
    try:
        text = guide.build(results)
    except ValueError as error:
        console.print(f"[red]rosetta guide: {escape(str(error))}[/]")
        return 2
    out = Path(args.out) if args.out else guide.DEFAULT_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if not args.out and notebook.write_index():  # the default run keeps the notebooks' index in step too
        console.print(f"updated the index of {notebook.NOTEBOOKS / 'README.md'}")
    for page in reference.write_pages() if not args.out else ():  # and the spec part of docs/families/
        console.print(f"updated {page.relative_to(guide.ROOT)}")
    shown = sum(r.shown for r in results.values())
    console.print(f"wrote {out}: {len(results)} documented differences, {shown} of them shown by their case "
                  "(naive port outside the tolerance, fixed port inside)")
    return 0 if shown == len(results) else 1
