"""`rosetta guide`: docs/porting-guide.md, generated from the specs and from running their
porting cases. Nothing in the guide is typed by hand: the API tables come from each
concept's oracles and implementations, the differences from its porting cases, the
conversions from the converters' docstrings, and every number from a run made while
generating it. parity_tests/test_guide.py regenerates the guide and fails when the
committed one is out of date.

The guide must come out the same on every CPU (parity_tests/test_guide.py regenerates it
with 1 and 2 threads and under several oneDNN instruction sets), so it shows only figures
that do not depend on the machine: a naive port's error to 2 significant digits (a
structural difference, far above rounding), and for a fixed port only that it agrees
within the dtype's rounding tolerance. A fixed port's residue is rounding noise: its
value, even its power of ten, moves with the kernels torch's and TensorFlow's oneDNN pick
for the CPU (an AMD EPYC with AVX-512 gave < 1e-6 where another CPU gave 0), so it is
left to `rosetta porting`, which prints the measurement of the machine it runs on.
"""
from __future__ import annotations

import ast
import math
from pathlib import Path

from rosetta.notebook import notebook_name
from shared import backends
from shared.concepts import all_concepts, by_family

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "docs" / "porting-guide.md"

# the functions that convert layouts and weights between the frameworks: (file, functions)
CONVERTERS = (
    ("shared/layouts.py", None),  # every public function
    ("shared/bit_weights.py", ("to_bit_npz", "from_bit_npz", "save_bit_npz", "load_bit_npz")),
    ("torch_impl/timm.py", ("to_timm_state_dict", "from_timm_state_dict")),
    ("tf_impl/hub.py", ("export_feature_extractor", "build_classifier")),
)
FRAMEWORK_NAMES = {"numpy": "NumPy", "torch": "PyTorch", "tf": "TensorFlow / Keras"}


def naive_figure(value: float) -> str:
    if not math.isfinite(value):
        return "inf or nan"
    return f"{value:.2g}"


def fixed_figure(result) -> str:
    """What a fixed port leaves: that it agrees within the dtype's rounding tolerance, never
    the residue itself (machine-dependent rounding noise); a port the fix did not fix shows
    its error like a naive one."""
    if not result.fixed.passed:
        return f"still off by **{naive_figure(result.fixed.max_abs_err)}**"
    tol = result.tolerance
    return f"agrees within {result.case.dtype} rounding (atol {tol.atol:g}, rtol {tol.rtol:g})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def api_row(concept) -> list[str]:
    """NumPy (ours, and any NumPy/SciPy oracle), PyTorch and TensorFlow/Keras calls for a concept:
    the frameworks' own APIs that the parity run checks ours against, else our own written-out
    function (the framework has no single call for it)."""
    row = []
    for backend, package in backends.PACKAGES.items():
        apis = [f"`{o.api}`" for o in concept.oracles if o.backend == backend]
        ours = f"`{package}.{concept.module}.{concept.fn_name}`"
        if backend == "numpy":
            row.append(", ".join([ours + " (+ `_backward`)"] + apis))
        else:
            row.append(", ".join(apis) if apis else f"{ours} (no single call)")
    return row


def _docstring_heads(path: str, names) -> list[tuple[str, str]]:
    tree = ast.parse((ROOT / path).read_text())
    found = []
    for node in tree.body:
        public = isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
        if public and (names is None or node.name in names):
            doc = (ast.get_docstring(node) or "").strip().split("\n\n")[0].replace("\n", " ")
            found.append((node.name, doc))
    return found


def run_cases(progress=None) -> dict[tuple[str, str], object]:
    """{(concept, case): PortingResult} for every porting case whose frameworks are installed."""
    from shared import porting
    results = {}
    for concept in all_concepts():
        for case in concept.porting:
            if all(backends.installed(b) for b in porting.needed_backends(case)):
                results[concept.name, case.name] = porting.run(concept, case)
            if progress:
                progress(concept.name, case.name)
    return results


def build(results) -> str:
    """The guide's markdown from the porting results (run_cases)."""
    cases = [(c, p) for c in all_concepts() for p in c.porting]
    missing = [f"{c.name}/{p.name}" for c, p in cases if (c.name, p.name) not in results]
    if missing:
        raise ValueError(f"the guide needs every porting case measured; not run: {', '.join(missing)} "
                         "(install the frameworks they use)")
    lines = _header(len(cases))
    for number, (family, concepts) in enumerate(by_family(), 1):
        lines += _family(number, family, concepts, results)
    return "\n".join(lines + _conversions() + ["", "## GPU notes", "", *gpu_notes(), ""])


