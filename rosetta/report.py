"""Tables, JSON, progress bars and the header that says what was run where."""
from __future__ import annotations

import json
import platform
import re
from collections import defaultdict
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.parity import Record


def environment(active: list, missing: dict[str, str], gpu_state: dict[str, dict]) -> dict:
    """The report's `meta`: versions, devices, TF32 state and what GPU parity ran."""
    versions = {"python": platform.python_version()}
    devices = []
    for backend in active:
        versions.update(backend.versions())
        for device, name in backend.device_names().items():
            devices.append({"backend": backend.name, "device": device, "name": name})
    has_gpu = any(d["device"] == "gpu" for d in devices)
    if has_gpu:
        gpus = sorted({f"{d['backend']} {d['name']}" for d in devices if d["device"] == "gpu"})
        gpu = f"GPU parity run on {', '.join(gpus)}: TF32 off, deterministic algorithms on"
    else:
        gpu = "GPU parity not run: no GPU"
    tf32 = gpu_state["tf32"] or "not applicable: no GPU"
    determinism = gpu_state["determinism"] or "not applicable: no GPU"
    return {"versions": versions, "devices": devices, "tf32": tf32, "determinism": determinism,
            "gpu": gpu, "missing_backends": missing}


def write_json(path: str | Path, meta: dict, records: list[Record]) -> None:
    payload = {"meta": meta, "records": [_finite(r.to_json()) for r in records]}
    Path(path).write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")


def write_porting_json(path: str | Path, results) -> None:
    Path(path).write_text(json.dumps([r.to_json() for r in results], indent=1, allow_nan=False) + "\n")


def _finite(record: dict) -> dict:
    # an infinite error (NaN in an output, a crash) is written as null: JSON has no inf
    for key in ("max_abs_err", "max_rel_err"):
        if record[key] is not None and record[key] == float("inf"):
            record[key] = None
    return record


def fmt(value: float | None) -> str:
    """'—' where nothing could be compared (a crash), 'inf' for an infinite difference."""
    if value is None:
        return "—"
    return "inf" if value == float("inf") else f"{value:.1e}"


# Below this console width the tables keep the columns one reads first and drop the
# details (abs and rel error, tolerances), so that no name one types is ever cut.
WIDE = 120


def _status(passed: bool) -> str:
    return "[green]ok[/]" if passed else "[bold red]FAIL[/]"


