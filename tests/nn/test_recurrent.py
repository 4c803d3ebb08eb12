"""The recurrent base class (rnnlab.nn.recurrent.Recurrent), through SimpleRNN and LSTM.

Forward passes are compared with the equations written out below in plain
NumPy, batch first; options (initial and carried states, return_state,
go_backwards, dropout, long-sequence settings) against the plain layer run
on inputs arranged by hand. Everything in float64 on the reference kernels.
"""

import copy

import numpy as np
import pytest
from gradcheck_util import check, loss, random_weights
from threadpoolctl import threadpool_limits

import rnnlab as rl

RTOL = 1e-12  # float64: the layer and the loops below sum in different orders, a few ulps apart
KINDS = ("simple_rnn", "lstm")


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread(reference_kernels):
    with threadpool_limits(1, user_api="blas"):
        yield


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference(kind, params, x, states=None, mask=None, xdrop=None, rdrop=None):
    """The equations, batch first: y (B, T, H) with zeros at masked steps, and the final states."""
    W, U, b = params["W"], params["U"], params["b"]
    B, T, _ = x.shape
    H = U.shape[0]
    h = np.zeros((B, H)) if states is None else states[0]
    c = np.zeros((B, H)) if kind == "simple_rnn" or states is None else states[1]
    if xdrop is not None:
        x = x * xdrop[:, None, :]
    y = np.zeros((B, T, H))
    for t in range(T):
        hp = h if rdrop is None else h * rdrop
        z = x[:, t] @ W + hp @ U + b
        if kind == "simple_rnn":
            h_new, c_new = np.tanh(z), c
        else:
            i, f, g, o = (
                sigmoid(z[:, :H]),
                sigmoid(z[:, H : 2 * H]),
                np.tanh(z[:, 2 * H : 3 * H]),
                sigmoid(z[:, 3 * H :]),
            )
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
        keep = np.ones((B, 1), bool) if mask is None else mask[:, t, None]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        y[:, t] = np.where(keep, h_new, 0.0)
    return y, ((h,) if kind == "simple_rnn" else (h, c))


def make(kind, units=3, **options):
    options.setdefault("dtype", "float64")
    return rl.SimpleRNN(units, **options) if kind == "simple_rnn" else rl.LSTM(units, **options)


def built(kind, D=2, units=3, weights_seed=0, **options):
    """A layer with random weights of a moderate size (not the initializers': zero biases, say)."""
    layer = make(kind, units, **options)
    layer.build(D)
    rng = np.random.default_rng(weights_seed)
    for p in layer.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)
    return layer


def states_for(kind, B, H, rng):
    return [rng.standard_normal((B, H)) for _ in range(1 if kind == "simple_rnn" else 2)]


def padding(B, T, lengths):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


# ---- forward -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_forward_equals_the_equations(kind, return_sequences, masked):
    layer = built(kind, return_sequences=return_sequences)
    x = np.random.default_rng(1).standard_normal((3, 5, 2))
    mask = padding(3, 5, [5, 2, 0]) if masked else None
    y_ref, s_ref = reference(kind, layer.params, x, mask=mask)
    y = layer(x, mask=mask)
    np.testing.assert_allclose(y, y_ref if return_sequences else s_ref[0], rtol=RTOL, atol=1e-15)
    for got, want in zip(layer.final_state, s_ref):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15)
    if masked:  # the empty row keeps its zero state; a padded step gives zero output
        np.testing.assert_array_equal(layer.final_state[0][2], 0.0)
        if return_sequences:
            np.testing.assert_array_equal(y[1, 2:], 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_layer_casts_its_input_once(kind):
    layer = make(kind, dtype="float32", seed=0)
    y = layer(np.random.default_rng(0).standard_normal((2, 3, 4)))  # float64 in
    assert y.dtype == np.float32 and layer.final_state[0].dtype == np.float32
    assert all(p.dtype == np.float32 for p in layer.params.values())


@pytest.mark.parametrize("kind", KINDS)
def test_build_creates_gate_blocks(kind):
    layer = make(kind, units=3, seed=0).build(2)
    G = 3 if kind == "simple_rnn" else 12
    assert {k: v.shape for k, v in layer.params.items()} == {"W": (2, G), "U": (3, G), "b": (G,)}
    assert {k: v.shape for k, v in layer.grads.items()} == {"W": (2, G), "U": (3, G), "b": (G,)}
    assert layer.built and layer.input_dim == 2 and layer.count_params() == 2 * G + 3 * G + G


def test_same_seed_same_weights():
    a, b = make("lstm", seed=5).build(3), make("lstm", seed=5).build(3)
    c = make("lstm", seed=6).build(3)
    for k in "WUb":
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["W"], c.params["W"])


