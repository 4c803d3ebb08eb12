"""Bad input raises ValueError/TypeError naming the argument with expected vs. got."""

import numpy as np
import pytest

import rnnlab as rl

X = np.zeros((2, 4, 3), dtype=np.float32)


def called(layer, x=X, **kwargs):
    layer(x, **kwargs)
    return layer


LAYERS = [
    pytest.param(lambda: rl.SimpleRNN(5), "SimpleRNN", id="rnn"),
    pytest.param(lambda: rl.LSTM(5), "LSTM", id="lstm"),
]


@pytest.mark.parametrize("make, owner", LAYERS)
@pytest.mark.parametrize(
    "x, error, message",
    [
        (np.zeros((32, 3)), ValueError, r"expected input \(batch, time, features\), got \(32, 3\)"),
        (np.zeros((1, 2, 3, 4)), ValueError, r"expected input \(batch, time, features\), got \(1, 2, 3, 4\)"),
        (np.zeros((0, 4, 3)), ValueError, r"expected a non-empty input, got \(0, 4, 3\)"),
        (np.zeros((2, 4, 3), dtype=np.int64), TypeError, r"expected input of a float dtype, got int64"),
        (np.zeros((2, 4, 3), dtype=bool), TypeError, r"expected input of a float dtype, got bool"),
        (np.zeros((2, 4, 3), dtype=object), TypeError, r"expected input of a float dtype, got object"),
        (np.full((2, 4, 3), "a"), TypeError, r"expected input of a float dtype, got <U1"),
        ([[[1.0, 2.0]], [[1.0]]], TypeError, r"expected input as a regular array, got"),
        (
            np.where(np.arange(24).reshape(2, 4, 3) == 5, np.nan, 0.0),
            ValueError,
            r"expected finite input, got 1 NaN or Inf value\(s\)",
        ),
        (np.full((2, 4, 3), np.inf), ValueError, r"expected finite input, got 24 NaN or Inf value\(s\)"),
        (np.full((2, 4, 3), 1e39), ValueError, r"expected finite input, got 24 NaN or Inf value\(s\) in float32"),
    ],
    ids=["rank2", "rank4", "empty", "int", "bool", "object", "str", "ragged", "nan", "inf", "beyond-float32"],
)
def test_bad_x(make, owner, x, error, message):
    with pytest.raises(error, match=rf"^{owner} {message}"):
        make()(x)


@pytest.mark.parametrize("make, owner", LAYERS)
def test_wrong_feature_size(make, owner):
    layer = called(make())
    with pytest.raises(ValueError, match=rf"^{owner} expected input \(batch, time, 3\), got \(2, 4, 5\)"):
        layer(np.zeros((2, 4, 5)))


@pytest.mark.parametrize("make, owner", LAYERS)
@pytest.mark.parametrize(
    "mask, error, message",
    [
        (np.ones((4, 2), dtype=bool), ValueError, r"expected mask of shape \(2, 4\), got \(4, 2\)"),
        (np.ones((2, 4, 1), dtype=bool), ValueError, r"expected mask of shape \(2, 4\), got \(2, 4, 1\)"),
        (np.ones((2, 4), dtype=np.int64), TypeError, r"expected mask of dtype bool, got int64"),
        (np.ones((2, 4)), TypeError, r"expected mask of dtype bool, got float64"),
        ([[True], [True, False]], TypeError, r"expected mask as a regular array, got"),
    ],
    ids=["transposed", "rank3", "int", "float", "ragged"],
)
def test_bad_mask(make, owner, mask, error, message):
    with pytest.raises(error, match=rf"^{owner} {message}"):
        make()(X, mask=mask)


@pytest.mark.parametrize("make, owner", LAYERS)
def test_bad_initial_state(make, owner):
    layer = make()
    n = len(layer.state_names)
    name = owner.lower()
    with pytest.raises(ValueError, match=rf"^{name} expected initial_state h of shape \(2, 5\), got \(5,\)"):
        layer(X, initial_state=[np.zeros(5)] * n)
    with pytest.raises(ValueError, match=rf"^{name} expected initial_state as a list of {n} arrays"):
        layer(X, initial_state=[np.zeros((2, 5))] * (n + 1))
    with pytest.raises(TypeError, match=rf"^{name} expected initial_state h of a float dtype, got int64"):
        layer(X, initial_state=[np.zeros((2, 5), dtype=np.int64)] * n)


@pytest.mark.parametrize("make, owner", LAYERS)
def test_backward_before_forward(make, owner):
    with pytest.raises(ValueError, match=rf"^{owner.lower()}.backward called before a forward call"):
        make().backward(np.zeros((2, 5)))


