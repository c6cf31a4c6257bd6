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

from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from rosetta.demos import runner
from rosetta.demos.side_by_side import pyplot
from rosetta.report import results_table
from shared import backends
from shared.concepts import _gan, get
from shared.concepts import gan_train_step as spec
from shared.data import digits
from shared.parity import cast_inputs
from shared.training import init_opt_state

CONCEPT = spec.CONCEPT_NAME
OPTIONS = dict(help="DCGAN on the digits: D and G updated in turn; one PNG of generated digits per framework, one "
               "of the D and G losses", steps=800, unit="64 digits", lr=2e-3,
               seeded="the initial weights, the batches and the noise",
               optimizers=spec.OPTIMIZERS)  # DCGAN's Adam, beta1 = 0.5
EVAL_EVERY = 50
# 10x the parity cases' channels: 24k generator and 37k discriminator parameters
NET = {"z_dim": 16, "g_channels": (64, 32), "d_channels": (32, 64)}
BATCH = 64
SAMPLES = 48  # one fixed noise vector per drawn digit: a 6 x 8 grid per framework
CONFIDENT = 0.9  # the classifier's probability above which a sample counts as recognised
# Adam as in DCGAN (Radford et al. 2016): beta1 0.5, not 0.9, and eps written out (torch's
# default 1e-8; Keras' is 1e-7)
ADAM = {"beta1": 0.5, "beta2": 0.999, "eps": 1e-8}


def add_arguments(p) -> None:
    p.add_argument("--g-loss", choices=("non_saturating", "minimax"), default="non_saturating",
                   help="the generator's loss: -log D(G(z)) (default, as DCGAN) or log(1 - D(G(z))) (the minimax game)")


def setup(steps: int, lr: float, seed: int = 0, *, g_loss: str = "non_saturating",
          batch_size: int = BATCH) -> runner.Setup:
    """Initial params and opt_state, hyper, every batch (real digits and noise) and, in
    extra["noise"], the fixed noise the samples are drawn from: the inputs all three
    frameworks share."""
    split = digits()
    rng = np.random.default_rng(seed)
    params = _gan.init_params(rng, NET["z_dim"], NET["g_channels"], NET["d_channels"])
    hyper = {"g_loss": g_loss, "bn_eps": _gan.BN_EPS, "negative_slope": _gan.NEGATIVE_SLOPE,
             "optimizer": "adam_step", "opt": {"lr": lr, **ADAM}}
    real = _gan.images(split.x_train)
    batches = [spec.make_batch(rng, real, batch_size, NET["z_dim"]) for _ in range(steps)]
    fixed_noise = rng.standard_normal((SAMPLES, NET["z_dim"]))
    opt_state = {net: init_opt_state(params[net], "adam_step", hyper["opt"]) for net in ("G", "D")}
    return runner.Setup(split, params, opt_state, hyper, batches, {"noise": fixed_noise})


def evaluation(setup: runner.Setup) -> runner.Evaluation:
    """The samples from the fixed noise, and the discriminator's mean probability of
    "real" on the held-out digits and on those samples."""
    def prepare(backend, dtype):
        module = backends.module(backend.name, get(CONCEPT))
        noise, real = backend.convert(cast_inputs([setup.extra["noise"], _gan.images(setup.split.x_test)], dtype),
                                      "cpu")

        def probability(images, D, hyper):
            logits = backend.to_numpy(module.discriminator(images, **D, negative_slope=hyper["negative_slope"]))
            return float(np.mean(1 / (1 + np.exp(-logits.astype(np.float64)))))

        def evaluate(params, hyper):
            # the generator keeps its batch norm in training mode, as the DCGAN tutorial
            # draws its progress images: these 48 noise vectors are normalised together
            fake = module.generator(noise, **params["G"], bn_eps=hyper["bn_eps"])
            return {"samples": backend.to_numpy(fake), "D(real)": probability(real, params["D"], hyper),
                    "D(fake)": probability(fake, params["D"], hyper)}
        return evaluate
    return prepare


def outputs(args) -> list[Path]:
    """The two PNGs: the samples (--out) and the losses beside it."""
    out = Path(args.out)
    return [out, out.with_name(f"{out.stem}-losses{out.suffix}")]


def main(args, console: Console) -> int:
    active, missing = backends.discover(args.backend or backends.BACKEND_NAMES)
    for name, why in missing.items():
        console.print(f"[yellow]{name} not run: {why}[/]")
    setup_ = setup(args.steps, args.lr, args.seed, g_loss=args.g_loss)
    console.print(_describe(setup_, args))

    def make(backend, params):
        return runner.Functional(backend, CONCEPT, setup_, params, dtype=args.dtype, evaluation=evaluation(setup_))
    todo = runner.jobs([b.name for b in active], setup_.params, control=True,
                       nudge=lambda params: runner.nudged(params, args.dtype))
    runs = runner.run_all(todo, make, setup_.batches, eval_every=EVAL_EVERY)
    read = digit_reader(setup_.split)
    _print_results(console, runs, setup_, read)
    out, losses_out = outputs(args)
    title = f"DCGAN on the digits, {args.g_loss.replace('_', '-')} G loss, {args.steps} steps, {args.dtype}"
    real = _gan.images(setup_.split.x_train[:SAMPLES])
    plot_samples(runs, real, read, out, f"{title}: the same noise, drawn by each framework")
    plot_losses(runs, losses_out, title)
    console.print(f"wrote {out} and {losses_out}")
    return 0


