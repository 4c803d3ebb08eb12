"""Losses and metrics of one's own: a class or a pair of callables, the gradient checked on the first batch."""

import numpy as np
import pytest

import rnnlab as rl

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 5, 2)).astype(np.float32)
Y = X.sum(axis=(1, 2))[:, None].astype(np.float32)


def model(activation=None):
    return rl.Sequential([rl.SimpleRNN(4), rl.Dense(1, activation=activation)], seed=0)


def squared(y_pred, y):
    return ((y_pred - y) ** 2).mean(axis=-1)


def squared_gradient(y_pred, y):
    return 2.0 * (y_pred - y) / y_pred.shape[-1]


def squared_gradient_wrong(y_pred, y):
    return (y_pred - y) / y_pred.shape[-1]  # the factor 2 forgotten


class MySquared(rl.losses.Loss):
    name = "my_squared"

    def per_position(self, y_pred, y):
        return squared(y_pred, y), squared_gradient(y_pred, y)


@pytest.mark.parametrize(
    "loss", [MySquared(), MySquared, (squared, squared_gradient)], ids=["instance", "class", "pair"]
)
def test_a_correct_user_loss_trains_exactly_as_the_same_builtin(loss):
    mine, ref = model(), model()
    mine.compile(loss, rl.optim.Adam(1e-2))
    ref.compile("mse", rl.optim.Adam(1e-2))
    h = mine.fit(X, Y, epochs=2, batch_size=8, seed=0, verbose=0)
    h_ref = ref.fit(X, Y, epochs=2, batch_size=8, seed=0, verbose=0)
    assert mine.loss_checked
    assert h.history == h_ref.history
    for k, v in ref.get_weights().items():
        np.testing.assert_array_equal(mine.get_weights()[k], v)


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_a_wrong_gradient_is_caught_on_the_first_batch_naming_the_loss(call):
    m = model()
    m.compile(rl.losses.Custom(squared, squared_gradient_wrong, name="half_squared"), rl.optim.Adam(1e-2))
    m.build((5, 2))
    before = m.get_weights()
    with pytest.raises(
        ValueError,
        match=r"^loss 'half_squared': its gradient disagrees with finite differences "
        r"on the first batch: at output \[\d+, 0\] it gives .*no autograd.*"
        r"check_gradient=False",
    ):
        m.fit(X, Y, epochs=1, batch_size=8, verbose=0) if call == "fit" else m.train_on_batch(X[:8], Y[:8])
    for k, v in before.items():  # nothing was updated
        np.testing.assert_array_equal(m.get_weights()[k], v)


def test_the_check_can_be_turned_off_and_runs_once():
    m = model()
    m.compile(rl.losses.Custom(squared, squared_gradient_wrong, check_gradient=False), rl.optim.Adam(1e-2))
    assert m.train_on_batch(X[:8], Y[:8]) > 0  # trains (in a wrong direction: the user's call)
    calls = []

    def counted(y_pred, y):
        calls.append(1)
        return squared(y_pred, y)

    m.compile((counted, squared_gradient), rl.optim.Adam(1e-2))
    m.train_on_batch(X[:8], Y[:8])
    first = len(calls)
    assert first > 2  # the check evaluated the loss at shifted outputs
    m.train_on_batch(X[:8], Y[:8])
    assert len(calls) == first + 1  # afterwards once per batch


def test_bad_user_losses_are_named():
    m = model()
    with pytest.raises(ValueError, match="no autograd: a loss gives its gradient.*pass \\(value, gradient\\)"):
        m.compile(squared)
    m.compile((lambda p, y: squared(p, y)[:, None], squared_gradient))
    with pytest.raises(ValueError, match=r"loss '<lambda>' expected per-position values of shape \(8,\)"):
        m.train_on_batch(X[:8], Y[:8])

    def broken(y_pred, y):
        raise KeyError("oops")

    m.compile((broken, squared_gradient))
    with pytest.raises(ValueError, match="loss 'broken' failed on the first batch: KeyError"):
        m.train_on_batch(X[:8], Y[:8])


def test_metrics_as_callables():
    def max_error(y_pred, y):
        return np.abs(y_pred - y).max(axis=-1)

    m = model()
    m.compile("mse", metrics=["mae", max_error, ("bias", lambda p, y: (p - y)[..., 0])])
    logs = m.evaluate(X, Y)
    out = m.predict(X)
    assert logs["max_error"] == pytest.approx(float(np.abs(out - Y).mean()), rel=1e-5)
    assert logs["bias"] == pytest.approx(float((out - Y).mean()), rel=1e-4, abs=1e-6)
    with pytest.raises(ValueError, match="a pair \\(name, fn\\) for a lambda"):
        m.compile("mse", metrics=[lambda p, y: p])
    m.compile("mse", metrics=[("wide", lambda p, y: p)])
    with pytest.raises(ValueError, match=r"metric 'wide' expected to return one value per position"):
        m.evaluate(X, Y)


def test_class_weight_is_a_sample_weight_per_class():
    labels = (Y[:, 0] > 0).astype(np.int64)
    a, b = model("sigmoid"), model("sigmoid")
    for m in (a, b):
        m.compile("binary_crossentropy", rl.optim.Adam(1e-2))
    a.fit(X, labels, epochs=2, batch_size=8, seed=0, verbose=0, class_weight={0: 1.0, 1: 3.0})
    b.fit(X, labels, epochs=2, batch_size=8, seed=0, verbose=0, sample_weight=np.where(labels == 1, 3.0, 1.0))
    for k, v in a.get_weights().items():
        np.testing.assert_array_equal(v, b.get_weights()[k])
    with pytest.raises(ValueError, match=r"class_weight to give a weight for every class in y, missing \[1\]"):
        a.fit(X, labels, verbose=0, class_weight={0: 1.0})
    with pytest.raises(ValueError, match="class_weight expected class indices"):
        a.fit(X, labels, verbose=0, class_weight={"a": 1.0})
