"""`rosetta demo gan`: DCGAN 敵対的生成ネットワーク on the digits, trained three times, in
NumPy, PyTorch and TensorFlow, from the same initial weights, the same real batches and
the same noise. Two PNGs: the generated digits per framework side by side (from one fixed
set of noise vectors, so the same weights draw the same digits) and the D and G losses.

A GAN has no accuracy; what it learned is read off its samples. To put a number on them,
a plain classifier trained on the real digits (scikit-learn's logistic regression) reads
every sample: "recognised" is the share it assigns to one digit with probability > 0.9,
"digits covered" how many of the ten digits those recognised samples span (a collapsed
generator draws one or two).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from shared import backends
from shared.concepts import _gan, get
from shared.concepts import gan_train_step as spec
from shared.data import digits
from shared.parity import cast_inputs
from shared.training import init_opt_state
from shared.trees import tree_map

# 10x the parity cases' channels: 24k generator and 37k discriminator parameters
DEMO_NET = {"z_dim": 16, "g_channels": (64, 32), "d_channels": (32, 64)}
BATCH = 64
SAMPLES = 48  # one fixed noise vector per drawn digit: a 6 x 8 grid per framework
CONFIDENT = 0.9  # the classifier's probability above which a sample counts as recognised
# Adam as in DCGAN (Radford et al. 2016): beta1 0.5, not 0.9, and eps written out (torch's
# default 1e-8; Keras' is 1e-7)
ADAM = {"beta1": 0.5, "beta2": 0.999, "eps": 1e-8}


@dataclass
class GanRun:
    """One framework's training: both losses at every step, the samples from the fixed
    noise every `eval_every` steps, the final parameters (canonical NumPy arrays)."""

    backend: str
    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # [SAMPLES, 1, 8, 8] in [-1, 1] per evaluation
    real_probability: list[float] = field(default_factory=list)  # mean sigmoid(D(x)) on held-out digits
    fake_probability: list[float] = field(default_factory=list)  # mean sigmoid(D(G(z))) on the fixed noise
    seconds: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def losses(self) -> list[float]:
        """The discriminator's loss: the curve the drift report follows (cli._print_drift)."""
        return self.d_losses


def setup(steps: int, lr: float, seed: int = 0, *, g_loss: str = "non_saturating", batch_size: int = BATCH):
    """Initial params and opt_state, hyper, every batch (real digits and noise) and the
    fixed noise the samples are drawn from: the inputs all three frameworks share."""
    split = digits()
    rng = np.random.default_rng(seed)
    params = _gan.init_params(rng, DEMO_NET["z_dim"], DEMO_NET["g_channels"], DEMO_NET["d_channels"])
    hyper = {"g_loss": g_loss, "bn_eps": _gan.BN_EPS, "negative_slope": _gan.NEGATIVE_SLOPE,
             "optimizer": "adam_step", "opt": {"lr": lr, **ADAM}}
    real = _gan.images(split.x_train)
    batches = [spec.make_batch(rng, real, batch_size, DEMO_NET["z_dim"]) for _ in range(steps)]
    fixed_noise = rng.standard_normal((SAMPLES, DEMO_NET["z_dim"]))
    opt_state = {net: init_opt_state(params[net], "adam_step", hyper["opt"]) for net in ("G", "D")}
    return split, params, opt_state, hyper, batches, fixed_noise


def train(backend_name: str, split, params, opt_state, hyper, batches, fixed_noise, *, dtype: str = "float32",
          eval_every: int = 50, on_step: Callable[[int, float, float], None] = lambda step, d, g: None) -> GanRun:
    """Train with `backend_name`'s gan train_step; every array starts as the same NumPy array."""
    backend = backends.get(backend_name)
    module = backends.module(backend_name, get(spec.CONCEPT_NAME))
    run = GanRun(backend_name)
    held_out = _gan.images(split.x_test)
    inputs = cast_inputs({"params": params, "opt_state": opt_state, "batches": batches, "noise": fixed_noise,
                          "held_out": held_out}, dtype)
    start = time.perf_counter()
    with backend.scope("cpu"):
        params = backend.convert(inputs["params"], "cpu")
        opt_state = backend.convert(inputs["opt_state"], "cpu")
        noise, real = backend.convert([inputs["noise"], inputs["held_out"]], "cpu")

        def probability(images, D):
            logits = backend.to_numpy(module.discriminator(images, **D, negative_slope=hyper["negative_slope"]))
            return float(np.mean(1 / (1 + np.exp(-logits.astype(np.float64)))))

        for step, batch in enumerate(inputs["batches"], start=1):
            losses, _, params, opt_state = module.train_step(params, opt_state, backend.convert(batch, "cpu"), hyper)
            run.d_losses.append(float(backend.to_numpy(losses["D"])))
            run.g_losses.append(float(backend.to_numpy(losses["G"])))
            if step % eval_every == 0 or step == len(inputs["batches"]):
                # the generator keeps its batch norm in training mode, as the DCGAN tutorial
                # draws its progress images: these 48 noise vectors are normalised together
                fake = module.generator(noise, **params["G"], bn_eps=hyper["bn_eps"])
                run.eval_steps.append(step)
                run.samples.append(backend.to_numpy(fake))
                run.real_probability.append(probability(real, params["D"]))
                run.fake_probability.append(probability(fake, params["D"]))
            on_step(step, run.d_losses[-1], run.g_losses[-1])
    run.seconds = time.perf_counter() - start
    run.params = tree_map(backend.to_numpy, params)
    return run