# ---- initial_state -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_initial_state_starts_the_recurrence(kind):
    layer = built(kind, return_sequences=True)
    rng = np.random.default_rng(2)
    x, init = rng.standard_normal((2, 4, 2)), states_for(kind, 2, 3, rng)
    y_ref, s_ref = reference(kind, layer.params, x, states=init)
    y = layer(x, initial_state=init)
    np.testing.assert_allclose(y, y_ref, rtol=RTOL)
    for got, want in zip(layer.final_state, s_ref):
        np.testing.assert_allclose(got, want, rtol=RTOL)
    assert not np.allclose(y, layer(x))  # zero states give another output


def test_simple_rnn_initial_state_may_be_one_array():
    layer = built("simple_rnn", return_sequences=True)
    rng = np.random.default_rng(3)
    x, h0 = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(layer(x, initial_state=h0), layer(x, initial_state=[h0]))


def test_initial_state_is_not_written():
    layer = built("lstm", return_sequences=True)
    rng = np.random.default_rng(4)
    init = states_for("lstm", 2, 3, rng)
    kept = [s.copy() for s in init]
    layer(rng.standard_normal((2, 3, 2)), initial_state=init)
    layer.backward(rng.standard_normal((2, 3, 3)))
    for s, k in zip(init, kept):
        np.testing.assert_array_equal(s, k)


@pytest.mark.parametrize(
    "kind,init,error,message",
    [
        ("lstm", lambda: [np.zeros((2, 3))], ValueError, r"expected initial_state as a list of 2 arrays \(h, c\)"),
        ("lstm", lambda: np.zeros((2, 3)), ValueError, "list of 2 arrays"),
        ("simple_rnn", lambda: [np.zeros((2, 3))] * 2, ValueError, r"list of 1 arrays \(h\)"),
        ("simple_rnn", lambda: "zeros", ValueError, "list of 1 arrays"),
        ("simple_rnn", lambda: [np.zeros((3, 3))], ValueError, r"initial_state h of shape \(2, 3\), got \(3, 3\)"),
        ("lstm", lambda: [np.zeros((2, 3)), np.zeros((2, 4))], ValueError, r"initial_state c of shape \(2, 3\)"),
        ("simple_rnn", lambda: [np.zeros((2, 3), dtype=int)], TypeError, "initial_state h of a float dtype"),
        ("simple_rnn", lambda: [np.full((2, 3), np.nan)], ValueError, "finite initial_state h"),
    ],
)
def test_bad_initial_state(kind, init, error, message):
    layer = built(kind)
    with pytest.raises(error, match=message):
        layer(np.zeros((2, 4, 2)), initial_state=init())


# ---- stateful and reset_state ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_stateful_calls_continue_one_sequence(kind, go_backwards):
    whole = built(kind, return_sequences=True, go_backwards=go_backwards)
    parts = built(kind, return_sequences=True, go_backwards=go_backwards, stateful=True)
    x = np.random.default_rng(5).standard_normal((2, 6, 2))
    y = whole(x)
    # the layer reads x backwards: the later half of time comes first
    first, second = (x[:, 3:], x[:, :3]) if go_backwards else (x[:, :3], x[:, 3:])
    y1, y2 = parts(first), parts(second)
    np.testing.assert_allclose(np.concatenate([y1, y2], axis=1), y, rtol=RTOL)
    for got, want in zip(parts.final_state, whole.final_state):
        np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.mark.parametrize("kind", KINDS)
