"""`rosetta bench conv|rnn`: time implementations side by side (speed lives here, not in tests)."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from rosetta import bench
from rosetta.bench import conv, rnn
from rosetta.cli.arguments import integer, output_file
from rosetta.cli.common import group
from rosetta.report import results_table
from shared import backends


def add_parser(sub) -> None:
    commands = group(sub, "bench", "time implementations side by side (speed lives here, not in tests)")
    p = commands.add_parser("conv", help="conv2d forward + backward: NumPy, torch, TF and the built-ins")
    p.add_argument("--repeat", type=integer(1), default=20, help="timed runs per implementation (default 20)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="gpu: torch_impl's im2col conv vs cuDNN (needs CUDA)")
    for name, default in (("batch", 8), ("channels", 64), ("size", 32), ("filters", 64), ("kernel", 3),
                          ("padding", 1)):
        p.add_argument(f"--{name}", type=integer(0 if name == "padding" else 1), default=default,
                       help=f"default {default}")
    p.add_argument("--json", metavar="PATH", type=output_file(), help="write the results as JSON")
    p.set_defaults(run=run_conv, parser=p)
    p = commands.add_parser("rnn", help="LSTM forward + BPTT on CPU: NumPy, torch, TF loops and the built-ins")
    p.add_argument("--repeat", type=integer(1), default=20, help="timed runs per implementation (default 20)")
    for name, default, what in (("batch", 32, "N"), ("steps", 32, "T"), ("features", 128, "D"),
                                ("hidden", 128, "H")):
        p.add_argument(f"--{name}", type=integer(1), default=default, help=f"{what}, default {default}")
    p.add_argument("--json", metavar="PATH", type=output_file(), help="write the results as JSON")
    p.set_defaults(run=run_rnn)


def _table(console: Console, title: str, reference: str, run) -> list:
    """`run(on_start)` checks and times every contender, the progress line naming the one
    running; then one table of the results."""
    progress = Progress(TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=Console(stderr=True, emoji=False), transient=True)
    with progress:
        bar = progress.add_task("starting")
        results = run(lambda what: progress.update(bar, description=what))
    table = results_table(console, title, ("implementation", "median ms", "GFLOP/s", "x torch built-in",
                                           f"max err vs {reference}"), left=("implementation",))
    for r in results:
        table.add_row(escape(r.name), f"{r.median_ms:.1f}", f"{r.gflops:.0f}", f"{r.ratio:.2f}", f"{r.max_err:.1e}")
    console.print(table)
    return results


def _print_threads(console: Console) -> dict:
    threads = bench.threads()
    console.print("threads: " + ", ".join(f"{k} {v}" for k, v in threads.items()))
    return threads


def run_conv(args, console: Console) -> int:
    if args.kernel > args.size + 2 * args.padding:
        args.parser.error(f"argument --kernel: a {args.kernel}x{args.kernel} kernel does not fit a {args.size}x"
                          f"{args.size} image with padding {args.padding}")
    shape = conv.Shape(args.batch, args.channels, args.size, args.filters, args.kernel, args.padding)
    if args.device == "gpu" and not (backends.installed("torch") and backends.get("torch").devices()[-1] == "gpu"):
        console.print("[yellow]no GPU: torch.cuda.is_available() is False; nothing to run on 'gpu'[/]")
        return 0
    if args.device == "gpu":  # TF32 off, as in the parity run: cuDNN would otherwise round to 10 bits
        console.print(f"GPU set-up: {backends.get('torch').gpu_setup()}")
    console.print(f"conv2d forward + backward (y, dx, dw, db), {shape.describe()}, {args.device}; "
                  f"median of {args.repeat} runs each, after a check against F.conv2d and a warm-up")
    threads = _print_threads(console)
    results = _table(console, "conv2d forward + backward", "F.conv2d",
                     lambda on_start: conv.run_conv(shape, args.repeat, args.device, on_start=on_start))
    console.print(f"{conv.flops(shape) / 1e9:.2f} GFLOP per forward + backward; max err relative to the largest "
                  "|value| of each of y, dx, dw, db")
    peak, floor = _conv_cpu_notes(console, shape, results, args.repeat) if args.device == "cpu" else (None, None)
    separable, full = conv.separable_flops(shape)
    console.print(f"depthwise-separable block (3x3 depthwise + 1x1 pointwise) at this shape: {separable / 1e6:.1f} "
                  f"MFLOP vs {full / 1e6:.1f} MFLOP for the full conv, ratio {separable / full:.3f} "
                  f"(= 1/O + 1/k^2 = {1 / shape.filters + 1 / shape.kernel ** 2:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(conv.to_json(shape, results, threads, peak, floor), indent=1) + "\n")
        console.print(f"wrote {args.json}")
    return 0


def _conv_cpu_notes(console: Console, shape, results, repeat: int) -> tuple[int, float]:
    """NumPy's peak memory, its ratio to torch's built-in, and the GEMM floor: (peak, floor)."""
    peak = conv.numpy_peak_extra_bytes(shape)
    console.print(f"NumPy peak extra memory (tracemalloc): {peak / 2**20:.1f} MiB; the column matrix "
                  f"N*OH*OW x C*kh*kw alone is {conv.column_matrix_bytes(shape) / 2**20:.1f} MiB")
    numpy_ratio = next((r.ratio for r in results if r.name == conv.NUMPY), float("nan"))
    console.print(f"{conv.NUMPY} vs torch's built-in: {numpy_ratio:.2f}x (target <= 2.0x)")
    floor = conv.gemm_floor_ms(shape, repeat)
    builtin = next((r.median_ms for r in results if r.name == conv.BUILTIN), float("nan"))
    console.print(f"the three GEMMs alone (NumPy's BLAS, no im2col): {floor:.1f} ms = "
                  f"{conv.flops(shape) / floor / 1e6:.0f} GFLOP/s, {floor / builtin:.2f}x torch's built-in: "
                  "no im2col convolution can be faster on this machine")
    return peak, floor


def run_rnn(args, console: Console) -> int:
    shape = rnn.RnnShape(args.batch, args.steps, args.features, args.hidden)
    console.print(f"LSTM forward + BPTT (hs, c_T, dx, dh0, dc0, dWx, dWh, db), {shape.describe()}, cpu; "
                  f"cotangent: {rnn.RNN_COTANGENT}; median of {args.repeat} runs each, after a check "
                  "against nn.LSTM and a warm-up")
    threads = _print_threads(console)
    results = _table(console, "LSTM forward + BPTT", "nn.LSTM",
                     lambda on_start: rnn.run_lstm(shape, args.repeat, on_start=on_start))
    console.print(f"{rnn.lstm_flops(shape) / 1e9:.2f} GFLOP per forward + backward (matrix products only; "
                  "numpy_impl's lstm_backward runs the forward again, which is not counted); max err relative "
                  "to the largest |value| of each of the eight arrays (TimeLSTM: seven, it keeps no dc0)")
    ratios = {r.name: r.ratio for r in results}
    console.print(f"NumPy vs torch nn.LSTM: {ratios.get(rnn.RNN_NUMPY, float('nan')):.2f}x (target <= 2.0x) "
                  "for lstm + lstm_backward, two forwards (lstm_backward computes its own); "
                  f"{ratios.get(rnn.RNN_NUMPY_LAYER, float('nan')):.2f}x for the book's TimeLSTM, one forward")
    if args.json:
        Path(args.json).write_text(json.dumps(rnn.lstm_to_json(shape, results, threads), indent=1) + "\n")
        console.print(f"wrote {args.json}")
    return 0
