"""Bidirectional (rnnlab.nn.bidirectional): each merge mode against the two directions combined by hand.

The wrapper is compared with deep copies of its own two layers called
directly: the forward layer on x, the go_backwards layer on x with its output
flipped back into time order. Float64, reference kernels.
"""

import copy

import numpy as np
import pytest
from gradcheck_util import check, flatten, loss, random_weights
from threadpoolctl import threadpool_limits

import rnnlab as rl

MODES = ("concat", "sum", "mul", "ave", None)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread(reference_kernels):
    with threadpool_limits(1, user_api="blas"):
        yield


def make(kind, H=3, **options):
    options.setdefault("dtype", "float64")
    return rl.SimpleRNN(H, **options) if kind == "simple_rnn" else rl.LSTM(H, **options)


def randomize(layer, seed):
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)


def wrapped(kind, merge_mode="concat", D=2, H=3, **options):
    bi = rl.Bidirectional(make(kind, H, **options), merge_mode=merge_mode)
    bi.build(D)
    randomize(bi, 1)
    return bi


def by_hand(bi):
    """Independent copies of the two directions."""
    return copy.deepcopy(bi.forward_layer), copy.deepcopy(bi.backward_layer)


def merge(mode, a, b):
    return {
        "concat": lambda: np.concatenate([a, b], axis=-1),
        "sum": lambda: a + b,
        "mul": lambda: a * b,
        "ave": lambda: (a + b) / 2,
        None: lambda: [a, b],
    }[mode]()


def padding(B, T, lengths):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


# ---- the backward copy -----------------------------------------------------------------------


def test_the_backward_layer_is_a_reversed_copy_with_its_own_weights():
    layer = make("lstm", return_sequences=True, seed=4, name="enc")
    bi = rl.Bidirectional(layer)
    back = bi.backward_layer
    assert bi.forward_layer is layer and back is not layer
    assert back.go_backwards is True and layer.go_backwards is False
    assert back.name == "enc_backward" and bi.name == "bidirectional_enc"
    assert back.get_config() == {**layer.get_config(), "go_backwards": True, "name": "enc_backward"}
    bi.build(2)
    assert not np.array_equal(bi.params["forward.W"], bi.params["backward.W"])
    # the backward stream comes from the layer's seed: the same for two wrappers of same-seed layers
    again = rl.Bidirectional(make("lstm", return_sequences=True, seed=4)).build(2)
    for k in bi.params:
        np.testing.assert_array_equal(bi.params[k], again.params[k])


def test_a_built_layer_gets_a_built_backward_copy():
    layer = make("simple_rnn").build(5)
    bi = rl.Bidirectional(layer)
    assert bi.built and bi.backward_layer.input_dim == 5
    assert sorted(bi.params) == ["backward.U", "backward.W", "backward.b", "forward.U", "forward.W", "forward.b"]
    assert bi.count_params() == 2 * layer.count_params()


def test_a_go_backwards_layer_gets_a_forward_copy():
    bi = rl.Bidirectional(make("simple_rnn", go_backwards=True))
    assert bi.backward_layer.go_backwards is False


def test_params_and_grads_are_the_layers_own_arrays():
    bi = wrapped("simple_rnn", return_sequences=True)
    x = np.random.default_rng(2).standard_normal((2, 3, 2))
    bi.backward(np.ones_like(bi(x)))
    for prefix, layer in (("forward", bi.forward_layer), ("backward", bi.backward_layer)):
        for k in "WUb":
            assert bi.params[f"{prefix}.{k}"] is layer.params[k]
            assert bi.grads[f"{prefix}.{k}"] is layer.grads[k]


