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

The routes, each one trainer of the one runner (rosetta/demos/runner.py): NumPy loads the
.npz and runs numpy_impl.bit.train_step (the bit_train_step
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
import tempfile
from dataclasses import dataclass

import numpy as np
from rich.console import Console

from rosetta.cli.arguments import integer
from rosetta.demos import runner
from rosetta.demos.side_by_side import pyplot
from rosetta.report import results_table
from shared import backends, bit_weights, layouts
from shared.concepts import _bit, bit_train_step
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
# seeds 0-3 in docs/families/08_bit_transfer.md) fine-tune 71-84%, scratch 53-83%, means 76.7% and 72.4%
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

OPTIONS = dict(help="BiT transfer learning: pre-train on digits 0-4, then frozen + head, fine-tune and scratch on a "
               "few labelled 5-9s, via a BiT .npz and a TF Hub SavedModel; one PNG", steps=60,
               unit="up to 50 labelled digits", lr=0.03,
               seeded="the initial weights, the upstream batches, the shots and the downstream batches",
               # the BiT-HyperRule's SGD with momentum, in float32: the TF Hub SavedModel takes float32 images
               optimizers=("momentum_step",), optimizer="momentum_step", dtypes=("float32",))


def _numpy_accuracy(params, x, t) -> float:
    from numpy_impl import bit
    predicted = np.concatenate([bit.logits(x[i:i + EVAL_BATCH], params, CONFIG).argmax(axis=1)
                                for i in range(0, len(x), EVAL_BATCH)])
    return float((predicted == t).mean())


# ---- the routes: one trainer each, for the one runner ---------------------------------------

class TorchSGD:
    """A torch module (torch_impl.bit.ResNetV2) stepped by torch.optim.SGD(momentum=0.9):
    b <- momentum b + g, p <- p - lr b is momentum_step's rule with v = -lr b (shared/
    concepts/momentum_step.py's torch oracle). With `warmup`, the lr rises linearly over
    that many steps. A batch is {"x": NCHW float32 images, "t": labels}."""

    def __init__(self, model, lr: float, *, held=None, warmup: int = 0):
        import torch
        self.torch, self.model, self.held = torch, model, held
        trained = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(trained, lr=lr, momentum=MOMENTUM)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda done: min(1.0, (done + 1) / warmup)) if warmup else None
        self.before = {k: v.clone() for k, v in model.state_dict().items()}

    def step(self, batch) -> float:
        torch = self.torch
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(torch.from_numpy(batch["x"])),
                                                 torch.from_numpy(batch["t"]))
        loss.backward()
        self.optimizer.step()
        if self.schedule:
            self.schedule.step()
        return loss.item()

    def evaluate(self) -> dict:
        if self.held is None:
            return {}
        x, t = self.held
        with self.torch.no_grad():
            held = self.torch.from_numpy(x.astype(np.float32))
            predicted = self.torch.cat([self.model(held[i:i + EVAL_BATCH]).argmax(dim=1)
                                        for i in range(0, len(held), EVAL_BATCH)])
        return {"held-out accuracy": float((predicted.numpy() == t).mean())}

    def canonical(self) -> dict:
        return {k: v.detach().numpy() for k, v in self.model.to_canonical().items()}

    def info(self) -> dict:
        return {"backbone unchanged": all(self.torch.equal(self.before[k], v) for k, v in
                                          self.model.state_dict().items() if not k.startswith("head."))}


