"""scikit-learn's 8×8 handwritten digits as sequences: 64 pixel steps or 8 row steps.

1797 images, 10 classes. The train/test split is fixed (stratified, 20% of each
class for test, drawn once with seed 0) so every run sees the same test set.
"""
import functools

import numpy as np

from .arguments import check_dtype

MODES = {"pixels": (64, 1), "rows": (8, 8)}  # mode -> (steps, features)
CLASSES = 10
TEST_FRACTION = 0.2
SPLIT_SEED = 0
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


def _split(labels):
    """Fixed stratified split: indices (train, test), each sorted."""
    rng = np.random.default_rng(SPLIT_SEED)
    test = []
    for k in range(CLASSES):
        idx = np.flatnonzero(labels == k)
        test.extend(rng.permutation(idx)[:round(TEST_FRACTION * idx.size)])
    test = np.sort(np.array(test))
    train = np.setdiff1d(np.arange(labels.size), test)
    return train, test


def digits(split="train", mode="pixels", dtype="float32"):
    """-> X (n, 64, 1) for pixels, (n, 8, 8) for rows; y (n,) int64 labels 0..9."""
    if mode not in MODES:
        raise ValueError(f"mode expected one of {sorted(MODES)}, got {mode!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split expected 'train' or 'test', got {split!r}")
    dtype = check_dtype(dtype)
    images, labels = _load()
    train, test = _split(labels)
    idx = train if split == "train" else test
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
