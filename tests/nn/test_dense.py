"""Dense: forward equals x W + b through the activation; backward against central differences."""

import numpy as np
import pytest
from gradcheck_util import check

import rnnlab as rl


@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid", "relu", "softmax"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_dense_gradients(activation, shape):
    rng = np.random.default_rng(1)
    layer = rl.Dense(3, activation=activation, dtype="float64", seed=0)
    x = rng.standard_normal(shape)
    if activation == "relu":
        x = x + np.sign(x)  # keep pre-activations away from the kink
    layer(x)
    layer.params["b"][...] = rng.standard_normal(3) * (0.0 if activation == "relu" else 1.0)
    R = rng.standard_normal(shape[:-1] + (3,))

    def f():
        return float(np.sum(layer(x) * R))

    f()
    dx = layer.backward(R)
    check(f, [("x", x, dx), ("W", layer.params["W"], layer.grads["W"]), ("b", layer.params["b"], layer.grads["b"])])


def test_dense_per_step_equals_each_step():
    rng = np.random.default_rng(2)
    layer = rl.Dense(5, activation="tanh", seed=3)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    y = layer(x)
    assert y.shape == (4, 6, 5) and y.dtype == np.float32
    for t in range(6):
        np.testing.assert_allclose(y[:, t], np.tanh(x[:, t] @ layer.params["W"] + layer.params["b"]), rtol=1e-6)


def test_dense_softmax_rows_sum_to_one():
    y = rl.Dense(4, activation="softmax", seed=0)(np.full((2, 3), 1e3, dtype=np.float32))
    assert np.all(np.isfinite(y)) and np.allclose(y.sum(-1), 1.0)


def test_dense_without_bias_and_set_weights():
    layer = rl.Dense(2, use_bias=False)
    layer.set_weights(np.eye(3, 2))
    assert set(layer.params) == {"W"}
    np.testing.assert_array_equal(layer(np.ones((1, 3), dtype=np.float32)), [[1.0, 1.0]])
    with pytest.raises(ValueError, match="W of shape"):
        layer.set_weights(np.eye(3))


def test_dense_bad_input():
    layer = rl.Dense(2)
    layer(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Dense expected input \(batch, 3\)"):
        layer(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="activation"):
        rl.Dense(2, activation="swish")
    with pytest.raises(ValueError, match="units"):
        rl.Dense(0)
