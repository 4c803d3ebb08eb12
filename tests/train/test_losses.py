"""Losses and metrics: values against PyTorch, gradients against central differences (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gradcheck_util import check

import rnnlab as rl

L = rl.losses


def _targets(loss, shape, rng):
    if loss.integer_targets:
        return rng.integers(0, shape[-1], size=shape[:-1] + (1,))
    if loss.name == "binary_crossentropy":
        return rng.random(shape)
    return rng.standard_normal(shape)


def _outputs(loss, shape, rng):
    if loss.name == "binary_crossentropy" and not loss.from_logits:
        return rng.uniform(0.05, 0.95, shape)  # probabilities, inside the clip
    if loss.name == "sparse_categorical_crossentropy" and not loss.from_logits:
        p = rng.random(shape) + 0.2
        return p / p.sum(-1, keepdims=True)
    if loss.name == "mae":
        return rng.standard_normal(shape) + 0.1  # |ŷ − y| far from 0 almost surely
    return rng.standard_normal(shape)


LOSSES = [
    L.MeanSquaredError(),
    L.MeanAbsoluteError(),
    L.BinaryCrossentropy(),
    L.BinaryCrossentropy(from_logits=True),
    L.SparseCategoricalCrossentropy(),
    L.SparseCategoricalCrossentropy(from_logits=False),
]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: f"{loss.name}-{getattr(loss, 'from_logits', '')}")
@pytest.mark.parametrize("shape,masked", [((4, 3), False), ((3, 5, 4), False), ((3, 5, 4), True)])
def test_loss_gradient(loss, shape, masked):
    rng = np.random.default_rng(0)
    y_pred, y = _outputs(loss, shape, rng), _targets(loss, shape, rng)
    weight = None
    if masked:
        weight = (np.arange(shape[1])[None, :] < np.array([[5], [2], [3]])).astype(np.float64)
    value, grad = loss(y_pred, y, weight)
    check(lambda: loss(y_pred, y, weight)[0], [("y_pred", y_pred, grad)])
    if masked:  # masked steps get no gradient and the mean runs over the real steps only
        assert np.all(grad[weight == 0] == 0)
        real = weight.astype(bool)
        unmasked_value, _ = loss(y_pred[real][None], y[real][None])
        assert value == pytest.approx(unmasked_value, rel=1e-12)


def test_values_equal_torch():
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    T = torch.from_numpy
    assert L.MeanSquaredError()(z, t)[0] == pytest.approx(F.mse_loss(T(z), T(t)).item(), rel=1e-12)
    assert L.MeanAbsoluteError()(z, t)[0] == pytest.approx(F.l1_loss(T(z), T(t)).item(), rel=1e-12)
    p = rng.random((6, 4))
    ref = F.binary_cross_entropy_with_logits(T(z), T(p)).item()
    assert L.BinaryCrossentropy(from_logits=True)(z, p)[0] == pytest.approx(ref, rel=1e-12)
    ref = F.binary_cross_entropy(torch.sigmoid(T(z)), T(p)).item()
    assert L.BinaryCrossentropy()(1 / (1 + np.exp(-z)), p)[0] == pytest.approx(ref, rel=1e-12)
    labels = rng.integers(0, 4, size=6)
    logits = T(z).requires_grad_()
    ref = F.cross_entropy(logits, T(labels))
    ref.backward()
    value, grad = L.SparseCategoricalCrossentropy()(z, labels[:, None])
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, logits.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_fused_cross_entropy_is_stable():
    z = np.array([[1000.0, -1000.0, 0.0], [-800.0, 800.0, 0.0]])
    value, grad = L.SparseCategoricalCrossentropy()(z, np.array([[0], [0]]))
    assert value == pytest.approx(800.0)  # (0 + 1600) / 2
    assert np.all(np.isfinite(grad))
    value, grad = L.BinaryCrossentropy(from_logits=True)(np.array([[800.0], [-800.0]]), np.array([[0.0], [0.0]]))
    assert value == pytest.approx(400.0) and np.all(np.isfinite(grad))


def test_all_masked_batch_gives_zero():
    value, grad = L.MeanSquaredError()(np.ones((2, 3, 1)), np.zeros((2, 3, 1)), np.zeros((2, 3)))
    assert value == 0.0 and not grad.any()


def test_targets_checked():
    sce = L.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"labels y in \[0, 3\)"):
        sce.check_targets(np.array([0, 3]), (2, 3))
    with pytest.raises(ValueError, match="non-integer"):
        sce.check_targets(np.array([0.5, 1]), (2, 3))
    with pytest.raises(ValueError, match=r"y in \[0, 1\]"):
        L.BinaryCrossentropy().check_targets(np.array([[2.0]]), (1, 1))
    assert L.MeanSquaredError().check_targets(np.zeros(5), (5, 1)).shape == (5, 1)
    with pytest.raises(ValueError, match="unknown|expected one of"):
        L.get("hinge")


def test_accuracy_metric_follows_the_loss():
    name, acc = rl.metrics.get("accuracy", L.SparseCategoricalCrossentropy())
    assert name == "accuracy"
    np.testing.assert_array_equal(acc(np.array([[0.1, 2.0], [3.0, 0.0]]), np.array([[1], [1]])), [1.0, 0.0])
    _, acc = rl.metrics.get("accuracy", L.BinaryCrossentropy(from_logits=True))
    np.testing.assert_array_equal(acc(np.array([[0.3], [-0.2]]), np.array([[1.0], [1.0]])), [1.0, 0.0])
    with pytest.raises(ValueError, match="classification"):
        rl.metrics.get("accuracy", L.MeanSquaredError())