# ---- forward: every merge mode ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm"])
@pytest.mark.parametrize("merge_mode", MODES)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_forward_equals_the_two_directions_merged_by_hand(kind, merge_mode, return_sequences):
    bi = wrapped(kind, merge_mode, return_sequences=return_sequences)
    fw, bw = by_hand(bi)
    x = np.random.default_rng(3).standard_normal((2, 4, 2))
    y_f, y_b = fw(x), bw(x)
    if return_sequences:
        y_b = y_b[:, ::-1]  # computed last step first: back to time order
    out = bi(x)
    want = merge(merge_mode, y_f, y_b)
    if merge_mode is None:
        assert isinstance(out, list) and len(out) == 2
        np.testing.assert_array_equal(out[0], want[0])
        np.testing.assert_array_equal(out[1], want[1])
    else:
        H = 3
        width = 2 * H if merge_mode == "concat" else H
        assert out.shape == ((2, 4, width) if return_sequences else (2, width))
        np.testing.assert_array_equal(out, want)


def test_the_backward_direction_reads_the_sequence_from_the_end():
    """Its output at step t depends on x[t:] only, the forward direction's on x[:t + 1]."""
    bi = wrapped("simple_rnn", None, return_sequences=True)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 5, 2))
    y_f, y_b = (a.copy() for a in bi(x))
    x2 = x.copy()
    x2[:, 2] += 1.0  # change step 2
    z_f, z_b = bi(x2)
    np.testing.assert_array_equal(z_f[:, :2], y_f[:, :2])
    assert np.all(z_f[:, 2:] != y_f[:, 2:])
    np.testing.assert_array_equal(z_b[:, 3:], y_b[:, 3:])
    assert np.all(z_b[:, :3] != y_b[:, :3])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", None])
def test_masked_steps(merge_mode):
    bi = wrapped("lstm", merge_mode, return_sequences=True)
    fw, bw = by_hand(bi)
    x = np.random.default_rng(5).standard_normal((3, 5, 2))
    mask = padding(3, 5, [5, 3, 0])
    out = bi(x, mask=mask)
    want = merge(merge_mode, fw(x, mask=mask), bw(x, mask=mask)[:, ::-1])
    for got, ref in zip(flatten(out), flatten(want)):
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(got[~mask], 0.0)  # padded steps give zeros in both directions
    # the backward direction starts at the last real step: padding after it does not matter
    x2 = x.copy()
    x2[~mask] = 9.0
    for got, ref in zip(flatten(bi(x2, mask=mask)), flatten(out)):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_return_state_and_initial_state(kind, return_sequences):
    bi = wrapped(kind, "concat", return_sequences=return_sequences, return_state=True)
    fw, bw = by_hand(bi)
    n = 1 if kind == "simple_rnn" else 2
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 2))
    init = [rng.standard_normal((2, 3)) for _ in range(2 * n)]
    out = bi(x, initial_state=init)
    assert isinstance(out, list) and len(out) == 1 + 2 * n
    out_f, out_b = fw(x, initial_state=init[:n]), bw(x, initial_state=init[n:])
    y_b = out_b[0][:, ::-1] if return_sequences else out_b[0]
    np.testing.assert_array_equal(out[0], np.concatenate([out_f[0], y_b], axis=-1))
    for got, want in zip(out[1:], list(out_f[1:]) + list(out_b[1:])):
        np.testing.assert_array_equal(got, want)
    assert len(bi.final_state) == 2 * n
    for got, want in zip(bi.final_state, out[1:]):
        np.testing.assert_array_equal(got, want)


def test_final_state_without_return_state_and_before_a_call():
    bi = wrapped("lstm")
    assert bi.final_state is None and bi.state_grads is None
    x = np.random.default_rng(7).standard_normal((2, 3, 2))
    y = bi(x)
    h_f, c_f, h_b, c_b = bi.final_state
    np.testing.assert_array_equal(y, np.concatenate([h_f, h_b], axis=-1))
    assert c_f.shape == c_b.shape == (2, 3)


@pytest.mark.parametrize(
    "init", [[np.zeros((2, 3))] * 2, [np.zeros((2, 3))] * 3, np.zeros((2, 3))], ids=["too few", "odd", "one array"]
)
def test_bad_initial_state(init):
    bi = wrapped("lstm")
    with pytest.raises(
        ValueError,
        match=r"expected initial_state as a list of 4 arrays \(forward states, then "
        r"backward states\)",
    ):
        bi(np.zeros((2, 3, 2)), initial_state=init)


# ---- backward ------------------------------------------------------------------------------------


