"""The gradient-flow probe: per-step state gradients equal finite differences."""

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.probe import decay_rate, gradient_flow, state_gradients

B, T, D, H = 2, 5, 3, 4


def _setup(cls, seed=0):
    rng = np.random.default_rng(seed)
    layer = cls(H, dtype="float64", seed=seed)
    layer.build(D)
    for v in layer.params.values():  # move off the initializers' special values
        v += 0.3 * rng.standard_normal(v.shape)
    x = rng.standard_normal((B, T, D))
    head = rng.standard_normal((H, 2))
    y = rng.standard_normal((B, 2))
    return layer, x, head, y


def _loss_from(layer, x, t, state, head, y):
    """L = ½‖h_T V − y‖² with the state at step t replaced by `state`."""
    if t == T:
        h_T = state[0]
    else:
        out = layer(x[:, t:], initial_state=list(state))
        h_T = out
    r = h_T @ head - y
    return 0.5 * float(np.sum(r * r))


def _states_at(layer, x, t):
    n = len(layer.state_names)
    if t == 0:
        return [np.zeros((B, H)) for _ in range(n)]
    layer(x[:, :t])
    return [s.copy() for s in layer.final_state]


@pytest.mark.parametrize("cls", [rl.SimpleRNN, rl.LSTM])
def test_state_gradients_match_finite_differences(cls):
    layer, x, head, y = _setup(cls)
    h_T = layer(x)
    dh_T = (h_T @ head - y) @ head.T  # ∂L/∂h_T of ½‖h_T V − y‖²
    grads = state_gradients(layer, x, dh_T)
    assert set(grads) == set(layer.state_names)
    eps = 1e-6
    for k, name in enumerate(layer.state_names):
        assert grads[name].shape == (T + 1, B, H)
        for t in range(T + 1):
            base = _states_at(layer, x, t)
            numeric = np.zeros((B, H))
            for b in range(B):
                for j in range(H):
                    plus = [s.copy() for s in base]
                    minus = [s.copy() for s in base]
                    plus[k][b, j] += eps
                    minus[k][b, j] -= eps
                    numeric[b, j] = (
                        _loss_from(layer, x, t, plus, head, y) - _loss_from(layer, x, t, minus, head, y)
                    ) / (2 * eps)
            np.testing.assert_allclose(grads[name][t], numeric, rtol=1e-6, atol=1e-9, err_msg=f"∂L/∂{name}_{t}")


@pytest.mark.parametrize("cls", [rl.SimpleRNN, rl.LSTM])
def test_gradient_flow_norms_by_lag(cls):
    layer, x, head, y = _setup(cls, seed=1)
    dh_T = np.random.default_rng(2).standard_normal((B, H))
    grads = state_gradients(layer, x, dh_T)
    flow = gradient_flow(layer, x, dh_T)
    assert flow["lag"] == list(range(T + 1))
    expected = [np.linalg.norm(grads["h"][T - lag]) for lag in range(T + 1)]
    np.testing.assert_allclose(flow["h"], expected, rtol=1e-12)
    assert flow["h"][0] == pytest.approx(np.linalg.norm(dh_T))
    assert flow["rate_h"] == pytest.approx(decay_rate(expected))
    if cls is rl.LSTM:
        assert flow["c"][0] == 0.0  # this loss reads h_T only
        assert flow["rate_c"] == pytest.approx(decay_rate(flow["c"]))


def test_go_backwards_reads_the_reversed_sequence():
    layer, x, _, _ = _setup(rl.LSTM, seed=3)
    back = rl.LSTM(H, dtype="float64", go_backwards=True)
    back.set_weights(layer.params["W"], layer.params["U"], layer.params["b"])
    dh_T = np.ones((B, H))
    g_back = state_gradients(back, x, dh_T)
    g_fwd = state_gradients(layer, x[:, ::-1], dh_T)
    np.testing.assert_allclose(g_back["h"], g_fwd["h"], rtol=1e-12)


def test_decay_rate_of_an_exponential():
    lag = np.arange(40)
    assert decay_rate(3.0 * np.exp(-0.25 * lag)) == pytest.approx(0.25)
    # underflowed zeros are left out of the fit; a lag window restricts it
    norms = np.where(lag < 30, np.exp(-0.5 * lag), 0.0)
    assert decay_rate(norms) == pytest.approx(0.5)
    bent = np.where(lag < 10, np.exp(-1.0 * lag), np.exp(-10.0 - 0.1 * (lag - 10)))
    assert decay_rate(bent, lags=(10, 39)) == pytest.approx(0.1)