def digit_reader(split) -> Callable[[np.ndarray], tuple[float, int, np.ndarray]]:
    """A classifier of the real digits (logistic regression on the training pixels);
    read(samples) -> (share recognised, digits covered, predicted digit per sample, -1
    where not recognised)."""
    from sklearn.linear_model import LogisticRegression
    classifier = LogisticRegression(max_iter=2000).fit(split.x_train, split.t_train)

    def read(samples):
        pixels = (np.asarray(samples, dtype=np.float64).reshape(len(samples), -1) + 1) / 2  # back to [0, 1]
        probability = classifier.predict_proba(pixels)
        digit = np.where(probability.max(axis=1) > CONFIDENT, probability.argmax(axis=1), -1)
        recognised = digit >= 0
        return float(recognised.mean()), len(np.unique(digit[recognised])), digit
    read.test_accuracy = float(classifier.score(split.x_test, split.t_test))
    return read


def _grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    """[N, 1, 8, 8] images as one picture, a pixel of [-1, 1]-background between them."""
    rows = -(-len(images) // columns)
    picture = -np.ones((rows * 9 + 1, columns * 9 + 1))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        picture[1 + 9 * r:9 * (r + 1), 1 + 9 * c:9 * (c + 1)] = image[0]
    return picture


def last_agreeing(runs: list[GanRun], within: float = 1e-3) -> int:
    """The index of the last evaluation at which every run's samples are within `within`
    of the first run's, pixel by pixel (0 if none is)."""
    reference = runs[0]
    agreeing = [i for i in range(len(reference.samples))
                if all(np.abs(run.samples[i].astype(np.float64) - reference.samples[i]).max() <= within
                       for run in runs)]
    return agreeing[-1] if agreeing else 0


def plot_samples(runs: list[GanRun], real: np.ndarray, read, path, title: str) -> None:
    """Real digits, then each framework's samples from the same fixed noise: on top at the
    last evaluation where all runs still agree, below at the end."""
    import matplotlib
    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    early = last_agreeing(runs)
    fig, axes = plt.subplots(2, len(runs) + 1, figsize=(3.6 * (len(runs) + 1), 8))
    for row, index in enumerate((early, -1)):
        step = runs[0].eval_steps[index]
        panels = [("real digits (training set)", real)] + [(run.backend, run.samples[index]) for run in runs]
        for ax, (name, images) in zip(axes[row], panels):
            # gray_r: ink dark on white, as the digits are usually shown
            ax.imshow(_grid(images[:SAMPLES]), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
            if images is not real:
                recognised, covered, _ = read(images)
                name = f"{name}, step {step}\n{recognised:.0%} recognised, {covered} digits"
            ax.set_title(name, fontsize=10)
            ax.axis("off")
    axes[0, 0].set_title(f"real digits (training set)\nabove: step {runs[0].eval_steps[early]}, every run still "
                         "agrees\nbelow: the end, each run on its own path", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_losses(runs: list[GanRun], path, title: str) -> None:
    """D's and G's loss per step per framework, and how far each run is from the first."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from shared.demos import STYLES

    fig, (ax_d, ax_g, ax_gap) = plt.subplots(1, 3, figsize=(17, 4.5))
    reference = runs[0]
    for run in runs:
        style = STYLES.get(run.backend, {})
        steps = np.arange(1, len(run.d_losses) + 1)
        ax_d.plot(steps, run.d_losses, label=run.backend, **style)
        ax_g.plot(steps, run.g_losses, label=run.backend, **style)
        if run is not reference:
            gap = np.maximum(np.abs(np.subtract(run.d_losses, reference.d_losses)),
                             np.abs(np.subtract(run.g_losses, reference.g_losses)))
            # dots: steps where two runs agree exactly (gap 0) have no place on a log scale
            ax_gap.plot(steps, gap, ".", ms=3, color=style.get("color"), label=f"|{run.backend} - {reference.backend}|")
    # 2 ln 2 and ln 2: the losses where D cannot tell real from fake (D = 1/2 everywhere)
    ax_d.axhline(2 * np.log(2), color="k", lw=0.6, ls="--", label="2 ln 2 (D guesses)")
    ax_d.set(xlabel="step", ylabel="D loss: BCE(real, 1) + BCE(fake, 0)", title="Discriminator")
    g_label = "G loss: BCE(D(G(z)), 1)" if "minimax" not in title else "G loss: -BCE(D(G(z)), 0)"
    ax_g.set(xlabel="step", ylabel=g_label, title="Generator (against the updated D)")
    ax_gap.set(xlabel="step", ylabel="max of |D loss|, |G loss| differences", yscale="log",
               title=f"How far apart: loss minus {reference.backend}'s")
    for ax in (ax_d, ax_g):
        ax.legend()
    if len(runs) > 1:
        ax_gap.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
