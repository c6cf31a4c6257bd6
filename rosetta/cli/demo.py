"""`rosetta demo <name>`: train a model in the three frameworks side by side. One module per
demo in rosetta/demos/, found by file: adding a demo adds its command."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from rosetta import demos
from rosetta.cli.arguments import image_file, integer, positive_number
from rosetta.cli.common import group
from rosetta.demos import side_by_side
from shared import backends, parity

# rosetta/demos/ modules that are not demos: the runner and the command the simple demos share
NOT_DEMOS = {"runner", "side_by_side"}


def found() -> dict:
    """{name: module} of every demo in rosetta/demos/."""
    return {info.name: importlib.import_module(f"rosetta.demos.{info.name}")
            for info in pkgutil.iter_modules(demos.__path__) if info.name not in NOT_DEMOS}


def add_parser(sub) -> None:
    commands = group(sub, "demo", "train a model in the three frameworks side by side")
    for name, module in found().items():
        p = _demo_parser(commands, name, **module.OPTIONS)
        getattr(module, "add_arguments", lambda p: None)(p)
        # a demo with its own command has main(args, console); the others share side_by_side's
        run = module.main if hasattr(module, "main") else (
            lambda args, console, module=module: side_by_side.main(module, args, console))
        p.set_defaults(run=_saying_overwrites(module, run), parser=p)


def _saying_overwrites(module, run):
    """The demo's command, first naming every image it will replace: a PNG this run did not
    write is never overwritten silently."""
    def run_demo(args, console) -> int:
        outputs = getattr(module, "outputs", lambda args: [Path(args.out)])(args)
        for path in outputs:
            if path.exists():
                console.print(f"[yellow]{path} exists: this run overwrites it (--out PATH writes elsewhere)[/]")
        return run(args, console)
    return run_demo


def _demo_parser(commands, name: str, *, help: str, steps: int, unit: str, lr: float, seeded: str, optimizers,
                 optimizer: str = "adam_step", dtypes=parity.DTYPES):
    """`rosetta demo <name>` with the options every demo takes; the demo adds its own."""
    p = commands.add_parser(name, help=help)
    p.add_argument("--steps", type=integer(1), default=steps, help=f"training steps of {unit} (default {steps})")
    p.add_argument("--optimizer", choices=optimizers, default=optimizer,
                   help=f"the optimizer step (default {optimizer})")
    p.add_argument("--lr", type=positive_number(), default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--dtype", choices=dtypes, default="float32")
    p.add_argument("--backend", nargs="+", choices=backends.BACKEND_NAMES, help="only these frameworks")
    p.add_argument("--seed", type=integer(0), default=0, help=f"seed of {seeded}")
    p.add_argument("--out", type=image_file(), default=f"{name}-demo.png",
                   help=f"the image to write (default {name}-demo.png)")
    return p
