"""clip_by_global_norm: gradient clipping (勾配クリッピング) by the norm of all gradients
together, the remedy for exploding gradients in BPTT."""
import math

import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side

TORCH_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ divides by (norm + 1e-6)


def validate(grads, *, max_norm, eps=0.0):
    concept = "clip_by_global_norm"
    if not isinstance(grads, dict) or not grads:
        raise ValueError(f"{concept}: grads must be a non-empty dict name -> gradient, got {type(grads).__name__}")
    checks.require_floats(concept, **{f"grads[{name!r}]": g for name, g in grads.items()})
    if not isinstance(max_norm, (int, float)) or isinstance(max_norm, bool) or not max_norm > 0:
        raise ValueError(f"{concept}: max_norm must be a number > 0, got {max_norm!r}")
    checks.require_nonnegative(concept, "eps", eps)


def _grads(scale):
    def make(rng):
        return {"grads": {"Wx": scale * rng.standard_normal((3, 8)), "Wh": scale * rng.standard_normal((2, 8)),
                          "b": scale * rng.standard_normal(8)}}
    return make


def _zeros(rng):
    return {"grads": {"W": np.zeros((2, 3)), "b": np.zeros(3)}}


def _golden(max_norm, eps=0.0):
    def golden(inputs):
        # the norm from Python's math.hypot over every entry (an independent sum of squares)
        norm = math.hypot(*np.concatenate([g.ravel() for g in inputs["grads"].values()]).tolist())
        scale = min(1.0, max_norm / (norm + eps)) if norm + eps > 0 else 1.0
        return {name: g * scale for name, g in inputs["grads"].items()}, np.array(norm)
    return golden


def _torch_clip_grad_norm(grads, *, max_norm, eps=0.0):
    torch = lazy.torch()
    params = []
    for g in grads.values():
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g.clone()
        params.append(p)
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {name: p.grad for name, p in zip(grads, params)}, norm


def _tf_clip_by_global_norm(grads, *, max_norm, eps=0.0):
    clipped, norm = lazy.tf().clip_by_global_norm(list(grads.values()), max_norm)
    return dict(zip(grads, clipped)), norm


def _torch_eps(case):
    return case.kwargs.get("eps", 0.0) == TORCH_EPS


def _tf_eps(case):
    return case.kwargs.get("eps", 0.0) == 0.0


def _list(grads):
    return [grads[name] for name in ("Wx", "Wh", "b")]


def _port_torch(grads):
    return _list(_torch_clip_grad_norm(grads, max_norm=1.0)[0])


def _port_tf(grads):
    return _list(_tf_clip_by_global_norm(grads, max_norm=1.0)[0])


def _port_tf_with_eps(grads):
    tf = lazy.tf()
    gs = list(grads.values())
    scale = tf.minimum(1.0, 1.0 / (tf.linalg.global_norm(gs) + TORCH_EPS))
    return _list({name: g * tf.cast(scale, g.dtype) for name, g in zip(grads, gs)})


def _huge(rng):
    """Gradients of size ~1e30: finite in float32, their squares (1e60) are not."""
    return {"grads": {name: g * 1e30 for name, g in _grads(2.0)(rng)["grads"].items()}}


def _port_float64(grads):
    """The definition with the norm taken in float64, where 1e60 fits."""
    wide = {name: np.asarray(g, dtype=np.float64) for name, g in grads.items()}
    norm = np.sqrt(sum(np.sum(g * g) for g in wide.values()))
    return _list({name: g * min(1.0, 1.0 / norm) for name, g in wide.items()})


def _port_tf_scaled(grads):
    # clipping is scale-free: clip(g / s, max_norm / s) * s = clip(g, max_norm), s a power of two
    tf = lazy.tf()
    gs = list(grads.values())
    s = 2.0 ** np.ceil(np.log2(max(float(tf.reduce_max(tf.abs(g))) for g in gs)))
    clipped, _ = tf.clip_by_global_norm([g / s for g in gs], 1.0 / s)
    return _list({name: c * s for name, c in zip(grads, clipped)})


def _as_tuple(run):
    # a porting case compares one array: the clipped gradients concatenated
    def flat(grads):
        return np.concatenate([np.asarray(g).ravel() for g in run(grads)])
    return flat


