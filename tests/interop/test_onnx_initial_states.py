"""ONNX import of constant initial states and lengths, float64 files, and the refusals that name their cause."""

import os

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.interop import onnx as rox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

B, T, D, H = 3, 5, 2, 4


class LearnedState(torch.nn.Module):
    """An LSTM whose initial (h0, c0) are parameters, passed as the state: what people write."""

    def __init__(self, rows, bidirectional=False):
        super().__init__()
        dirs = 2 if bidirectional else 1
        self.lstm = torch.nn.LSTM(D, H, batch_first=True, bidirectional=bidirectional)
        self.h0 = torch.nn.Parameter(torch.randn(dirs, rows, H))
        self.c0 = torch.nn.Parameter(torch.randn(dirs, rows, H))

    def forward(self, x):
        h0, c0 = self.h0, self.c0
        if h0.shape[1] == 1:
            h0, c0 = h0.expand(-1, x.shape[0], -1), c0.expand(-1, x.shape[0], -1)
        return self.lstm(x, (h0.contiguous(), c0.contiguous()))[0]


def _export(module, x, path, dynamic):
    kwargs = dict(input_names=["x"], output_names=["y"], dynamo=False, opset_version=17)
    if dynamic:
        kwargs["dynamic_axes"] = {"x": {0: "batch"}, "y": {0: "batch"}}
    torch.onnx.export(module, (torch.from_numpy(x),), os.fspath(path), **kwargs)


@pytest.mark.parametrize("rows,dynamic,bidirectional", [(B, False, False), (1, True, False), (1, False, True)])
def test_pytorch_lstm_with_learned_initial_state(tmp_path, torch_one_thread, rows, dynamic, bidirectional):
    torch.manual_seed(0)
    module = LearnedState(rows, bidirectional).eval()
    x = np.random.default_rng(0).standard_normal((B, T, D)).astype(np.float32)
    _export(module, x, tmp_path / "m.onnx", dynamic)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    (layer,) = rox.load_recurrent(tmp_path / "m.onnx").values()
    got = layer(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert np.abs(want - layer.__class__.__call__(_without_state(layer), x)).max() > 1e-3  # the state matters
    # kept as the layer's parameters, through save and load
    model = rl.Sequential([layer])
    model.save(tmp_path / "m.rnnlab")
    np.testing.assert_array_equal(rl.load(tmp_path / "m.rnnlab")(x), got)


def _without_state(layer):
    """The same weights from zero states."""
    subs = [layer.forward_layer, layer.backward_layer] if isinstance(layer, rl.Bidirectional) else [layer]
    copies = []
    for sub in subs:
        config = {**sub.get_config(), "initial_state_rows": 0}
        copies.append(type(sub)(**config).set_weights(*(sub.params[k] for k in ("W", "U", "b"))))
    if isinstance(layer, rl.Bidirectional):
        return rl.Bidirectional(copies[0], backward_layer=copies[1], **layer.get_config())
    return copies[0]


def _rnn_model(
    path, dtype=np.float32, extra_inputs=(), nodes=(), node_inputs=("x", "W", "R", "B"), inits=None, graph_inputs=None
):
    rng = np.random.default_rng(1)
    T_ = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    W = rng.standard_normal((1, H, D)).astype(dtype)
    R = (0.5 * rng.standard_normal((1, H, H))).astype(dtype)
    Bb = rng.standard_normal((1, 2 * H)).astype(dtype)
    initializers = [numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (Bb, "B"))]
    initializers += [numpy_helper.from_array(a, n) for n, a in (inits or {}).items()]
    rnn = helper.make_node("RNN", list(node_inputs), ["Y", "Y_h"], hidden_size=H, name="rnn")
    inputs = [helper.make_tensor_value_info("x", T_, [T, "batch", D])] + list(graph_inputs or [])
    graph = helper.make_graph(
        list(nodes) + [rnn], "g", inputs, [helper.make_tensor_value_info("Y", T_, [T, 1, "batch", H])], initializers
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return model


def test_constant_sequence_lens_covering_the_time_axis_is_read(tmp_path):
    lens = np.full(B, T, np.int32)
    _rnn_model(tmp_path / "m.onnx", node_inputs=("x", "W", "R", "B", "lens"), inits={"lens": lens})
    x = np.random.default_rng(2).standard_normal((T, B, D)).astype(np.float32)
    (layer,) = rox.load_recurrent(tmp_path / "m.onnx").values()
    want = ort.InferenceSession(os.fspath(tmp_path / "m.onnx")).run(None, {"x": x})[0][:, 0]
    np.testing.assert_allclose(layer(x.transpose(1, 0, 2)), want.transpose(1, 0, 2), rtol=0, atol=1e-5)


def test_constant_sequence_lens_shorter_than_the_input_is_refused_by_name(tmp_path):
    _rnn_model(
        tmp_path / "m.onnx", node_inputs=("x", "W", "R", "B", "lens"), inits={"lens": np.array([T, 2, 1], np.int32)}
    )
    with pytest.raises(ValueError, match=r"sequence_lens .*shorter than the time axis .* rows \[1, 2\]"):
        rox.load_recurrent(tmp_path / "m.onnx")


def test_computed_initial_state_is_refused_by_name(tmp_path):
    h = helper.make_node("Relu", ["h_raw"], ["h"], name="relu")
    _rnn_model(
        tmp_path / "m.onnx",
        node_inputs=("x", "W", "R", "B", "", "h"),
        nodes=[h],
        graph_inputs=[helper.make_tensor_value_info("h_raw", TensorProto.FLOAT, [1, B, H])],
    )
    with pytest.raises(ValueError, match=r"initial_h \('h'\) is computed in the graph by Relu"):
        rox.load_recurrent(tmp_path / "m.onnx")


def test_weights_as_graph_inputs_are_named_as_graph_inputs(tmp_path):
    # as ONNX's own operator test models: W, R, B are inputs of the graph
    rng = np.random.default_rng(3)
    W = rng.standard_normal((1, H, D)).astype(np.float32)
    rnn = helper.make_node("RNN", ["x", "W", "R"], ["Y"], hidden_size=H, name="rnn")
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
        for n, s in (("x", [T, B, D]), ("W", [1, H, D]), ("R", [1, H, H]))
    ]
    graph = helper.make_graph(
        [rnn],
        "g",
        inputs,
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, 1, B, H])],
        [numpy_helper.from_array(W, "W")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"W \('W'\) is a graph input") as err:
        rox.load_recurrent(tmp_path / "m.onnx")
    assert "computed" not in str(err.value)


