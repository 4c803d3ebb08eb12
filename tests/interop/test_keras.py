"""Keras 3 <-> rnnlab: same outputs both ways, Keras' own golden values, and the unit_forget_bias trap."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import rnnlab as rl  # noqa: E402
from rnnlab.interop.keras import from_keras, to_keras  # noqa: E402

TOL = 1e-5
K = keras.layers


def np_(out):
    """Keras output (tensor or list of tensors) as numpy."""
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return keras.ops.convert_to_numpy(out)


def assert_close(got, want):
    got, want = (g if isinstance(g, list) else [g] for g in (np_(got), np_(want)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=TOL)


def constant(value):
    """rnnlab initializer filling with `value` (Keras' Constant)."""
    return lambda shape, rng, dtype: np.full(shape, value, dtype=dtype)


def golden_pair(cls_name, units, **options):
    """The same layer in Keras and in rnnlab, with Keras' test initialisers 0.01, 0.02, 0.03."""
    ours_options = dict(options)
    ours_options.pop("zero_output_for_mask", None)  # rnnlab always outputs zero at masked steps
    ours = getattr(rl, cls_name)(
        units,
        kernel_initializer=constant(0.01),
        recurrent_initializer=constant(0.02),
        bias_initializer=constant(0.03),  # unused under use_bias=False, as in Keras
        **ours_options,
    )
    theirs = getattr(K, cls_name)(
        units,
        kernel_initializer=keras.initializers.Constant(0.01),
        recurrent_initializer=keras.initializers.Constant(0.02),
        bias_initializer=keras.initializers.Constant(0.03),
        **options,
    )
    return ours, theirs


# Literal values asserted by Keras 3.15's own tests: keras/src/layers/rnn/lstm_test.py (test_correctness),
# simple_rnn_test.py (test_correctness) and bidirectional_test.py (test_correctness).
LSTM_GOLDEN = [
    ({}, [0.6288687, 0.86899155, 0.9460773]),
    ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
    ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
    ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
]
SIMPLE_RNN_GOLDEN = [
    ({}, [0.405432, 0.73605347]),
    ({"go_backwards": True}, [0.11144729, 0.5528889]),
]


def assert_golden(kind, units, x, options, golden):
    """rnnlab, Keras and both conversions give Keras' literal golden values (every unit equal)."""
    ours, theirs = golden_pair(kind, units, **options)
    want = np.repeat(np.array(golden, np.float32)[:, None], units, axis=1)
    np.testing.assert_allclose(ours(x), want, rtol=0, atol=TOL)
    np.testing.assert_allclose(np_(theirs(x)), want, rtol=0, atol=TOL)
    np.testing.assert_allclose(from_keras(theirs)(x), want, rtol=0, atol=TOL)
    np.testing.assert_allclose(np_(to_keras(ours)(x)), want, rtol=0, atol=TOL)


@pytest.mark.parametrize("options,golden", LSTM_GOLDEN)
def test_keras_lstm_golden_values(options, golden):
    assert_golden("LSTM", 3, np.arange(72).reshape((3, 6, 4)).astype("float32"), options, golden)


@pytest.mark.parametrize("options,golden", SIMPLE_RNN_GOLDEN)
def test_keras_simple_rnn_golden_values(options, golden):
    assert_golden("SimpleRNN", 4, np.arange(24).reshape((2, 3, 4)).astype("float32"), options, golden)


def test_keras_bidirectional_golden_values():
    x = np.arange(24).reshape((2, 3, 4)).astype("float32")
    cases = [
        ("concat", [[0.39687276, 0.39687276, 0.10004295, 0.10004295], [0.7237238, 0.7237238, 0.53391594, 0.53391594]]),
        ("ave", [[0.24845785, 0.24845785], [0.6288199, 0.6288199]]),
    ]
    for merge_mode, golden in cases:
        ours_fw, theirs_fw = golden_pair("SimpleRNN", 2)
        ours = rl.Bidirectional(ours_fw, merge_mode=merge_mode)
        theirs = K.Bidirectional(theirs_fw, merge_mode=merge_mode)
        for out in (ours(x), np_(theirs(x)), from_keras(theirs)(x)):
            np.testing.assert_allclose(out, golden, rtol=0, atol=TOL)
    # a backward layer of its own, merged by product
    theirs_bw = K.SimpleRNN(
        2,
        kernel_initializer=keras.initializers.Constant(0.03),
        recurrent_initializer=keras.initializers.Constant(0.02),
        bias_initializer=keras.initializers.Constant(0.01),
        go_backwards=True,
    )
    ours_bw = rl.SimpleRNN(
        2,
        kernel_initializer=constant(0.03),
        recurrent_initializer=constant(0.02),
        bias_initializer=constant(0.01),
        go_backwards=True,
    )
    golden = [[0.08374989, 0.08374989], [0.6740834, 0.6740834]]
    ours_fw, theirs_fw = golden_pair("SimpleRNN", 2)
    theirs = K.Bidirectional(theirs_fw, backward_layer=theirs_bw, merge_mode="mul")
    ours = rl.Bidirectional(ours_fw, backward_layer=ours_bw, merge_mode="mul")
    for out in (ours(x), np_(theirs(x)), from_keras(theirs)(x)):
        np.testing.assert_allclose(out, golden, rtol=0, atol=TOL)


def test_keras_lstm_masking_golden_values():
    """lstm_test.py test_masking: rnnlab's zero output at masked steps is Keras' zero_output_for_mask=True."""
    x = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    ours, theirs = golden_pair("LSTM", 2, return_sequences=True, zero_output_for_mask=True)
    want = [
        [[0.01588910] * 2, [0.05552048] * 2, [0.11755939] * 2, [0.0] * 2],
        [[0.14185596] * 2, [0.28556206] * 2, [0.0] * 2, [0.0] * 2],
    ]
    for out in (ours(x, mask=mask), np_(theirs(x, mask=mask)), from_keras(theirs)(x, mask=mask)):
        np.testing.assert_allclose(out, want, rtol=0, atol=TOL)
    backwards_mask = np.array([[False, True, True, True], [False, False, True, True]])
    ours, theirs = golden_pair("LSTM", 2, go_backwards=True)
    want = [[0.15341201] * 2, [0.3844719] * 2]
    for out in (ours(x, mask=backwards_mask), np_(theirs(x, mask=backwards_mask))):
        np.testing.assert_allclose(out, want, rtol=0, atol=TOL)


def test_unit_forget_bias_sets_only_the_forget_block():
    """Trap: Keras' docstring says it adds 1 and forces zeros; its code *sets* the forget block to 1."""
    H, D = 3, 4
    ours, theirs = golden_pair("LSTM", H)
    theirs.build((None, None, D))
    ours.build(D)
    want = np.concatenate([np.full(H, 0.03), np.ones(H), np.full(2 * H, 0.03)]).astype(np.float32)
    np.testing.assert_array_equal(np_(theirs.cell.bias), want)
    np.testing.assert_array_equal(ours.params["b"], want)
    # conversion copies a trained bias as it is: no forget bias re-applied on either side
    trained = np.random.default_rng(0).standard_normal(4 * H).astype(np.float32)
    theirs.cell.bias.assign(trained)
    np.testing.assert_array_equal(from_keras(theirs).params["b"], trained)
    ours.params["b"][...] = trained
    np.testing.assert_array_equal(np_(to_keras(ours).cell.bias), trained)


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(1).standard_normal((4, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("cls_name", ["SimpleRNN", "LSTM"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_layers_both_directions(cls_name, return_sequences, go_backwards, x):
    options = dict(return_sequences=return_sequences, go_backwards=go_backwards, return_state=True)
    ours = getattr(rl, cls_name)(5, seed=2, **options)
    want = ours(x)
    assert_close(to_keras(ours)(x), want)
    theirs = getattr(K, cls_name)(5, **options)
    want = theirs(x)
    assert_close(from_keras(theirs)(x), want)


@pytest.mark.parametrize("cls_name", ["SimpleRNN", "LSTM"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_both_directions(cls_name, merge_mode, x):
    for return_sequences in (True, False):
        ours = rl.Bidirectional(
            getattr(rl, cls_name)(4, return_sequences=return_sequences, seed=3), merge_mode=merge_mode
        )
        want = ours(x)
        assert_close(to_keras(ours)(x), want)
        theirs = K.Bidirectional(getattr(K, cls_name)(4, return_sequences=return_sequences), merge_mode=merge_mode)
        want = theirs(x)
        assert_close(from_keras(theirs)(x), want)


def test_activations_both_directions(x):
    for options in (
        dict(activation="relu"),
        dict(activation="linear"),
        dict(recurrent_activation="hard_sigmoid"),
        dict(activation="softsign", recurrent_activation="hard_sigmoid"),
        dict(activation="softsign", use_bias=False),
    ):
        ours = rl.LSTM(5, return_sequences=True, seed=4, **options)
        want = ours(x)
        assert_close(to_keras(ours)(x), want)
        theirs = K.LSTM(5, return_sequences=True, **options)
        want = theirs(x)
        assert_close(from_keras(theirs)(x), want)


def test_masks_both_directions(x):
    """to_keras turns on zero_output_for_mask, so masked sequences agree step by step."""
    mask = np.arange(6)[None, :] < np.array([6, 4, 1, 2])[:, None]
    for go_backwards in (False, True):
        ours = rl.LSTM(5, return_sequences=True, go_backwards=go_backwards, seed=5)
        want = ours(x, mask=mask)
        assert_close(to_keras(ours)(x, mask=mask), want)
        theirs = K.LSTM(5, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=True)
        want = theirs(x, mask=mask)
        assert_close(from_keras(theirs)(x, mask=mask), want)


def test_sequential_models_both_directions():
    rng = np.random.default_rng(6)
    ids = rng.integers(1, 20, size=(4, 7))
    ids[np.arange(7)[None, :] >= np.array([7, 3, 5, 1])[:, None]] = 0
    ours = rl.Sequential(
        [
            rl.Embedding(20, 6, mask_zero=True),
            rl.LSTM(5, return_sequences=True),
            rl.Bidirectional(rl.SimpleRNN(4, return_sequences=True), merge_mode="sum"),
            rl.Dropout(0.2),
            rl.LSTM(3, return_sequences=True, go_backwards=True),
            rl.Dense(3, activation="softmax"),
        ],
        seed=1,
    )
    want = ours(ids)
    theirs = to_keras(ours)
    assert isinstance(theirs, keras.Sequential)
    assert_close(theirs(ids), want)
    back = from_keras(theirs)
    assert type(back) is rl.Sequential
    np.testing.assert_array_equal(back(ids), want)

    theirs = keras.Sequential(
        [
            keras.Input((None,), dtype="int64"),
            K.Embedding(20, 6),
            K.LSTM(5, return_sequences=True),
            K.Dropout(0.5),
            K.Dense(2, activation="tanh"),
            K.Dense(2, use_bias=False),
        ]
    )
    assert_close(from_keras(theirs)(ids), theirs(ids))


def test_float64_layers_convert(x):
    ours = rl.LSTM(3, return_sequences=True, dtype="float64", seed=7)
    x64 = x.astype(np.float64)
    want = ours(x64)
    theirs = to_keras(ours)
    assert theirs.dtype == "float64"
    np.testing.assert_allclose(np_(theirs(x64)), want, rtol=0, atol=1e-12)
    assert from_keras(theirs).dtype == np.float64


# ---- errors -------------------------------------------------------------------------------------------
def test_unsupported_keras_layers_and_options_are_named(x):
    with pytest.raises(ValueError, match="Conv1D"):
        from_keras(K.Conv1D(2, 3))
    with pytest.raises(ValueError, match="selu"):
        layer = K.SimpleRNN(2, activation="selu")
        layer(x)
        from_keras(layer)
    with pytest.raises(ValueError, match="not built"):
        from_keras(K.LSTM(2))
    inputs = keras.Input((None, 3))
    functional = keras.Model(inputs, K.LSTM(2)(inputs))
    with pytest.raises(ValueError, match="Functional"):
        from_keras(functional)
    with pytest.raises(ValueError, match="Conv1D"):
        from_keras(keras.Sequential([keras.Input((None, 3)), K.Conv1D(2, 2)]))


def test_unsupported_rnnlab_options_are_named(x):
    ours = rl.LSTM(3, return_sequences=True, return_state=True, seed=8)
    ours(x)
    with pytest.raises(ValueError, match="return_state"):
        to_keras(rl.Stack([ours]))
    with pytest.raises(ValueError, match="not built"):
        to_keras(rl.SimpleRNN(2))