CONCEPT = Concept(
    name="clip_by_global_norm",
    module="optimizers",
    family="optimizers_mlp",
    lesson=8,
    math="norm = sqrt(sum_i ||g_i||^2);  g_i <- g_i * min(1, max_norm / (norm + eps))",
    japanese="勾配クリッピング（gradient clipping）",
    signature="clip_by_global_norm(grads, *, max_norm, eps=0.0) -> (clipped grads, norm); grads a dict; "
              "eps = 0 is tf.clip_by_global_norm, eps = 1e-6 torch.nn.utils.clip_grad_norm_",
    differentiable=(),  # it acts on gradients before the step; nothing differentiates through it
    outputs=("grads", "norm"),
    cases=(
        Case("clipped", _grads(2.0), {"max_norm": 1.0}, seed=531, golden=_golden(1.0),
             note="norm ~ 10: every gradient scaled by ~0.1"),
        Case("under-the-limit", _grads(0.05), {"max_norm": 1.0}, seed=532, golden=_golden(1.0),
             note="norm < max_norm: unchanged"),
        Case("torch-eps", _grads(2.0), {"max_norm": 1.0, "eps": TORCH_EPS}, seed=533,
             golden=_golden(1.0, TORCH_EPS)),
        Case("all-zero", _zeros, {"max_norm": 5.0}, seed=534, golden=_golden(5.0),
             note="norm 0: nothing to clip, and no division by zero"),
        Case("at-the-limit", lambda rng: {"grads": {"W": np.array([[3.0, 0.0]]), "b": np.array([4.0])}},
             {"max_norm": 5.0}, golden=_golden(5.0),
             note="norm = max_norm = 5 exactly (3-4-5): the threshold itself, where the scale is exactly 1"),
    ),
    error_cases=(
        ErrorCase("negative-max-norm", lambda: {"grads": {"W": np.ones(3)}}, ValueError,
                  r"clip_by_global_norm: max_norm must be a number > 0, got -1.0", {"max_norm": -1.0}),
        ErrorCase("list-of-grads", lambda: {"grads": [np.ones(3)]}, ValueError,
                  r"clip_by_global_norm: grads must be a non-empty dict", {"max_norm": 1.0}),
    ),
    oracles=(
        Oracle("torch", "torch.nn.utils.clip_grad_norm_ (on .grad, in place)", _torch_clip_grad_norm,
               applies=_torch_eps),
        Oracle("tf", "tf.clip_by_global_norm", _tf_clip_by_global_norm, applies=_tf_eps),
    ),
    porting=(
        PortingCase(
            "clip-norm-eps",
            "torch's clip_grad_norm_ scales by max_norm / (norm + 1e-6), tf.clip_by_global_norm by "
            "max_norm / max(norm, max_norm): TF clips a little less, by a relative 1e-6 / norm, "
            "below float32's resolution for norms >= 10 but visible in float64. Fix: add the 1e-6.",
            _grads(0.5),
            reference=Side("torch", "torch.nn.utils.clip_grad_norm_(params, 1.0)", _as_tuple(_port_torch)),
            naive=Side("tf", "tf.clip_by_global_norm(grads, 1.0)", _as_tuple(_port_tf)),
            fixed=Side("tf", "g * tf.minimum(1.0, 1.0 / (tf.linalg.global_norm(grads) + 1e-6))",
                       _as_tuple(_port_tf_with_eps)),
            dtype="float64", seed=535, source="torch/nn/utils/clip_grad.py; tf.clip_by_global_norm docs"),
        PortingCase(
            "clip-norm-overflow",
            "float32 gradients of size 1e30 are finite, but the squares inside tf.clip_by_global_norm's "
            "global norm are not: the norm is inf and every clipped gradient NaN (torch's clip_grad_norm_ "
            "gets 1 / inf = 0 and zeroes them). Fix: divide by a power of two s >= max |g| first and "
            "clip to max_norm / s (clipping is scale-free), then multiply back: as clip_by_global_norm does.",
            _huge,
            reference=Side("numpy", "the global norm in float64: g * min(1, 1 / norm)", _as_tuple(_port_float64)),
            naive=Side("tf", "tf.clip_by_global_norm(grads, 1.0)", _as_tuple(_port_tf)),
            fixed=Side("tf", "[c * s for c in tf.clip_by_global_norm([g / s for g in grads], 1.0 / s)[0]]",
                       _as_tuple(_port_tf_scaled)),
            seed=536, source="tf.clip_by_global_norm docs (an infinite global norm gives NaN entries)"),
    ),
)