class KerasSGD:
    """The seed's hub.KerasLayer classifier stepped by tf_keras.optimizers.SGD(momentum=0.9)
    in a GradientTape loop: v <- momentum v - lr g, p <- p + v, momentum_step's rule
    (tf_keras SGD.update_step). A batch is {"x": NCHW float32 images, "t": labels}."""

    def __init__(self, model, lr: float, *, held):
        from tf_impl.hub import import_hub
        tf = backends.import_tensorflow()
        _, tf_keras = import_hub()
        self.model, self.held = model, held
        self.before = [w.numpy().copy() for w in model.layers[0].weights]
        optimizer = tf_keras.optimizers.SGD(learning_rate=lr, momentum=MOMENTUM)
        variables = model.trainable_variables

        @tf.function
        def step_fn(x, t):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(t, logits))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss
        self.step_fn, self.tf = step_fn, tf

    def step(self, batch) -> float:
        return float(self.step_fn(self.tf.constant(nhwc_float32(batch["x"])), self.tf.constant(batch["t"])))

    def evaluate(self) -> dict:
        x, t = self.held
        held = nhwc_float32(x)
        predicted = np.concatenate([self.model(held[i:i + EVAL_BATCH], training=False).numpy().argmax(axis=1)
                                    for i in range(0, len(held), EVAL_BATCH)])
        return {"held-out accuracy": float((predicted == t).mean())}

    def canonical(self) -> dict:
        # the SavedModel's variables carry no canonical names: the routes are compared by
        # their losses and accuracies, the torch and NumPy ones by their parameters too
        return {}

    def info(self) -> dict:
        return {"backbone unchanged": all(np.array_equal(b, w.numpy())
                                          for b, w in zip(self.before, self.model.layers[0].weights))}


class Contract(runner.Functional):
    """numpy_impl.bit.train_step (the bit_train_step contract, momentum_step) from the
    loaded parameters: the runner's Functional trainer, and whether the backbone moved."""

    def __init__(self, setup: runner.Setup, **options):
        super().__init__("numpy", "bit_train_step", setup, setup.params, **options)
        self.loaded = setup.params

    def info(self) -> dict:
        return {"backbone unchanged": _backbone_same(self.loaded, self.canonical())}


# ---- upstream ---------------------------------------------------------------------------

def pretrain(data: Data, steps: int, seed: int = 0, lr: float = PRETRAIN_LR) -> runner.Run:
    """`steps` steps of every parameter on random batches of the digits 0-4 (random crops,
    lr warmed up over WARMUP steps), float32, with torch_impl.bit.ResNetV2 and
    torch.optim.SGD(momentum=0.9) (TorchSGD): the bit_train_step contract's train="all"
    momentum_step, ~20x faster on CPU than the functional torch_impl.bit.train_step (im2col
    convolutions, measured 0.5-1 s per step of 64 images vs ~0.03 s). A random head: with
    BiT's zero head the first step moves the head only (bit_train_step's docstring). The
    run's accuracy is on the held-out digits 0-4."""
    from torch_impl import bit
    rng = np.random.default_rng(seed)
    params = {k: v.astype(np.float32) for k, v in _bit.init_params(rng, CONFIG, head="random").items()}
    trainer = TorchSGD(bit.ResNetV2.from_canonical(params, CONFIG), lr, held=(data.up_test_x, data.up_test_t),
                       warmup=WARMUP)
    todo = [("pre-train (torch, 0-4)", "torch", None)]
    return runner.run_all(todo, lambda backend, start: trainer, _upstream_batches(data, steps, rng), steps=steps,
                          eval_every=steps)[0]


def _upstream_batches(data: Data, steps: int, rng: np.random.Generator):
    """Random batches of the digits 0-4, each image randomly cropped (drawn as they are used)."""
    x = data.up_x.astype(np.float32)
    for _ in range(steps):
        pick = rng.choice(len(data.up_t), PRETRAIN_BATCH, replace=False)
        yield {"x": random_crops(x[pick], rng), "t": data.up_t[pick]}


def save_weights(params: dict, directory, name: str, *, tf: bool = True) -> dict:
    """The backbone as a BiT .npz and (if `tf`) a TF Hub SavedModel: {"npz": path, "hub": path}."""
    os.makedirs(directory, exist_ok=True)
    paths = {"npz": bit_weights.save_bit_npz(params, os.path.join(directory, f"{name}.npz"))}
    if tf:
        backends.import_tensorflow()
        from tf_impl import bit, hub
        module = bit.ResNetV2({k: v.astype(np.float32) for k, v in params.items()}, CONFIG)
        paths["hub"] = hub.export_feature_extractor(module, os.path.join(directory, f"{name}-hub"), IMAGE_SIZE)
    return paths


