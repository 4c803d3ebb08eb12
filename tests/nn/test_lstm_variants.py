"""rl.LSTM with peepholes and with proj_size: gradients against central differences in float64 with
masks, go_backwards, stateful, initial states, dropout and recurrent dropout; Bidirectional, Stack,
inference_mode, bptt_steps, checkpoint_every, save/load, probe.record and gradient flow."""

import numpy as np
import pytest
from gradcheck_util import check, flatten, leaves, loss, random_weights
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnlab as rl

SETTINGS = settings(max_examples=12, deadline=None)
SHAPES = dict(B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(2, 3))
MASKS = ("none", "padding", "empty-row", "scattered")
VARIANTS = {"peepholes": dict(peepholes=True), "proj": dict(proj_size=1), "both": dict(peepholes=True, proj_size=1)}


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
    widths = [w for leaf in leaves(model) for w in leaf.state_widths()]
    init = [rng.standard_normal((B, w)) for w in widths] if with_state else None

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
    variant=st.sampled_from(sorted(VARIANTS)),
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
    variant, B, T, D, H, mask, return_sequences, return_state, go_backwards, with_state, dropout, seed
):
    rng = np.random.default_rng(seed)
    rate = 0.3 if dropout else 0.0
    layer = rl.LSTM(
        H,
        **VARIANTS[variant],
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
    variant=st.sampled_from(sorted(VARIANTS)),
    **SHAPES,
    merge_mode=st.sampled_from(["concat", "sum", "mul", "ave"]),
    mask=st.sampled_from(MASKS),
    return_state=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_bidirectional_gradients(variant, B, T, D, H, merge_mode, mask, return_state, seed):
    rng = np.random.default_rng(seed)
    layer = rl.Bidirectional(
        rl.LSTM(H, **VARIANTS[variant], dtype="float64", return_sequences=True, return_state=return_state),
        merge_mode=merge_mode,
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(layer, x, make_mask(mask, B, T, rng), rng, with_state=False)


@SETTINGS
@given(**SHAPES, mask=st.sampled_from(["none", "padding"]), seed=st.integers(0, 2**32 - 1))
def test_stack_gradients(B, T, D, H, mask, seed):
    rng = np.random.default_rng(seed)
    model = rl.Stack(
        [
            rl.LSTM(H, proj_size=1, dtype="float64", return_sequences=True),
            rl.Bidirectional(rl.LSTM(H, peepholes=True, proj_size=H - 1, dtype="float64", return_sequences=True)),
            rl.LSTM(H, peepholes=True, dtype="float64"),
        ]
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(model, x, make_mask(mask, B, T, rng), rng, with_state=False)


@SETTINGS
@given(
    variant=st.sampled_from(sorted(VARIANTS)),
    **SHAPES,
    mask=st.sampled_from(MASKS),
    go_backwards=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stateful_second_call_gradients(variant, B, T, D, H, mask, go_backwards, seed):
    """Gradients of the second call, with the states carried from the first held fixed."""
    rng = np.random.default_rng(seed)
    layer = rl.LSTM(
        H, **VARIANTS[variant], dtype="float64", stateful=True, return_sequences=True, go_backwards=go_backwards
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
    pairs = [
        ("x", x, dx),
        ("carried h", carried[0], layer.state_grads[0]),
        ("carried C", carried[1], layer.state_grads[1]),
    ]
    pairs += [(k, layer.params[k], layer.grads[k]) for k in layer.params]
    check(lambda: loss(run(), R), pairs)


def test_weight_layout_and_widths():
    layer = rl.LSTM(5, peepholes=True, proj_size=2, return_state=True, seed=0)
    out, h, c = layer(np.zeros((1, 4, 3), np.float32))
    shapes = {k: v.shape for k, v in layer.params.items()}
    assert shapes == {"W": (3, 20), "U": (2, 20), "b": (20,), "p": (3, 5), "W_hr": (5, 2)}
    assert out.shape == h.shape == (1, 2) and c.shape == (1, 5)
    assert not layer.params["p"].any()  # peepholes start at zero: the plain LSTM
    assert np.all(layer.params["b"][5:10] == 1)  # unit_forget_bias still sets the forget block


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(peepholes=1), "peepholes expected True or False"),
        (dict(proj_size=-1), "proj_size expected a non-negative integer"),
        (dict(proj_size=4), "proj_size expected 0 or a size below units"),
        (dict(proj_size=2.5), "proj_size expected a non-negative integer"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rl.LSTM(4, **kwargs)


def test_set_weights_checks_every_shape_first():
    layer = rl.LSTM(3, peepholes=True, proj_size=2)
    W, U, b = np.zeros((4, 12)), np.zeros((2, 12)), np.zeros(12)
    with pytest.raises(ValueError, match="set_weights needs p"):
        layer.set_weights(W, U, b, W_hr=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"expected W_hr of shape \(3, 2\)"):
        layer.set_weights(W, U, b, p=np.zeros((3, 3)), W_hr=np.zeros((2, 3)))
    assert not layer.built  # nothing changed
    layer.set_weights(W, U, b, p=np.ones((3, 3)), W_hr=np.ones((3, 2)))
    assert layer.params["p"].sum() == 9 and layer.params["W_hr"].sum() == 6
    with pytest.raises(ValueError, match="peepholes=False: it holds no p"):
        rl.LSTM(3).set_weights(W, np.zeros((3, 12)), b, p=np.zeros((3, 3)))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_long_sequence_options_and_inference_mode(variant):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 12, 2))
    mask = np.arange(12)[None, :] < np.array([[12], [7], [3]])
    options = dict(VARIANTS[variant], dtype="float64", return_sequences=True, seed=3)
    full = rl.LSTM(4, **options)
    full.build(2)
    randomize(full, rng)
    y = full(x, mask=mask)
    R = rng.standard_normal(y.shape)
    full.backward(R)
    recomputed = rl.LSTM(4, **options, checkpoint_every=5)
    recomputed.build(2)
    for k in full.params:
        recomputed.params[k][...] = full.params[k]
    np.testing.assert_allclose(recomputed(x, mask=mask), y, rtol=0, atol=1e-14)
    recomputed.backward(R)
    for k in full.grads:  # recomputation gives the gradients of full BPTT
        np.testing.assert_allclose(recomputed.grads[k], full.grads[k], rtol=1e-12, atol=1e-13)
    with rl.inference_mode():
        np.testing.assert_allclose(full(x, mask=mask), y, rtol=0, atol=1e-14)
    for backend in ("reference", "fast"):  # no fast module: the fast backend runs the reference kernel
        with rl.kernels.use(backend):
            np.testing.assert_array_equal(full(x, mask=mask), y)


def test_two_stateful_halves_equal_one_call():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 3))
    h0, c0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 4))
    whole = rl.LSTM(4, peepholes=True, proj_size=2, dtype="float64", return_state=True, seed=0)
    _, hT, cT = whole(x, initial_state=[h0, c0])
    half = rl.LSTM(4, peepholes=True, proj_size=2, dtype="float64", stateful=True, seed=0)
    half.build(3)
    for k in whole.params:
        half.params[k][...] = whole.params[k]
    half(x[:, :3], initial_state=[h0, c0])
    np.testing.assert_allclose(half(x[:, 3:]), hT, atol=1e-14)
    np.testing.assert_allclose(half.final_state[1], cT, atol=1e-14)


