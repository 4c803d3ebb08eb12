"""inference_mode(): the same outputs and states as a plain forward, no cache, and no backward after it."""

import numpy as np
import pytest

import rnnlab as rl
from rnnlab import kernels
from rnnlab.kernels import lstm as ref_lstm
from rnnlab.kernels import simple_rnn as ref_rnn
from rnnlab.kernels import switch

BACKENDS = ["reference"] + (["fast"] if kernels.fast_available() else [])
TOL = {"float64": 1e-12, "float32": 1e-5}

MODELS = [
    pytest.param(lambda dt: rl.LSTM(6, return_sequences=True, dtype=dt, seed=1), id="lstm-seq"),
    pytest.param(lambda dt: rl.LSTM(6, return_state=True, go_backwards=True, dtype=dt, seed=2), id="lstm-state-back"),
    pytest.param(
        lambda dt: rl.SimpleRNN(5, activation="relu", return_sequences=True, go_backwards=True, dtype=dt, seed=3),
        id="rnn-relu-back",
    ),
    pytest.param(lambda dt: rl.SimpleRNN(5, dtype=dt, seed=4), id="rnn-last"),
    pytest.param(
        lambda dt: rl.Bidirectional(rl.LSTM(4, return_sequences=True, dtype=dt, seed=5), merge_mode="sum"), id="bi-lstm"
    ),
    pytest.param(
        lambda dt: rl.Stack(
            [rl.SimpleRNN(4, return_sequences=True, dtype=dt, seed=6), rl.LSTM(3, go_backwards=True, dtype=dt, seed=7)]
        ),
        id="stack",
    ),
]


def _close(a, b, dtype):
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-30)
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0)) / scale <= TOL[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", MODELS)
@pytest.mark.parametrize("batch", [1, 9])  # by rows, and (fast) column-wise blocks
def test_same_outputs_as_a_plain_forward(make, backend, dtype, batch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 7, 3))
    mask = np.arange(7)[None, :] < rng.integers(1, 8, size=(batch, 1))
    model = make(dtype)
    with kernels.use(backend):
        for m in (None, mask):
            plain = model(x, mask=m)
            with rl.inference_mode():
                fast = model(x, mask=m)
            plain = plain if isinstance(plain, tuple) else (plain,)
            fast = fast if isinstance(fast, tuple) else (fast,)
            assert len(plain) == len(fast)
            for a, b in zip(fast, plain):
                assert a.shape == b.shape and a.dtype == b.dtype
                assert _close(a, b, dtype)


def test_no_backward_after_inference_mode():
    layer = rl.LSTM(4, return_sequences=True, seed=0)
    x = np.ones((2, 3, 2))
    with rl.inference_mode():
        y = layer(x)
    assert layer.kernel_cache is None
    with pytest.raises(ValueError, match="inference_mode"):
        layer.backward(np.ones_like(y))
    layer(x)  # a plain forward makes backward possible again
    assert layer.backward(np.ones_like(y)).shape == x.shape


def test_training_forward_keeps_its_cache_inside_inference_mode():
    layer = rl.SimpleRNN(3, return_sequences=True, dropout=0.5, seed=0)
    x = np.ones((2, 4, 2))
    with rl.inference_mode():
        y = layer(x, training=True)
    assert layer.kernel_cache is not None
    assert layer.backward(np.ones_like(y)).shape == x.shape


def test_stateful_carry_is_the_same():
    rng = np.random.default_rng(1)
    chunks = [rng.normal(size=(3, 4, 2)) for _ in range(3)]
    plain, inferred = (rl.LSTM(5, stateful=True, seed=0, dtype="float64") for _ in range(2))
    for chunk in chunks:
        a = plain(chunk)
        with rl.inference_mode():
            b = inferred(chunk)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


def test_predict_and_evaluate_run_in_inference_mode():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 6, 2)), rng.normal(size=(10, 1))
    model = rl.Sequential([rl.LSTM(4, seed=0), rl.Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="adam")
    expected = model.forward(X)
    np.testing.assert_allclose(model.predict(X, batch_size=4), expected, rtol=1e-5, atol=1e-6)
    assert model.layers[0].kernel_cache is None
    loss = model.evaluate(X, y, batch_size=10)["loss"]
    assert loss == pytest.approx(float(np.mean((expected - y) ** 2)), rel=1e-5)


def test_mode_nests_and_restores():
    assert not rl.nn.is_inference()
    with rl.inference_mode():
        assert rl.nn.is_inference()
        with rl.inference_mode(False):
            assert not rl.nn.is_inference()
        assert rl.nn.is_inference()
    assert not rl.nn.is_inference()
    with pytest.raises(TypeError, match="enabled"):
        with rl.inference_mode("yes"):
            pass


def test_a_backend_without_infer_runs_through_its_forward(monkeypatch):
    # a registered backend may define forward/backward only
    class Forward:
        def __init__(self, ref):
            self.forward, self.backward = ref.forward, ref.backward

    monkeypatch.setitem(switch._OTHERS, "plain", {"lstm": Forward(ref_lstm), "simple_rnn": Forward(ref_rnn)})
    layer = rl.LSTM(3, return_sequences=True, go_backwards=True, seed=0, dtype="float64")
    x = np.random.default_rng(3).normal(size=(2, 5, 2))
    with kernels.use("reference"):
        expected = layer(x)
    with kernels.use("plain"), rl.inference_mode():
        np.testing.assert_array_equal(layer(x), expected)
