"""`make notebooks`: run every notebook in notebooks/ (or those named) top to bottom in a fresh
kernel and save it with its outputs, each code cell stamped with the digest of its source, so
that the notebooks read on GitHub without running. parity_tests/test_notebooks.py fails when a
cell was edited after its outputs were made, or when a fresh run shows something else."""
import sys
import time
from pathlib import Path

import nbformat

from rosetta import notebook


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(notebook.NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        start = time.perf_counter()
        nb = notebook.stamp(notebook.execute(nbformat.read(path, as_version=4), path.resolve().parent))
        nbformat.write(nb, path)
        print(f"{path}: ran in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