def test_reset_state_starts_again_from_zeros(kind):
    fresh = built(kind, return_sequences=True)
    layer = built(kind, return_sequences=True, stateful=True)
    rng = np.random.default_rng(6)
    x1, x2 = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    layer(x1)
    assert not np.allclose(layer(x2), fresh(x2))  # carried
    layer.reset_state()
    np.testing.assert_array_equal(layer(x2), fresh(x2))


@pytest.mark.parametrize("kind", KINDS)
def test_reset_state_with_states_carries_them(kind):
    layer = built(kind, return_sequences=True, stateful=True)
    rng = np.random.default_rng(7)
    x, init = rng.standard_normal((2, 3, 2)), states_for(kind, 2, 3, rng)
    layer.reset_state(init)
    kept = [s.copy() for s in init]
    init[0][...] = 0.0  # reset_state keeps copies
    plain = built(kind, return_sequences=True)
    expected = plain(x, initial_state=kept)
    assert not np.allclose(expected, plain(x))
    np.testing.assert_array_equal(layer(x), expected)


def test_stateful_batch_size_change_needs_a_reset():
    layer = built("lstm", stateful=True)
    layer(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"stateful with batch 2, got batch 3; call reset_state\(\) first"):
        layer(np.zeros((3, 3, 2)))
    layer.reset_state()
    assert layer(np.zeros((3, 3, 2))).shape == (3, 3)


def test_an_explicit_initial_state_wins_over_the_carried_one():
    layer = built("simple_rnn", return_sequences=True, stateful=True)
    plain = built("simple_rnn", return_sequences=True)
    rng = np.random.default_rng(8)
    x, h0 = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3))
    layer(rng.standard_normal((2, 3, 2)))
    np.testing.assert_array_equal(layer(x, initial_state=[h0]), plain(x, initial_state=[h0]))
    # and the state carried on is that call's final state
    np.testing.assert_array_equal(layer(x), plain(x, initial_state=[plain.final_state[0]]))


def test_a_layer_that_is_not_stateful_forgets():
    layer = built("lstm", return_sequences=True)
    x = np.random.default_rng(9).standard_normal((2, 3, 2))
    y = layer(x)
    np.testing.assert_array_equal(layer(x), y)
    layer.reset_state([np.ones((2, 3)), np.ones((2, 3))])  # only a stateful layer reads a carried state
    np.testing.assert_array_equal(layer(x), y)


@pytest.mark.parametrize(
    "states,message",
    [
        ([], "reset_state expected states as a list of 2 arrays"),
        ([np.zeros(3), np.zeros(3)], "reset_state expected states"),
        ("h", "reset_state expected states"),
        ([np.zeros((2, 3))], r"initial_state as a list of 2 arrays"),
        ([np.zeros((2, 3)), np.zeros((2, 2))], r"initial_state c of shape \(2, 3\)"),
    ],
)
def test_bad_reset_state(states, message):
    layer = built("lstm", stateful=True)
    with pytest.raises(ValueError, match=message):
        layer.reset_state(states)


# ---- return_state ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_return_state_appends_the_final_states(kind, return_sequences):
    layer = built(kind, return_sequences=return_sequences, return_state=True)
    plain = built(kind, return_sequences=return_sequences)
    x = np.random.default_rng(10).standard_normal((2, 4, 2))
    out = layer(x)
    n = 1 if kind == "simple_rnn" else 2
    assert isinstance(out, tuple) and len(out) == 1 + n
    np.testing.assert_array_equal(out[0], plain(x))
    _, s_ref = reference(kind, layer.params, x)
    for got, kept, want in zip(out[1:], layer.final_state, s_ref):
        np.testing.assert_array_equal(got, kept)
        np.testing.assert_allclose(got, want, rtol=RTOL)
    if not return_sequences:  # the output is h_T, but its own array
        np.testing.assert_array_equal(out[0], out[1])
        out[0][...] = 7.0
        assert not np.any(out[1] == 7.0)