def nudged_weights(paths: dict, directory, name: str) -> dict:
    """The .npz at paths["npz"] with every weight moved by one float32 rounding error
    (runner.nudged), written as `name`.npz: the control run's start."""
    params = bit_weights.load_bit_npz(paths["npz"], CONFIG)
    return {"npz": bit_weights.save_bit_npz(runner.nudged(params, "float32"), os.path.join(directory, f"{name}.npz"))}


def scratch_params(seed: int) -> dict:
    """The random init every framework's "scratch" run starts from (a seed of its own)."""
    return {k: v.astype(np.float32) for k, v in _bit.init_params(np.random.default_rng(seed + 1), CONFIG).items()}


# ---- downstream ---------------------------------------------------------------------------

def make_batches(n: int, steps: int, seed: int = 0, batch_size: int = BATCH) -> list[np.ndarray]:
    """Indices into the labelled images, one array per step: a fresh shuffle each step, the
    first `batch_size` of it (all of them when there are fewer)."""
    rng = np.random.default_rng(seed + 2)
    return [rng.permutation(n)[:batch_size] for _ in range(steps)]


def zero_head(params: dict) -> dict:
    """BiT's new head for the downstream task: W and b zero."""
    last = CONFIG["out_channels"][-1]
    return {**params, "head/W": np.zeros((last, CLASSES), np.float32), "head/b": np.zeros(CLASSES, np.float32)}


def nhwc_float32(x: np.ndarray) -> np.ndarray:
    """NCHW images as the SavedModel's signature takes them: NHWC, float32 (a fresh array)."""
    return layouts.nchw_to_nhwc(x).astype(np.float32)


ROUTES = {"numpy": "load_bit_npz -> numpy_impl.bit.train_step",
          "torch": "load_bit_npz -> ResNetV2.from_canonical, torch.optim.SGD",
          "tf": "SavedModel -> hub.KerasLayer in build_classifier, tf_keras SGD"}


def _backbone_same(before: dict, after: dict) -> bool:
    return all(np.array_equal(before[k], after[k]) for k in before if not k.startswith("head/"))


def torch_model(paths: dict, regime: str):
    """ResNetV2 (timm's names) from the .npz with a zero head; with the backbone frozen,
    only head.fc is trainable."""
    from torch_impl import bit
    params = zero_head({k: v.astype(np.float32) for k, v in bit_weights.load_bit_npz(paths["npz"], CONFIG).items()})
    model = bit.ResNetV2.from_canonical(params, CONFIG)
    if TRAIN[regime] == "head":
        for p in model.parameters():
            p.requires_grad_(False)
        model.head.fc.requires_grad_(True)
    return model


def tf_model(paths: dict, regime: str):
    """The seed's classifier on the exported SavedModel (hub.KerasLayer), Dense head zeroed."""
    backends.import_tensorflow()
    from tf_impl import hub
    model = hub.build_classifier(paths["hub"], IMAGE_SIZE, CLASSES, do_fine_tuning=TRAIN[regime] == "all")
    dense = model.layers[-1]
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])  # BiT's zero head
    return model


def trainer(backend: str, paths: dict, regime: str, data: Data, lr: float):
    """The route of `backend` from the files at `paths`, for `regime`."""
    held = (data.held_x, data.held_t)
    if backend == "torch":
        return TorchSGD(torch_model(paths, regime), lr, held=held)
    if backend == "tf":
        return KerasSGD(tf_model(paths, regime), lr, held=held)
    loaded = zero_head({k: v.astype(np.float32) for k, v in bit_weights.load_bit_npz(paths["npz"], CONFIG).items()})
    hyper = {"config": CONFIG, "train": TRAIN[regime], "optimizer": "momentum_step",
             "opt": {"lr": lr, "momentum": MOMENTUM}}
    opt_state = init_opt_state(loaded, "momentum_step", hyper["opt"], names=_trained(regime))
    setup = runner.Setup(None, loaded, opt_state, hyper, [])
    return Contract(setup, dtype="float32", evaluation=lambda backend, dtype: lambda params, hyper: {
        "held-out accuracy": _numpy_accuracy(params, data.held_x.astype(np.float32), data.held_t)})


def _trained(regime):
    return bit_train_step.trained_names(CONFIG, TRAIN[regime])