@pytest.mark.parametrize(
    "return_sequences, dout, error, message",
    [
        (False, np.zeros((2, 4, 5)), ValueError, r"expected dout of shape \(2, 5\), got \(2, 4, 5\)"),
        (True, np.zeros((2, 5)), ValueError, r"expected dout of shape \(2, 4, 5\), got \(2, 5\)"),
        (True, np.zeros((2, 4, 5), dtype=np.int64), TypeError, r"expected dout of a float dtype, got int64"),
        (True, [[1.0], [1.0, 2.0]], TypeError, r"expected dout as a regular array, got"),
    ],
    ids=["sequence-for-state", "state-for-sequence", "int", "ragged"],
)
def test_bad_dout(return_sequences, dout, error, message):
    layer = called(rl.LSTM(5, return_sequences=return_sequences))
    with pytest.raises(error, match=rf"^lstm.backward {message}"):
        layer.backward(dout)


def test_bad_dout_with_return_state():
    layer = called(rl.LSTM(5, return_state=True))
    with pytest.raises(ValueError, match=r"expected dout as a tuple of 3 arrays \(output, h, c\), got ndarray"):
        layer.backward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"expected dc of shape \(2, 5\), got \(5,\)"):
        layer.backward((np.zeros((2, 5)), None, np.zeros(5)))


@pytest.mark.parametrize("units", [0, -3, 2.5, True, "4", None])
@pytest.mark.parametrize("cls", [rl.SimpleRNN, rl.LSTM])
def test_units_must_be_positive(cls, units):
    with pytest.raises(ValueError, match=rf"units expected a positive integer, got {units!r}"):
        cls(units)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(activation="softplus"), r"activation expected one of \[.*\], got 'softplus'"),
        (dict(dropout=1.0), r"dropout expected a rate in \[0, 1\), got 1.0"),
        (dict(recurrent_dropout=-0.1), r"recurrent_dropout expected a rate in \[0, 1\), got -0.1"),
        (dict(dtype="float16"), r"dtype expected float32 or float64, got 'float16'"),
        (
            dict(kernel_initializer="he"),
            r"initializer expected one of \[.*\], a Keras initializer or config, or a callable .*, got 'he'",
        ),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rl.LSTM(3, **kwargs)


def test_bad_set_weights():
    layer = rl.LSTM(2)
    with pytest.raises(ValueError, match=r"expected W of shape \(input_dim, 8\), got \(3, 4\)"):
        layer.set_weights(np.zeros((3, 4)), np.zeros((2, 8)), np.zeros(8))
    with pytest.raises(ValueError, match=r"expected U of shape \(2, 8\), got \(8, 2\)"):
        layer.set_weights(np.zeros((3, 8)), np.zeros((8, 2)), np.zeros(8))


def test_stateful_batch_change():
    layer = called(rl.SimpleRNN(5, stateful=True))
    with pytest.raises(ValueError, match=r"stateful with batch 2, got batch 3; call reset_state\(\) first"):
        layer(np.zeros((3, 4, 3)))


def test_bidirectional_errors():
    with pytest.raises(TypeError, match=r"Bidirectional expected a SimpleRNN, LSTM or GRU layer, got Stack"):
        rl.Bidirectional(rl.Stack([rl.LSTM(2)]))
    with pytest.raises(ValueError, match=r"merge_mode expected one of .*, got 'max'"):
        rl.Bidirectional(rl.LSTM(2), merge_mode="max")
    bi = rl.Bidirectional(rl.LSTM(5, return_sequences=True))
    with pytest.raises(ValueError, match=r"backward called before a forward call"):
        bi.backward(np.zeros((2, 4, 10)))
    bi(X)
    with pytest.raises(ValueError, match=r"expected dout of shape \(2, 4, 10\), got \(2, 4, 5\)"):
        bi.backward(np.zeros((2, 4, 5)))
    none = called(rl.Bidirectional(rl.LSTM(5, return_sequences=True), merge_mode=None))
    with pytest.raises(ValueError, match=r"expected dout as \[d_forward, d_backward\], got ndarray"):
        none.backward(np.zeros((2, 4, 10)))
    with pytest.raises(ValueError, match=r"expected dout\[1\] of shape \(2, 4, 5\), got \(2, 5\)"):
        none.backward([np.zeros((2, 4, 5)), np.zeros((2, 5))])
    with pytest.raises(ValueError, match=r"expected initial_state as a list of 4 arrays"):
        bi(X, initial_state=[np.zeros((2, 5))] * 2)


def test_stack_errors():
    with pytest.raises(ValueError, match=r"Stack expected at least one layer, got none"):
        rl.Stack([])
    with pytest.raises(TypeError, match=r"Stack expected layers, got int at position 1"):
        rl.Stack([rl.LSTM(2), 3])
    with pytest.raises(ValueError, match=r"return_state only on the last layer, got it on layer 0"):
        rl.Stack([rl.LSTM(2, return_state=True, return_sequences=True), rl.LSTM(2)])
    stack = rl.Stack([rl.LSTM(2, return_sequences=True), rl.SimpleRNN(2)])
    with pytest.raises(ValueError, match=r"Stack expected initial_state as a list of 2 entries"):
        stack(X, initial_state=[None])
    with pytest.raises(ValueError, match=r"^LSTM expected input \(batch, time, features\), got \(4, 3\)"):
        stack(np.zeros((4, 3)))