# ---- go_backwards ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("masked", [False, True])
def test_go_backwards_reads_the_reversed_sequence(kind, masked):
    back = built(kind, return_sequences=True, go_backwards=True)
    fore = built(kind, return_sequences=True)
    x = np.random.default_rng(11).standard_normal((3, 5, 2))
    mask = padding(3, 5, [5, 3, 1]) if masked else None
    y = back(x, mask=mask)
    # outputs in the order they were computed (Keras), i.e. the forward layer on x[:, ::-1]
    y_rev = fore(x[:, ::-1], mask=None if mask is None else mask[:, ::-1])
    np.testing.assert_array_equal(y, y_rev)
    for got, want in zip(back.final_state, fore.final_state):
        np.testing.assert_array_equal(got, want)
    dy = np.random.default_rng(12).standard_normal(y.shape)
    np.testing.assert_array_equal(back.backward(dy), fore.backward(dy)[:, ::-1])
    for k in "WUb":
        np.testing.assert_array_equal(back.grads[k], fore.grads[k])


# ---- dropout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_is_off_outside_training_and_draws_nothing(kind):
    layer = built(kind, return_sequences=True, dropout=0.5, recurrent_dropout=0.5, seed=3)
    plain = built(kind, return_sequences=True)
    x = np.random.default_rng(13).standard_normal((4, 3, 2))
    state = copy.deepcopy(layer.rng.bit_generator.state)
    np.testing.assert_array_equal(layer(x), plain(x))
    np.testing.assert_array_equal(layer(x, training=False), plain(x))
    with rl.inference_mode():
        np.testing.assert_array_equal(layer(x), plain(x))
    assert layer.rng.bit_generator.state == state


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rates", [(0.5, 0.0), (0.0, 0.4), (0.3, 0.6)])
def test_dropout_in_training_equals_the_equations_with_its_masks(kind, rates):
    rate, rrate = rates
    layer = built(kind, D=3, return_sequences=True, dropout=rate, recurrent_dropout=rrate, seed=3)
    x = np.random.default_rng(14).standard_normal((4, 3, 3))
    rng = copy.deepcopy(layer.rng)  # the masks the layer will draw: one per sequence, input first
    xdrop = (rng.random((4, 3)) >= rate) / (1 - rate) if rate else None
    rdrop = (rng.random((4, 3)) >= rrate) / (1 - rrate) if rrate else None
    y = layer(x, training=True)
    y_ref, _ = reference(kind, layer.params, x, xdrop=xdrop, rdrop=rdrop)
    np.testing.assert_allclose(y, y_ref, rtol=RTOL)
    if rate:  # a dropped input feature gets no gradient at any step
        dx = layer.backward(np.ones_like(y))
        dropped = xdrop == 0
        assert dropped.any() and (~dropped).any()
        np.testing.assert_array_equal(dx.transpose(1, 0, 2)[:, dropped], 0.0)
        assert np.all(dx.transpose(1, 0, 2)[:, ~dropped] != 0.0)


def test_dropout_masks_change_from_call_to_call_and_run_under_inference_mode_when_training():
    layer = built("simple_rnn", return_sequences=True, dropout=0.5, seed=3)
    x = np.random.default_rng(15).standard_normal((4, 3, 2))
    a, b = layer(x, training=True), layer(x, training=True)
    assert not np.array_equal(a, b)
    with rl.inference_mode():
        c = layer(x, training=True)  # training=True asks for the training path even here
    layer.backward(np.ones_like(c))  # it kept its cache
    assert not np.array_equal(c, layer(x))


