"""The GRU layer: gradients against central differences in float64 (both reset_after forms), and
every layer option: masks, go_backwards, stateful, return_state, initial_state, dropout,
Bidirectional, Stack, inference_mode, bptt_steps, checkpoint_every, save/load, probe.record."""

import numpy as np
import pytest
from gradcheck_util import check, flatten, leaves, loss, random_weights
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnlab as rl

SETTINGS = settings(max_examples=12, deadline=None)
SHAPES = dict(B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(1, 3))
MASKS = ("none", "padding", "empty-row", "scattered")


def make_mask(kind, B, T, rng):
    if kind == "none":
        return None
    if kind in ("padding", "empty-row"):
        lengths = rng.integers(0, T + 1, size=(B, 1))
        if kind == "empty-row":
            lengths[0] = 0
        return np.arange(T)[None, :] < lengths
    return rng.random((B, T)) < 0.6


def randomize(model, rng):
    for p in model.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)


def gradcheck(model, x, mask, rng, with_state, training=False):
    """d(loss)/d(params, x, initial states) of one call against central differences."""
    B = x.shape[0]
    init = [rng.standard_normal((B, leaf.units)) for leaf in leaves(model)] if with_state else None

    def run():
        for k, leaf in enumerate(leaves(model)):
            leaf.rng = np.random.default_rng(k)  # the same dropout masks on every call
        return model(x, mask=mask, initial_state=init, training=training)

    model(x, mask=mask)
    randomize(model, rng)
    R = random_weights(run(), rng)
    dx = model.backward(R)
    params, grads = model.params, model.grads
    assert set(params) == set(grads) and all(params[k].shape == grads[k].shape for k in params)
    pairs = [("x", x, dx)] + [(k, params[k], grads[k]) for k in sorted(params)]
    if with_state:
        pairs += [(f"state{k}", s, g) for k, (s, g) in enumerate(zip(init, flatten(model.state_grads)))]
    return check(lambda: loss(run(), R), pairs)


