"""use_bias=False on every recurrent cell: no bias array at all, gradients against central differences
in float64 (masks, go_backwards, stateful, initial states, dropout and recurrent dropout, Bidirectional),
the fast kernels equal to the reference, weights, configs, counts and save/load."""

import numpy as np
import pytest
from gradcheck_util import MARGIN, check, flatten, leaves, loss, random_weights, relu_margin
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rnnlab as rl

SETTINGS = settings(max_examples=20, deadline=None)
KINDS = ("rnn-tanh", "rnn-relu", "lstm", "gru", "gru-before")  # gru-before: reset_after=False
MASKS = ("none", "padding", "empty-row", "scattered")
SHAPES = dict(B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(1, 3))


def make(kind, H, **options):
    """A float64 layer of `kind` without a bias."""
    options = dict(use_bias=False, dtype="float64", **options)
    if kind == "lstm":
        return rl.LSTM(H, **options)
    if kind.startswith("gru"):
        return rl.GRU(H, reset_after=kind == "gru", **options)
    return rl.SimpleRNN(H, activation=kind.split("-")[1], **options)


def make_mask(kind, B, T, rng):
    if kind == "none":
        return None
    if kind in ("padding", "empty-row"):
        lengths = rng.integers(0, T + 1, size=(B, 1))
        if kind == "empty-row":
            lengths[0] = 0
        return np.arange(T)[None, :] < lengths
    return rng.random((B, T)) < 0.6


def relu_margin_ok(model):
    """gradcheck_util.relu_ok for layers computing with a zero bias: no relu pre-activation near its kink."""
    return all(relu_margin(leaf.kernel_cache, 0.0) > MARGIN for leaf in leaves(model) if leaf.activation == "relu")


def gradcheck(model, x, mask, rng, with_state, training=False):
    B = x.shape[0]
    init = None
    if with_state:
        init = [rng.standard_normal((B, leaf.units)) for leaf in leaves(model) for _ in leaf.state_names]

    def run():
        for k, leaf in enumerate(leaves(model)):
            leaf.rng = np.random.default_rng(k)  # the same dropout masks on every call
        return model(x, mask=mask, initial_state=init, training=training)

    model(x, mask=mask)
    for p in model.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)
    R = random_weights(run(), rng)
    assume(relu_margin_ok(model))
    dx = model.backward(R)
    params, grads = model.params, model.grads
    assert not any(key.endswith("b") for key in params)  # no bias array, and no gradient for one
    assert set(params) == set(grads) and all(params[k].shape == grads[k].shape for k in params)
    pairs = [("x", x, dx)] + [(k, params[k], grads[k]) for k in sorted(params)]
    if with_state:
        pairs += [(f"state{k}", s, g) for k, (s, g) in enumerate(zip(init, flatten(model.state_grads)))]
    return check(lambda: loss(run(), R), pairs)


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
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
    kind, B, T, D, H, mask, return_sequences, return_state, go_backwards, with_state, dropout, seed
):
    rng = np.random.default_rng(seed)
    rate = 0.3 if dropout else 0.0
    layer = make(
        kind,
        H,
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
    kind=st.sampled_from(KINDS),
    **SHAPES,
    merge_mode=st.sampled_from(["concat", "sum", "mul", "ave"]),
    mask=st.sampled_from(MASKS),
    seed=st.integers(0, 2**32 - 1),
)
def test_bidirectional_gradients(kind, B, T, D, H, merge_mode, mask, seed):
    rng = np.random.default_rng(seed)
    layer = rl.Bidirectional(make(kind, H, return_sequences=True, recurrent_dropout=0.25), merge_mode=merge_mode)
    x = rng.standard_normal((B, T, D))
    gradcheck(layer, x, make_mask(mask, B, T, rng), rng, with_state=False, training=True)


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    **SHAPES,
    mask=st.sampled_from(MASKS),
    go_backwards=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stateful_second_call_gradients(kind, B, T, D, H, mask, go_backwards, seed):
    """Gradients of the second call, with the state carried from the first held fixed."""
    rng = np.random.default_rng(seed)
    layer = make(kind, H, stateful=True, return_sequences=True, go_backwards=go_backwards)
    layer(rng.standard_normal((B, T, D)))
    for p in layer.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)
    layer.reset_state()
    layer(rng.standard_normal((B, T, D)))
    carried = [s.copy() for s in layer.final_state]
    x, m = rng.standard_normal((B, T, D)), make_mask(mask, B, T, rng)

    def run():
        layer.reset_state(carried)
        return layer(x, mask=m)

    R = random_weights(run(), rng)
    assume(relu_margin_ok(layer))
    dx = layer.backward(R)
    assert sorted(layer.grads) == ["U", "W"]
    pairs = [("x", x, dx)] + [(k, layer.params[k], layer.grads[k]) for k in "WU"]
    pairs += [(f"carried {name}", s, g) for name, s, g in zip(layer.state_names, carried, layer.state_grads)]
    check(lambda: loss(run(), R), pairs)