def test_learned_initial_states_have_the_state_widths():
    layer = rl.LSTM(4, proj_size=3, initial_state_rows=1, dtype="float64")
    layer(np.ones((2, 3, 1)))
    assert layer.params["h0"].shape == (1, 3) and layer.params["c0"].shape == (1, 4)


def test_save_and_load(tmp_path):
    rng = np.random.default_rng(3)
    model = rl.Sequential(
        [
            rl.Bidirectional(rl.LSTM(3, peepholes=True, proj_size=2, return_sequences=True)),
            rl.LSTM(3, peepholes=True),
            rl.Dense(1),
        ],
        seed=0,
    )
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    model.predict(x)
    for leaf in leaves(model.layers[0]) + [model.layers[1]]:
        leaf.params["p"][...] = rng.standard_normal(leaf.params["p"].shape)
    y = model.predict(x)
    model.save(tmp_path / "m.rnnlab")
    back = rl.load(tmp_path / "m.rnnlab")
    np.testing.assert_array_equal(back.predict(x), y)
    fw = back.layers[0].forward_layer
    assert fw.peepholes and fw.proj_size == 2 and back.layers[1].peepholes and not back.layers[1].proj_size


def test_record_and_gradient_flow_see_the_variants():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 3))
    model = rl.Sequential([rl.LSTM(4, peepholes=True, proj_size=2, dtype="float64"), rl.Dense(1, dtype="float64")])
    model.predict(x)
    rec = rl.probe.record(model, x)[0]
    assert rec.h.shape == (2, 5, 2) and rec.c.shape == (2, 5, 4) and rec.o.shape == (2, 5, 4)
    flow = rl.probe.state_gradients(model.layers[0], x, np.ones((2, 2)))
    assert flow["h"].shape == (6, 2, 2) and flow["c"].shape == (6, 2, 4)
