"""`rosetta demo bit`: BiT transfer learning (転移学習) on scikit-learn's digits, offline.

Upstream, our own code pre-trains a small BiT (a ResNet-v2 with group norm and weight-
standardised convolutions, shared/concepts/_bit.py) on the digits 0-4. Its weights go to
disk the two ways a porter meets BiT: a BiT .npz checkpoint (shared/bit_weights.py) and a
TF Hub SavedModel of the backbone (tf_impl/hub.py). Downstream, the digits 5-9 with a few
labelled images per class, three regimes, each in NumPy, PyTorch and TensorFlow from the
same files and the same batches:

  frozen + head  the seed's default (do_fine_tuning=False): the backbone is a fixed feature
                 extractor, a new zero-initialised head (BiT's zero head) is trained;
  fine-tune      every parameter, from the pre-trained backbone and a zero head;
  scratch        every parameter, from a random init (saved and loaded the same way).

The routes: NumPy loads the .npz and runs numpy_impl.bit.train_step (the bit_train_step
contract, momentum_step); torch loads the .npz into torch_impl.bit.ResNetV2 (timm's names)
and steps it with torch.optim.SGD(momentum=0.9); TF loads the SavedModel through
hub.KerasLayer in the seed's classifier (tf_impl.hub.build_classifier) and steps
model.trainable_variables with tf_keras.optimizers.SGD(momentum=0.9) in a GradientTape loop.
The three updates are one rule: momentum_step keeps v <- mu v - lr g, p <- p + v; Keras'
SGD the same; torch's b <- mu b + g, p <- p - lr b is it with v = -lr b (shared/concepts/
momentum_step.py's torch oracle). So the runs differ by float32 rounding only.

Images: the 8x8 digits (ink 0..16) scaled to [0, 1] (BiT's input range), each pixel
repeated into a 4x4 square (32 x 32, BiT's smallest input: its total stride is 32) and the
gray copied to the three channels.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from shared import backends, bit_weights, layouts
from shared.concepts import _bit
from shared.data import digits
from shared.training import init_opt_state

# TINY's widths doubled (root 16, units 32, 32, 64, 64; 8 groups: every channel count, mids 8
# and 16 included, divides by 8): 21,205 weights, 64 features. Pre-trained 200 steps without
# crops, then 10 shots and 60 steps of lr 0.1 (torch, seeds 0 and 1), its frozen features gave
# 61-65% held out where TINY's 32 gave 47-51% (pre-trained on five classes, TINY keeps little
# else); a step costs ~4x TINY's, the whole demo takes ~70 s on 2 cores
CONFIG = dict(_bit.TINY, root_channels=16, out_channels=(32, 32, 64, 64), groups=8)
CLASSES = 5  # upstream digits 0-4, downstream 5-9: five classes each side
UPSCALE = 4  # 8x8 -> 32x32
IMAGE_SIZE = (8 * UPSCALE, 8 * UPSCALE)
MOMENTUM = 0.9  # the BiT-HyperRule's SGD momentum
BATCH = 50  # downstream: the default 10 shots x 5 classes are one full batch
PRETRAIN_BATCH = 64
PRETRAIN_LR = 0.1  # 300 steps: 0.03 reached 91% held out, 0.1 96%, 0.2 91% (seed 0)
# The lr rises linearly over the first steps, as in the BiT-HyperRule: without it seed 1
# stalled at 31% held out after 200 steps (lr 0.1 from step 1, random head), with it 92%
WARMUP = 20
# Random crops of the zero-padded image, BiT's upstream augmentation: a shift by up to one
# 8x8 pixel each way. Pre-trained without them (200 steps), the features of 0-4 transferred
# worse than a random init trained on the shots (seeds 0-3, 10 shots, lr 0.03, torch: fine-
# tune 64-75% vs scratch 70-76%); with them (800 steps, the demo's defaults, the 16 runs of
# seeds 0-3 in README) fine-tune 71-84%, scratch 53-83%, means 76.7% and 72.4%
CROP_PAD = UPSCALE
EVAL_BATCH = 500  # held-out images per forward pass: bounds the memory of the NumPy im2col
REGIMES = ("frozen + head", "fine-tune", "scratch")
TRAIN = {"frozen + head": "head", "fine-tune": "all", "scratch": "all"}  # bit_train_step's hyper["train"]
START = {"frozen + head": "pretrained", "fine-tune": "pretrained", "scratch": "scratch"}


def images(x: np.ndarray) -> np.ndarray:
    """[N, 64] pixels in [0, 1] -> [N, 3, 32, 32] float images (NCHW)."""
    square = np.kron(np.asarray(x, dtype=np.float64).reshape(-1, 1, 8, 8), np.ones((1, 1, UPSCALE, UPSCALE)))
    return np.repeat(square, 3, axis=1)


@dataclass
class Data:
    """Upstream: digits 0-4 (the digits split's train part to learn, its test part to
    measure). Downstream: digits 5-9 as labels 0-4, `shots` labelled images per class, and
    every other 5-9 image held out."""

    up_x: np.ndarray
    up_t: np.ndarray
    up_test_x: np.ndarray
    up_test_t: np.ndarray
    shots_x: np.ndarray
    shots_t: np.ndarray
    held_x: np.ndarray
    held_t: np.ndarray


def fewest_per_class() -> int:
    """The smallest number of images of any of the digits 5-9 (shots must leave one out)."""
    split = digits()
    t = np.concatenate([split.t_train, split.t_test])
    return int(min((t == d).sum() for d in range(CLASSES, 2 * CLASSES)))


def load_data(shots: int, seed: int = 0) -> Data:
    """The two tasks; the shots are drawn per class with `seed`."""
    limit = fewest_per_class() - 1
    if not 1 <= shots <= limit:
        raise ValueError(f"shots must be between 1 and {limit} (the rarest of the digits 5-9 has {limit + 1} "
                         f"images and at least one must stay held out), got {shots}")
    split = digits()
    up, up_test = split.t_train < CLASSES, split.t_test < CLASSES
    x = np.concatenate([split.x_train, split.x_test])
    t = np.concatenate([split.t_train, split.t_test])
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(t == d))[:shots] for d in range(CLASSES, 2 * CLASSES)])
    held = np.setdiff1d(np.flatnonzero(t >= CLASSES), chosen)
    return Data(images(split.x_train[up]), split.t_train[up], images(split.x_test[up_test]), split.t_test[up_test],
                images(x[chosen]), t[chosen] - CLASSES, images(x[held]), t[held] - CLASSES)


def random_crops(x: np.ndarray, rng: np.random.Generator, pad: int = CROP_PAD) -> np.ndarray:
    """Each [C, H, W] image zero-padded by `pad` on every side and cropped back to H x W at a
    random offset: the image shifted by up to `pad` pixels each way."""
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    return np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def _numpy_accuracy(params, x, t) -> float:
    from numpy_impl import bit
    predicted = np.concatenate([bit.logits(x[i:i + EVAL_BATCH], params, CONFIG).argmax(axis=1)
                                for i in range(0, len(x), EVAL_BATCH)])
    return float((predicted == t).mean())


# ---- upstream ---------------------------------------------------------------------------

@dataclass
class Pretrained:
    params: dict  # canonical float32 arrays, the upstream head included
    losses: list[float]
    accuracy: float  # on the held-out digits 0-4
    seconds: float


def pretrain(data: Data, steps: int, seed: int = 0, lr: float = PRETRAIN_LR,
             on_step: Callable[[int, float], None] = lambda step, loss: None) -> Pretrained:
    """`steps` steps of every parameter on random batches of the digits 0-4 (random crops,
    lr warmed up over WARMUP steps), float32, with
    torch_impl.bit.ResNetV2 and torch.optim.SGD(momentum=0.9): the bit_train_step contract's
    train="all" momentum_step (the same rule, module docstring), ~20x faster on CPU than the
    functional torch_impl.bit.train_step (im2col convolutions, measured 0.5-1 s per step of 64
    images vs ~0.03 s). A random head: with BiT's zero head the first step moves the head only
    (bit_train_step's docstring)."""
    import torch
    import torch.nn.functional as F

    from torch_impl import bit
    rng = np.random.default_rng(seed)
    params = {k: v.astype(np.float32) for k, v in _bit.init_params(rng, CONFIG, head="random").items()}
    model = bit.ResNetV2.from_canonical(params, CONFIG)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    warmup = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: min(1.0, (done + 1) / WARMUP))
    x, t = data.up_x.astype(np.float32), torch.from_numpy(data.up_t)
    losses = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        pick = rng.choice(len(t), PRETRAIN_BATCH, replace=False)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(random_crops(x[pick], rng))), t[pick])
        loss.backward()
        optimizer.step()
        warmup.step()
        losses.append(loss.item())
        on_step(step, losses[-1])
    params = {k: v.detach().numpy() for k, v in model.to_canonical().items()}
    seconds = time.perf_counter() - start
    return Pretrained(params, losses, _numpy_accuracy(params, data.up_test_x.astype(np.float32), data.up_test_t),
                      seconds)


