"""LSTM peepholes through ONNX (the LSTM operator's input P): ONNX's own node test cases through
rnnlab's import, a node with P, sequence_lens and initial states against ONNX Runtime in every
direction, rnnlab's export run by ONNX Runtime; the options with no ONNX or Keras form refused by name."""

import os

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.interop import onnx as rox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import helper, numpy_helper  # noqa: E402
from onnx_node_cases import collect  # noqa: E402

TOL = 1e-5
NODE_CASES = [
    "test_lstm_with_peepholes",
    "test_lstm_defaults",
    "test_lstm_with_initial_bias",
    "test_lstm_batchwise",
    "test_lstm_reverse",
    "test_lstm_bidirectional",
]
RANKS = {"X": 3, "Y": 4, "Y_h": 3, "Y_c": 3, "sequence_lens": 1, "initial_h": 3, "initial_c": 3}


@pytest.fixture(scope="module")
def node_cases(tmp_path_factory):
    """{name: (model, inputs, outputs)} of ONNX's LSTM node test cases."""
    return collect("LSTM", tmp_path_factory.mktemp("lstm_cases"))


def info(name):
    """A graph input or output of symbolic shape, its rank ONNX's for that LSTM input or output."""
    kind = onnx.TensorProto.INT32 if name == "sequence_lens" else onnx.TensorProto.FLOAT
    return helper.make_tensor_value_info(name, kind, [f"{name}_{k}" for k in range(RANKS[name])])


def run_imported(layer, x_batch_first, initial=None, mask=None):
    """rnnlab's Y (T, dirs, B, H) in time order and Y_h (dirs, B, H) from an imported layer."""
    y = layer(x_batch_first, mask=mask, initial_state=initial)
    if isinstance(layer, rl.Bidirectional):  # concat: forward, then backward (already in time order)
        H = layer.forward_layer.units
        Y = np.stack([y[..., :H], y[..., H:]], axis=2)  # (B, T, 2, H)
        finals = [layer.final_state[0], layer.final_state[2]]
    else:
        Y = (y[:, ::-1] if layer.go_backwards else y)[:, :, None]  # go_backwards: processing order, flipped back
        finals = [layer.final_state[0]]
    return Y.transpose(1, 2, 0, 3), np.stack(finals)


