"""ONNX export under a mask anywhere (left padding, holes): a Scan per recurrent layer, checked by ONNX Runtime."""

import os

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.interop import onnx as rox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def _holes(x, value=0.0):
    """x (3, 6, ·) with row 0 padded on the left, row 1 a hole in the middle, row 2 masked at both ends."""
    x = x.copy()
    x[0, :2] = value
    x[1, 3] = value
    x[2, [0, 5]] = value
    return x


def _features(dtype=np.float32, seed=0):
    return _holes(np.random.default_rng(seed).standard_normal((3, 6, 2)).astype(dtype))


def _ids(seed=0):
    return _holes(np.random.default_rng(seed).integers(1, 9, (3, 6)), 0)


def _run(path, feeds):
    return ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def _ops(path):
    return {node.op_type for node in onnx.load(path).graph.node}


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _assert_exact(model, x, tmp_path, **options):
    """Export, run ONNX Runtime, compare every output; load back and compare bit for bit. Returns the outputs."""
    path = tmp_path / "m.onnx"
    want = _as_list(model(x))
    proto = rox.export(model, path, **options)
    got = _run(path, {proto.graph.input[0].name: x})
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=0, atol=TOL[w.dtype.type])
    for g, w in zip(_as_list(rox.load(path)(x)), want):
        np.testing.assert_array_equal(g, w)
    return want


def _gru(units, **kwargs):
    return rl.GRU(units, reset_after=False, **kwargs)


CELLS = {"SimpleRNN": rl.SimpleRNN, "LSTM": rl.LSTM, "GRU": rl.GRU, "GRU-reset_before": _gru}


@pytest.mark.parametrize("cell", CELLS, ids=str)
@pytest.mark.parametrize("sequences,backwards", [(True, False), (True, True), (False, False), (False, True)])
@pytest.mark.parametrize("zero", [None, True, False])
def test_every_cell_under_a_mask_with_holes(cell, sequences, backwards, zero, tmp_path):
    x = _features()
    kwargs = dict(return_sequences=sequences, go_backwards=backwards, return_state=True, seed=1)
    model = rl.Stack([rl.Masking(), CELLS[cell](4, zero_output_for_mask=zero, **kwargs)])
    want = _assert_exact(model, x, tmp_path)
    assert "Scan" in _ops(tmp_path / "m.onnx")
    # the mask and the option change the numbers, so agreement says something
    unmasked = _as_list(rl.Stack([CELLS[cell](4, zero_output_for_mask=zero, **kwargs)])(x))
    assert np.abs(unmasked[1] - want[1]).max() > 1e-3
    flipped = not model.layers[1].zeros_masked_output
    other = rl.Stack([rl.Masking(), CELLS[cell](4, zero_output_for_mask=flipped, **kwargs)])
    assert np.abs(_as_list(other(x))[0] - want[0]).max() > 1e-3


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("last", [rl.LSTM, rl.GRU], ids=lambda c: c.__name__)
def test_bidirectional_stack_under_mask_zero(merge_mode, sequences, last, tmp_path):
    model = rl.Stack(
        [
            rl.Embedding(9, 3, mask_zero=True, seed=0),
            rl.Bidirectional(rl.LSTM(4, return_sequences=True, seed=1), merge_mode=merge_mode),
            rl.Dense(3, activation="tanh", seed=2),
            rl.Bidirectional(last(3, return_sequences=sequences, return_state=True, seed=3), merge_mode=merge_mode),
        ]
    )
    _assert_exact(model, _ids(), tmp_path)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_every_exported_activation(cell, tmp_path):
    x = _features(seed=1)
    pairs = [("relu", "hard_sigmoid"), ("linear", "sigmoid"), ("hard_sigmoid", "tanh"), ("softsign", "softsign")]
    for activation, recurrent in pairs:
        kwargs = {} if cell == "SimpleRNN" else {"recurrent_activation": recurrent}
        layer = CELLS[cell](3, activation=activation, return_sequences=True, seed=4, **kwargs)
        _assert_exact(rl.Sequential([rl.Masking(), layer]), x, tmp_path)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_float64_graph_is_exact_to_1e10(cell, tmp_path):
    x = _features(np.float64, seed=2)
    kwargs = (
        {"activation": "relu"}
        if cell == "SimpleRNN"
        else {"activation": "softsign", "recurrent_activation": "hard_sigmoid"}
    )
    layer = CELLS[cell](4, return_sequences=True, dtype="float64", seed=5, **kwargs)
    model = rl.Sequential([rl.Masking(dtype="float64"), rl.Bidirectional(layer), rl.Dense(2, dtype="float64")])
    _assert_exact(model, x, tmp_path)


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("zero", [True, False])
def test_a_layers_own_initial_state_under_a_mask(rows, zero, tmp_path):
    x = _features(seed=3)
    rng = np.random.default_rng(3)
    layer = rl.LSTM(4, return_sequences=True, zero_output_for_mask=zero, initial_state_rows=rows, seed=6)
    model = rl.Sequential([rl.Masking(), rl.Bidirectional(layer)])
    model(x)
    for sub in (layer, model.layers[1].backward_layer):
        sub.set_initial_state([rng.standard_normal((rows, 4)) for _ in range(2)])
    want = _assert_exact(model, x, tmp_path)
    # held outputs are zero before the first real step even from a nonzero initial state
    np.testing.assert_array_equal(want[0][0, :2, :4], 0)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_a_layer_without_a_bias_under_a_mask(cell, tmp_path):
    x = _features(seed=10)
    layer = CELLS[cell](4, use_bias=False, return_sequences=True, zero_output_for_mask=False, seed=15)
    model = rl.Sequential([rl.Masking(), rl.Bidirectional(layer), rl.Dense(2, seed=16)])
    _assert_exact(model, x, tmp_path)
    assert "b" not in layer.params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_peepholes_under_a_mask(dtype, tmp_path):
    x = _features(dtype, seed=9)
    name = np.dtype(dtype).name
    layer = rl.LSTM(4, peepholes=True, return_sequences=True, zero_output_for_mask=False, dtype=name, seed=14)
    model = rl.Sequential([rl.Masking(dtype=name), rl.Bidirectional(layer, merge_mode="sum")])
    model(x)
    rng = np.random.default_rng(9)
    for sub in (layer, model.layers[1].backward_layer):  # p starts at zero: give the peepholes weight
        sub.params["p"][...] = rng.standard_normal((3, 4))
    want = _assert_exact(model, x, tmp_path)
    sub.params["p"][...] = 0
    assert np.abs(model(x) - want[0]).max() > 1e-3  # the peepholes count


