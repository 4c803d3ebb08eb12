"""ONNX export under masks: exact for right padding (declared), refused by name otherwise; never a silent difference."""

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
def test_a_mask_source_without_declared_padding_is_refused_by_name(tmp_path, make):
    model = make()
    model.build((5,) if isinstance(model.layers[0], rl.Embedding) else (5, 2))
    with pytest.raises(ValueError, match='padding="right"'):
        rox.export(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(ValueError, match="padding"):
        rox.export(model, tmp_path / "m.onnx", padding="left")


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
def test_zero_output_for_mask_that_the_operators_cannot_give_is_refused_by_name(tmp_path, zero, sequences):
    model = rl.Sequential(
        [rl.Embedding(9, 3, mask_zero=True), rl.LSTM(3, return_sequences=sequences, zero_output_for_mask=zero)]
    ).build((4,))
    with pytest.raises(ValueError, match="zero_output_for_mask"):
        rox.export(model, tmp_path / "m.onnx", padding="right")
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