def _header(count: int) -> list[str]:
    return [
        "# Porting guide: NumPy ↔ PyTorch ↔ TensorFlow / Keras",
        "",
        "<!-- generated by `rosetta guide` from shared/concepts/ and the porting cases it runs; do not edit by "
        "hand. parity_tests/test_guide.py fails when this file is out of date. -->",
        "",
        f"{count} documented differences, each measured by a porting case that runs the naive port, "
        "the fixed port and the reference side by side (`rosetta porting` runs them all; `rosetta show "
        "<concept>` prints a concept's three implementations). For each difference: what differs, the "
        "reference, the port a reader would write first and how far it lands, and the setting that removes the "
        "difference: the fixed port then agrees with the reference within the dtype's rounding tolerance "
        "(shared/tolerances.py). Errors are the largest absolute difference from the reference on the case's "
        "inputs, CPU, in the dtype shown, to 2 significant digits; what a fixed port leaves is rounding noise "
        "that differs from CPU to CPU, so this page does not quote it (`rosetta porting` measures it on yours).",
        "",
        "Families: " + " · ".join(f"[{family.title}](#{_anchor(family.title)})" for family, _ in by_family())
        + " · [Layout and weight conversions](#layout-and-weight-conversions) · [GPU notes](#gpu-notes)",
        "",
    ]


def _family(number: int, family, concepts, results) -> list[str]:
    """One family's section: its notebook, its API table, its measured differences."""
    notebook = notebook_name(number, family)
    lines = [f"## {family.title}", "", f"Notebook: [notebooks/{notebook}](../notebooks/{notebook})", "",
             "| concept | NumPy (ours) | PyTorch | TensorFlow / Keras |", "|---|---|---|---|"]
    for concept in concepts:
        lines.append(f"| {concept.name} ({_cell(concept.japanese)}) | "
                     + " | ".join(_cell(c) for c in api_row(concept)) + " |")
    lines.append("")
    for concept in concepts:
        for case in concept.porting:
            lines += _difference(concept.name, case, results[concept.name, case.name])
    return lines


def _difference(name: str, case, result) -> list[str]:
    lines = [
        f"### {name}: {case.name}",
        "",
        case.summary,
        "",
        f"- reference ({FRAMEWORK_NAMES[case.reference.backend]}): `{_cell(case.reference.code)}`",
        f"- naive ({FRAMEWORK_NAMES[case.naive.backend]}): `{_cell(case.naive.code)}` — "
        f"off by **{naive_figure(result.naive.max_abs_err)}** ({case.check}, {case.dtype})",
        f"- fixed ({FRAMEWORK_NAMES[case.fixed.backend]}): `{_cell(case.fixed.code)}` — {fixed_figure(result)}",
    ]
    return lines + ([f"- source: {case.source}"] if case.source else []) + [""]


def _conversions() -> list[str]:
    lines = ["## Layout and weight conversions", "",
             "Our canonical layouts are NumPy's (NCHW images, OIHW kernels, the book's gate orders); these "
             "functions are the only conversions, each tested element by element and round trip.", "",
             "| function | what it does |", "|---|---|"]
    for path, names in CONVERTERS:
        module = path[:-3].replace("/", ".")
        for name, doc in _docstring_heads(path, names):
            lines.append(f"| `{module}.{name}` | {_cell(doc)} |")
    return lines


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c == "-")


def gpu_notes() -> list[str]:
    reports = sorted((ROOT / "docs").glob("parity-gpu-*.md"))
    notes = [
        "- TF32: on Ampere and newer GPUs PyTorch runs convolutions in TF32 by default "
        "(`torch.backends.cudnn.allow_tf32 = True`) and TensorFlow runs matmuls and convolutions in TF32 "
        "(`tf.config.experimental.enable_tensor_float_32_execution`): their inputs are rounded to 10 "
        "mantissa bits (relative rounding ~4.9e-4, float32's ~6e-8). The parity run switches TF32 off in both "
        "(shared/backends.py `gpu_setup`) so that float32 means float32; a port that compares its GPU "
        "numbers with a CPU reference should do the same.",
        "- Determinism: the parity run sets `torch.use_deterministic_algorithms(True)` (with "
        "`CUBLAS_WORKSPACE_CONFIG=:4096:8`) and `tf.config.experimental.enable_op_determinism()`; without "
        "them atomics-based reductions may change the last bits from run to run.",
        "- Tolerances on GPU: twice the CPU float32 budgets (other reduction orders, CUDA's ~2 ulp "
        "transcendentals); float64 keeps the CPU budget (shared/tolerances.py).",
    ]
    if reports:
        notes.append("- Measured GPU reports: " + ", ".join(f"[{p.name}]({p.name})" for p in reports) + ".")
    else:
        notes.append("- Measured on a GPU: nothing yet. No GPU has been available to this project, so no "
                     "figure in this guide comes from one; the GPU parity path (`rosetta parity --device gpu`) "
                     "exists and its tests skip with \"no GPU\".")
    return notes
