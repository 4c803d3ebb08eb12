"""scikit-learn's 8×8 handwritten digits as sequences: 64 pixel steps or 8 row steps.

1797 images, 10 classes, in three fixed, disjoint, stratified splits: test (20%
of each class, drawn with seed SPLIT_SEED, as before the validation split
existed), validation (10% of each class, drawn from the rest with seed
[SPLIT_SEED, 1]) and train (what remains). Settings are chosen on validation;
the test set is scored once, for the chosen setting.
"""

import functools

import numpy as np

from .arguments import check_dtype

MODES = {"pixels": (64, 1), "rows": (8, 8)}  # mode -> (steps, features)
CLASSES = 10
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1  # of each class, taken from what the test split leaves
SPLIT_SEED = 0
SPLITS = ("train", "val", "test")
# what counts as solved: the target for the 64-step pixel sequences
SUCCESS_ACCURACY = 0.97


@functools.lru_cache(maxsize=1)
def _load():
    """(images (1797, 8, 8) in [0, 1], labels); cached, never modified in place."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("the digits task needs scikit-learn: pip install rnnlab[data]") from err
    data = load_digits()
    return data.images / 16.0, data.target.astype(np.int64)  # pixels 0..16 -> [0, 1]


def _stratified(labels, pool, fraction, rng):
    """round(fraction · n_k) indices of each class k drawn from `pool`, sorted."""
    picked = []
    for k in range(CLASSES):
        idx = pool[labels[pool] == k]
        n = round(fraction * np.count_nonzero(labels == k))
        picked.extend(rng.permutation(idx)[:n])
    return np.sort(np.array(picked, dtype=np.intp))


def _split(labels):
    """Fixed stratified split: {"train", "val", "test"} -> sorted, disjoint indices."""
    everything = np.arange(labels.size)
    # the test split is drawn first, with its own generator: it is the test set of the earlier records
    test = _stratified(labels, everything, TEST_FRACTION, np.random.default_rng(SPLIT_SEED))
    rest = np.setdiff1d(everything, test)
    val = _stratified(labels, rest, VAL_FRACTION, np.random.default_rng([SPLIT_SEED, 1]))
    return {"train": np.setdiff1d(rest, val), "val": val, "test": test}


def digits(split="train", mode="pixels", dtype="float32"):
    """-> X (n, 64, 1) for pixels, (n, 8, 8) for rows; y (n,) int64 labels 0..9.

    split: "train" (1259 images), "val" (179) or "test" (359); see the module docstring.
    """
    if mode not in MODES:
        raise ValueError(f"mode expected one of {sorted(MODES)}, got {mode!r}")
    if split not in SPLITS:
        raise ValueError(f"split expected one of {list(SPLITS)}, got {split!r}")
    dtype = check_dtype(dtype)
    images, labels = _load()
    idx = _split(labels)[split]
    steps, features = MODES[mode]
    X = images[idx].reshape(idx.size, steps, features).astype(dtype)  # row-major: pixel by pixel
    return X, labels[idx]


def baseline():
    """Test accuracy of the memoryless predictor: always the most frequent training class."""
    _, y_train = digits("train", "rows")
    _, y_test = digits("test", "rows")
    majority = np.bincount(y_train, minlength=CLASSES).argmax()
    return float(np.mean(y_test == majority))


def solved(accuracy):
    """Success criterion: test accuracy at least 97%."""
    return bool(accuracy >= SUCCESS_ACCURACY)
