"""Task generators: shapes, markers, targets, seeds, and baselines recomputed from memoryless predictors."""

import builtins

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.tasks import adding_task, copy_task, digits_task


# ---- adding -------------------------------------------------------------------
def test_adding_shapes_markers_and_targets():
    n, T = 500, 31
    X, y = rl.tasks.adding(n, T, seed=0)
    assert X.shape == (n, T, 2) and y.shape == (n, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    markers = X[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2)
    first = markers.argmax(axis=1)
    second = T - 1 - markers[:, ::-1].argmax(axis=1)
    assert np.all(first < T // 2) and np.all(second >= T // 2)
    # both halves are covered, not just one position
    assert first.min() == 0 and first.max() == T // 2 - 1
    assert second.min() == T // 2 and second.max() == T - 1
    values = X[..., 0]
    assert values.min() >= 0.0 and values.max() < 1.0
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)


def test_adding_reproducible_by_seed():
    a = rl.tasks.adding(64, 20, seed=7)
    b = rl.tasks.adding(64, 20, seed=7)
    c = rl.tasks.adding(64, 20, seed=8)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    X64, y64 = rl.tasks.adding(64, 20, seed=7, dtype="float64")
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X64, a[0], rtol=1e-7)


def test_adding_baseline_from_a_memoryless_predictor():
    _, y = rl.tasks.adding(200_000, 10, seed=1, dtype="float64")
    # the best constant answer is E[y] = 1; its MSE is Var(y)
    mse = float(np.mean((y - 1.0) ** 2))
    stderr = float(np.std((y - 1.0) ** 2)) / np.sqrt(y.size)
    assert abs(mse - adding_task.baseline(10)) < 4 * stderr
    assert adding_task.baseline(1000) == pytest.approx(1 / 6)
    assert adding_task.solved(0.009) and not adding_task.solved(0.011)


def test_adding_bad_arguments():
    with pytest.raises(ValueError, match="length"):
        rl.tasks.adding(4, 1, seed=0)
    with pytest.raises(ValueError, match="n expected"):
        rl.tasks.adding(0, 10, seed=0)
    with pytest.raises(ValueError, match="seed"):
        rl.tasks.adding(4, 10, seed=None)
    with pytest.raises(ValueError, match="dtype"):
        rl.tasks.adding(4, 10, seed=0, dtype="int32")


# ---- copy memory --------------------------------------------------------------
def test_copy_memory_layout():
    n, delay = 300, 15
    X, y = rl.tasks.copy_memory(n, delay, seed=0)
    T = delay + 20
    assert X.shape == (n, T, 10) and y.shape == (n, T)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X.sum(axis=2), 1.0)  # one-hot
    tokens = X.argmax(axis=2)
    symbols = tokens[:, :10]
    assert symbols.min() == 1 and symbols.max() == 8
    assert np.all(tokens[:, 10 : 10 + delay - 1] == 0)  # delay − 1 blanks
    assert np.all(tokens[:, 10 + delay - 1] == 9)  # the delimiter
    assert np.all(tokens[:, -10:] == 0)
    assert np.all(y[:, : delay + 10] == 0)
    np.testing.assert_array_equal(y[:, -10:], symbols)
    a, b = rl.tasks.copy_memory(8, 5, seed=3), rl.tasks.copy_memory(8, 5, seed=3)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], rl.tasks.copy_memory(8, 5, seed=4)[1])


@pytest.mark.parametrize("delay, published", [(100, 0.1733), (500, 0.0400), (1000, 0.0204)])
def test_copy_memory_baseline_from_a_memoryless_predictor(delay, published):
    _, y = rl.tasks.copy_memory(200, delay, seed=0)
    T = delay + 20
    # memoryless: blank with certainty until the last 10 steps, then uniform over symbols 1..8
    probs = np.zeros((T, 10))
    probs[: delay + 10, 0] = 1.0
    probs[delay + 10 :, 1:9] = 1.0 / 8
    picked = probs[np.arange(T)[None, :], y]
    ce = float(np.mean(-np.log(picked)))
    assert ce == pytest.approx(copy_task.baseline(delay), rel=1e-12)
    assert copy_task.baseline(delay) == pytest.approx(published, abs=5e-5)


def test_copy_memory_recall_and_success():
    _, y = rl.tasks.copy_memory(10, 4, seed=0)
    assert copy_task.recall_accuracy(y, y) == 1.0
    wrong = y.copy()
    wrong[:, -1] = 0
    assert copy_task.recall_accuracy(y, wrong) == pytest.approx(0.9)
    assert copy_task.solved(0.99) and not copy_task.solved(0.9)
    with pytest.raises(ValueError, match="delay"):
        rl.tasks.copy_memory(4, 0, seed=0)


# ---- digits -------------------------------------------------------------------
def test_digits_split_and_modes():
    pytest.importorskip("sklearn")
    Xtr, ytr = rl.tasks.digits("train", "pixels")
    Xte, yte = rl.tasks.digits("test", "pixels")
    _, yva = rl.tasks.digits("val", "pixels")
    assert Xtr.shape == (1259, 64, 1) and Xte.shape == (359, 64, 1)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= Xtr.min() and Xtr.max() <= 1.0
    # stratified: each class has 20% (rounded) of its images in the test set
    counts = np.bincount(ytr, minlength=10) + np.bincount(yva, minlength=10) + np.bincount(yte, minlength=10)
    np.testing.assert_array_equal(np.bincount(yte, minlength=10), np.round(0.2 * counts))
    Rtr, rtr = rl.tasks.digits("train", "rows")
    assert Rtr.shape == (1259, 8, 8)
    np.testing.assert_array_equal(Rtr.reshape(1259, 64, 1), Xtr)  # same images, row by row
    np.testing.assert_array_equal(rtr, ytr)
    # the split is fixed: no test image appears in the training set
    train_rows = {r.tobytes() + bytes([c]) for r, c in zip(Rtr, rtr)}
    assert not any(r.tobytes() + bytes([c]) in train_rows for r, c in zip(rl.tasks.digits("test", "rows")[0], yte))
    np.testing.assert_array_equal(rl.tasks.digits("test", "pixels")[0], Xte)


def test_digits_baseline_from_a_memoryless_predictor():
    pytest.importorskip("sklearn")
    _, ytr = rl.tasks.digits("train")
    _, yte = rl.tasks.digits("test")
    guess = np.bincount(ytr).argmax()
    assert digits_task.baseline() == pytest.approx(np.mean(yte == guess))
    assert 0.09 < digits_task.baseline() < 0.11
    assert digits_task.solved(0.97) and not digits_task.solved(0.969)


def test_digits_bad_arguments_and_missing_extra(monkeypatch):
    with pytest.raises(ValueError, match="mode"):
        rl.tasks.digits("train", "columns")
    with pytest.raises(ValueError, match="split"):
        rl.tasks.digits("valid")
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    digits_task._load.cache_clear()  # the data is cached after a first load
    with pytest.raises(ImportError, match=r"rnnlab\[data\]"):
        rl.tasks.digits()