@SETTINGS
@given(
    reset_after=st.booleans(),
    **SHAPES,
    mask=st.sampled_from(MASKS),
    return_sequences=st.booleans(),
    return_state=st.booleans(),
    go_backwards=st.booleans(),
    with_state=st.booleans(),
    dropout=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_layer_gradients(
    reset_after, B, T, D, H, mask, return_sequences, return_state, go_backwards, with_state, dropout, seed
):
    rng = np.random.default_rng(seed)
    rate = 0.3 if dropout else 0.0
    layer = rl.GRU(
        H,
        reset_after=reset_after,
        dtype="float64",
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        dropout=rate,
        recurrent_dropout=rate,
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(layer, x, make_mask(mask, B, T, rng), rng, with_state, training=dropout)


@SETTINGS
@given(
    reset_after=st.booleans(),
    **SHAPES,
    merge_mode=st.sampled_from(["concat", "sum", "mul", "ave"]),
    mask=st.sampled_from(MASKS),
    return_state=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_bidirectional_gradients(reset_after, B, T, D, H, merge_mode, mask, return_state, seed):
    rng = np.random.default_rng(seed)
    layer = rl.Bidirectional(
        rl.GRU(H, reset_after=reset_after, dtype="float64", return_sequences=True, return_state=return_state),
        merge_mode=merge_mode,
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(layer, x, make_mask(mask, B, T, rng), rng, with_state=False)


@SETTINGS
@given(**SHAPES, mask=st.sampled_from(["none", "padding"]), seed=st.integers(0, 2**32 - 1))
def test_stack_with_an_lstm_gradients(B, T, D, H, mask, seed):
    rng = np.random.default_rng(seed)
    model = rl.Stack(
        [
            rl.GRU(H, dtype="float64", return_sequences=True),
            rl.Bidirectional(rl.GRU(H, reset_after=False, dtype="float64", return_sequences=True)),
            rl.LSTM(H, dtype="float64"),
        ]
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(model, x, make_mask(mask, B, T, rng), rng, with_state=False)


@SETTINGS
@given(
    reset_after=st.booleans(),
    **SHAPES,
    mask=st.sampled_from(MASKS),
    go_backwards=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stateful_second_call_gradients(reset_after, B, T, D, H, mask, go_backwards, seed):
    """Gradients of the second call, with the state carried from the first held fixed."""
    rng = np.random.default_rng(seed)
    layer = rl.GRU(
        H, reset_after=reset_after, dtype="float64", stateful=True, return_sequences=True, go_backwards=go_backwards
    )
    layer(rng.standard_normal((B, T, D)))
    randomize(layer, rng)
    layer.reset_state()
    layer(rng.standard_normal((B, T, D)))
    carried = [s.copy() for s in layer.final_state]
    x, m = rng.standard_normal((B, T, D)), make_mask(mask, B, T, rng)

    def run():
        layer.reset_state(carried)
        return layer(x, mask=m)

    R = random_weights(run(), rng)
    dx = layer.backward(R)
    pairs = [("x", x, dx), ("carried h", carried[0], layer.state_grads[0])]
    pairs += [(k, layer.params[k], layer.grads[k]) for k in "WUb"]
    check(lambda: loss(run(), R), pairs)


@pytest.mark.parametrize("reset_after", [True, False])
def test_weights_follow_keras_layout(reset_after):
    layer = rl.GRU(5, reset_after=reset_after, seed=0)
    layer(np.zeros((1, 2, 3), np.float32))
    shapes = {k: v.shape for k, v in layer.params.items()}
    assert shapes == {"W": (3, 15), "U": (5, 15), "b": (2, 15) if reset_after else (15,)}
    assert layer.gate_names == ("z", "r", "h_tilde") and layer.state_names == ("h",)
    assert rl.nn.cell_class("gru") is rl.GRU and "gru" in rl.nn.cells.model_names()


@pytest.mark.parametrize("reset_after", [True, False])
def test_long_sequence_options_and_inference_mode(reset_after):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 12, 2))
    mask = np.arange(12)[None, :] < np.array([[12], [7], [3]])
    full = rl.GRU(4, reset_after=reset_after, dtype="float64", return_sequences=True, seed=3)
    y = full(x, mask=mask)
    R = rng.standard_normal(y.shape)
    full.backward(R)
    recomputed = rl.GRU(4, reset_after=reset_after, dtype="float64", return_sequences=True, seed=3, checkpoint_every=5)
    np.testing.assert_allclose(recomputed(x, mask=mask), y, rtol=0, atol=1e-14)
    recomputed.backward(R)
    for k in full.grads:  # recomputation gives the gradients of full BPTT
        np.testing.assert_allclose(recomputed.grads[k], full.grads[k], rtol=1e-12, atol=1e-13)
    truncated = rl.GRU(4, reset_after=reset_after, dtype="float64", return_sequences=True, seed=3, bptt_steps=4)
    np.testing.assert_allclose(truncated(x, mask=mask), y, rtol=0, atol=1e-14)
    truncated.backward(R)
    assert not np.allclose(truncated.grads["U"], full.grads["U"])  # gradient cut at steps 4 and 8
    with rl.inference_mode():
        np.testing.assert_allclose(full(x, mask=mask), y, rtol=0, atol=1e-14)


def test_return_state_initial_state_and_stateful_calls():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 3))
    layer = rl.GRU(4, dtype="float64", return_state=True, seed=0)
    h0 = rng.standard_normal((2, 4))
    out, hT = layer(x, initial_state=[h0])
    np.testing.assert_array_equal(out, hT)
    # two stateful halves equal one call
    half = rl.GRU(4, dtype="float64", stateful=True, seed=0)
    half(x[:, :3], initial_state=[h0])
    np.testing.assert_allclose(half(x[:, 3:]), hT, atol=1e-14)


@pytest.mark.parametrize("reset_after", [True, False])
def test_save_and_load(tmp_path, reset_after):
    rng = np.random.default_rng(3)
    model = rl.Sequential(
        [
            rl.Bidirectional(rl.GRU(3, reset_after=reset_after, return_sequences=True)),
            rl.GRU(2, reset_after=reset_after, recurrent_activation="hard_sigmoid"),
            rl.Dense(1),
        ],
        seed=0,
    )
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    y = model.predict(x)
    model.save(tmp_path / "m.rnnlab")
    back = rl.load(tmp_path / "m.rnnlab")
    np.testing.assert_array_equal(back.predict(x), y)
    assert back.layers[1].reset_after is reset_after and back.layers[1].recurrent_activation == "hard_sigmoid"


def test_record_gives_the_gates():
    rng = np.random.default_rng(4)
    model = rl.Sequential([rl.GRU(3, return_sequences=True, dtype="float64")], seed=0)
    x = rng.standard_normal((2, 5, 2))
    rec = rl.probe.record(model, x)[0]
    assert list(rec.values) == ["z", "r", "h_tilde", "h"]
    z, h_tilde, h = rec.z, rec.h_tilde, rec.h
    h_prev = np.concatenate([rec.h0[:, None], h[:, :-1]], axis=1)
    np.testing.assert_allclose(h, z * h_prev + (1 - z) * h_tilde, atol=1e-14)  # h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃
    assert "h̃ " in rec.table()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="reset_after expected True or False"):
        rl.GRU(3, reset_after="yes")
    with pytest.raises(ValueError, match="activation"):
        rl.GRU(3, recurrent_activation="selu")
    layer = rl.GRU(3)
    with pytest.raises(ValueError, match=r"expected b of shape \(2, 9\)"):
        layer.set_weights(np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9))
    layer = rl.GRU(3, reset_after=False)
    with pytest.raises(ValueError, match=r"expected b of shape \(9,\)"):
        layer.set_weights(np.zeros((2, 9)), np.zeros((3, 9)), np.zeros((2, 9)))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradient_flow_matches_the_layers_backward(reset_after):
    """probe.state_gradients runs the GRU's kernel step by step: ∂L/∂h_0 is the layer's own."""
    rng = np.random.default_rng(5)
    layer = rl.GRU(4, reset_after=reset_after, dtype="float64", seed=2)
    x = rng.standard_normal((3, 7, 2))
    dh_T = rng.standard_normal((3, 4))
    flow = rl.probe.gradflow.state_gradients(layer, x, dh_T)
    assert set(flow) == {"h"} and flow["h"].shape == (8, 3, 4)
    np.testing.assert_array_equal(flow["h"][-1], dh_T)
    layer(x, initial_state=[np.zeros((3, 4))])
    layer.backward(dh_T)
    np.testing.assert_allclose(flow["h"][0], layer.state_grads[0], rtol=1e-12, atol=1e-14)
