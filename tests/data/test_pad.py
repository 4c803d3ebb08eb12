"""rl.data.pad_sequences equals keras.utils.pad_sequences, argument for argument."""

import itertools

import numpy as np
import pytest

import rnnlab as rl

keras = pytest.importorskip("keras")


def ragged(rng, n, features=None, low=0, high=9):
    out = []
    for _ in range(n):
        shape = (int(rng.integers(low, high)),) + (() if features is None else (features,))
        out.append(rng.integers(1, 50, shape) if features is None else rng.standard_normal(shape))
    return out


@pytest.mark.parametrize("padding, truncating", list(itertools.product(["pre", "post"], repeat=2)))
@pytest.mark.parametrize("maxlen", [None, 1, 4, 12])
def test_equals_keras(padding, truncating, maxlen):
    rng = np.random.default_rng(hash((padding, truncating, maxlen)) % 2**32)
    for trial in range(5):
        seqs = ragged(rng, int(rng.integers(1, 12)))
        if trial == 1:
            seqs = [list(map(int, s)) for s in seqs]  # plain lists, as Keras users pass
        got = rl.data.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
        want = keras.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
        assert got.dtype == want.dtype == np.int32
        np.testing.assert_array_equal(got, want)
        # features, a float dtype and a padding value
        seqs = ragged(rng, 6, features=3, low=1)
        kwargs = dict(maxlen=maxlen, padding=padding, truncating=truncating, dtype="float32", value=-1.5)
        got, want = rl.data.pad_sequences(seqs, **kwargs), keras.utils.pad_sequences(seqs, **kwargs)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_defaults_are_keras_defaults():
    seqs = [[1, 2, 3], [4], [5.7, 6]]
    np.testing.assert_array_equal(rl.data.pad_sequences(seqs), [[1, 2, 3], [0, 0, 4], [0, 5, 6]])
    np.testing.assert_array_equal(rl.data.pad_sequences(seqs), keras.utils.pad_sequences(seqs))
    np.testing.assert_array_equal(rl.data.pad_sequences([[1, 2, 3], []], maxlen=2), [[2, 3], [0, 0]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sequences=5), "pad_sequences expected a list of sequences, got int"),
        (dict(sequences=[[1], 3]), "expected a list of sequences .* got int at position 1"),
        (dict(sequences=[[1], [2]], padding="left"), r"padding expected one of \['pre', 'post'\], got 'left'"),
        (dict(sequences=[[1], [2]], truncating="end"), "truncating expected one of"),
        (dict(sequences=[[1], [2]], maxlen=0), "maxlen expected a positive integer, got 0"),
        (dict(sequences=[[1], [2]], value="x"), "value expected a number"),
        (dict(sequences=[]), "expected at least one sequence"),
        (
            dict(sequences=[np.zeros((2, 3)), np.zeros((2, 4))], dtype="float32"),
            r"every step of shape \(3,\) .* got \(4,\) in sequence 1",
        ),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rl.data.pad_sequences(**kwargs)