def split(mode, dy, y_f, y_b, H=3):
    """∂L/∂y_f, ∂L/∂y_b from ∂L/∂(merged)."""
    if mode == "concat":
        return dy[..., :H], dy[..., H:]
    if mode == "sum":
        return dy, dy
    if mode == "mul":
        return dy * y_b, dy * y_f
    if mode == "ave":
        return dy / 2, dy / 2
    return dy[0], dy[1]


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm"])
@pytest.mark.parametrize("merge_mode", MODES)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_backward_equals_the_two_directions_by_hand(kind, merge_mode, return_sequences):
    bi = wrapped(kind, merge_mode, return_sequences=return_sequences)
    fw, bw = by_hand(bi)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 2))
    mask = padding(2, 4, [4, 2])
    dy = random_weights(bi(x, mask=mask), rng)
    dx = bi.backward(dy)
    y_f, y_b = fw(x, mask=mask), bw(x, mask=mask)
    if return_sequences:
        d_f, d_b = split(merge_mode, dy, y_f, y_b[:, ::-1])
        d_b = d_b[:, ::-1]
    else:
        d_f, d_b = split(merge_mode, dy, y_f, y_b)
    want = fw.backward(d_f) + bw.backward(d_b)
    np.testing.assert_array_equal(dx, want)
    for k in "WUb":
        np.testing.assert_array_equal(bi.grads[f"forward.{k}"], fw.grads[k])
        np.testing.assert_array_equal(bi.grads[f"backward.{k}"], bw.grads[k])


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm"])
@pytest.mark.parametrize("merge_mode", MODES)
def test_gradients_against_finite_differences(kind, merge_mode):
    """Sequence output, final states of both directions, initial states and a mask, all at once."""
    rng = np.random.default_rng(9)
    bi = wrapped(kind, merge_mode, H=2, return_sequences=True, return_state=True)
    n = 1 if kind == "simple_rnn" else 2
    x, mask = rng.standard_normal((2, 3, 2)), padding(2, 3, [3, 1])
    init = [rng.standard_normal((2, 2)) for _ in range(2 * n)]

    def run():
        return bi(x, mask=mask, initial_state=init)

    R = random_weights(run(), rng)
    dx = bi.backward(R)
    params, grads = bi.params, bi.grads
    pairs = [("x", x, dx)] + [(k, params[k], grads[k]) for k in sorted(params)]
    pairs += [(f"state{k}", s, g) for k, (s, g) in enumerate(zip(init, bi.state_grads))]
    errors = check(lambda: loss(run(), R), pairs)
    assert len(errors) == 1 + 6 + 2 * n


def test_backward_with_states_only():
    """dout [None, dh_f, dh_b]: the gradient reaches x through the final states alone."""
    bi = wrapped("simple_rnn", "sum", return_sequences=True, return_state=True)
    fw, bw = by_hand(bi)
    rng = np.random.default_rng(10)
    x, dh_f, dh_b = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    bi(x)
    fw(x)
    bw(x)
    dx = bi.backward([None, dh_f, dh_b])
    np.testing.assert_array_equal(dx, fw.backward((None, dh_f)) + bw.backward((None, dh_b)))


@pytest.mark.parametrize(
    "merge_mode,dout,error,message",
    [
        ("concat", lambda: np.zeros((2, 4, 3)), ValueError, r"expected dout of shape \(2, 4, 6\)"),
        ("sum", lambda: np.zeros((2, 4, 6)), ValueError, r"expected dout of shape \(2, 4, 3\)"),
        ("ave", lambda: np.zeros((2, 4, 3), dtype=int), TypeError, "dout of a float dtype"),
        (None, lambda: np.zeros((2, 4, 3)), ValueError, r"expected dout as \[d_forward, d_backward\]"),
        (None, lambda: [np.zeros((2, 4, 3))], ValueError, r"expected dout as \[d_forward, d_backward\]"),
        (None, lambda: [np.zeros((2, 4, 3)), np.zeros((2, 3))], ValueError, r"dout\[1\] of shape \(2, 4, 3\)"),
    ],
)
def test_backward_checks_dout(merge_mode, dout, error, message):
    bi = wrapped("simple_rnn", merge_mode, return_sequences=True, name="bi")
    bi(np.zeros((2, 4, 2)))
    with pytest.raises(error, match=message):
        bi.backward(dout())