@pytest.mark.parametrize("name", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan")])
def test_bad_dropout_rates(name, rate):
    with pytest.raises(ValueError, match=rf"^{name} expected a rate in \[0, 1\)"):
        make("lstm", **{name: rate})


# ---- set_weights -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_set_weights_builds_and_copies(kind):
    G = 3 if kind == "simple_rnn" else 12
    rng = np.random.default_rng(16)
    W, U, b = rng.standard_normal((2, G)), rng.standard_normal((3, G)), rng.standard_normal(G)
    layer = make(kind, units=3)
    assert layer.set_weights(W, U, b) is layer
    assert layer.built and layer.input_dim == 2
    for key, value in zip("WUb", (W, U, b)):
        np.testing.assert_array_equal(layer.params[key], value)
        assert not np.shares_memory(layer.params[key], value)
    W[...] = 0.0
    assert np.any(layer.params["W"] != 0.0)
    layer.set_weights(np.ones((5, G)), U, b)  # another input size rebuilds
    assert layer.input_dim == 5 and layer.params["W"].shape == (5, G) and layer.grads["W"].shape == (5, G)


@pytest.mark.parametrize(
    "weights,message",
    [
        (lambda: (np.zeros(12), np.zeros((3, 12)), np.zeros(12)), r"W of shape \(input_dim, 12\), got \(12,\)"),
        (lambda: (np.zeros((2, 3)), np.zeros((3, 12)), np.zeros(12)), r"W of shape \(input_dim, 12\), got \(2, 3\)"),
        (lambda: (np.zeros((2, 12)), np.zeros((3, 3)), np.zeros(12)), r"U of shape \(3, 12\), got \(3, 3\)"),
        (lambda: (np.zeros((2, 12)), np.zeros((12, 3)), np.zeros(12)), r"U of shape \(3, 12\), got \(12, 3\)"),
        (lambda: (np.zeros((2, 12)), np.zeros((3, 12)), np.zeros(3)), r"b of shape \(12,\), got \(3,\)"),
        (lambda: (np.zeros((2, 12)), np.zeros((3, 12)), np.zeros((1, 12))), r"b of shape \(12,\), got \(1, 12\)"),
    ],
)
def test_set_weights_shape_errors(weights, message):
    layer = make("lstm", units=3, name="enc")
    with pytest.raises(ValueError, match="^enc expected " + message):
        layer.set_weights(*weights())


@pytest.mark.parametrize("D", [2, 4], ids=["same input size", "other input size"])
def test_a_failed_set_weights_leaves_the_weights_alone(D):
    layer = built("simple_rnn", D=2, units=3)
    before = {k: v.copy() for k, v in layer.params.items()}
    with pytest.raises(ValueError, match="U of shape"):
        layer.set_weights(np.ones((D, 3)), np.ones((2, 2)), np.zeros(3))
    assert layer.input_dim == 2
    for k, v in before.items():
        np.testing.assert_array_equal(layer.params[k], v)


# ---- backward ----------------------------------------------------------------------------------


def test_backward_before_forward():
    layer = built("lstm")
    with pytest.raises(ValueError, match=r"^lstm.backward called before a forward call$"):
        layer.backward(np.zeros((2, 3)))


@pytest.mark.parametrize("kind", KINDS)
def test_backward_after_inference_mode(kind):
    layer = built(kind, return_sequences=True)
    x = np.random.default_rng(17).standard_normal((2, 3, 2))
    layer(x)  # a training-mode call first: its cache must not be used for the later call
    with rl.inference_mode():
        y = layer(x)
    assert layer.kernel_cache is None
    with pytest.raises(ValueError, match=r"backward called after a forward under inference_mode\(\)"):
        layer.backward(np.ones_like(y))
    layer(x)  # an ordinary call makes backward possible again
    assert layer.backward(np.ones_like(y)).shape == x.shape


def test_inference_mode_gives_the_training_path_output():
    layer = built("lstm", return_sequences=True, go_backwards=True, return_state=True)
    rng = np.random.default_rng(18)
    x, init, mask = rng.standard_normal((3, 4, 2)), states_for("lstm", 3, 3, rng), padding(3, 4, [4, 2, 0])
    out = layer(x, mask=mask, initial_state=init)
    with rl.inference_mode():
        inf = layer(x, mask=mask, initial_state=init)
    for a, b in zip(out, inf):
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_backward_checks_dout(return_sequences):
    layer = built("simple_rnn", return_sequences=return_sequences)
    layer(np.zeros((2, 4, 2)))
    shape = (2, 4, 3) if return_sequences else (2, 3)
    with pytest.raises(ValueError, match=rf"expected dout of shape {shape}".replace("(", r"\(").replace(")", r"\)")):
        layer.backward(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="dout of a float dtype"):
        layer.backward(np.zeros(shape, dtype=int))


def test_backward_with_return_state_takes_a_tuple_with_optional_entries():
    layer = built("lstm", return_sequences=True, return_state=True)
    plain = built("lstm", return_sequences=True)
    rng = np.random.default_rng(19)
    x = rng.standard_normal((2, 4, 2))
    layer(x)
    plain(x)
    with pytest.raises(ValueError, match=r"dout as a tuple of 3 arrays \(output, h, c\)"):
        layer.backward(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"dh of shape \(2, 3\)"):
        layer.backward((np.zeros((2, 4, 3)), np.zeros((2, 4)), None))
    dy = rng.standard_normal((2, 4, 3))
    np.testing.assert_array_equal(layer.backward((dy, None, None)), plain.backward(dy))
    for k in "WUb":
        np.testing.assert_array_equal(layer.grads[k], plain.grads[k])
    # a gradient on h_T only: that of the last output step of the plain layer
    dh = rng.standard_normal((2, 3))
    last = np.zeros((2, 4, 3))
    last[:, -1] = dh
    np.testing.assert_allclose(layer.backward((None, dh, None)), plain.backward(last), rtol=RTOL)


def test_writing_into_the_output_does_not_change_backward():
    layer = built("lstm", return_sequences=True)
    rng = np.random.default_rng(20)
    x, dy = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 3))
    layer(x)
    dx = layer.backward(dy)
    y = layer(x)
    y[...] = 1e3
    np.testing.assert_array_equal(layer.backward(dy), dx)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_against_finite_differences(kind):
    """go_backwards, a mask, initial states, return_state and dropout together."""
    rng = np.random.default_rng(21)
    layer = built(
        kind,
        D=2,
        units=2,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        dropout=0.3,
        recurrent_dropout=0.3,
    )
    x, init, mask = rng.standard_normal((3, 4, 2)), states_for(kind, 3, 2, rng), padding(3, 4, [4, 2, 0])

    def run():
        layer.rng = np.random.default_rng(0)  # the same dropout masks at every call
        return layer(x, mask=mask, initial_state=init, training=True)

    R = random_weights(run(), rng)
    dx = layer.backward(R)
    pairs = [("x", x, dx)] + [(k, layer.params[k], layer.grads[k]) for k in "WUb"]
    pairs += [(f"initial {n}", s, g) for n, s, g in zip(layer.state_names, init, layer.state_grads)]
    errors = check(lambda: loss(run(), R), pairs)
    assert set(errors) == {"x", "W", "U", "b", "initial h"} | ({"initial c"} if kind == "lstm" else set())


