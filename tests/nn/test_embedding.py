"""Embedding: lookup, gradients only into the rows used, padding mask."""

import numpy as np
import pytest
from gradcheck_util import check

import rnnlab as rl


def test_lookup_and_sparse_gradient():
    layer = rl.Embedding(10, 3, dtype="float64", seed=0)
    ids = np.array([[1, 4, 4], [0, 1, 9]])
    out = layer(ids)
    np.testing.assert_array_equal(out, layer.params["E"][ids])
    dout = np.random.default_rng(0).standard_normal(out.shape)
    assert layer.backward(dout) is None
    dE = layer.grads["E"]
    np.testing.assert_allclose(dE[4], dout[0, 1] + dout[0, 2])  # a repeated id gathers both positions
    np.testing.assert_allclose(dE[1], dout[0, 0] + dout[1, 1])
    unused = [2, 3, 5, 6, 7, 8]
    assert np.all(dE[unused] == 0)


def test_embedding_gradient_finite_differences():
    rng = np.random.default_rng(1)
    layer = rl.Embedding(6, 2, dtype="float64", seed=1)
    ids = rng.integers(0, 6, size=(3, 4))
    R = rng.standard_normal((3, 4, 2))

    def f():
        return float(np.sum(layer(ids) * R))

    f()
    layer.backward(R)
    check(f, [("E", layer.params["E"], layer.grads["E"])])


def test_mask_zero():
    layer = rl.Embedding(5, 2, mask_zero=True)
    ids = np.array([[3, 2, 0, 0]])
    np.testing.assert_array_equal(layer.compute_mask(ids), [[True, True, False, False]])
    assert rl.Embedding(5, 2).compute_mask(ids) is None


def test_bad_ids():
    layer = rl.Embedding(5, 2)
    with pytest.raises(ValueError, match=r"ids in \[0, 5\)"):
        layer(np.array([[1, 5]]))
    with pytest.raises(ValueError, match=r"ids in \[0, 5\)"):
        layer(np.array([[-1, 2]]))
    with pytest.raises(TypeError, match="integer ids"):
        layer(np.array([[1.0, 2.0]]))