def save_weights(params: dict, directory, name: str, *, tf: bool = True) -> dict:
    """The backbone as a BiT .npz and (if `tf`) a TF Hub SavedModel: {"npz": path, "hub": path}."""
    os.makedirs(directory, exist_ok=True)
    paths = {"npz": bit_weights.save_bit_npz(params, os.path.join(directory, f"{name}.npz"))}
    if tf:
        backends.import_tensorflow()
        from tf_impl import bit, hub
        module = bit.BiTModule({k: v.astype(np.float32) for k, v in params.items()}, CONFIG)
        paths["hub"] = hub.export_feature_extractor(module, os.path.join(directory, f"{name}-hub"), IMAGE_SIZE)
    return paths


def nudged_weights(paths: dict, directory, name: str) -> dict:
    """The .npz at paths["npz"] with every weight moved by one float32 rounding error
    (demos.nudged), written as `name`.npz: the control run's start."""
    from shared.demos import nudged
    params = bit_weights.load_bit_npz(paths["npz"], CONFIG)
    return {"npz": bit_weights.save_bit_npz(nudged(params, "float32"), os.path.join(directory, f"{name}.npz"))}


def scratch_params(seed: int) -> dict:
    """The random init every framework's "scratch" run starts from (a seed of its own)."""
    return {k: v.astype(np.float32) for k, v in _bit.init_params(np.random.default_rng(seed + 1), CONFIG).items()}


