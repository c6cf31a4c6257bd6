"""dl-rosetta's framework-neutral core: specs, tolerances, the parity engine, the CLI.

Nothing here imports torch or TensorFlow at module level: a learner with only NumPy
installed can read every spec and run the NumPy reference.
"""
