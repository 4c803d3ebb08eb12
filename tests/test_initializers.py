"""Initializers as Keras takes them: Keras initializer objects, their serialized configs and any
callable (shape, dtype), in every layer that takes an initializer; a clear error for a bad result."""

import os

import numpy as np
import pytest

import rnnlab as rl
from rnnlab import initializers

os.environ.setdefault("KERAS_BACKEND", "torch")


def keras_style(value):
    """A plain function in Keras' form (shape, dtype=None): no rng."""

    def init(shape, dtype=None):
        return np.full(shape, value, dtype=dtype)

    return init


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_callable_shape_dtype_in_every_layer(dtype):
    layer = rl.LSTM(3, kernel_initializer=keras_style(0.25), recurrent_initializer=keras_style(-0.5), dtype=dtype)
    layer(np.zeros((1, 2, 4), dtype))
    assert layer.params["W"].dtype == np.dtype(dtype)
    assert np.all(layer.params["W"] == 0.25) and np.all(layer.params["U"] == -0.5)
    dense = rl.Dense(2, kernel_initializer=keras_style(2.0), bias_initializer=keras_style(1.0), dtype=dtype)
    dense(np.zeros((1, 3), dtype))
    assert np.all(dense.params["W"] == 2.0) and np.all(dense.params["b"] == 1.0)
    emb = rl.Embedding(5, 2, embeddings_initializer=keras_style(3.0), dtype=dtype)
    emb(np.zeros((1, 2), np.int64))
    assert np.all(emb.params["E"] == 3.0)


def test_the_dtype_is_passed_by_name():
    seen = []

    def init(shape, dtype=None):
        seen.append((shape, dtype))
        return np.zeros(shape)

    rl.GRU(2, kernel_initializer=init, dtype="float64")(np.zeros((1, 2, 3)))
    assert seen == [((3, 6), "float64")]


def test_keras_initializer_objects_give_keras_numbers():
    keras = pytest.importorskip("keras")
    # deterministic ones: the same arrays as Keras' own layer holds
    theirs = keras.layers.SimpleRNN(
        3,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Identity(gain=0.5),
        bias_initializer=keras.initializers.Ones(),
    )
    theirs.build((None, None, 4))
    ours = rl.SimpleRNN(
        3,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Identity(gain=0.5),
        bias_initializer=keras.initializers.Ones(),
    ).build(4)
    for (key, a), b in zip(ours.params.items(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    # random ones, seeded: Keras' own draws (its seed, not the layer's)
    ours = rl.LSTM(4, kernel_initializer=keras.initializers.GlorotNormal(seed=3)).build(5)
    want = keras.ops.convert_to_numpy(keras.initializers.GlorotNormal(seed=3)((5, 16), dtype="float32"))
    np.testing.assert_array_equal(ours.params["W"], want)


@pytest.mark.parametrize(
    "config, check",
    [
        ({"class_name": "Zeros", "config": {}}, lambda a: np.all(a == 0)),
        ({"class_name": "Constant", "config": {"value": 0.5}}, lambda a: np.all(a == 0.5)),
        (
            {"class_name": "RandomUniform", "config": {"minval": 2.0, "maxval": 3.0, "seed": None}},
            lambda a: a.min() >= 2,
        ),
        ({"class_name": "RandomNormal", "config": {"mean": 10.0, "stddev": 0.1}}, lambda a: abs(a.mean() - 10) < 0.2),
        ({"class_name": "Orthogonal", "config": {"gain": 1.0}}, lambda a: np.allclose(a.T @ a, np.eye(6), atol=1e-5)),
    ],
)
def test_keras_serialized_configs(config, check):
    layer = rl.SimpleRNN(6, recurrent_initializer=config).build(2)
    assert check(layer.params["U"])


def test_a_keras_config_from_keras_itself():
    keras = pytest.importorskip("keras")
    config = keras.initializers.serialize(keras.initializers.RandomUniform(minval=-1.0, maxval=1.0))
    layer = rl.GRU(3, kernel_initializer=config).build(4)
    assert np.abs(layer.params["W"]).max() <= 1.0 and np.abs(layer.params["W"]).max() > 0.05


@pytest.mark.parametrize(
    "config, message",
    [
        ({"class_name": "HeNormal", "config": {}}, "class_name among"),
        ({"class_name": "GlorotUniform", "config": {"seed": 3}}, "seed=3"),
        ({"class_name": "Orthogonal", "config": {"gain": 2.0}}, "gain=2.0"),
        ({"class_name": "Constant", "config": {"value": 1.0, "scale": 2}}, r"\['scale'\]"),
    ],
)
def test_configs_without_an_equivalent_are_refused_by_name(config, message):
    with pytest.raises(ValueError, match=message):
        rl.LSTM(2, kernel_initializer=config)


@pytest.mark.parametrize(
    "init, message",
    [
        (
            lambda shape, dtype=None: np.zeros((2, 2)),
            r"lstm W: initializer '<lambda>' returned shape \(2, 2\), expected",
        ),
        (lambda shape, dtype=None: np.full(shape, np.nan), "non-finite"),
        (lambda shape, dtype=None: np.full(shape, 1e300), "non-finite"),  # overflows float32
        (lambda shape, dtype=None: np.zeros(shape, complex), "complex128 values, expected real numbers"),
        (lambda shape, dtype=None: np.full(shape, "a"), "expected real numbers"),
        (lambda shape, rng, dtype: np.zeros(shape[::-1]), "returned shape"),  # rnnlab's form is checked too
        (lambda shape, dtype=None: np.zeros(3).reshape(shape), r"failed for shape \(3, 8\): cannot reshape"),
    ],
)
def test_a_bad_result_is_named(init, message):
    layer = rl.LSTM(2, kernel_initializer=init)
    with pytest.raises(ValueError, match=message):
        layer(np.zeros((1, 2, 3), np.float32))
    assert not layer.built


def test_a_callable_with_other_arguments_is_refused_when_the_layer_is_made():
    with pytest.raises(ValueError, match=r"taking \(shape, dtype\) or \(shape, rng, dtype\)"):
        rl.GRU(2, kernel_initializer=lambda: 0)
    with pytest.raises(ValueError, match="initializer expected one of"):
        rl.GRU(2, kernel_initializer="he_normal")


def test_torch_tensors_are_taken():
    torch = pytest.importorskip("torch")
    layer = rl.SimpleRNN(2, kernel_initializer=lambda shape, dtype=None: torch.ones(shape)).build(3)
    assert np.all(layer.params["W"] == 1.0)


def test_rnnlab_form_still_gets_the_layer_rng():
    draws = [rl.SimpleRNN(3, seed=5, kernel_initializer=initializers.uniform).build(2).params["W"] for _ in range(2)]
    np.testing.assert_array_equal(*draws)
