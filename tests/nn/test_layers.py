"""Layer semantics: step by step equals whole, rows equal the batch, directions, stacks, dtypes."""

import numpy as np
import pytest

import rnnlab as rl

CELLS = [
    pytest.param(lambda H, **kw: rl.SimpleRNN(H, **kw), id="rnn-tanh"),
    pytest.param(lambda H, **kw: rl.SimpleRNN(H, activation="relu", **kw), id="rnn-relu"),
    pytest.param(lambda H, **kw: rl.LSTM(H, **kw), id="lstm"),
]
B, T, D, H = 3, 6, 2, 4
TOL = dict(rtol=1e-12, atol=1e-12)


def data(seed=0, masked=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D))
    # right padding with one empty row, plus a hole in the middle of row 0
    mask = np.arange(T)[None, :] < np.array([[T], [0], [3]])
    mask[0, 2] = False
    return x, (mask if masked else None)


def copy_weights(dst, src):
    dst.set_weights(src.params["W"], src.params["U"], src.params["b"])
    return dst


@pytest.mark.parametrize("make", CELLS)
@pytest.mark.parametrize("masked", [False, True])
def test_one_step_per_call_equals_whole_sequence(make, masked):
    x, mask = data(masked=masked)
    whole = make(H, return_sequences=True, return_state=True, dtype="float64", seed=1)
    y, *states = whole(x, mask=mask)
    step = copy_weights(make(H, return_sequences=True, stateful=True, dtype="float64"), whole)
    ys = [step(x[:, t : t + 1], mask=None if mask is None else mask[:, t : t + 1]) for t in range(T)]
    np.testing.assert_allclose(np.concatenate(ys, axis=1), y, **TOL)
    for a, b in zip(step.final_state, states):
        np.testing.assert_allclose(a, b, **TOL)
    step.reset_state()  # back to zero states: the first step again
    np.testing.assert_allclose(step(x[:, :1]), whole(x[:, :1])[0], **TOL)


@pytest.mark.parametrize("make", CELLS)
def test_batch_equals_rows_one_by_one(make):
    x, mask = data()
    rng = np.random.default_rng(2)
    layer = make(H, return_sequences=True, return_state=True, dtype="float64", seed=3)
    init = [rng.standard_normal((B, H)) for _ in layer.state_names]
    y, *states = layer(x, mask=mask, initial_state=init)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward([dy, *[None] * len(states)])
    grads = {k: v.copy() for k, v in layer.grads.items()}
    total = {k: 0.0 for k in grads}
    for r in range(B):
        y_r, *states_r = layer(x[r : r + 1], mask=mask[r : r + 1], initial_state=[s[r : r + 1] for s in init])
        np.testing.assert_allclose(y_r, y[r : r + 1], **TOL)
        for a, b in zip(states_r, states):
            np.testing.assert_allclose(a, b[r : r + 1], **TOL)
        np.testing.assert_allclose(layer.backward([dy[r : r + 1], *[None] * len(states)]), dx[r : r + 1], **TOL)
        for k in total:
            total[k] = total[k] + layer.grads[k]
    for k in grads:  # parameter gradients add up over the rows
        np.testing.assert_allclose(total[k], grads[k], **TOL)


@pytest.mark.parametrize("make", CELLS)
def test_go_backwards_equals_reversed_input(make):
    x, mask = data()
    back = make(H, return_sequences=True, return_state=True, go_backwards=True, dtype="float64", seed=4)
    y, *states = back(x, mask=mask)
    fwd = copy_weights(make(H, return_sequences=True, return_state=True, dtype="float64"), back)
    y_r, *states_r = fwd(x[:, ::-1], mask=mask[:, ::-1])
    np.testing.assert_allclose(y, y_r, **TOL)  # Keras: outputs in processing order
    for a, b in zip(states, states_r):
        np.testing.assert_allclose(a, b, **TOL)
    dy = np.random.default_rng(5).standard_normal(y.shape)
    np.testing.assert_allclose(
        back.backward([dy, *[None] * len(states)]), fwd.backward([dy, *[None] * len(states)])[:, ::-1], **TOL
    )


