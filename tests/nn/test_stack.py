"""Stack (rnnlab.nn.stack): the layers chained by hand, parameter names, states, gradients.

Each test builds a stack, then compares it with deep copies of its layers
called one after the other. Float64, reference kernels.
"""

import copy

import numpy as np
import pytest
from gradcheck_util import check, flatten, loss, random_weights
from threadpoolctl import threadpool_limits

import rnnlab as rl


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread(reference_kernels):
    with threadpool_limits(1, user_api="blas"):
        yield


F64 = dict(dtype="float64")


def randomize(layer, seed):
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)


def three_layers(last_sequences=True, return_state=False):
    """SimpleRNN → Dense (step by step) → Bidirectional LSTM → LSTM; D = 2 in."""
    return [
        rl.SimpleRNN(3, return_sequences=True, **F64),
        rl.Dense(2, activation="tanh", **F64),
        rl.Bidirectional(rl.LSTM(2, return_sequences=True, **F64), merge_mode="concat"),
        rl.LSTM(2, return_sequences=last_sequences, return_state=return_state, **F64),
    ]


def built_stack(layers, D=2, seed=1):
    stack = rl.Stack(layers)
    stack(np.zeros((1, 2, D)))  # builds the weights
    stack.reset_state()  # stateful layers forget that call
    randomize(stack, seed)
    return stack


def padding(B, T, lengths):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def chain(layers, x, mask=None, states=None):
    """The layers called one after the other; mask and initial states to the recurrent ones."""
    states = iter(states or [None] * 3)
    for layer in layers:
        if isinstance(layer, (rl.SimpleRNN, rl.LSTM, rl.Bidirectional)):
            x = layer(x, mask=mask, initial_state=next(states))
        else:
            x = layer(x)
    return x


def chain_backward(layers, dout):
    for layer in reversed(layers):
        dout = layer.backward(dout)
    return dout


# ---- forward and backward against the chain ------------------------------------------------------


@pytest.mark.parametrize("last_sequences", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_forward_and_backward_equal_the_layers_chained_by_hand(last_sequences, masked):
    stack = built_stack(three_layers(last_sequences))
    hand = copy.deepcopy(stack.layers)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 2))
    mask = padding(3, 4, [4, 2, 1]) if masked else None
    y = stack(x, mask=mask)
    np.testing.assert_array_equal(y, chain(hand, x, mask))
    assert y.shape == ((3, 4, 2) if last_sequences else (3, 2))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(stack.backward(dy), chain_backward(hand, dy))
    grads = stack.grads
    for k, layer in enumerate(hand):
        for name, g in layer.grads.items():
            np.testing.assert_array_equal(grads[f"{k}.{name}"], g)


def test_a_mask_reaches_every_recurrent_layer():
    stack = built_stack(three_layers())
    x = np.random.default_rng(3).standard_normal((2, 4, 2))
    mask = padding(2, 4, [4, 2])
    y = stack(x, mask=mask)
    np.testing.assert_array_equal(y[1, 2:], 0.0)  # the last layer was masked
    assert not np.array_equal(y, stack(x))
    # the padded steps' input does not matter to the real steps (every layer masked, both directions)
    x2 = x.copy()
    x2[~mask] = 5.0
    np.testing.assert_array_equal(stack(x2, mask=mask), y)


def test_training_reaches_every_layer():
    layers = [
        rl.SimpleRNN(3, return_sequences=True, dropout=0.5, seed=0, **F64),
        rl.Dropout(0.5, seed=1, **F64),
        rl.LSTM(2, **F64),
    ]
    stack = built_stack(layers)
    hand = copy.deepcopy(stack.layers)
    x = np.random.default_rng(4).standard_normal((3, 4, 2))
    y = stack(x, training=True)
    h = hand[0](x, training=True)
    np.testing.assert_array_equal(y, hand[2](hand[1](h, training=True), training=True))
    assert not np.array_equal(y, stack(x))  # without training: no dropout


# ---- initial states, final states, state gradients ---------------------------------------------