def test_bad_input():
    layer, x, _, _ = _setup(rl.SimpleRNN)
    with pytest.raises(ValueError, match="dh_T"):
        state_gradients(layer, x, np.ones((B, H + 1)))
    with pytest.raises(TypeError, match="SimpleRNN, LSTM or GRU"):
        state_gradients(rl.Bidirectional(rl.LSTM(H)), x, np.ones((B, H)))
    with pytest.raises(ValueError, match="at least 2"):
        decay_rate([1.0, 0.0, 0.0])


def test_chrono_bias_keeps_the_cell_gradient_alive():
    chrono = rl.initializers.chrono(1000)
    b = chrono((4 * 64,), np.random.default_rng(0), np.float64)
    b_i, b_f, b_c, b_o = b.reshape(4, 64)
    assert np.all(b_f >= 0.0) and np.all(b_f <= np.log(999.0)) and b_f.max() > np.log(100.0)
    np.testing.assert_array_equal(b_i, -b_f)
    assert not b_c.any() and not b_o.any()
    x = np.random.default_rng(1).random((16, 60, 2))
    dh_T = np.random.default_rng(2).standard_normal((16, 64))
    plain = rl.LSTM(64, dtype="float64", seed=0)
    timed = rl.LSTM(64, dtype="float64", seed=0, bias_initializer=chrono, unit_forget_bias=False)
    rate_plain = gradient_flow(plain, x, dh_T)["rate_c"]
    rate_timed = gradient_flow(timed, x, dh_T)["rate_c"]
    assert rate_timed < 0.25 * rate_plain
    with pytest.raises(ValueError, match="max_lag"):
        rl.initializers.chrono(2)
    with pytest.raises(ValueError, match="bias shape"):
        chrono((10,), np.random.default_rng(0), np.float64)


def _tiny_model(seed=0):
    from rnnlab.nn.dense import Dense
    from rnnlab.train.model import Sequential

    model = Sequential([rl.LSTM(H, dtype="float64"), Dense(1, dtype="float64")], seed=seed)
    model.compile(loss="mse", optimizer="adam")
    return model


def test_model_gradient_flow_puts_the_model_loss_at_the_last_step():
    from rnnlab.probe import model_gradient_flow

    model = _tiny_model()
    X, y = rl.tasks.adding(6, T, seed=0, dtype="float64")
    model.build((T, 2))
    flow = model_gradient_flow(model, X, y)
    rnn, dense = model.layers
    h_T = rnn(X)
    V, c = dense.params["W"], dense.params["b"]
    dh_T = (2.0 / len(X)) * ((h_T @ V + c) - y) @ V.T  # ∂/∂h_T of mean (h_T V + c − y)²
    expected = gradient_flow(rnn, X, dh_T)
    np.testing.assert_allclose(flow["h"], expected["h"], rtol=1e-10)
    np.testing.assert_allclose(flow["c"], expected["c"], rtol=1e-10)


def test_gradient_flow_callback_records_every_n_steps_across_fit_calls():
    from rnnlab.probe import GradientFlowCallback, model_gradient_flow

    model = _tiny_model()
    X, y = rl.tasks.adding(40, T, seed=1, dtype="float64")
    model.build((T, 2))
    before = model_gradient_flow(model, X[:4], y[:4])
    probe = GradientFlowCallback(X[:4], y[:4], every=2)
    model.fit(X[:24], y[:24], epochs=1, batch_size=8, shuffle=False, verbose=0, callbacks=[probe])
    model.fit(X[24:32], y[24:32], epochs=1, batch_size=8, shuffle=False, verbose=0, callbacks=[probe])
    assert [r["step"] for r in probe.records] == [0, 2, 4]
    np.testing.assert_allclose(probe.records[0]["h"], before["h"], rtol=1e-12)
    after = model_gradient_flow(model, X[:4], y[:4])
    np.testing.assert_allclose(probe.records[-1]["h"], after["h"], rtol=1e-12)  # 3 + 1 steps
    assert not np.allclose(probe.records[-1]["h"], before["h"])  # training moved the weights
    with pytest.raises(ValueError, match="every"):
        GradientFlowCallback(X, y, every=0)
