"""`rosetta bench`: time implementations side by side (bench/conv.py, bench/rnn.py).

Speed is measured here, never in a test: a timing depends on the machine. Every
contender first computes the same output and gradients as the torch built-in (the error
is in the table), so a fast but wrong implementation cannot hide.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from shared import backends, lazy


@dataclass
class Result:
    name: str
    median_ms: float
    gflops: float
    max_err: float        # max |output or gradient - F.conv2d's| / max |F.conv2d's|
    ratio: float = float("nan")  # median / torch built-in's median


def _max_err(got, want) -> float:
    """None in got: an array that implementation does not expose, left out."""
    return max(float(np.max(np.abs(np.asarray(g, np.float64) - w)) / max(float(np.max(np.abs(w))), 1e-30))
               for g, w in zip(got, want) if g is not None)



SETTLE_S = 0.5  # seconds between contenders, for the worker threads to fall asleep


def check_and_time(found: dict[str, Callable], builtin: str, work: int, repeat: int,
                    on_start: Callable[[str], None]) -> list[Result]:
    want = [np.asarray(a, np.float64) for a in found[builtin](check=True)] if builtin in found else None
    results = []
    for name, run in found.items():
        on_start(name)
        err = _max_err(run(check=True), want) if want is not None else float("nan")
        # torch's OpenMP and TF's Eigen workers spin-wait for a while after their last
        # op, taking the cores from whoever runs next: let them fall asleep first
        time.sleep(SETTLE_S)
        run()  # warm-up: first calls allocate and compile
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        results.append(Result(name, median * 1e3, work / median / 1e9, err))
    base = next((r.median_ms for r in results if r.name == builtin), float("nan"))
    for r in results:
        r.ratio = r.median_ms / base
    return results


def threads() -> dict:
    """Threads each library may use: the timings mean little without them."""
    info = {}
    try:
        from threadpoolctl import threadpool_info
        info["numpy BLAS"] = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()
                                       if p["user_api"] == "blas") or "unknown"
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, say so
        info["numpy BLAS"] = "unknown (threadpoolctl not installed)"
    if backends.installed("torch"):
        info["torch"] = str(lazy.torch().get_num_threads())
    if backends.installed("tf"):
        tf = lazy.tf()
        info["tf intra-op"] = str(tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)")
    return info
