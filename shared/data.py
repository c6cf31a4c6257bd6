"""Data that ships with our dependencies or is generated here: nothing is downloaded.

digits(): scikit-learn's bundled 8x8 handwritten digits (1,797 images, the UCI set), a
small stand-in for the book's MNIST that trains in seconds on a CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # [N, 64] float64 in [0, 1]
    t_train: np.ndarray  # [N] int64 labels 0..9
    x_test: np.ndarray
    t_test: np.ndarray


@lru_cache(maxsize=4)
def digits(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The digits as flat 64-pixel rows scaled to [0, 1], split per class (stratified)
    so that train and test hold each digit in the same proportion."""
    from sklearn.datasets import load_digits  # scikit-learn is slow to import: only when asked

    data = load_digits()
    x = data.data.astype(np.float64) / 16.0  # pixel intensities are 0..16
    t = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(t), dtype=bool)
    for label in range(10):
        members = rng.permutation(np.flatnonzero(t == label))
        test[members[:round(test_fraction * len(members))]] = True
    return Split(x[~test], t[~test], x[test], t[test])