def test_a_projected_lstm_is_refused_by_name_under_a_mask(tmp_path):
    model = rl.Sequential([rl.Masking(), rl.LSTM(4, proj_size=2)]).build((5, 2))
    with pytest.raises(ValueError, match="proj_size"):
        rox.export(model, tmp_path / "m.onnx")


def test_mask_value_other_than_zero(tmp_path):
    x = _holes(np.random.default_rng(4).standard_normal((3, 6, 2)).astype(np.float32), -1.0)
    x[1, 1, 0] = -1.0  # one feature at the mask value: a real step
    model = rl.Sequential([rl.Masking(mask_value=-1.0), rl.GRU(3, return_sequences=True, seed=7)])
    _assert_exact(model, x, tmp_path)


def test_declared_right_padding_uses_the_operators_and_scans_only_what_they_cannot_give(tmp_path):
    x = np.random.default_rng(5).standard_normal((3, 6, 2)).astype(np.float32)
    x[1, 4:] = 0
    x[2, 1:] = 0
    model = rl.Sequential(
        [
            rl.Masking(),
            rl.LSTM(4, return_sequences=True, seed=8),
            rl.GRU(3, return_sequences=True, zero_output_for_mask=False),
        ]
    )
    _assert_exact(model, x, tmp_path, padding="right")
    assert {"LSTM", "Scan"} <= _ops(tmp_path / "m.onnx") and "GRU" not in _ops(tmp_path / "m.onnx")


@pytest.mark.parametrize("sequences", [True, False])
def test_sequence_lens_with_outputs_the_operators_cannot_give(sequences, tmp_path):
    x = np.random.default_rng(6).standard_normal((3, 6, 2)).astype(np.float32)
    lengths = np.array([6, 3, 1], np.int32)
    mask = np.arange(6)[None, :] < lengths[:, None]
    layer = rl.SimpleRNN(4, return_sequences=sequences, zero_output_for_mask=not sequences, go_backwards=True, seed=9)
    want = layer(x, mask=mask)
    rox.export(layer, tmp_path / "m.onnx", lengths=True)
    assert "Scan" in _ops(tmp_path / "m.onnx")
    (got,) = _run(tmp_path / "m.onnx", {"x": x, "sequence_lens": lengths})
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_load_recurrent_of_a_scan_graph_points_to_load(tmp_path):
    model = rl.Sequential([rl.Masking(), rl.SimpleRNN(3)]).build((4, 2))
    rox.export(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"no RNN, LSTM or GRU node .*Scan.*onnx\.load\(path\)"):
        rox.load_recurrent(tmp_path / "m.onnx")


def test_a_batch_of_any_size_and_length(tmp_path):
    model = rl.Sequential([rl.Embedding(9, 3, mask_zero=True), rl.LSTM(4, return_sequences=True, seed=10)])
    model.build((6,))
    rox.export(model, tmp_path / "m.onnx")
    for shape in [(1, 1), (5, 9)]:
        ids = np.random.default_rng(7).integers(0, 9, shape)
        (got,) = _run(tmp_path / "m.onnx", {"ids": ids})
        np.testing.assert_allclose(got, model(ids), rtol=0, atol=1e-5)


@pytest.mark.parametrize("opset", range(rox.MIN_OPSET, onnx.defs.onnx_opset_version() + 1))
def test_every_opset_from_14_to_the_newest(opset, tmp_path):
    model = rl.Sequential(
        [
            rl.Masking(),
            rl.LSTM(4, return_sequences=True, seed=11),
            rl.GRU(3, reset_after=False, return_sequences=True, seed=12),
            rl.Bidirectional(rl.GRU(3, seed=13)),
        ]
    )
    _assert_exact(model, _features(seed=8), tmp_path, opset=opset)