@pytest.mark.parametrize("name", NODE_CASES)
def test_onnx_node_test_cases(name, node_cases, tmp_path):
    """The weights W, R, B, P become constants of the graph; X, sequence_lens and the initial
    states stay graph inputs, passed to the layer as input, mask and initial_state."""
    model, inputs, outputs = node_cases[name]
    node = model.graph.node[0]
    values = dict(zip([i.name for i in model.graph.input], inputs))
    expected = dict(zip([o.name for o in model.graph.output], outputs))
    fed = [k for k in node.input if k in ("X", "sequence_lens", "initial_h", "initial_c")]
    inits = [numpy_helper.from_array(values[k], k) for k in node.input if k and k not in fed]
    graph = helper.make_graph([node], "lstm", [info(k) for k in fed], [info(k) for k in node.output if k], inits)
    path = tmp_path / "lstm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    (layer,) = rox.load_recurrent(path).values()
    leaf = layer.forward_layer if isinstance(layer, rl.Bidirectional) else layer
    assert isinstance(leaf, rl.LSTM) and leaf.peepholes is (name == "test_lstm_with_peepholes")
    batchwise = any(a.name == "layout" and a.i == 1 for a in node.attribute)
    assert not batchwise or "initial_h" not in fed  # a batchwise case would hold its states [B, dirs, H]
    X = values["X"].astype(np.float32)
    X = X if batchwise else X.transpose(1, 0, 2)
    mask = np.arange(X.shape[1])[None, :] < values["sequence_lens"][:, None] if "sequence_lens" in fed else None
    initial = None
    if "initial_h" in fed:
        h0, c0 = values["initial_h"], values.get("initial_c", np.zeros_like(values["initial_h"]))
        initial = [s for d in range(h0.shape[0]) for s in (h0[d], c0[d])]
    Y, Y_h = run_imported(layer, X, initial=initial, mask=mask)
    if batchwise:  # layout=1: Y [B, T, dirs, H], Y_h [B, dirs, H]
        Y, Y_h = Y.transpose(2, 0, 1, 3), Y_h.transpose(1, 0, 2)
    names = dict(zip(["Y", "Y_h"], node.output))
    assert any(names.get(k) in expected for k in ("Y", "Y_h"))
    if names.get("Y") in expected:
        np.testing.assert_allclose(Y, expected[names["Y"]], rtol=TOL, atol=TOL)
    if names.get("Y_h") in expected:
        np.testing.assert_allclose(Y_h, expected[names["Y_h"]], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_a_peephole_node_with_lengths_and_initial_states_matches_onnx_runtime(direction, tmp_path):
    rng = np.random.default_rng(["forward", "reverse", "bidirectional"].index(direction))
    T, B, D, H = 5, 4, 3, 2
    dirs = 2 if direction == "bidirectional" else 1
    weights = {
        "W": rng.standard_normal((dirs, 4 * H, D)).astype(np.float32) * 0.7,
        "R": rng.standard_normal((dirs, 4 * H, H)).astype(np.float32) * 0.7,
        "B": rng.standard_normal((dirs, 8 * H)).astype(np.float32),
        "P": rng.standard_normal((dirs, 3 * H)).astype(np.float32),
    }
    inputs = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], hidden_size=H, direction=direction)
    graph = helper.make_graph(
        [node],
        "lstm",
        [info(k) for k in ("X", "sequence_lens", "initial_h", "initial_c")],
        [info(k) for k in ("Y", "Y_h", "Y_c")],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    path = tmp_path / "lstm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    X = rng.standard_normal((T, B, D)).astype(np.float32)
    lengths = np.array([5, 3, 1, 4], np.int32)
    h0, c0 = (rng.standard_normal((dirs, B, H)).astype(np.float32) for _ in range(2))
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    Y_ort, Y_h_ort, Y_c_ort = session.run(None, {"X": X, "sequence_lens": lengths, "initial_h": h0, "initial_c": c0})
    (layer,) = rox.load_recurrent(path).values()
    leaf = layer.forward_layer if isinstance(layer, rl.Bidirectional) else layer
    assert leaf.peepholes
    mask = np.arange(T)[None, :] < lengths[:, None]
    initial = [s for d in range(dirs) for s in (h0[d], c0[d])]
    Y, Y_h = run_imported(layer, X.transpose(1, 0, 2), initial=initial, mask=mask)
    np.testing.assert_allclose(Y, Y_ort, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(Y_h, Y_h_ort, rtol=TOL, atol=TOL)
    Y_c = np.stack(layer.final_state[1::2])
    np.testing.assert_allclose(Y_c, Y_c_ort, rtol=TOL, atol=TOL)


MODELS = [
    pytest.param(lambda: rl.LSTM(5, peepholes=True, return_sequences=True, seed=1), id="lstm"),
    pytest.param(lambda: rl.LSTM(5, peepholes=True, go_backwards=True, return_state=True, seed=2), id="backwards"),
    pytest.param(
        lambda: rl.Bidirectional(
            rl.LSTM(4, peepholes=True, return_sequences=True, seed=3),
            backward_layer=rl.LSTM(4, return_sequences=True, go_backwards=True, seed=6),
        ),
        id="bidirectional-one-side",
    ),
    pytest.param(
        lambda: rl.Sequential(
            [
                rl.LSTM(4, peepholes=True, return_sequences=True, seed=4),
                rl.Bidirectional(rl.LSTM(3, peepholes=True, seed=5)),
                rl.Dense(2),
            ]
        ),
        id="sequential",
    ),
]


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("make", MODELS)
def test_export_agrees_with_onnx_runtime_and_loads_back(make, with_lengths, tmp_path):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    lengths = np.array([6, 4, 1, 5], np.int32) if with_lengths else None
    mask = None if lengths is None else np.arange(6)[None, :] < lengths[:, None]
    model = make()
    model(x)
    for p in model.params.values():  # peepholes too, which start at zero
        p[...] = rng.standard_normal(p.shape) * 0.5
    want = model(x, mask=mask)
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    path = tmp_path / "m.onnx"
    proto = rox.export(model, path, lengths=with_lengths)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert any(n.op_type == "LSTM" and len(n.input) == 8 and n.input[7] for n in proto.graph.node)
    feeds = {proto.graph.input[0].name: x, **({"sequence_lens": lengths} if with_lengths else {})}
    got = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL)
    back = rox.load(path)
    again = back(x, mask=mask)
    again = list(again) if isinstance(again, (list, tuple)) else [again]
    for g, w in zip(again, want):
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL)


def test_float64_export_keeps_the_peepholes_exactly(tmp_path):
    layer = rl.LSTM(3, peepholes=True, return_sequences=True, dtype="float64", seed=0)
    layer.build(2)
    layer.params["p"][...] = np.arange(9).reshape(3, 3)
    rox.export(layer, tmp_path / "m.onnx")
    back = rox.load(tmp_path / "m.onnx")
    np.testing.assert_array_equal(back.params["p"], layer.params["p"])


@pytest.mark.parametrize(
    "convert, target",
    [
        (lambda m, path: rox.export(m, path / "m.onnx"), "ONNX"),
        (lambda m, path: rl.interop.h5.save_weights(m, path / "m.weights.h5"), "Keras"),
    ],
    ids=["onnx", "h5"],
)
def test_a_projection_is_refused_by_name(convert, target, tmp_path):
    model = rl.Sequential([rl.LSTM(4, proj_size=2), rl.Dense(1)])
    model(np.zeros((1, 3, 2), np.float32))
    with pytest.raises(ValueError, match=f"proj_size=2 \\(a projected LSTM\\) has no {target} equivalent"):
        convert(model, tmp_path)


def test_keras_weights_refuse_peepholes_by_name(tmp_path):
    model = rl.Sequential([rl.Bidirectional(rl.LSTM(4, peepholes=True)), rl.Dense(1)])
    model(np.zeros((1, 3, 2), np.float32))
    with pytest.raises(ValueError, match="peepholes=True has no Keras equivalent"):
        rl.interop.h5.save_weights(model, tmp_path / "m.weights.h5")


@pytest.mark.parametrize(
    "options, message", [(dict(peepholes=True), "peepholes=True"), (dict(proj_size=2), "proj_size=2")]
)
def test_to_keras_refuses_the_variants_by_name(options, message):
    pytest.importorskip("keras")
    layer = rl.LSTM(4, **options)
    layer.build(3)
    with pytest.raises(ValueError, match=f"{message}.*no Keras equivalent"):
        rl.interop.keras.to_keras(layer)
