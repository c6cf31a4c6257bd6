"""shared/ and numpy_impl/ must not pull in a framework: a learner with NumPy alone can
read every spec and run every NumPy version. Checked in a fresh interpreter."""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["shared", "shared.concepts", "shared.parity", "shared.training", "rosetta.cli",
                                    "rosetta.demos.side_by_side", "numpy_impl.losses", "numpy_impl.mlp"])
def test_importing_does_not_import_a_framework(module):
    code = (f"import sys, {module}, shared.concepts as c; c.all_concepts(); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