# ---- long sequences: bptt_steps and checkpoint_every ----------------------------------------------


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(bptt_steps=0), "bptt_steps expected a positive integer or None, got 0"),
        (dict(bptt_steps=-2), "bptt_steps expected a positive integer or None"),
        (dict(bptt_steps=2.0), "bptt_steps expected a positive integer or None, got 2.0"),
        (dict(bptt_steps=True), "bptt_steps expected a positive integer or None, got True"),
        (dict(checkpoint_every=0), "checkpoint_every expected a positive integer or None"),
        (dict(checkpoint_every="4"), "checkpoint_every expected a positive integer or None"),
        (dict(bptt_steps=4, checkpoint_every=3), r"bptt_steps expected a multiple of checkpoint_every \(3\), got 4"),
    ],
)
def test_bad_long_sequence_settings(options, message):
    with pytest.raises(ValueError, match=message):
        make("lstm", **options)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "options",
    [dict(checkpoint_every=2), dict(checkpoint_every=3), dict(bptt_steps=7), dict(bptt_steps=6, checkpoint_every=2)],
)
def test_recomputation_and_long_truncation_give_full_bptt(kind, options):
    """checkpoint_every only regroups the sums; bptt_steps ≥ T truncates nothing."""
    layer = built(kind, return_sequences=True, **options)
    plain = built(kind, return_sequences=True)
    rng = np.random.default_rng(22)
    x, dy, mask = rng.standard_normal((2, 6, 2)), rng.standard_normal((2, 6, 3)), padding(2, 6, [6, 4])
    np.testing.assert_array_equal(layer(x, mask=mask), plain(x, mask=mask))
    np.testing.assert_allclose(layer.backward(dy), plain.backward(dy), rtol=RTOL, atol=1e-15)
    for k in "WUb":
        np.testing.assert_allclose(layer.grads[k], plain.grads[k], rtol=RTOL, atol=1e-15)
    assert layer.get_config()["bptt_steps"] == options.get("bptt_steps")
    assert layer.get_config()["checkpoint_every"] == options.get("checkpoint_every")


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_bptt_stops_the_gradient_at_segment_starts(kind):
    layer = built(kind, bptt_steps=2)  # return_sequences=False: the loss sees h_T only
    plain = built(kind)
    rng = np.random.default_rng(23)
    x, dh = rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(layer(x), plain(x))
    dx, dx_full = layer.backward(dh), plain.backward(dh)
    # segments [0, 2), [2, 4), [4, 5): only the last one sees ∂L/∂h_T
    np.testing.assert_array_equal(dx[:, :4], 0.0)
    assert np.all(np.abs(dx_full[:, :4]).sum(axis=-1) > 0)
    np.testing.assert_allclose(dx[:, 4], dx_full[:, 4], rtol=RTOL)
    np.testing.assert_array_equal(layer.state_grads[0], 0.0)