def batches(data: Data, picks: list[np.ndarray]) -> list[dict]:
    """The labelled images of each step, {"x", "t"}, the same for every route."""
    x = data.shots_x.astype(np.float32)
    return [{"x": x[pick], "t": data.shots_t[pick]} for pick in picks]


def train(backend: str, paths: dict, regime: str, data: Data, picks, lr: float) -> runner.Run:
    """One downstream run of `backend`'s route, evaluated once, at the end."""
    run = runner.train(backend, trainer(backend, paths, regime, data, lr), batches(data, picks),
                       eval_every=len(picks))
    run.info["regime"] = regime
    return run


# ---- the command ---------------------------------------------------------------------------

def add_arguments(p) -> None:
    p.add_argument("--shots", type=integer(1), default=10, help="labelled images per digit 5-9 (default 10)")
    p.add_argument("--pretrain-steps", type=integer(1), default=800,
                   help="upstream steps of 64 digits 0-4 (default 800)")
    p.add_argument("--workdir", help="where to write the .npz and the SavedModels (default: a temporary "
                   "directory, removed at the end)")


def main(args, console: Console) -> int:
    try:
        data = load_data(args.shots, args.seed)
    except ValueError as error:  # too many shots for the rarest digit: known only from the data
        args.parser.error(f"argument --{error}")
    if not backends.installed("torch"):
        raise SystemExit("rosetta: the BiT demo pre-trains with PyTorch, which is not installed")
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    for name, why in missing.items():
        console.print(f"[yellow]{name} not run: {why}[/]")
    console.print(_describe(args, data))
    names = [backend.name for backend in active]
    if args.workdir:
        return _run(args, console, data, names, args.workdir)
    with tempfile.TemporaryDirectory(prefix="rosetta-bit-") as workdir:  # removed at the end, weights and all
        return _run(args, console, data, names, workdir)


def _describe(args, data: Data) -> str:
    return (f"BiT (ResNet-v2, group norm + weight-standardised convs), depth {CONFIG['depth']}, root "
            f"{CONFIG['root_channels']}, widths {CONFIG['out_channels']}, {CONFIG['groups']} groups, "
            f"{_bit.param_count(CONFIG):,} weights; digits upsampled to 32x32x3. Upstream: digits "
            f"0-4, {len(data.up_t)} training and {len(data.up_test_t)} held-out images, {args.pretrain_steps} "
            f"steps of {PRETRAIN_BATCH} randomly cropped (torch, momentum SGD lr {PRETRAIN_LR}, {WARMUP} steps of "
            f"warmup). Downstream: digits 5-9, {args.shots} labelled per class ({len(data.shots_t)}), "
            f"{len(data.held_t)} held out; {args.steps} steps of {min(BATCH, len(data.shots_t))}, "
            f"momentum_step(lr={args.lr}, momentum {MOMENTUM}), float32")


def _run(args, console: Console, data: Data, names: list[str], workdir: str) -> int:
    pretrained = pretrain(data, args.pretrain_steps, args.seed)
    paths = {"pretrained": save_weights(pretrained.params, workdir, "bit-pretrained", tf="tf" in names),
             "scratch": save_weights(scratch_params(args.seed), workdir, "bit-scratch", tf="tf" in names)}
    nudged = {"pretrained": nudged_weights(paths["pretrained"], workdir, "bit-pretrained-nudged"),
              "scratch": nudged_weights(paths["scratch"], workdir, "bit-scratch-nudged")} if names[0] == "numpy" else {}
    downstream = batches(data, make_batches(len(data.shots_t), args.steps, args.seed))
    runs = []
    for regime in REGIMES:
        start = START[regime]
        todo = runner.jobs(names, paths[start], control=True, nudge=lambda _, start=start: nudged[start])
        found = runner.run_all(todo, lambda backend, at, regime=regime: trainer(backend, at, regime, data, args.lr),
                               downstream, eval_every=len(downstream), prefix=f"{regime}: ")
        for run in found:
            run.info["regime"] = regime
        runs += found
    where = f"in {workdir}" if args.workdir else "in a temporary directory, removed at the end (--workdir keeps them)"
    console.print(f"upstream (digits 0-4): {pretrained.accuracy['held-out accuracy'][-1]:.1%} held-out accuracy "
                  f"after {args.pretrain_steps} steps ({pretrained.seconds:.1f} s); weights {where}: "
                  "bit-pretrained.npz (BiT checkpoint names)"
                  + (", bit-pretrained-hub/ (TF Hub SavedModel)" if "tf" in names else ""))
    _print_runs(console, runs, names, args, data)
    title = (f"BiT transfer, digits 0-4 -> 5-9, {args.shots} labels per class, {args.steps} steps, lr {args.lr} "
             f"(upstream held-out accuracy {pretrained.accuracy['held-out accuracy'][-1]:.1%})")
    plot(runs, args.out, title)
    console.print(f"wrote {args.out}")
    return 0


