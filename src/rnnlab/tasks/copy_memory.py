"""The copy memory task (Arjovsky, Shah & Bengio 2016).

Alphabet of 10 symbols: 1..8 are the symbols to copy, 0 is blank, 9 the
delimiter. Input: 10 random symbols, `delay` − 1 blanks, the delimiter, then 10
blanks (length delay + 20). Target: delay + 10 blanks, then the 10 symbols.
The network must hold the 10 symbols for `delay` steps and replay them after
the delimiter.
"""

import numpy as np

from ..checks import int_at_least, positive_int
from .arguments import check_dtype, rng_from

SYMBOLS = 8  # symbols to copy are 1..8
BLANK, DELIMITER = 0, 9
CLASSES = 10
COPIED = 10  # how many symbols are copied
# what counts as solved: at least 99% of the copied symbols right
SUCCESS_RECALL = 0.99


def copy_memory(n, delay, seed, dtype="float32"):
    """n sequences -> X (n, delay + 20, 10) one-hot, y (n, delay + 20) int64 class per step."""
    n = positive_int("n", n)
    delay = int_at_least("delay", delay, 1)
    dtype = check_dtype(dtype)
    rng = rng_from(seed)
    T = delay + 2 * COPIED
    symbols = rng.integers(1, SYMBOLS + 1, size=(n, COPIED))
    tokens = np.full((n, T), BLANK, dtype=np.int64)
    tokens[:, :COPIED] = symbols
    tokens[:, COPIED + delay - 1] = DELIMITER  # after delay − 1 blanks
    y = np.full((n, T), BLANK, dtype=np.int64)
    y[:, -COPIED:] = symbols
    X = np.eye(CLASSES, dtype=dtype)[tokens]
    return X, y


def baseline(delay):
    """Mean cross-entropy per step of the memoryless predictor: 10 ln 8 / (delay + 20).

    It outputs blank with certainty until the last 10 steps, then a uniform guess
    among the 8 symbols (ln 8 nats each).
    """
    delay = int_at_least("delay", delay, 1)
    return COPIED * float(np.log(SYMBOLS)) / (delay + 2 * COPIED)


def recall_accuracy(y_true, y_pred):
    """Share of the 10 copied symbols predicted right; y_pred are class indices (n, T)."""
    return float(np.mean(np.asarray(y_true)[:, -COPIED:] == np.asarray(y_pred)[:, -COPIED:]))


def solved(recall):
    """Success criterion: at least 99% of the copied symbols recalled."""
    return bool(recall >= SUCCESS_RECALL)