def test_backward_with_return_state_needs_one_entry_per_state():
    bi = wrapped("lstm", return_state=True)
    bi(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match=r"backward expected dout as a list of 5 arrays"):
        bi.backward([np.zeros((2, 6)), np.zeros((2, 3)), np.zeros((2, 3))])


def test_backward_before_forward_and_after_inference_mode():
    bi = wrapped("simple_rnn", name="bi")
    with pytest.raises(ValueError, match=r"^bidirectional_bi.backward called before a forward call$"):
        bi.backward(np.zeros((2, 6)))
    with rl.inference_mode():
        y = bi(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"inference_mode"):
        bi.backward(np.ones_like(y))


def test_inference_mode_gives_the_training_path_output():
    bi = wrapped("lstm", "mul", return_sequences=True, return_state=True)
    rng = np.random.default_rng(11)
    x, mask = rng.standard_normal((3, 4, 2)), padding(3, 4, [4, 2, 1])
    out = bi(x, mask=mask)
    with rl.inference_mode():
        inf = bi(x, mask=mask)
    for a, b in zip(out, inf):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)


# ---- stateful, constructor checks ----------------------------------------------------------------


def test_reset_state_reaches_both_directions():
    bi = wrapped("simple_rnn", return_sequences=True, stateful=True)
    fresh = copy.deepcopy(bi)
    x = np.random.default_rng(12).standard_normal((2, 3, 2))
    first = bi(x)
    assert not np.allclose(bi(x), first)  # both directions carried their states
    bi.reset_state()
    assert bi.forward_layer._carry is None and bi.backward_layer._carry is None
    np.testing.assert_array_equal(bi(x), fresh(x))


@pytest.mark.parametrize(
    "make_args,error,message",
    [
        (lambda: (rl.Dense(3),), TypeError, "Bidirectional expected a SimpleRNN, LSTM or GRU layer, got Dense"),
        (lambda: (make("lstm"), "max"), ValueError, "merge_mode expected one of"),
        (lambda: (make("lstm"), "concat", make("simple_rnn", go_backwards=True)), ValueError, "of the same kind"),
        (lambda: (make("lstm"), "concat", make("lstm", H=4, go_backwards=True)), ValueError, "units"),
        (
            lambda: (make("lstm"), "concat", make("lstm", return_sequences=True, go_backwards=True)),
            ValueError,
            "return_sequences",
        ),
        (
            lambda: (make("lstm"), "concat", make("lstm", return_state=True, go_backwards=True)),
            ValueError,
            "return_state",
        ),
    ],
)
def test_bad_constructor_arguments(make_args, error, message):
    with pytest.raises(error, match=message):
        rl.Bidirectional(*make_args())


def test_an_explicit_backward_layer_is_used_as_given():
    fw = make("simple_rnn", return_sequences=True, seed=1)
    bw = make("simple_rnn", return_sequences=True, go_backwards=True, seed=2, activation="relu")
    bi = rl.Bidirectional(fw, merge_mode="sum", backward_layer=bw)
    assert bi.backward_layer is bw
    x = np.random.default_rng(13).standard_normal((2, 3, 2))
    out = bi(x)
    a, b = copy.deepcopy(fw), copy.deepcopy(bw)
    np.testing.assert_array_equal(out, a(x) + b(x)[:, ::-1])


def test_a_backward_layer_reading_forward_is_rejected():
    fw = make("simple_rnn", return_sequences=True, seed=1)
    bw = make("simple_rnn", return_sequences=True, seed=2)  # go_backwards=False, like fw
    with pytest.raises(ValueError, match="go_backwards"):
        rl.Bidirectional(fw, backward_layer=bw)


def test_get_config():
    bi = rl.Bidirectional(make("lstm"), merge_mode="ave", name="bi")
    assert bi.get_config() == {"merge_mode": "ave", "name": "bi"}
    assert bi.return_sequences is False and bi.return_state is False