def _print_runs(console: Console, runs: list[runner.Run], names: list[str], args, data: Data) -> None:
    table = results_table(console, f"Transfer to digits 5-9 with {args.shots} labels per class: held-out accuracy "
                          f"({len(data.held_t)} images)", ("regime", "framework", "held-out\naccuracy", "final\nloss",
                                                           f"max |loss -\n{names[0]}|", "backbone\nunchanged",
                                                           "seconds"), left=("regime", "framework"))
    for run in runs:
        reference = next(r for r in runs if r.info["regime"] == run.info["regime"])
        gap = max(abs(a - b) for a, b in zip(run.losses, reference.losses))
        table.add_row(run.info["regime"], run.backend, f"{run.accuracy['held-out accuracy'][-1]:.1%}",
                      f"{run.losses[-1]:.4f}", f"{gap:.1e}", "yes" if run.info["backbone unchanged"] else "no",
                      f"{run.seconds:.1f}")
    console.print(table)
    for name in names:
        console.print(f"{name}: {ROUTES[name]}")
    console.print("Every run starts from the same files and takes the same batches; the three updates are one rule "
                  "(momentum_step: v <- 0.9 v - lr g, p <- p + v), so the losses differ by float32 rounding, which "
                  "training amplifies step by step. Seconds include loading the weights and the evaluation.")
    controls = {run.info["regime"]: run for run in runs if run.backend == runner.CONTROL}
    if controls:
        apart = []
        for regime, control in controls.items():
            step = runner.first_apart(control.losses, next(r for r in runs if r.info["regime"] == regime).losses)
            apart.append(f"{regime}: {f'step {step}' if step else 'never'}")
        console.print(f"{runner.CONTROL!r} (the NumPy run from weights one float32 rounding error away, no second "
                      f"framework) leaves the NumPy run by more than {runner.DRIFT:g} at: {', '.join(apart)}. Where "
                      "it parts early, that regime's result is as chaotic as the frameworks' spread shows: one ulp "
                      "changes it.")


# ---- the picture ------------------------------------------------------------------------

def plot(runs: list[runner.Run], path, title: str) -> None:
    """Left: the loss per step, one panel per regime, the frameworks overlaid. Right: the
    held-out accuracy, bars grouped by regime."""
    plt = pyplot()
    regimes = [r for r in REGIMES if any(run.info["regime"] == r for run in runs)]
    names = list(dict.fromkeys(run.backend for run in runs))
    fig = plt.figure(figsize=(14, 3.2 * len(regimes) + 0.8))
    grid = fig.add_gridspec(len(regimes), 2, width_ratios=(1.4, 1))
    for row, regime in enumerate(regimes):
        ax = fig.add_subplot(grid[row, 0])
        for run in runs:
            if run.info["regime"] == regime:
                ax.plot(np.arange(1, len(run.losses) + 1), run.losses, label=run.backend, **runner.STYLES.get(run.backend, {}))
        ax.set(ylabel="training loss", yscale="log", title=f"{regime}: loss per step")
        ax.legend(fontsize=8)
        if row == len(regimes) - 1:
            ax.set_xlabel("step")
    ax = fig.add_subplot(grid[:, 1])
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        values = [next((run.accuracy["held-out accuracy"][-1] for run in runs if run.backend == name and run.info["regime"] == r), np.nan)
                  for r in regimes]
        positions = np.arange(len(regimes)) + (i - (len(names) - 1) / 2) * width
        ax.bar(positions, values, width, label=name, color=runner.STYLES.get(name, {}).get("color"))
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