# ---- downstream ---------------------------------------------------------------------------

def make_batches(n: int, steps: int, seed: int = 0, batch_size: int = BATCH) -> list[np.ndarray]:
    """Indices into the labelled images, one array per step: a fresh shuffle each step, the
    first `batch_size` of it (all of them when there are fewer)."""
    rng = np.random.default_rng(seed + 2)
    return [rng.permutation(n)[:batch_size] for _ in range(steps)]


@dataclass
class Run:
    backend: str
    regime: str
    losses: list[float] = field(default_factory=list)
    accuracy: float = float("nan")  # held-out downstream
    seconds: float = 0.0
    backbone_unchanged: bool | None = None  # every backbone array bit-identical to the loaded one
    route: str = ""


def zero_head(params: dict) -> dict:
    """BiT's new head for the downstream task: W and b zero."""
    last = CONFIG["out_channels"][-1]
    return {**params, "head/W": np.zeros((last, CLASSES), np.float32), "head/b": np.zeros(CLASSES, np.float32)}


def _backbone_same(before: dict, after: dict) -> bool:
    return all(np.array_equal(before[k], after[k]) for k in before if not k.startswith("head/"))


def train_numpy(paths: dict, regime: str, data: Data, batches, lr: float,
                on_step: Callable[[int, float], None] = lambda step, loss: None) -> Run:
    from numpy_impl import bit
    run = Run("numpy", regime, route="load_bit_npz -> numpy_impl.bit.train_step")
    start = time.perf_counter()
    loaded = zero_head({k: v.astype(np.float32) for k, v in bit_weights.load_bit_npz(paths["npz"], CONFIG).items()})
    hyper = {"config": CONFIG, "train": TRAIN[regime], "optimizer": "momentum_step",
             "opt": {"lr": lr, "momentum": MOMENTUM}}
    params = loaded
    opt_state = {k: {"v": s["v"].astype(np.float32)} for k, s in init_opt_state(
        params, "momentum_step", hyper["opt"], names=_trained(regime)).items()}
    x = data.shots_x.astype(np.float32)
    for step, pick in enumerate(batches, start=1):
        loss, _, params, opt_state = bit.train_step(params, opt_state, {"x": x[pick], "t": data.shots_t[pick]}, hyper)
        run.losses.append(float(loss))
        on_step(step, run.losses[-1])
    run.accuracy = _numpy_accuracy(params, data.held_x.astype(np.float32), data.held_t)
    run.backbone_unchanged = _backbone_same(loaded, params)
    run.seconds = time.perf_counter() - start
    return run


