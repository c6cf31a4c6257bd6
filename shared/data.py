"""Data that ships with our dependencies or is generated here: nothing is downloaded.

addition(): the book's "16+75" -> "91" task (ゼロから作る 2, ch. 7), generated.
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



# ---- the book's addition task (ゼロから作る 2, chapter 7) -----------------------------------

ADDITION_VOCAB = "0123456789+ _"  # '_' starts every answer; ' ' pads
QUESTION_LENGTH = 7                 # "999+999"
ANSWER_LENGTH = 5                   # "_1998"


@dataclass(frozen=True)
class Sequences:
    x_train: np.ndarray  # [N, 7] int64 question tokens, "16+75  "
    y_train: np.ndarray  # [N, 5] int64 answer tokens, "_91  "
    x_test: np.ndarray
    y_test: np.ndarray


def encode(text: str) -> list[int]:
    return [ADDITION_VOCAB.index(ch) for ch in text]


def decode(tokens) -> str:
    return "".join(ADDITION_VOCAB[int(i)] for i in tokens)


def addition(count: int = 5000, test_fraction: float = 0.1, seed: int = 0, max_value: int = 999) -> Sequences:
    """The book's addition.txt, generated instead of downloaded: "a+b" with a, b drawn
    uniformly from 0..max_value, padded with spaces; the answer "_" + str(a + b)."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, max_value + 1, size=(2, count))
    x = np.array([encode(f"{p}+{q}".ljust(QUESTION_LENGTH)) for p, q in zip(a, b)], dtype=np.int64)
    y = np.array([encode(f"_{p + q}".ljust(ANSWER_LENGTH)) for p, q in zip(a, b)], dtype=np.int64)
    test = round(test_fraction * count)
    return Sequences(x[test:], y[test:], x[:test], y[:test])
