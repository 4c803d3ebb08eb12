"""Property: a random small model converted to ONNX or Keras gives rnnlab's numbers on random masked
batches, or the converter refuses with a ValueError naming the option. Never a silent difference."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
hypothesis = pytest.importorskip("hypothesis")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
keras = pytest.importorskip("keras")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rnnlab as rl  # noqa: E402
from rnnlab.interop import keras as rk  # noqa: E402
from rnnlab.interop import onnx as rox  # noqa: E402

CELLS = [rl.SimpleRNN, rl.LSTM, rl.GRU]
OPTIONS = ("padding", "zero_output_for_mask", "mask_zero", "Masking", "return_state", "stateful")


@st.composite
def models(draw):
    depth = draw(st.integers(1, 2))
    masking = draw(st.booleans())
    layers = [rl.Masking()] if masking else []
    for k in range(depth):
        cls = draw(st.sampled_from(CELLS))
        last = k == depth - 1
        kwargs = dict(
            return_sequences=True if not last else draw(st.booleans()),
            seed=k,
            zero_output_for_mask=draw(st.sampled_from([None, None, True, False])),
        )
        if draw(st.booleans()):
            layer = rl.Bidirectional(cls(3, **kwargs), merge_mode=draw(st.sampled_from(["concat", "sum"])))
        else:
            layer = cls(3, go_backwards=draw(st.booleans()), **kwargs)
        layers.append(layer)
    model = rl.Sequential(layers)
    pattern = draw(st.sampled_from(["none", "right", "left", "holes"]))
    padding = draw(st.sampled_from([None, "right"]))
    return model, pattern, padding


def _batch(pattern, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    if pattern == "right":
        x[1, 3:] = 0
        x[2, 1:] = 0
    elif pattern == "left":
        x[0, :2] = 0
    elif pattern == "holes":
        x[0, 2] = 0
        x[2, [0, 4]] = 0
    return x


def _refused(err):
    assert any(option in str(err) for option in OPTIONS), str(err)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(models(), st.integers(0, 99))
def test_onnx_and_keras_agree_or_refuse(tmp_path_factory, drawn, seed):
    model, pattern, padding = drawn
    masking = isinstance(model.layers[0], rl.Masking)
    x = _batch(pattern if masking else "none", seed)
    want = model(x)
    path = tmp_path_factory.mktemp("p") / "m.onnx"
    try:
        rox.export(model, path, padding=padding)
    except ValueError as err:
        _refused(err)
    else:
        right = pattern in ("none", "right") or not masking
        if right:  # the declared padding holds: exact
            (got,) = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        else:  # the user declared right padding and fed another: only possible with padding="right"
            assert padding == "right"
    try:
        theirs = rk.to_keras(model)
    except ValueError as err:
        _refused(err)
    else:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), want, rtol=0, atol=1e-5)
