"""Keras conversion: zero_output_for_mask carried, stateful states both ways, any KERAS_BACKEND."""

import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import rnnlab as rl  # noqa: E402
from rnnlab.interop import keras as rk  # noqa: E402

K = keras.layers


def _left_and_mid_padded(rng, B=3, T=6, D=2):
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    x[0, :2] = 0  # left padding (pad_sequences' default)
    x[1, 3] = 0  # a hole
    x[2, 4:] = 0  # right padding
    return x


@pytest.mark.parametrize("cell", [K.SimpleRNN, K.LSTM, K.GRU])
@pytest.mark.parametrize("zero", [False, True])
def test_from_keras_masked_sequences_equal_keras_at_every_step(cell, zero):
    rng = np.random.default_rng(0)
    x = _left_and_mid_padded(rng)
    model = keras.Sequential(
        [
            keras.Input((6, 2)),
            K.Masking(),
            cell(4, return_sequences=True, zero_output_for_mask=zero, unroll=True),
            cell(3, return_sequences=True, go_backwards=True, zero_output_for_mask=zero),
        ]
    )
    want = keras.ops.convert_to_numpy(model(x))
    ours = rk.from_keras(model)
    np.testing.assert_allclose(ours(x), want, rtol=0, atol=1e-5)
    back = rk.to_keras(ours)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(x)), want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cell", [K.LSTM, K.GRU])
def test_last_output_with_zero_output_for_mask_equals_keras(cell):
    rng = np.random.default_rng(1)
    x = _left_and_mid_padded(rng)
    layer = cell(3, zero_output_for_mask=True)
    model = keras.Sequential([keras.Input((6, 2)), K.Masking(), layer])
    want = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(rk.from_keras(model)(x), want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cell", [K.SimpleRNN, K.LSTM, K.GRU])
def test_a_stateful_keras_layer_mid_stream_continues_identically(cell):
    rng = np.random.default_rng(2)
    chunks = rng.standard_normal((3, 2, 4, 3)).astype(np.float32)
    theirs = cell(5, stateful=True, return_sequences=True)
    keras.Sequential([keras.Input(batch_shape=(2, 4, 3)), theirs])
    theirs(chunks[0])  # mid-stream: a state is held
    ours = rk.from_keras(theirs)
    for chunk in chunks[1:]:
        np.testing.assert_allclose(ours(chunk), keras.ops.convert_to_numpy(theirs(chunk)), rtol=0, atol=1e-5)
    # and back: rnnlab's carried state goes into Keras' state variables
    back = rk.to_keras(ours)
    nxt = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(nxt)), ours(nxt), rtol=0, atol=1e-5)


def test_to_keras_refuses_what_keras_would_change():
    layer = rl.Bidirectional(rl.LSTM(3, return_sequences=True, zero_output_for_mask=False))
    layer(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="zero_output_for_mask"):
        rk.to_keras(layer)
    held = rl.GRU(3, initial_state_rows=1)
    held(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="initial_state_rows"):
        rk.to_keras(held)
    with pytest.raises(ValueError, match="stateful"):
        rk.to_keras(rl.LSTM(3, stateful=True).build(2))


_SCRIPT = """
import os, sys, warnings
import numpy as np
import rnnlab as rl
from rnnlab.interop import keras as rk
assert "KERAS_BACKEND" not in os.environ and "keras" not in sys.modules
layer = rl.LSTM(3, return_sequences=True, seed=1)
x = np.random.default_rng(0).standard_normal((2, 4, 2)).astype(np.float32)
want = layer(x)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    theirs = rk.to_keras(layer)
import keras
got = keras.ops.convert_to_numpy(theirs(x))
assert np.max(np.abs(got - want)) < 1e-5, np.max(np.abs(got - want))
print("backend", keras.backend.backend(), "|", "; ".join(str(w.message) for w in caught))
"""


def test_to_keras_with_keras_backend_unset(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json: Keras' default backend, tensorflow
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    backend = done.stdout.split()[1]
    assert backend in ("tensorflow", "jax", "torch", "numpy")
    if backend != "tensorflow":  # chosen by rnnlab, and said
        assert f"using {backend!r}" in done.stdout


def test_keras_imported_with_an_unusable_backend_names_the_variable(tmp_path):
    script = (
        "import os, sys, types\n"
        "import rnnlab.interop.keras as rk\n"
        "fake = types.ModuleType('keras'); fake.backend = types.SimpleNamespace(backend=lambda: 'cntk')\n"
        "sys.modules['keras'] = fake\n"
        "try:\n    rk._keras()\nexcept ImportError as err:\n    print(err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert "KERAS_BACKEND" in done.stdout and "'cntk'" in done.stdout, done.stdout + done.stderr
