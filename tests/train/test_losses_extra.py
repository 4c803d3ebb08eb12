"""categorical_crossentropy and huber: values against PyTorch and Keras, gradients against central differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gradcheck_util import check

import rnnlab as rl

L = rl.losses


def _soft(rng, shape):
    p = rng.random(shape) + 0.05
    return p / p.sum(-1, keepdims=True)


def _onehot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]


@pytest.mark.parametrize(
    "loss",
    [L.CategoricalCrossentropy(), L.CategoricalCrossentropy(from_logits=False), L.Huber(), L.Huber(delta=0.3)],
    ids=["cce-logits", "cce-probs", "huber", "huber-0.3"],
)
@pytest.mark.parametrize("shape,masked", [((4, 3), False), ((3, 5, 4), True)])
def test_gradient(loss, shape, masked):
    rng = np.random.default_rng(0)
    if loss.name == "huber":
        y_pred, y = rng.standard_normal(shape), rng.standard_normal(shape)
    else:
        y = _soft(rng, shape)
        y_pred = _soft(rng, shape) if not loss.from_logits else rng.standard_normal(shape)
    weight = None
    if masked:
        weight = (np.arange(shape[1])[None, :] < np.array([[5], [2], [3]])).astype(np.float64)
    _, grad = loss(y_pred, y, weight)
    check(lambda: loss(y_pred, y, weight)[0], [("y_pred", y_pred, grad)])
    if masked:
        assert np.all(grad[weight == 0] == 0)


def test_categorical_crossentropy_equals_torch_and_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 5))
    T = torch.from_numpy
    for y in (_onehot(rng, (6, 5)), _soft(rng, (6, 5))):
        value, grad = L.CategoricalCrossentropy()(z, y)
        zt = T(z).requires_grad_()
        ref = F.cross_entropy(zt, T(y))  # probability targets: soft labels
        ref.backward()
        assert value == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-15)
        k = keras.losses.CategoricalCrossentropy(from_logits=True)(y, z)
        assert value == pytest.approx(float(k), rel=1e-5)
        p = _soft(rng, (6, 5))
        k = keras.losses.CategoricalCrossentropy(from_logits=False)(y, p)
        assert L.CategoricalCrossentropy(from_logits=False)(p, y)[0] == pytest.approx(float(k), rel=1e-5)


def test_huber_equals_torch_and_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    z, t = 2 * rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    for delta in (1.0, 0.5):
        zt = torch.from_numpy(z).requires_grad_()
        ref = F.huber_loss(zt, torch.from_numpy(t), delta=delta)
        ref.backward()
        value, grad = L.Huber(delta)(z, t)
        assert value == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-12)
        assert value == pytest.approx(float(keras.losses.Huber(delta)(t, z)), rel=1e-5)


def test_names_config_and_bad_targets():
    assert isinstance(L.get("categorical_crossentropy"), L.CategoricalCrossentropy)
    assert isinstance(L.get("huber_loss"), L.Huber)
    assert L.from_config(L.Huber(0.5).get_config()).delta == 0.5
    assert L.from_config(L.CategoricalCrossentropy(False).get_config()).from_logits is False
    model = rl.Sequential([rl.LSTM(3), rl.Dense(4)], seed=0).compile("categorical_crossentropy")
    x = np.zeros((5, 2, 1), np.float32)
    with pytest.raises(ValueError, match="integer labels go with sparse_categorical_crossentropy"):
        model.fit(x, np.arange(5) % 4, verbose=0)
    with pytest.raises(ValueError, match=r"expected y in \[0, 1\]"):
        model.fit(x, 2 * np.eye(4)[np.arange(5) % 4], verbose=0)
    with pytest.raises(ValueError, match="delta expected a positive number"):
        L.Huber(0)


def test_categorical_accuracy_and_a_model_that_learns():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 120)
    x = np.zeros((120, 4, 3), np.float32)
    x[np.arange(120), rng.integers(0, 4, 120), labels] = 1.0  # the class is the marked channel
    model = rl.Sequential([rl.LSTM(8), rl.Dense(3)], seed=0)
    model.compile("categorical_crossentropy", rl.optim.Adam(3e-2), metrics=["accuracy"])
    history = model.fit(x, np.eye(3)[labels], epochs=15, batch_size=20, seed=0, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    sparse = rl.Sequential([rl.LSTM(8), rl.Dense(3)], seed=0)
    sparse.compile("sparse_categorical_crossentropy", rl.optim.Adam(3e-2), metrics=["accuracy"])
    same = sparse.fit(x, labels, epochs=15, batch_size=20, seed=0, verbose=0)
    # one-hot targets from logits are the sparse loss: the same training, to rounding
    np.testing.assert_allclose(history.history["loss"], same.history["loss"], rtol=1e-5)