@pytest.mark.parametrize("make", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_concat_equals_manual_directions(make, return_sequences):
    x, mask = data()
    bi = rl.Bidirectional(make(H, return_sequences=return_sequences, dtype="float64", seed=6))
    y = bi(x, mask=mask)
    fw = copy_weights(make(H, return_sequences=return_sequences, dtype="float64"), bi.forward_layer)
    bw = copy_weights(make(H, return_sequences=return_sequences, dtype="float64"), bi.backward_layer)
    y_b = bw(x[:, ::-1], mask=mask[:, ::-1])
    expected = np.concatenate([fw(x, mask=mask), y_b[:, ::-1] if return_sequences else y_b], axis=-1)
    np.testing.assert_allclose(y, expected, **TOL)
    assert not np.allclose(bi.forward_layer.params["W"], bi.backward_layer.params["W"])


def test_bidirectional_of_a_used_layer_gets_its_own_weights():
    layer = rl.LSTM(3, seed=0)
    layer(np.zeros((1, 2, 2)))
    bi = rl.Bidirectional(layer)
    assert bi.backward_layer.built and bi.backward_layer.go_backwards
    assert not np.allclose(bi.forward_layer.params["U"], bi.backward_layer.params["U"])


@pytest.mark.parametrize("make", CELLS)
def test_output_without_sequences_is_the_last_real_state(make):
    x, mask = data()
    layer = make(H, return_sequences=True, return_state=True, dtype="float64", seed=7)
    y, h, *_ = layer(x, mask=mask)
    last = make(H, dtype="float64")
    copy_weights(last, layer)
    h_last = last(x, mask=mask)
    np.testing.assert_allclose(h_last, h, **TOL)
    np.testing.assert_allclose(h_last[0], y[0, -1], **TOL)  # row 0 ends on a real step
    np.testing.assert_allclose(h_last[2], y[2, 2], **TOL)  # row 2 has 3 real steps
    np.testing.assert_array_equal(h_last[1], 0)  # the empty row keeps the zero initial state
    assert np.all(y[~mask] == 0)


def test_stack_equals_its_layers_in_order():
    x, mask = data()
    stack = rl.Stack(
        [
            rl.Bidirectional(rl.LSTM(H, return_sequences=True, dtype="float64", seed=8)),
            rl.SimpleRNN(H, return_sequences=True, dtype="float64", seed=9),
        ]
    )
    y = stack(x, mask=mask)
    first, second = stack.layers
    np.testing.assert_allclose(y, second(first(x, mask=mask), mask=mask), **TOL)
    assert stack.return_sequences and not stack.return_state
    assert sorted(stack.params) == sorted(
        [
            "0.forward.W",
            "0.forward.U",
            "0.forward.b",
            "0.backward.W",
            "0.backward.U",
            "0.backward.b",
            "1.W",
            "1.U",
            "1.b",
        ]
    )


def test_reset_state_with_states_equals_initial_state():
    x, _ = data()
    rng = np.random.default_rng(10)
    layer = rl.LSTM(H, return_sequences=True, stateful=True, dtype="float64", seed=11)
    init = [rng.standard_normal((B, H)) for _ in range(2)]
    y = layer(x, initial_state=init)
    layer.reset_state(init)
    np.testing.assert_array_equal(layer(x), y)


def test_dtype_follows_the_parameters():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))  # float64 in
    layer = rl.LSTM(5, return_sequences=True)
    y = layer(x)
    assert y.dtype == np.float32 and layer.params["W"].dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    assert rl.SimpleRNN(2, dtype="float64")(x.astype(np.float32)).dtype == np.float64


