"""The adding problem (Hochreiter & Schmidhuber 1997; modern form of Arjovsky et al. 2016).

Each sequence has two channels: a value drawn from U[0, 1] at every step and a
marker that is 1 at exactly two steps, one in each half of the sequence. The
target is the sum of the two marked values, so the network must hold the first
value across at least T/2 steps of distractors.
"""

import numpy as np

from ..checks import int_at_least, positive_int
from .arguments import check_dtype, rng_from

# A predictor that never reads the input does best by always answering E[y] = 1;
# its MSE is Var(u1 + u2) = 2 · (1/12) = 1/6.
BASELINE = 1.0 / 6.0
# what counts as solved: the target, 6% of the baseline's error
SUCCESS_MSE = 0.01


def adding(n, length, seed, dtype="float32"):
    """n sequences of `length` steps -> X (n, length, 2), y (n, 1).

    X[..., 0] are the values, X[..., 1] the two markers: the first at a step in
    [0, length // 2), the second in [length // 2, length).
    """
    n = positive_int("n", n)
    length = int_at_least("length", length, 2)
    dtype = check_dtype(dtype)
    rng = rng_from(seed)
    half = length // 2
    values = rng.random((n, length))
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    rows = np.arange(n)
    X = np.zeros((n, length, 2), dtype=dtype)
    X[..., 0] = values
    X[rows, first, 1] = 1.0
    X[rows, second, 1] = 1.0
    y = (values[rows, first] + values[rows, second])[:, None]  # y = u_first + u_second
    return X, y.astype(dtype)


def baseline(length):
    """Test MSE of the memoryless predictor y = 1 (independent of length)."""
    int_at_least("length", length, 2)
    return BASELINE


def solved(mse):
    """Success criterion: test MSE below 0.01."""
    return bool(mse < SUCCESS_MSE)
