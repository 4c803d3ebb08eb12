"""Keras' zero_output_for_mask and unroll, and initial states held by the layer (initial_state_rows)."""

import gradcheck_util as gc
import numpy as np
import pytest

import rnnlab as rl

CELLS = [rl.SimpleRNN, rl.LSTM, rl.GRU]


def _masked(rng, B=3, T=6, D=2):
    x = rng.standard_normal((B, T, D))
    mask = np.ones((B, T), bool)
    mask[0, :2] = False  # left padding
    mask[1, 3] = False  # a hole in the middle
    mask[2, 4:] = False  # right padding
    return x, mask


def _held(y0, mask):
    """Keras' rule written out step by step: a masked step repeats the previous output (zero at first)."""
    out, prev = np.zeros_like(y0), np.zeros_like(y0[:, 0])
    for t in range(y0.shape[1]):
        prev = np.where(mask[:, t, None], y0[:, t], prev)
        out[:, t] = prev
    return out


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_zero_output_for_mask_false_repeats_the_previous_output(cls, go_backwards):
    rng = np.random.default_rng(0)
    x, mask = _masked(rng)
    zero = cls(4, return_sequences=True, go_backwards=go_backwards, dtype="float64", seed=1)
    hold = cls(4, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=False, dtype="float64", seed=1)
    y0, y1 = zero(x, mask=mask), hold(x, mask=mask)
    m = mask[:, ::-1] if go_backwards else mask  # outputs are in processing order
    assert np.all(y0[~m] == 0)
    np.testing.assert_allclose(y1, _held(y0, m), rtol=0, atol=1e-12)
    assert np.any(y1[~m] != 0)
    with rl.inference_mode():
        np.testing.assert_allclose(hold(x, mask=mask), y1, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls", CELLS)
def test_zero_output_for_mask_true_zeroes_the_last_output_of_a_masked_last_step(cls):
    rng = np.random.default_rng(1)
    x, mask = _masked(rng)
    default = cls(3, dtype="float64", seed=2)
    zeroing = cls(3, zero_output_for_mask=True, dtype="float64", seed=2)
    h, z = default(x, mask=mask), zeroing(x, mask=mask)
    np.testing.assert_array_equal(z[:2], h[:2])
    assert np.all(z[2] == 0) and np.any(h[2] != 0)  # row 2 ends on padding


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("sequences,zero", [(True, False), (False, True)])
def test_gradients_under_zero_output_for_mask(cls, sequences, zero):
    rng = np.random.default_rng(2)
    x, mask = _masked(rng, B=3, T=5)
    layer = cls(3, return_sequences=sequences, zero_output_for_mask=zero, dtype="float64", seed=3)
    out = layer(x, mask=mask)
    R = gc.random_weights(out, rng)
    layer.backward(R)
    dx, grads = layer.backward(R), {k: v.copy() for k, v in layer.grads.items()}
    f = lambda: gc.loss(layer(x, mask=mask), R)  # noqa: E731
    gc.check(f, [("x", x, dx)] + [(k, layer.params[k], grads[k]) for k in ("W", "U", "b")])


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("rows,batch", [(1, 3), (3, 3)])
def test_learned_initial_state_is_used_trained_and_checked(cls, rows, batch):
    rng = np.random.default_rng(3)
    x, mask = _masked(rng, B=batch)
    layer = cls(3, return_sequences=True, initial_state_rows=rows, dtype="float64", seed=4)
    layer.build(2)
    states = [rng.standard_normal((rows, 3)) for _ in layer.state_names]
    layer.set_initial_state(states)
    full = [np.broadcast_to(s, (batch, 3)) for s in states]
    plain = cls(3, return_sequences=True, dtype="float64", seed=4)
    plain.build(2)
    plain.set_weights(*(layer.params[k] for k in ("W", "U", "b")))
    np.testing.assert_array_equal(layer(x, mask=mask), plain(x, mask=mask, initial_state=full))
    out = layer(x, mask=mask)
    R = gc.random_weights(out, rng)
    layer.backward(R)
    grads = {k: layer.grads[k].copy() for k in layer.initial_state_names}
    f = lambda: gc.loss(layer(x, mask=mask), R)  # noqa: E731
    gc.check(f, [(k, layer.params[k], grads[k]) for k in layer.initial_state_names])
    if rows > 1:
        with pytest.raises(ValueError, match="initial_state_rows"):
            layer(x[:1])


def test_learned_initial_state_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(4)
    layer = rl.LSTM(3, initial_state_rows=1, dtype="float64", seed=5)
    model = rl.Sequential([layer, rl.Dense(2, dtype="float64")])
    x = rng.standard_normal((2, 4, 2))
    model(x)
    layer.set_initial_state([rng.standard_normal((1, 3)), rng.standard_normal((1, 3))])
    model.save(tmp_path / "m.rnnlab")
    same = rl.load(tmp_path / "m.rnnlab")
    np.testing.assert_array_equal(same(x), model(x))
    assert same.layers[0].initial_state_rows == 1


def test_unroll_is_accepted_and_changes_nothing():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 2))
    a, b = rl.GRU(3, seed=1, unroll=True), rl.GRU(3, seed=1)
    np.testing.assert_array_equal(a(x), b(x))
    with pytest.raises(ValueError, match="unroll"):
        rl.GRU(3, unroll="yes")
    with pytest.raises(ValueError, match="zero_output_for_mask"):
        rl.GRU(3, zero_output_for_mask=1)
