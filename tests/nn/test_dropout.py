"""Dropout: inverted scaling while training, identity at inference, the same mask backward."""

import numpy as np
import pytest

import rnnlab as rl


def test_inference_is_identity():
    x = np.ones((4, 5), dtype=np.float32)
    assert rl.Dropout(0.5, seed=0)(x) is x


def test_training_scales_kept_units_and_backward_uses_the_mask():
    layer = rl.Dropout(0.25, seed=0)
    x = np.ones((200, 50), dtype=np.float32)
    y = layer(x, training=True)
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02  # 10 000 draws: the standard error is 0.004
    dx = layer.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(dx != 0, kept)
    assert np.allclose(dx[kept], 2 / 0.75)


def test_same_seed_same_mask():
    x = np.ones((3, 7), dtype=np.float32)
    a = rl.Dropout(0.5, seed=4)(x, training=True)
    b = rl.Dropout(0.5, seed=4)(x, training=True)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [rl.Dense(8), rl.Dropout(0.5), rl.Dense(1)],
        lambda: [rl.LSTM(4, dropout=0.5), rl.Dense(1)],
        lambda: [rl.SimpleRNN(4, recurrent_dropout=0.5), rl.Dense(1)],
    ],
    ids=["Dropout", "LSTM dropout", "SimpleRNN recurrent_dropout"],
)
def test_model_applies_dropout_only_in_training(layers):
    model = rl.Sequential(layers(), seed=0)
    x = np.random.default_rng(0).standard_normal((16, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    assert not np.array_equal(model(x, training=True), model(x, training=False))


def test_rate_checked():
    with pytest.raises(ValueError, match="rate"):
        rl.Dropout(1.0)