def _trained(regime):
    from shared.concepts import bit_train_step
    return bit_train_step.trained_names(CONFIG, TRAIN[regime])


def torch_model(paths: dict, regime: str, lr: float):
    """(model, optimizer): ResNetV2 (timm's names) from the .npz with a zero head; with the
    backbone frozen, only head.fc is trainable and in the optimizer."""
    import torch

    from torch_impl import bit
    params = zero_head({k: v.astype(np.float32) for k, v in bit_weights.load_bit_npz(paths["npz"], CONFIG).items()})
    model = bit.ResNetV2.from_canonical(params, CONFIG)
    if TRAIN[regime] == "head":
        for p in model.parameters():
            p.requires_grad_(False)
        model.head.fc.requires_grad_(True)
    trained = [p for p in model.parameters() if p.requires_grad]
    # b <- momentum b + g, p <- p - lr b: momentum_step's rule with v = -lr b
    return model, torch.optim.SGD(trained, lr=lr, momentum=MOMENTUM)


def train_torch(paths: dict, regime: str, data: Data, batches, lr: float,
                on_step: Callable[[int, float], None] = lambda step, loss: None) -> Run:
    import torch
    import torch.nn.functional as F
    run = Run("torch", regime, route="load_bit_npz -> ResNetV2.from_canonical, torch.optim.SGD")
    start = time.perf_counter()
    model, optimizer = torch_model(paths, regime, lr)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.from_numpy(data.shots_x.astype(np.float32))
    t = torch.from_numpy(data.shots_t)
    for step, pick in enumerate(batches, start=1):
        pick = torch.from_numpy(pick)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[pick]), t[pick])
        loss.backward()
        optimizer.step()
        run.losses.append(loss.item())
        on_step(step, run.losses[-1])
    with torch.no_grad():
        held = torch.from_numpy(data.held_x.astype(np.float32))
        predicted = torch.cat([model(held[i:i + EVAL_BATCH]).argmax(dim=1) for i in range(0, len(held), EVAL_BATCH)])
    run.accuracy = float((predicted.numpy() == data.held_t).mean())
    run.backbone_unchanged = all(torch.equal(before[k], v) for k, v in model.state_dict().items()
                                 if not k.startswith("head."))
    run.seconds = time.perf_counter() - start
    return run


def nhwc_float32(x: np.ndarray) -> np.ndarray:
    """NCHW images as the SavedModel's signature takes them: NHWC, float32 (a fresh array)."""
    return layouts.nchw_to_nhwc(x).astype(np.float32)