def parity_table(records: list[Record], width: int = WIDE) -> Table:
    """One row per concept x backend x device x dtype, with its worst comparison: how much
    of its tolerance it used, and in a wide console which check it was and its errors."""
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.concept, r.backend, r.device, r.dtype)].append(r)
    wide = width >= WIDE
    table = Table(title="Parity: the worst comparison of each row, against its tolerance",
                  title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    columns = ["concept", "backend", "device", "dtype", "passed", "used"]
    if wide:
        columns += ["worst check", "abs err", "rel err", "atol/rtol"]
    for column in columns + [""]:
        table.add_column(column, justify="right" if "err" in column or column == "used" else "left",
                         no_wrap=column != "worst check", overflow="fold")
    for (concept, backend, device, dtype), rows in groups.items():
        worst = max(rows, key=lambda r: r.ratio)
        passed = sum(r.passed for r in rows)
        cells = [concept, backend, device, dtype, f"{passed}/{len(rows)}", _used(worst.ratio)]
        if wide:
            cells += [f"{worst.case} {worst.check}", fmt(worst.max_abs_err), fmt(worst.max_rel_err),
                      f"{worst.atol:.0e}/{worst.rtol:.0e}"]
        table.add_row(*cells, _status(passed == len(rows)))
    return table


def _used(ratio: float) -> str:
    """How much of its tolerance a comparison used (<= 100% passes)."""
    return "inf" if ratio == float("inf") else f"{ratio:.0%}"


def records_table(records: list[Record], width: int = WIDE) -> Table:
    """Every comparison, one line each (in a narrow console without its errors' figures)."""
    wide = width >= WIDE
    table = Table(title="Every comparison", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    columns = ["test id", "check", "used"] + (["abs err", "rel err", "atol/rtol"] if wide else [])
    for column in columns + [""]:
        table.add_column(column, justify="right" if "err" in column or column == "used" else "left",
                         overflow="fold")
    for r in records:
        cells = [f"{r.backend}-{r.concept}-{r.case}-{r.dtype}-{r.device}", r.check, _used(r.ratio)]
        if wide:
            cells += [fmt(r.max_abs_err), fmt(r.max_rel_err), f"{r.atol:.0e}/{r.rtol:.0e}"]
        table.add_row(*cells, _status(r.passed))
    return table


def closest_by_kind(records: list[Record]) -> dict[tuple[str, str], Record]:
    """Per (dtype, check kind), the comparison closest to its tolerance (largest
    |err| / (atol + rtol |want|)). Max relative error alone would be dominated by
    references that are ~0, where only the absolute error means anything."""
    worst: dict[tuple[str, str], Record] = {}
    for r in records:
        key = (r.dtype, r.check.split(":")[0])
        if key not in worst or r.ratio > worst[key].ratio:
            worst[key] = r
    return worst


def porting_table(results, width: int = WIDE):
    """The naive and the fixed port of each case with their errors: a table in a wide
    console, in a narrow one a short paragraph per case (code wraps at spaces, names whole)."""
    if width < WIDE:
        return Group(*(_porting_paragraph(res) for res in results))
    table = Table(title="Porting cases: the naive port vs the fixed one, measured", title_justify="left",
                  show_lines=True)
    for column in ("concept / case", "naive port", "max abs err", "fixed port", "max abs err", ""):
        table.add_column(column, justify="right" if "err" in column else "left", overflow="fold",
                         no_wrap=column == "concept / case", max_width=40 if "port" in column else None)
    for res in results:
        table.add_row(f"{res.concept}\n{res.case.name}\n[dim]{res.case.check}, {res.case.dtype}[/]",
                      escape(f"{res.case.naive.backend}: {res.case.naive.code}"), fmt(res.naive.max_abs_err),
                      escape(f"{res.case.fixed.backend}: {res.case.fixed.code}"), fmt(res.fixed.max_abs_err),
                      _shown(res))
    return table


def _shown(res) -> str:
    return "[green]shown[/]" if res.shown else "[bold red]NOT SHOWN[/]"


def _porting_paragraph(res):
    head = f"[bold]{res.concept} {res.case.name}[/] ({res.case.check}, {res.case.dtype}): {_shown(res)}"
    lines = [Padding(f"{side} (max abs err {fmt(err.max_abs_err)}): {escape(f'{how.backend}: {how.code}')}",
                     (0, 0, 0, 2))
             for side, how, err in (("naive", res.case.naive, res.naive), ("fixed", res.case.fixed, res.fixed))]
    return Group(head, *lines)


def progress(width: int = 52, *fields, transient: bool = True, to_stdout: Console | None = None) -> Progress:
    """A progress bar on stderr (stdout stays the report), one line per task: its
    description, the bar, done/total, any `fields` columns, the time elapsed."""
    console = to_stdout or Console(stderr=True, emoji=False)
    return Progress(TextColumn(f"{{task.description:<{width}}}"), BarColumn(), MofNCompleteColumn(),
                    *(TextColumn(f) for f in fields), TimeElapsedColumn(), console=console, transient=transient)


class _ResultsTable(Table):
    """A table that leaves out the cells of the columns it `drops`."""

    drops: tuple[int, ...] = ()

    def add_row(self, *cells, **options):
        super().add_row(*(cell for i, cell in enumerate(cells) if i not in self.drops), **options)


def results_table(console: Console, title: str, columns, left=("framework",), whole=()) -> Table:
    """A table of results, one row per run. In a console narrower than WIDE the
    headers break at every space and hyphen, the frame thins and the seconds are left out,
    so that every figure stays whole at 80 columns; the `left` columns hold names."""
    narrow = console.width < WIDE
    table = _ResultsTable(title=title, title_justify="left",
                          **({"box": box.SIMPLE_HEAD, "pad_edge": False} if narrow else {}))
    if narrow:
        table.drops = tuple(i for i, column in enumerate(columns) if column == "seconds")
    for i, column in enumerate(columns):
        if i not in table.drops:
            header = re.sub(r"(?<=-)\s*|\s+", "\n", column) if narrow else column
            table.add_column(header, justify="left" if column in left else "right", overflow="fold",
                             no_wrap=column in whole)
    return table