def state_list(stack, B, rng):
    """One entry per recurrent layer: its initial states."""
    out = []
    for layer in stack.layers:
        if isinstance(layer, rl.Bidirectional):
            n = len(layer.forward_layer.state_names)
            out.append([rng.standard_normal((B, layer.forward_layer.units)) for _ in range(2 * n)])
        elif isinstance(layer, (rl.SimpleRNN, rl.LSTM)):
            out.append([rng.standard_normal((B, layer.units)) for _ in layer.state_names])
    return out


def test_initial_states_go_to_the_recurrent_layers_in_order():
    stack = built_stack(three_layers())
    hand = copy.deepcopy(stack.layers)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 2))
    init = state_list(stack, 2, rng)
    assert [len(s) for s in init] == [1, 4, 2]  # SimpleRNN h; both directions' h, c; LSTM h, c
    y = stack(x, initial_state=init)
    np.testing.assert_array_equal(y, chain(hand, x, states=init))
    partial = [None, init[1], None]  # None: that layer starts from zeros
    np.testing.assert_array_equal(stack(x, initial_state=partial), chain(hand, x, states=partial))
    assert not np.array_equal(stack(x, initial_state=partial), y)


def test_final_state_and_state_grads_per_recurrent_layer():
    stack = built_stack(three_layers())
    hand = copy.deepcopy(stack.layers)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 2))
    init = state_list(stack, 2, rng)
    dy = rng.standard_normal((2, 3, 2))
    stack(x, initial_state=init)
    stack.backward(dy)
    chain(hand, x, states=init)
    chain_backward(hand, dy)
    recurrent = [hand[0], hand[2], hand[3]]
    assert len(stack.final_state) == len(stack.state_grads) == 3
    for got, want in zip(stack.final_state, [layer.final_state for layer in recurrent]):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    for got, want in zip(stack.state_grads, [layer.state_grads for layer in recurrent]):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "init", [[None, None], [None] * 4, np.zeros((2, 3)), "h"], ids=["too few", "too many", "array", "string"]
)
def test_bad_initial_state(init):
    stack = built_stack(three_layers())
    with pytest.raises(
        ValueError,
        match=r"Stack expected initial_state as a list of 3 entries "
        r"\(one per recurrent layer\)",
    ):
        stack(np.zeros((2, 3, 2)), initial_state=init)


def test_a_stack_without_recurrent_layers():
    stack = built_stack([rl.Dense(3, **F64), rl.Dense(1, **F64)])
    hand = copy.deepcopy(stack.layers)
    x = np.random.default_rng(7).standard_normal((2, 3, 2))
    np.testing.assert_array_equal(stack(x), hand[1](hand[0](x)))
    assert stack.final_state == [] and stack.return_sequences is True and stack.return_state is False
    with pytest.raises(ValueError, match="list of 0 entries"):
        stack(x, initial_state=[None])


# ---- return_state on the last layer -------------------------------------------------------------


def test_return_state_on_the_last_layer_is_the_stacks_output():
    stack = built_stack(three_layers(last_sequences=False, return_state=True))
    hand = copy.deepcopy(stack.layers)
    assert stack.return_state is True and stack.return_sequences is False
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 2))
    out = stack(x)
    want = chain(hand, x)
    assert isinstance(out, tuple) and len(out) == 3
    for a, b in zip(out, want):
        np.testing.assert_array_equal(a, b)
    dout = (rng.standard_normal((2, 2)), None, rng.standard_normal((2, 2)))
    np.testing.assert_array_equal(stack.backward(dout), chain_backward(hand, dout))


def test_return_state_only_on_the_last_layer():
    with pytest.raises(ValueError, match="Stack expected return_state only on the last layer, got it on layer 0"):
        rl.Stack([rl.LSTM(2, return_sequences=True, return_state=True), rl.LSTM(2)])


# ---- names and contract ------------------------------------------------------------------------


def test_params_and_grads_are_prefixed_by_position():
    stack = built_stack(three_layers())
    assert sorted(stack.params) == sorted(
        ["0.W", "0.U", "0.b", "1.W", "1.b"]
        + [f"2.{d}.{k}" for d in ("forward", "backward") for k in "WUb"]
        + ["3.W", "3.U", "3.b"]
    )
    assert stack.params["2.backward.U"] is stack.layers[2].backward_layer.params["U"]
    assert stack.params["1.W"] is stack.layers[1].params["W"]
    x = np.random.default_rng(9).standard_normal((2, 3, 2))
    stack.backward(np.ones_like(stack(x)))
    assert set(stack.grads) == set(stack.params)
    for k, g in stack.grads.items():
        assert g.shape == stack.params[k].shape
    assert stack.count_params() == sum(layer.count_params() for layer in stack.layers)
    assert [name for name, _ in stack.named_layers()] == ["0", "1", "2", "3"]