# ---- constructor and input checks ----------------------------------------------------------------


@pytest.mark.parametrize("units", [0, -1, 2.0, True, "3", None])
def test_bad_units(units):
    with pytest.raises(ValueError, match="units expected a positive integer"):
        make("simple_rnn", units=units)


@pytest.mark.parametrize(
    "kind,options,message",
    [
        ("simple_rnn", dict(activation="gelu"), "activation expected one of"),
        ("lstm", dict(recurrent_activation="softmax"), "activation expected one of"),
        ("lstm", dict(kernel_initializer="he"), "initializer expected one of"),
        ("simple_rnn", dict(recurrent_initializer="eye"), "initializer expected one of"),
        ("lstm", dict(bias_initializer=1.0), "initializer expected one of"),
        ("lstm", dict(dtype="float16"), "dtype expected float32 or float64"),
    ],
)
def test_bad_constructor_arguments(kind, options, message):
    with pytest.raises(ValueError, match=message):
        make(kind, **options)


@pytest.mark.parametrize(
    "x,mask,error,message",
    [
        (np.zeros((2, 3)), None, ValueError, r"LSTM expected input \(batch, time, 2\), got \(2, 3\)"),
        (np.zeros((2, 3, 4)), None, ValueError, r"LSTM expected input \(batch, time, 2\), got \(2, 3, 4\)"),
        (np.zeros((0, 3, 2)), None, ValueError, "non-empty input"),
        (np.zeros((2, 0, 2)), None, ValueError, "non-empty input"),
        (np.zeros((2, 3, 2), dtype=np.int64), None, TypeError, "input of a float dtype"),
        (np.full((2, 3, 2), np.inf), None, ValueError, "finite input"),
        ([[[0.0, 0.0]], [[0.0]]], None, TypeError, "regular array"),
        (np.zeros((2, 3, 2)), np.ones((2, 3)), TypeError, "mask of dtype bool"),
        (np.zeros((2, 3, 2)), np.ones((3, 2), bool), ValueError, r"mask of shape \(2, 3\)"),
    ],
)
def test_bad_input_and_mask(x, mask, error, message):
    layer = built("lstm")
    with pytest.raises(error, match=message):
        layer(x, mask=mask)


def test_get_config():
    layer = rl.LSTM(
        4,
        return_sequences=True,
        go_backwards=True,
        stateful=True,
        dropout=0.25,
        recurrent_dropout=0.5,
        name="enc",
        bptt_steps=8,
        checkpoint_every=4,
    )
    assert layer.get_config() == {
        "units": 4,
        "activation": "tanh",
        "use_bias": True,
        "return_sequences": True,
        "return_state": False,
        "go_backwards": True,
        "stateful": True,
        "dropout": 0.25,
        "recurrent_dropout": 0.5,
        "dtype": "float32",
        "name": "enc",
        "bptt_steps": 8,
        "checkpoint_every": 4,
        "recurrent_activation": "sigmoid",
        "unit_forget_bias": True,
        "zero_output_for_mask": None,
        "initial_state_rows": 0,
    }
