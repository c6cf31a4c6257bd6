"""What the notebooks in notebooks/ call: a concept's three implementations side by side,
read from the packages (a notebook never re-implements them), and live cells that run the
parity engine and the porting cases and show what they measured.

Each function returns an object that Jupyter renders as HTML and a terminal as text, so
the notebooks need no display code and this module imports no framework up front.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from shared import backends
from shared.concepts import get

# the notebooks' parity cells: float64 first (the math), then float32 (what people train in)
DTYPES = ("float64", "float32")


@dataclass
class Shown:
    """Something to display: HTML for Jupyter, text for print()."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def _highlight(code: str) -> str:
    from pygments import highlight  # rich's own dependency: always there
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    return highlight(code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=False))


def sources(name: str) -> dict[str, str]:
    """{package: the source of the concept's function (and NumPy's hand-written backward),
    with the module's helpers it uses}: what `rosetta show` prints, read from the files."""
    from shared.cli import _sources  # one reader of the sources for `rosetta show` and the notebooks
    concept = get(name)
    found = {}
    for backend, package in backends.PACKAGES.items():
        names = [concept.fn_name] + ([f"{concept.fn_name}_backward"] if backend == "numpy" else [])
        found[f"{package}.{concept.module}"] = "\n\n".join(_sources(package, concept.module, names)) or (
            f"# {package}.{concept.module}.{concept.fn_name} not found")
    return found


def side_by_side(name: str) -> Shown:
    """The concept's math, Japanese term, and its NumPy, PyTorch and TensorFlow code in three columns."""
    concept = get(name)
    code = sources(name)
    head = (f"<p><b>{html.escape(concept.name)}</b> — {html.escape(concept.japanese)}<br>"
            f"<code>{html.escape(concept.math)}</code></p>")
    cells = "".join(f"<td style='vertical-align:top;text-align:left;font-size:85%'><b>{html.escape(where)}</b>"
                    f"{_highlight(text)}</td>" for where, text in code.items())
    text = "\n\n".join(f"# ---- {where} ----\n{body}" for where, body in code.items())
    return Shown(f"{head}<table><tr>{cells}</tr></table>",
                 f"{concept.name} — {concept.japanese}\n{concept.math}\n\n{text}")


def _table(header: list[str], rows: list[list[str]], caption: str) -> Shown:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in [header] + rows]
    return Shown(f"<table><caption>{html.escape(caption)}</caption><tr>{th}</tr>{trs}</table>",
                 caption + "\n" + "\n".join(lines))


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1e}"


def installed_backends() -> list[str]:
    return [name for name in backends.BACKEND_NAMES if backends.installed(name)]


def parity(*names: str, cases: tuple[str, ...] | None = None, dtypes=DTYPES) -> Shown:
    """Run the parity engine on CPU for the named concepts (all their cases, or those named)
    in every installed framework; one row per concept x framework x dtype: comparisons,
    failures, the largest absolute error, and the check closest to its tolerance."""
    from shared import parity as engine
    rows, failed = [], 0
    for name in names:
        concept = get(name)
        chosen = [c for c in concept.cases if cases is None or c.name in cases]
        for backend in installed_backends():
            for dtype in dtypes:
                records = [r for case in chosen
                           for r in engine.run_task(engine.Task(concept, case, backend, dtype, "cpu"))]
                if not records:
                    continue
                worst = max(records, key=lambda r: r.ratio)
                errors = [r.max_abs_err for r in records if r.max_abs_err is not None]
                bad = sum(not r.passed for r in records)
                failed += bad
                rows.append([name, backend, dtype, str(len(records)), str(bad), _fmt(max(errors, default=None)),
                             f"{worst.ratio:.0%} ({worst.case} {worst.check})"])
    caption = ("measured now, on this machine's CPU: every output and gradient against NumPy float64 "
               f"(NumPy float64 against finite differences and its oracles); {failed} failed")
    return _table(["concept", "framework", "dtype", "comparisons", "failed", "max |error|",
                   "closest to its tolerance"], rows, caption)


def porting(*names: str) -> Shown:
    """Run the concepts' porting cases: the naive port's error and the fixed port's, measured now."""
    from shared import porting as runner
    rows = []
    for name in names:
        concept = get(name)
        for case in concept.porting:
            if not runner.needed_backends(case) <= set(installed_backends()):
                continue
            result = runner.run(concept, case)
            rows.append([case.name, f"{case.naive.backend}: {case.naive.code}", _fmt(result.naive.max_abs_err),
                         f"{case.fixed.backend}: {case.fixed.code}", _fmt(result.fixed.max_abs_err)])
    return _table(["case", "naive port", "error", "fixed port", "error"], rows,
                  "porting cases, measured now (max |difference| from the reference side)")