def test_nested_stacks_nest_their_names():
    inner = rl.Stack([rl.SimpleRNN(2, return_sequences=True, **F64), rl.SimpleRNN(2, return_sequences=True, **F64)])
    outer = built_stack([inner, rl.Dense(1, **F64)])
    assert sorted(outer.params) == ["0.0.U", "0.0.W", "0.0.b", "0.1.U", "0.1.W", "0.1.b", "1.W", "1.b"]
    hand = copy.deepcopy(outer.layers)
    x = np.random.default_rng(10).standard_normal((2, 3, 2))
    np.testing.assert_array_equal(outer(x), hand[1](hand[0](x)))


def test_built_and_dtype():
    stack = rl.Stack(three_layers())
    assert stack.built is False and stack.dtype is np.float64
    stack(np.zeros((1, 2, 2)))
    assert stack.built is True
    assert rl.Stack([rl.LSTM(2)]).dtype is np.float32


def test_reset_state_reaches_every_stateful_layer():
    layers = [
        rl.SimpleRNN(3, return_sequences=True, stateful=True, **F64),
        rl.Bidirectional(rl.LSTM(2, return_sequences=True, stateful=True, **F64)),
        rl.Dense(1, **F64),
    ]
    stack = built_stack(layers)
    fresh = copy.deepcopy(stack)
    x = np.random.default_rng(11).standard_normal((2, 3, 2))
    first = stack(x)
    np.testing.assert_array_equal(first, fresh(x))
    assert not np.allclose(stack(x), first)  # carried
    stack.reset_state()
    np.testing.assert_array_equal(stack(x), first)


@pytest.mark.parametrize(
    "layers,error,message",
    [
        ([], ValueError, "Stack expected at least one layer, got none"),
        ([rl.LSTM(2), "dense"], TypeError, "Stack expected layers, got str at position 1"),
        ([object()], TypeError, "Stack expected layers, got object at position 0"),
    ],
)
def test_bad_layers(layers, error, message):
    with pytest.raises(error, match=message):
        rl.Stack(layers)


def test_get_config():
    assert rl.Stack([rl.LSTM(2)], name="enc").get_config() == {"name": "enc"}
    assert rl.Stack([rl.LSTM(2)]).name == "stack"


# ---- gradients ----------------------------------------------------------------------------------


@pytest.mark.parametrize("last_sequences,return_state", [(True, False), (False, True)])
def test_gradients_against_finite_differences(last_sequences, return_state):
    """Every parameter, the input and every initial state, with a mask, in float64."""
    layers = [
        rl.SimpleRNN(2, return_sequences=True, **F64),
        rl.Dense(2, activation="tanh", **F64),
        rl.Bidirectional(rl.SimpleRNN(2, return_sequences=True, **F64), merge_mode="mul"),
        rl.LSTM(2, return_sequences=last_sequences, return_state=return_state, **F64),
    ]
    stack = built_stack(layers, seed=12)
    rng = np.random.default_rng(13)
    x, mask = rng.standard_normal((2, 3, 2)), padding(2, 3, [3, 2])
    init = state_list(stack, 2, rng)

    def run():
        return stack(x, mask=mask, initial_state=init)

    R = random_weights(run(), rng)
    dx = stack.backward(R)
    params, grads = stack.params, stack.grads
    pairs = [("x", x, dx)] + [(k, params[k], grads[k]) for k in sorted(params)]
    flat_init, flat_grads = flatten(init), flatten(stack.state_grads)
    assert len(flat_init) == len(flat_grads) == 1 + 2 + 2
    pairs += [(f"state{k}", s, g) for k, (s, g) in enumerate(zip(flat_init, flat_grads))]
    errors = check(lambda: loss(run(), R), pairs)
    assert len(errors) == 1 + 3 + 2 + 6 + 3 + 5
