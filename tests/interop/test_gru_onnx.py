"""ONNX's GRU operator: ONNX's own node test cases through rnnlab's import, a linear_before_reset=1
node with sequence_lens and initial_h against ONNX Runtime, and rnnlab's export run by ONNX Runtime."""

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
    "test_gru_defaults",
    "test_gru_with_initial_bias",
    "test_gru_seq_length",
    "test_gru_batchwise",
    "test_gru_reverse",
    "test_gru_bidirectional",
]


@pytest.fixture(scope="module")
def node_cases(tmp_path_factory):
    """{name: (model, inputs, outputs)} of ONNX's GRU node test cases."""
    return collect("GRU", tmp_path_factory.mktemp("gru_cases"))


RANKS = {"X": 3, "Y": 4, "Y_h": 3, "sequence_lens": 1, "initial_h": 3}


def info(name):
    """A graph input or output of symbolic shape, its rank ONNX's for that GRU input or output."""
    kind = onnx.TensorProto.INT32 if name == "sequence_lens" else onnx.TensorProto.FLOAT
    return helper.make_tensor_value_info(name, kind, [f"{name}_{k}" for k in range(RANKS[name])])


def with_weights_as_initializers(node, weights, path):
    """A model of `node` alone whose W, R (and B) are initializers holding `weights`; X a graph input."""
    inits = [numpy_helper.from_array(weights[name], name) for name in node.input[1:] if name in weights]
    outputs = [info(name) for name in ("Y", "Y_h") if name in node.output]
    graph = helper.make_graph([node], "gru", [info("X")], outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    return path


def run_imported(layer, x_batch_first, initial=None, mask=None):
    """rnnlab's Y (T, dirs, B, H) in time order and Y_h (dirs, B, H) from an imported layer."""
    y = layer(x_batch_first, mask=mask, initial_state=initial)
    if isinstance(layer, rl.Bidirectional):  # concat: forward, then backward (already in time order)
        H = layer.forward_layer.units
        Y = np.stack([y[..., :H], y[..., H:]], axis=2)  # (B, T, 2, H)
    else:
        Y = (y[:, ::-1] if layer.go_backwards else y)[:, :, None]  # go_backwards: processing order, flipped back
    return Y.transpose(1, 2, 0, 3), np.stack(
        layer.final_state if isinstance(layer, rl.Bidirectional) else [layer.final_state[0]]
    )


@pytest.mark.parametrize("name", NODE_CASES)
def test_onnx_node_test_cases(name, node_cases, tmp_path):
    model, inputs, outputs = node_cases[name]
    node = model.graph.node[0]
    values = dict(zip([i.name for i in model.graph.input], inputs))
    expected = dict(zip([o.name for o in model.graph.output], outputs))
    path = with_weights_as_initializers(node, {k: v for k, v in values.items() if k != "X"}, tmp_path / "gru.onnx")
    (layer,) = rox.load_recurrent(path).values()
    leaf = layer.forward_layer if isinstance(layer, rl.Bidirectional) else layer
    assert isinstance(leaf, rl.GRU) and not leaf.reset_after  # these cases keep linear_before_reset = 0
    batchwise = any(a.name == "layout" and a.i == 1 for a in node.attribute)
    X = values["X"].astype(np.float32)
    Y, Y_h = run_imported(layer, X if batchwise else X.transpose(1, 0, 2))
    if batchwise:  # layout=1: Y [B, T, dirs, H], Y_h [B, dirs, H]
        Y, Y_h = Y.transpose(2, 0, 1, 3), Y_h.transpose(1, 0, 2)
    names = dict(zip(["Y", "Y_h"], node.output))
    assert any(names.get(k) in expected for k in ("Y", "Y_h"))
    if names.get("Y") in expected:
        np.testing.assert_allclose(Y, expected[names["Y"]], rtol=TOL, atol=TOL)
    if names.get("Y_h") in expected:
        np.testing.assert_allclose(Y_h, expected[names["Y_h"]], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("linear_before_reset", [1, 0])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_a_node_with_lengths_and_initial_h_matches_onnx_runtime(direction, linear_before_reset, tmp_path):
    rng = np.random.default_rng(linear_before_reset)
    T, B, D, H = 5, 4, 3, 2
    dirs = 2 if direction == "bidirectional" else 1
    weights = {
        "W": rng.standard_normal((dirs, 3 * H, D)).astype(np.float32) * 0.7,
        "R": rng.standard_normal((dirs, 3 * H, H)).astype(np.float32) * 0.7,
        "B": rng.standard_normal((dirs, 6 * H)).astype(np.float32),
    }

    def gru_file(keras_hard_sigmoid):
        """The node in a file; HardSigmoid with Keras' (1/6, 0.5), or ONNX's default (0.2, 0.5)."""
        attrs = dict(
            hidden_size=H,
            direction=direction,
            linear_before_reset=linear_before_reset,
            activations=["HardSigmoid", "Tanh"] * dirs,
        )
        if keras_hard_sigmoid:
            attrs.update(activation_alpha=[1 / 6] * dirs, activation_beta=[0.5] * dirs)
        node = helper.make_node("GRU", ["X", "W", "R", "B", "sequence_lens", "initial_h"], ["Y", "Y_h"], **attrs)
        graph = helper.make_graph(
            [node],
            "gru",
            [info("X"), info("sequence_lens"), info("initial_h")],
            [info("Y"), info("Y_h")],
            [numpy_helper.from_array(v, k) for k, v in weights.items()],
        )
        path = tmp_path / f"gru{int(keras_hard_sigmoid)}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
        return path

    # ONNX's default HardSigmoid (0.2, 0.5) is not rnnlab's (Keras 3's): refused by name
    with pytest.raises(ValueError, match=r"HardSigmoid\(alpha=0.2"):
        rox.load_recurrent(gru_file(False))
    path = gru_file(True)
    X = rng.standard_normal((T, B, D)).astype(np.float32)
    lengths = np.array([5, 3, 1, 4], np.int32)
    h0 = rng.standard_normal((dirs, B, H)).astype(np.float32)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    Y_ort, Y_h_ort = session.run(None, {"X": X, "sequence_lens": lengths, "initial_h": h0})
    (layer,) = rox.load_recurrent(path).values()
    leaf = layer.forward_layer if isinstance(layer, rl.Bidirectional) else layer
    assert leaf.reset_after is bool(linear_before_reset) and leaf.recurrent_activation == "hard_sigmoid"
    mask = np.arange(T)[None, :] < lengths[:, None]
    Y, Y_h = run_imported(layer, X.transpose(1, 0, 2), initial=list(h0) if dirs == 2 else [h0[0]], mask=mask)
    np.testing.assert_allclose(Y, Y_ort, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(Y_h, Y_h_ort, rtol=TOL, atol=TOL)


def exported_and_run(model, x, tmp_path, lengths=None):
    path = tmp_path / "m.onnx"
    proto = rox.export(model, path, lengths=lengths is not None)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    feeds = {proto.graph.input[0].name: x}
    if lengths is not None:
        feeds["sequence_lens"] = lengths
    return ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"]).run(None, feeds), path


MODELS = [
    pytest.param(lambda ra: rl.GRU(5, reset_after=ra, return_sequences=True, seed=1), id="gru"),
    pytest.param(lambda ra: rl.GRU(5, reset_after=ra, go_backwards=True, return_state=True, seed=2), id="backwards"),
    pytest.param(
        lambda ra: rl.Bidirectional(
            rl.GRU(4, reset_after=ra, return_sequences=True, recurrent_activation="hard_sigmoid", seed=3)
        ),
        id="bidirectional",
    ),
    pytest.param(
        lambda ra: rl.Sequential(
            [
                rl.GRU(4, reset_after=ra, return_sequences=True, seed=4),
                rl.Bidirectional(rl.GRU(3, reset_after=ra, seed=5)),
                rl.Dense(2),
            ]
        ),
        id="sequential",
    ),
]


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("make", MODELS)
def test_export_agrees_with_onnx_runtime_and_loads_back(make, reset_after, with_lengths, tmp_path):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    lengths = np.array([6, 4, 1, 5], np.int32) if with_lengths else None
    mask = None if lengths is None else np.arange(6)[None, :] < lengths[:, None]
    model = make(reset_after)
    model(x)
    for p in model.params.values():  # biases too, so that a misplaced Rb shows
        p[...] = rng.standard_normal(p.shape) * 0.5
    want = model(x, mask=mask)
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    got, path = exported_and_run(model, x, tmp_path, lengths)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL)
    back = rox.load(path)
    again = back(x, mask=mask)
    again = list(again) if isinstance(again, (list, tuple)) else [again]
    for g, w in zip(again, want):
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL)