def test_float64_file_gives_float64_layers(tmp_path):
    _rnn_model(tmp_path / "m.onnx", dtype=np.float64)
    (layer,) = rox.load_recurrent(tmp_path / "m.onnx").values()
    assert layer.dtype == np.float64 and layer.params["W"].dtype == np.float64
    x = np.random.default_rng(4).standard_normal((B, T, D))
    assert layer(x).dtype == np.float64


def test_float64_model_round_trips_as_float64(tmp_path):
    x = np.random.default_rng(5).standard_normal((B, T, D))
    model = rl.Sequential([rl.GRU(H, return_sequences=True, dtype="float64", seed=1), rl.Dense(2, dtype="float64")])
    model(x)
    proto = rox.export(model, tmp_path / "m.onnx")
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    same = rox.load(tmp_path / "m.onnx")
    assert all(layer.dtype == np.float64 for layer in same.layers)
    np.testing.assert_array_equal(same(x), model(x))


def test_float64_model_exported_as_float32_runs_in_onnx_runtime(tmp_path):
    x = np.random.default_rng(6).standard_normal((B, T, D))
    model = rl.LSTM(H, return_sequences=True, dtype="float64", seed=2)
    want = model(x)
    proto = rox.export(model, tmp_path / "m.onnx", dtype="float32")
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    (got,) = ort.InferenceSession(os.fspath(tmp_path / "m.onnx")).run(None, {"x": x.astype(np.float32)})
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