# ---- everything but the gradients --------------------------------------------------------------------
CLASSES = [
    (rl.SimpleRNN, {}, 1),
    (rl.LSTM, {}, 4),
    (rl.GRU, {"reset_after": True}, 3),
    (rl.GRU, {"reset_after": False}, 3),
]


@pytest.mark.parametrize("cls, options, G", CLASSES)
def test_no_bias_array_anywhere(cls, options, G):
    D, H = 3, 4
    layer = cls(H, use_bias=False, **options)
    layer(np.zeros((2, 5, D), np.float32))
    assert sorted(layer.params) == ["U", "W"] and sorted(layer.grads) == ["U", "W"]
    assert layer.count_params() == G * H * (D + H)
    assert layer.param_shapes(D) == {"W": (D, G * H), "U": (H, G * H)}
    assert layer.get_config()["use_bias"] is False
    assert cls(**layer.get_config()).use_bias is False
    layer.set_weights(layer.params["W"], layer.params["U"])  # two arrays, as Keras' get_weights
    with pytest.raises(ValueError, match=r"no b \(use_bias=False\)"):
        layer.set_weights(layer.params["W"], layer.params["U"], np.zeros(layer.bias_shape()))
    with pytest.raises(ValueError, match="expected b of shape"):
        cls(H, **options).set_weights(layer.params["W"], layer.params["U"])


def test_unit_forget_bias_has_nothing_to_set():
    layer = rl.LSTM(3, use_bias=False, unit_forget_bias=True)
    layer(np.zeros((1, 2, 2), np.float32))
    assert "b" not in layer.params and layer.unit_forget_bias  # accepted, as in Keras


def test_a_bias_initializer_is_never_called():
    def refuse(shape, dtype=None):
        raise AssertionError("the bias initializer was called")

    layer = rl.GRU(3, use_bias=False, bias_initializer=refuse)
    layer(np.zeros((1, 2, 2), np.float32))


def test_use_bias_must_be_a_flag():
    with pytest.raises(ValueError, match="use_bias expected True or False"):
        rl.LSTM(3, use_bias="no")


@pytest.mark.parametrize("cls, options, G", CLASSES)
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_fast_equals_reference_without_bias(cls, options, G, dtype, tol):
    """Forward, inference and every gradient, with masks and recurrent dropout; normwise tolerance."""
    rng = np.random.default_rng(G)
    x = rng.standard_normal((4, 7, 3)).astype(dtype)
    mask = rng.random((4, 7)) < 0.7
    results = {}
    for backend in ("reference", "fast"):
        with rl.kernels.use(backend):
            layer = cls(5, use_bias=False, return_sequences=True, recurrent_dropout=0.3, dtype=dtype, seed=1, **options)
            y = layer(x, mask=mask, training=True)
            dx = layer.backward(np.ones_like(y))
            with rl.inference_mode():
                yi = layer(x, mask=mask)
            results[backend] = [y, dx, yi, layer.grads["W"], layer.grads["U"]]
    for ref, fast in zip(results["reference"], results["fast"]):
        assert np.max(np.abs(fast - ref)) <= tol * np.max(np.abs(ref))


def test_training_and_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    model = rl.Sequential(
        [
            rl.Bidirectional(rl.LSTM(3, use_bias=False, return_sequences=True)),
            rl.GRU(3, use_bias=False, reset_after=False, return_sequences=True),
            rl.SimpleRNN(2, use_bias=False),
            rl.Dense(1),
        ],
        seed=0,
    )
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.standard_normal((8, 5, 2)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert [k for k in model.params if k.endswith(".b")] == ["3.b"]  # the Dense layer's only
    lines = []
    model.summary(print_fn=lines.append)
    assert str(model.count_params()) in "\n".join(lines)
    model.save(tmp_path / "m.rnnlab")
    back = rl.load(tmp_path / "m.rnnlab")
    assert sorted(back.params) == sorted(model.params)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