def tf_model(paths: dict, regime: str):
    """The seed's classifier on the exported SavedModel (hub.KerasLayer), Dense head zeroed."""
    backends.import_tensorflow()
    from tf_impl import hub
    model = hub.build_classifier(paths["hub"], IMAGE_SIZE, CLASSES, do_fine_tuning=TRAIN[regime] == "all")
    dense = model.layers[-1]
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])  # BiT's zero head
    return model


def train_tf(paths: dict, regime: str, data: Data, batches, lr: float,
             on_step: Callable[[int, float], None] = lambda step, loss: None) -> Run:
    tf = backends.import_tensorflow()
    from tf_impl.hub import _import_hub
    _, tf_keras = _import_hub()
    run = Run("tf", regime, route="SavedModel -> hub.KerasLayer in build_classifier, tf_keras SGD")
    start = time.perf_counter()
    model = tf_model(paths, regime)
    backbone = model.layers[0]
    before = [w.numpy().copy() for w in backbone.weights]
    # v <- momentum v - lr g, p <- p + v: momentum_step's rule (tf_keras SGD.update_step)
    optimizer = tf_keras.optimizers.SGD(learning_rate=lr, momentum=MOMENTUM)
    variables = model.trainable_variables

    @tf.function
    def step_fn(x, t):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(t, logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    x = nhwc_float32(data.shots_x)
    for step, pick in enumerate(batches, start=1):
        loss = step_fn(tf.constant(x[pick]), tf.constant(data.shots_t[pick]))
        run.losses.append(float(loss))
        on_step(step, run.losses[-1])
    held = nhwc_float32(data.held_x)
    predicted = np.concatenate([model(held[i:i + EVAL_BATCH], training=False).numpy().argmax(axis=1)
                                for i in range(0, len(held), EVAL_BATCH)])
    run.accuracy = float((predicted == data.held_t).mean())
    run.backbone_unchanged = all(np.array_equal(b, w.numpy()) for b, w in zip(before, backbone.weights))
    run.seconds = time.perf_counter() - start
    return run


TRAINERS = {"numpy": train_numpy, "torch": train_torch, "tf": train_tf}


# ---- the picture ------------------------------------------------------------------------

def plot(runs: list[Run], path, title: str) -> None:
    """Left: the loss per step, one panel per regime, the frameworks overlaid. Right: the
    held-out accuracy, bars grouped by regime."""
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    from shared.demos import STYLES

    regimes = [r for r in REGIMES if any(run.regime == r for run in runs)]
    names = list(dict.fromkeys(run.backend for run in runs))
    fig = plt.figure(figsize=(14, 3.2 * len(regimes) + 0.8))
    grid = fig.add_gridspec(len(regimes), 2, width_ratios=(1.4, 1))
    for row, regime in enumerate(regimes):
        ax = fig.add_subplot(grid[row, 0])
        for run in runs:
            if run.regime == regime:
                ax.plot(np.arange(1, len(run.losses) + 1), run.losses, label=run.backend, **STYLES.get(run.backend, {}))
        ax.set(ylabel="training loss", yscale="log", title=f"{regime}: loss per step")
        ax.legend(fontsize=8)
        if row == len(regimes) - 1:
            ax.set_xlabel("step")
    ax = fig.add_subplot(grid[:, 1])
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        values = [next((run.accuracy for run in runs if run.backend == name and run.regime == r), np.nan)
                  for r in regimes]
        positions = np.arange(len(regimes)) + (i - (len(names) - 1) / 2) * width
        ax.bar(positions, values, width, label=name, color=STYLES.get(name, {}).get("color"))
        for x, v in zip(positions, values):
            ax.text(x, v + 0.01, f"{v:.0%}", ha="center", va="bottom", fontsize=8)
    ax.axhline(1 / CLASSES, color="k", lw=0.6, ls="--", label="chance (1/5)")
    ax.set_xticks(np.arange(len(regimes)), regimes)
    ax.set(ylim=(0, 1.08), ylabel="held-out accuracy, digits 5-9", title="Held-out accuracy per regime")
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
