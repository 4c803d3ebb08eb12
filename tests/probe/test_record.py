"""rl.probe.record: the recorded steps are the kernels' own numbers and recombine exactly."""

import numpy as np
import pytest

import rnnlab as rl
from rnnlab import kernels
from rnnlab.kernels import activations, switch
from rnnlab.kernels import lstm as ref_lstm
from rnnlab.kernels import simple_rnn as ref_rnn


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _prev(start, seq):
    """(B, T, H) of the state before each step: start, seq[:, 0], ..., seq[:, T-2]."""
    return np.concatenate([start[:, None], seq[:, :-1]], axis=1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_gates_recombine_to_the_layer_output_exactly(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 4))
    layer = rl.LSTM(5, return_sequences=True, dtype=dtype, seed=1)
    recording = rl.probe.record(layer, x)
    rec = recording[0]
    assert rec.cell == "lstm" and rec.h.shape == (3, 7, 5) and rec.h.dtype == np.dtype(dtype)
    # the recorded h is the output of the recorded pass, bit for bit
    np.testing.assert_array_equal(rec.h, recording.output)
    np.testing.assert_array_equal(rec.c[:, -1], layer.final_state[1])
    # and an ordinary call on the active backend (the reference, or a fast one held equal to it)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(layer(x), rec.h, rtol=tol, atol=tol)
    # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t and h_t = o_t ⊙ tanh(C_t), in the kernel's own arithmetic
    tanh = activations.get("tanh")[0]
    np.testing.assert_array_equal(rec.f * _prev(rec.c0, rec.c) + rec.i * rec.c_tilde, rec.c)
    np.testing.assert_array_equal(rec.o * tanh(rec.c), rec.h)


def test_lstm_gates_are_the_article_equations_of_the_weights():
    """Catches a mislabelled gate block: each gate recomputed from W, U, b in the order i, f, C̃, o."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 3))
    layer = rl.LSTM(4, return_sequences=True, dtype="float64", seed=2, bias_initializer="uniform")
    rec = rl.probe.record(layer, x)[0]
    W, U, b, H = layer.params["W"], layer.params["U"], layer.params["b"], 4
    z = x @ W + _prev(rec.h0, rec.h) @ U + b  # (B, T, 4H)
    block = {name: z[..., k * H : (k + 1) * H] for k, name in enumerate(["i", "f", "c_tilde", "o"])}
    for name in ("i", "f", "o"):
        np.testing.assert_allclose(rec[name], _sigmoid(block[name]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rec.c_tilde, np.tanh(block["c_tilde"]), rtol=1e-12, atol=1e-14)


def test_simple_rnn_records_h():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 3))
    layer = rl.SimpleRNN(4, dtype="float64", seed=0)
    recording = rl.probe.record(layer, x)
    rec = recording[0]
    assert list(rec.arrays()) == ["h"] and list(rec.initial) == ["h"]
    for missing in ("i", "c", "c0"):  # what a SimpleRNN does not have is an error, not None
        with pytest.raises(AttributeError, match="simple_rnn record has no"):
            getattr(rec, missing)
    W, U, b = layer.params["W"], layer.params["U"], layer.params["b"]
    np.testing.assert_allclose(rec.h, np.tanh(x @ W + _prev(rec.h0, rec.h) @ U + b), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(rec.h[:, -1], recording.output)  # return_sequences=False: output h_T


def test_masked_steps_carry_the_state_and_real_steps_recombine():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 6, 2))
    mask = np.ones((3, 6), dtype=bool)
    mask[0, 4:] = False
    mask[2, 2:] = False
    layer = rl.LSTM(3, return_sequences=True, dtype="float64", seed=4)
    rec = rl.probe.record(layer, x, mask=mask)[0]
    np.testing.assert_array_equal(rec.mask, mask)
    c_prev, h_prev = _prev(rec.c0, rec.c), _prev(rec.h0, rec.h)
    np.testing.assert_array_equal(rec.c[~mask], c_prev[~mask])  # masked: carried unchanged
    np.testing.assert_array_equal(rec.h[~mask], h_prev[~mask])
    np.testing.assert_allclose((rec.f * c_prev + rec.i * rec.c_tilde)[mask], rec.c[mask], rtol=0, atol=0)
    np.testing.assert_array_equal((rec.o * np.tanh(rec.c))[mask], rec.h[mask])


def test_stack_and_bidirectional_record_every_layer_in_order():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3))
    model = rl.Stack(
        [
            rl.LSTM(4, return_sequences=True, dtype="float64", seed=0),
            rl.Bidirectional(rl.SimpleRNN(3, return_sequences=True, dtype="float64", seed=1), merge_mode="concat"),
        ]
    )
    recording = rl.probe.record(model, x)
    assert [r.path for r in recording] == ["0", "1.forward", "1.backward"]
    first, fw, bw = recording
    np.testing.assert_array_equal(fw.x, first.h)  # layer 1 read layer 0's output
    assert not fw.go_backwards and bw.go_backwards
    np.testing.assert_array_equal(bw.steps, np.arange(5)[::-1])
    # the backward layer read the sequence reversed; its states go back into time order for the output
    np.testing.assert_array_equal(recording.output, np.concatenate([fw.h, bw.h[:, ::-1]], axis=-1))
    assert recording["1.backward"] is bw


def test_record_uses_the_reference_kernels_whatever_backend_is_active(monkeypatch):
    """A backend whose cache lacks the gates must not break recording; the active one is restored."""
    calls = []

    class Opaque:
        @staticmethod
        def forward(x, params, state, **kw):
            calls.append(1)
            y, final, _ = ref_lstm.forward(x, params, state, **kw)
            return y, final, {}

        backward = staticmethod(ref_lstm.backward)

    # registered through monkeypatch so that the test backend is gone afterwards
    monkeypatch.setitem(switch._OTHERS, "opaque-test", {"lstm": Opaque, "simple_rnn": ref_rnn})
    monkeypatch.setattr(switch, "_active", switch._active)  # the selection is restored afterwards
    kernels.set_backend("opaque-test")
    x = np.random.default_rng(5).normal(size=(1, 4, 2))
    by_global = rl.LSTM(3, return_sequences=True, dtype="float64", seed=0)
    by_layer = rl.LSTM(3, return_sequences=True, dtype="float64", seed=0)
    by_layer.backend = "opaque-test"
    for layer in (by_global, by_layer):
        calls.clear()
        layer(x)
        assert calls, "the test backend was not used by the layer"
        rec = rl.probe.record(layer, x)[0]
        np.testing.assert_array_equal(rec.o * np.tanh(rec.c), rec.h)
    assert kernels.backend() == "opaque-test" and by_layer.backend == "opaque-test"


def test_record_rejects_a_model_without_recurrent_layers():
    with pytest.raises(TypeError, match="SimpleRNN, LSTM or GRU"):
        rl.probe.record(object(), np.zeros((1, 2, 3)))


def test_record_by_name_and_missing_name():
    layer = rl.LSTM(2, name="memory")
    recording = rl.probe.record(layer, np.zeros((1, 3, 1), dtype=np.float32))
    assert recording["memory"] is recording[0]
    with pytest.raises(KeyError, match="nope"):
        recording["nope"]
