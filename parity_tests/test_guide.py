"""docs/porting-guide.md is what `rosetta guide` generates now, and it covers every concept
and every porting case (at least 40 documented differences)."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from parity_tests.conftest import needs
from rosetta import guide
from shared import parity, tolerances
from shared.concepts import all_concepts, by_family
from shared.concepts._families import FAMILIES
from shared.porting import PortingResult
from shared.spec import PortingCase, Side

# Ways another machine runs the same kernels differently: the thread count changes how
# sums are split; ONEDNN_MAX_CPU_ISA makes torch's and TensorFlow's oneDNN pick the
# kernels of an older CPU (SSE4.1, AVX2), as an AMD EPYC without AVX-512 would, where a
# newer CPU picks AVX-512 ones; TF_ENABLE_ONEDNN_OPTS=0 takes TensorFlow's Eigen kernels
# instead. The in-process test covers the default (all cores, the CPU's own instruction set).
VARIANTS = {
    "1 thread": {"threads": 1},
    "2 threads, SSE4.1": {"threads": 2, "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "2 threads, AVX2": {"threads": 2, "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "1 thread, TF without oneDNN": {"threads": 1, "TF_ENABLE_ONEDNN_OPTS": "0"},
}
EVERY_FRAMEWORK = "the guide measures cases in every framework"
GUIDE_TIMEOUT_S = 600  # a regeneration takes ~60 s on 2 busy cores; a hung one fails instead of the CI run


def test_every_concept_has_a_known_family_and_its_own_lesson_in_it():
    known = {family.id for family in FAMILIES}
    for family, concepts in by_family():
        lessons = [c.lesson for c in concepts]
        assert len(set(lessons)) == len(lessons) and min(lessons, default=1) >= 1, (family.id, lessons)
    strays = [c.name for c in all_concepts() if c.family not in known]
    assert not strays, f"concepts with no known family (shared/concepts/_families.py): {strays}"


def test_the_guide_has_one_section_per_family_in_learning_order():
    text = (guide.ROOT / "docs" / "porting-guide.md").read_text()
    positions = [text.index(f"\n## {family.title}\n") for family, _ in by_family()]
    assert positions == sorted(positions)


def _result(fixed_error, dtype="float32"):
    case = PortingCase("case", "summary", lambda rng: {}, *(Side("numpy", "", None),) * 3, dtype=dtype)
    tol = tolerances.lookup(dtype, "cpu", "forward")
    return PortingResult("concept", case, tol, parity.compare(1.0, 0.0, tol), parity.compare(fixed_error, 0.0, tol))


def test_a_fixed_ports_residue_is_not_quoted_only_its_tolerance():
    # rounding noise differs from CPU to CPU: 0 on one, 4.8e-7 on another must read the same
    assert guide.fixed_figure(_result(0.0)) == guide.fixed_figure(_result(4.8e-7)) == (
        "agrees within float32 rounding (atol 1e-06, rtol 1e-05)")
    assert guide.fixed_figure(_result(0.0, "float64")) == "agrees within float64 rounding (atol 1e-14, rtol 1e-12)"


def test_a_fix_that_does_not_fix_shows_its_error():
    assert guide.fixed_figure(_result(0.25)) == "still off by **0.25**"


@pytest.mark.parametrize("value, expected", [(1.7312, "1.7"), (8.52e-10, "8.5e-10"), (0.6931, "0.69")])
def test_a_naive_ports_error_keeps_two_significant_digits(value, expected):
    assert guide.naive_figure(value) == expected


@needs("torch", "tf", why=EVERY_FRAMEWORK)
def test_the_committed_guide_is_up_to_date():
    results = guide.run_cases()
    assert len(results) >= 40
    assert all(result.shown for result in results.values())
    committed = guide.DEFAULT_PATH.read_text()
    assert committed == guide.build(results), "docs/porting-guide.md is stale: run `rosetta guide` and commit it"
    for concept, case in results:
        assert f"### {concept}: {case}\n" in committed


def _environment(variant: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")}
    threads = str(variant["threads"])
    # torch's and OpenBLAS's OpenMP pools, and TensorFlow's two pools
    env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads,
               TF_NUM_INTEROP_THREADS=threads, TF_CPP_MIN_LOG_LEVEL="2")
    env.update({k: v for k, v in variant.items() if k != "threads"})
    return env


def _regenerate(variant: dict, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rosetta.cli", "guide", "--out", str(out)],
                          env=_environment(variant), capture_output=True, text=True, timeout=GUIDE_TIMEOUT_S)


@needs("torch", "tf", why=EVERY_FRAMEWORK)
def test_the_guide_is_the_same_with_other_threads_and_instruction_sets(tmp_path):
    committed = guide.DEFAULT_PATH.read_text()
    outs = {name: tmp_path / f"guide-{i}.md" for i, name in enumerate(VARIANTS)}
    with ThreadPoolExecutor(2) as pool:  # two at a time: each regeneration is one Python process
        runs = dict(zip(VARIANTS, pool.map(lambda name: _regenerate(VARIANTS[name], outs[name]), VARIANTS)))
    for name, run in runs.items():
        assert run.returncode == 0, f"{name}: rosetta guide failed\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
        assert outs[name].read_text() == committed, f"{name}: the guide came out differently"
