"""ONNX export under masks: exact for any mask by default, with the operators under declared right padding."""

import os

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.interop import onnx as rox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, feeds):
    return ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def _masking_model():
    return rl.Sequential([rl.Masking(), rl.LSTM(4, return_sequences=True, seed=1), rl.GRU(3, seed=2)])


def _embedding_model():
    return rl.Sequential([rl.Embedding(9, 3, mask_zero=True), rl.Bidirectional(rl.SimpleRNN(3, seed=3))])


@pytest.mark.parametrize("make", [_masking_model, _embedding_model])
def test_a_mask_source_exports_exactly_for_left_padding(tmp_path, make):
    model = make()
    embedding = isinstance(model.layers[0], rl.Embedding)
    rng = np.random.default_rng(3)
    x = rng.integers(1, 9, (3, 5)) if embedding else rng.standard_normal((3, 5, 2)).astype(np.float32)
    x[0, :2] = 0  # Keras' pad_sequences pads on the left by default
    x[2, :4] = 0
    want = model(x)
    rox.export(model, tmp_path / "m.onnx")
    (got,) = _run(tmp_path / "m.onnx", {"ids" if embedding else "x": x})
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="padding"):
        rox.export(model, tmp_path / "p.onnx", padding="left")
    assert not (tmp_path / "p.onnx").exists()


def test_declared_right_padding_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    x[1, 4:] = 0
    x[2, 1:] = 0
    model = _masking_model()
    want = model(x)
    rox.export(model, tmp_path / "m.onnx", padding="right")
    (got,) = _run(tmp_path / "m.onnx", {"x": x})
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("zero,sequences", [(False, True), (True, False)])
def test_zero_output_for_mask_that_the_operators_cannot_give_is_exact(tmp_path, zero, sequences):
    model = rl.Sequential(
        [rl.Embedding(9, 3, mask_zero=True), rl.LSTM(3, return_sequences=sequences, zero_output_for_mask=zero)]
    ).build((4,))
    ids = np.array([[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]])  # right padding, as declared
    want = model(ids)
    rox.export(model, tmp_path / "m.onnx", padding="right")
    np.testing.assert_allclose(_run(tmp_path / "m.onnx", {"ids": ids})[0], want, rtol=0, atol=1e-5)
    # without a mask the option changes nothing, and the export is exact
    plain = rl.LSTM(3, return_sequences=sequences, zero_output_for_mask=zero)
    x = np.random.default_rng(1).standard_normal((2, 4, 3)).astype(np.float32)
    want = plain(x)
    rox.export(plain, tmp_path / "p.onnx")
    np.testing.assert_allclose(_run(tmp_path / "p.onnx", {"x": x})[0], want, rtol=0, atol=1e-5)


def test_a_layers_own_initial_state_is_exported(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    for rows in (1, 3):
        layer = rl.Bidirectional(rl.LSTM(4, return_sequences=True, initial_state_rows=rows, seed=4))
        layer(x)
        for sub in (layer.forward_layer, layer.backward_layer):
            sub.set_initial_state([rng.standard_normal((rows, 4)) for _ in range(2)])
        want = layer(x)
        rox.export(layer, tmp_path / "m.onnx")
        np.testing.assert_allclose(_run(tmp_path / "m.onnx", {"x": x})[0], want, rtol=0, atol=1e-5)
        back = rox.load(tmp_path / "m.onnx")
        np.testing.assert_array_equal(back(x), want)
