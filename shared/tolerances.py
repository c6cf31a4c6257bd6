"""The tolerance table: dtype x device x check kind, each entry with its reason.

Every comparison passes when |got - want| <= atol + rtol * |want| elementwise. `want`
is the NumPy float64 reference computed from the SAME inputs the backend saw (float32
inputs are rounded first, then upcast), so the table measures only the arithmetic of
the backend, never the rounding of the inputs. Concepts may override an entry for a
named case, always with a reason (see `shared.spec.Override`).
"""
from __future__ import annotations

from shared.spec import Tolerance

F64_EPS = 2.22e-16
F32_EPS = 1.19e-7

TABLE: dict[tuple[str, str, str], Tolerance] = {
    # float64: the same formula in another library differs only by the order of a few
    # roundings; 1e-12 relative is ~4500 ulp, the atol covers outputs that are sums of
    # O(1) terms cancelling to ~0 (softmax's VJP y * (v - <y, v>)), whose absolute
    # error is a few ulp of the terms, not of the result.
    ("float64", "cpu", "forward"): Tolerance(1e-14, 1e-12,
        "float64: a few ulp of O(1) terms per op; atol for results cancelling to ~0"),
    ("float64", "cpu", "grad"): Tolerance(1e-14, 1e-12,
        "float64 backward: same formulas as forward, plus one cancellation in softmax-like VJPs"),
    ("float64", "cpu", "builtin"): Tolerance(1e-14, 1e-12,
        "float64 framework kernels: vectorised exp/log/erf accurate to a few ulp"),
    # Central differences with h = 1e-6 * max(1, |x|): truncation error O(h^2 f''') ~
    # 1e-12, cancellation O(eps * |f| / h) ~ 1e-10 * |f|. 1e-7 leaves room for inputs
    # of magnitude 1e3 (softmax overflow case) where |f|/h grows.
    ("float64", "cpu", "numeric"): Tolerance(1e-7, 1e-6,
        "central differences: O(h^2) truncation + O(eps/h) cancellation, h = 1e-6 * max(1, |x|)"),
    # float32: eps = 1.19e-7. Transcendentals in vectorised float32 kernels (SLEEF,
    # Eigen, oneDNN) are accurate to <= 4 ulp; a chain of <= 10 ops gives <~ 40 ulp =
    # 5e-6 relative; atol for values cancelling to ~0 as above.
    ("float32", "cpu", "forward"): Tolerance(1e-6, 1e-5,
        "float32: <= 4 ulp per transcendental, <= 10 ops -> <~ 40 ulp; atol for ~0 results"),
    ("float32", "cpu", "grad"): Tolerance(1e-6, 1e-5,
        "float32 backward: same op count as forward (autodiff replays the chain)"),
    ("float32", "cpu", "builtin"): Tolerance(1e-6, 1e-5,
        "float32 framework kernels vs the float64 reference: rounding of the kernel only"),
    # Training: parameters, running statistics and optimizer state after k <= 10 steps.
    # Each step adds one rounding of every updated array plus the gradient's error times
    # lr; the gradients are batch sums, so their error scales with the array's largest
    # entry (scaled atol), and an optimizer's state spans many magnitudes (Adam's v ~
    # g^2). float64: 10 steps x a few ulp of each array's largest entry.
    ("float64", "cpu", "step"): Tolerance(
        1e-13, 1e-12, "k <= 10 steps: a few ulp per step of each array's largest entry", scaled=True),
    # float32: 10 steps x (0.5 ulp of the parameter + lr x the gradient's ~40 ulp) <~
    # 1e-6 relative; 1e-5 leaves 10x for batch sums of 30-100 terms.
    ("float32", "cpu", "step"): Tolerance(
        1e-6, 1e-5, "k <= 10 steps: ~0.5 ulp per step + lr x gradient error, sums of <= 100 terms", scaled=True),
}

# GPU kernels reduce in other orders and CUDA's libm transcendentals are accurate to
# ~2 ulp; TF32 is switched off by the backends, so float32 keeps its 24 mantissa bits
# and the CPU budgets get 2x headroom. float64 on GPU is IEEE double arithmetic with
# fused multiply-add: the CPU budget.
for (dtype, _, kind), tol in list(TABLE.items()):
    scale = 2.0 if dtype == "float32" else 1.0
    TABLE[(dtype, "gpu", kind)] = Tolerance(
        tol.atol * scale, tol.rtol * scale,
        f"GPU (TF32 off): reduction order and FMA differ from CPU; {tol.reason}", tol.scaled)


def lookup(dtype: str, device: str, kind: str) -> Tolerance:
    """The table entry for a comparison; `device` is 'cpu' or 'gpu'."""
    try:
        return TABLE[(dtype, device, kind)]
    except KeyError:
        raise KeyError(f"no tolerance for dtype={dtype} device={device} check={kind}") from None