def test_layer_contract_keys_and_shapes():
    layer = rl.LSTM(5, return_sequences=True, seed=0)
    y = layer(np.zeros((2, 3, 4), dtype=np.float32))
    assert y.shape == (2, 3, 5)
    assert {k: v.shape for k, v in layer.params.items()} == {"W": (4, 20), "U": (5, 20), "b": (20,)}
    np.testing.assert_array_equal(layer.params["b"], np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    layer.backward(np.ones_like(y))
    assert {k: v.shape for k, v in layer.grads.items()} == {k: v.shape for k, v in layer.params.items()}
    y[...] = 7  # writing into an output leaves the layer's cache alone
    assert not np.any(layer.kernel_cache["h"] == 7)


def test_same_seed_same_weights():
    a, b = rl.LSTM(4, seed=3).build(2), rl.LSTM(4, seed=3).build(2)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


@pytest.mark.parametrize("make", CELLS)
def test_none_in_dout_means_zero(make):
    x, mask = data()
    layer = make(H, return_sequences=True, return_state=True, dtype="float64", seed=12)
    y, *states = layer(x, mask=mask)
    ds = [np.random.default_rng(k).standard_normal(s.shape) for k, s in enumerate(states)]
    dx = layer.backward([None, *ds])
    grads = dict(layer.grads)
    np.testing.assert_array_equal(layer.backward([np.zeros_like(y), *ds]), dx)
    for k, g in grads.items():
        np.testing.assert_array_equal(layer.grads[k], g)


@pytest.mark.parametrize(
    "make", [lambda H: rl.LSTM(H), lambda H: rl.SimpleRNN(H, dtype="float64")], ids=["lstm", "simple_rnn"]
)
def test_weights_start_on_cache_lines_and_stay_there(make):
    """The kernels read U whole at every step; the layers keep W, U, b on 64-byte lines (in place after set_weights)."""
    for H, D in [(1, 1), (5, 3), (64, 1), (33, 7)]:
        layer = make(H).build(D)
        before = {k: v.ctypes.data for k, v in layer.params.items()}
        assert all(address % 64 == 0 for address in before.values()), before
        assert all(v.flags.c_contiguous for v in layer.params.values())
        rng = np.random.default_rng(H)
        layer.set_weights(*(rng.normal(size=v.shape) for v in layer.params.values()))
        assert {k: v.ctypes.data for k, v in layer.params.items()} == before


def test_aligned_empty_gives_line_aligned_arrays_of_the_asked_shape():
    from rnnlab.kernels import aligned_empty

    for shape, dtype in [((3, 5), np.float32), ((0, 4), np.float64), ((7,), np.float64), ((2, 3, 4), np.float32)]:
        a = aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert a.size == 0 or a.ctypes.data % 64 == 0  # an empty array has no data to place
        a[...] = 1.0  # the whole array is writable memory of its own
        assert a.sum() == a.size


ALL_KERNELS = [
    *CELLS,
    pytest.param(lambda H, **kw: rl.GRU(H, **kw), id="gru"),
    pytest.param(lambda H, **kw: rl.GRU(H, reset_after=False, **kw), id="gru-reset-before"),
    pytest.param(lambda H, **kw: rl.LSTM(H, peepholes=True, proj_size=H - 1, **kw), id="lstm-variants"),
]


@pytest.mark.parametrize("backend", ["fast", "reference"])
@pytest.mark.parametrize("make", ALL_KERNELS)
@pytest.mark.parametrize("inference", [False, True], ids=["forward", "inference_mode"])
def test_no_initial_state_means_zeros_whatever_the_batch_size(make, inference, backend):
    """The layer keeps its zero states between calls (writable arrays: no kernel may write into its
    inputs); they follow the batch size and stay zero, through forward, backward and inference."""
    x, _ = data(4, masked=False)
    layer = make(H, return_sequences=True, return_state=True, dtype="float64", seed=0)

    def same_as_explicit_zeros():
        outputs = [layer(x[:rows]) for rows in (B, 1, B, 2)]
        for rows, (y, *states) in zip((B, 1, B, 2), outputs):
            zeros = [np.zeros((rows, w)) for w in layer.state_widths()]
            y0, *states0 = layer(x[:rows], initial_state=zeros)
            np.testing.assert_array_equal(y, y0)
            for s, s0 in zip(states, states0):
                np.testing.assert_array_equal(s, s0)
                assert s.flags.writeable  # the final states are the caller's own arrays

    with rl.kernels.use(backend), rl.inference_mode(inference):
        same_as_explicit_zeros()
        if not inference:  # a backward pass after the kept zeros went in, and they are still zero
            y, *_ = layer(x)
            layer.backward((np.ones_like(y),) + (None,) * len(layer.state_names))
            assert all(np.isfinite(g).all() for g in layer.state_grads)
            same_as_explicit_zeros()