def _describe(setup_: runner.Setup, args) -> str:
    count = {name: sum(p.size for p in setup_.params[name].values()) for name in ("G", "D")}
    opt = setup_.hyper["opt"]
    return (f"DCGAN on the digits: G z[{NET['z_dim']}] -> Affine -> {NET['g_channels'][0]}x2x2 -> ConvT -> "
            f"{NET['g_channels'][1]}x4x4 -> BatchNorm-ReLU -> ConvT -> tanh 1x8x8 ({count['G']:,} weights); "
            f"D Conv {NET['d_channels'][0]}x4x4 -> Conv {NET['d_channels'][1]}x2x2 (LeakyReLU 0.2) -> one "
            f"logit ({count['D']:,} weights); {args.g_loss.replace('_', '-')} G loss; batches of "
            f"{BATCH} of {len(setup_.split.t_train)} training digits; adam_step(lr={args.lr}, beta1 "
            f"{opt['beta1']}, eps {opt['eps']:g}), {args.steps} steps, {args.dtype}")


def _print_results(console: Console, runs: list[runner.Run], setup_: runner.Setup, read) -> None:
    reference = runs[0]
    table = results_table(console, "Same weights, batches and noise: what each framework's GAN learned", (
        "framework", "D loss\n(last 50)", "G loss\n(last 50)", "D(real)\nheld out", "D(fake)", "samples\nrecognised",
        "digits\ncovered", f"max |sample -\n{reference.backend}|", "seconds"))
    for run in runs:
        samples = run.arrays["samples"][-1]
        recognised, covered, _ = read(samples)
        gap = float(np.abs(samples.astype(np.float64) - reference.arrays["samples"][-1]).max())
        table.add_row(run.backend, f"{np.mean(run.curves['D'][-50:]):.3f}", f"{np.mean(run.curves['G'][-50:]):.3f}",
                      f"{run.accuracy['D(real)'][-1]:.2f}", f"{run.accuracy['D(fake)'][-1]:.2f}", f"{recognised:.0%}",
                      str(covered), f"{gap:.1e}", f"{run.seconds:.1f}")
    console.print(table)
    real_read = read(_gan.images(setup_.split.x_test[:SAMPLES]))
    console.print(f"The reader is a logistic regression on the real training digits ({read.test_accuracy:.1%} on the "
                  f"held-out digits); it recognises {real_read[0]:.0%} of {SAMPLES} held-out real digits "
                  f"(probability > {CONFIDENT}), {real_read[1]} digits. Samples come from {SAMPLES} "
                  "fixed noise vectors, the same in every framework.")
    if len(runs) > 1:
        console.print(runner.drift_report(runs))
        agree = reference.eval_steps[last_agreeing(runs)]
        console.print(f"The samples of every run agree to 1e-3 per pixel up to step {agree} (evaluated every "
                      f"{EVAL_EVERY} steps); after that each run follows its own path. A GAN is a two-player game and "
                      "amplifies a rounding error faster than a classifier: judge the frameworks by the first row of "
                      "the PNG and by the parity cases (1 and 10 steps), and their GANs by the quality of the second "
                      "row.")


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


def grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    """[N, 1, 8, 8] images as one picture, a pixel of [-1, 1]-background between them."""
    rows = -(-len(images) // columns)
    picture = -np.ones((rows * 9 + 1, columns * 9 + 1))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        picture[1 + 9 * r:9 * (r + 1), 1 + 9 * c:9 * (c + 1)] = image[0]
    return picture


def last_agreeing(runs: list[runner.Run], within: float = 1e-3) -> int:
    """The index of the last evaluation at which every run's samples are within `within`
    of the first run's, pixel by pixel (0 if none is)."""
    reference = runs[0].arrays["samples"]
    agreeing = [i for i in range(len(reference))
                if all(np.abs(run.arrays["samples"][i].astype(np.float64) - reference[i]).max() <= within
                       for run in runs)]
    return agreeing[-1] if agreeing else 0


def plot_samples(runs: list[runner.Run], real: np.ndarray, read, path, title: str) -> None:
    """Real digits, then each framework's samples from the same fixed noise: on top at the
    last evaluation where all runs still agree, below at the end."""
    plt = pyplot()

    early = last_agreeing(runs)
    fig, axes = plt.subplots(2, len(runs) + 1, figsize=(3.6 * (len(runs) + 1), 8))
    for row, index in enumerate((early, -1)):
        step = runs[0].eval_steps[index]
        panels = [("real digits (training set)", real)] + [(run.backend, run.arrays["samples"][index]) for run in runs]
        for ax, (name, images) in zip(axes[row], panels):
            # gray_r: ink dark on white, as the digits are usually shown
            ax.imshow(grid(images[:SAMPLES]), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
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


def plot_losses(runs: list[runner.Run], path, title: str) -> None:
    """D's and G's loss per step per framework, and how far each run is from the first."""
    plt = pyplot()
    fig, (ax_d, ax_g, ax_gap) = plt.subplots(1, 3, figsize=(17, 4.5))
    reference = runs[0]
    for run in runs:
        style = runner.STYLES.get(run.backend, {})
        steps = np.arange(1, len(run.curves["D"]) + 1)
        ax_d.plot(steps, run.curves["D"], label=run.backend, **style)
        ax_g.plot(steps, run.curves["G"], label=run.backend, **style)
        if run is not reference:
            gap = np.maximum(np.abs(np.subtract(run.curves["D"], reference.curves["D"])),
                             np.abs(np.subtract(run.curves["G"], reference.curves["G"])))
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
