"""ONNX export checked by ONNX Runtime, import back, and the errors on bad models and files."""

import os

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.interop import common
from rnnlab.interop import onnx as rox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

B, T, D = 4, 6, 3
LENGTHS = np.array([6, 4, 1, 0], np.int32)  # right-padded, one sequence empty
TOL = 1e-5


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((B, T, D)).astype(np.float32)


def mask_of(lengths, time=T):
    return np.arange(time)[None, :] < lengths[:, None]


def run_ort(path, feeds):
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def assert_ort_matches(model, x, tmp_path, lengths=None):
    """Export, run ONNX Runtime, compare every output with rnnlab's."""
    path = tmp_path / "m.onnx"
    proto = rox.export(model, path, lengths=lengths is not None)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    feeds = {proto.graph.input[0].name: x}
    if lengths is not None:
        feeds["sequence_lens"] = lengths
    got = run_ort(path, feeds)
    want = as_list(model(x) if lengths is None else model(x, mask=mask_of(lengths, x.shape[1])))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=TOL)
    return got


def built(layer, x):
    layer(x)
    return layer


CELLS = [rl.SimpleRNN, rl.LSTM]


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_single_layer_matches_onnxruntime(cell, return_sequences, go_backwards, padded, x, tmp_path):
    layer = built(cell(5, return_sequences=return_sequences, go_backwards=go_backwards, seed=1), x)
    assert_ort_matches(layer, x, tmp_path, LENGTHS if padded else None)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("padded", [False, True])
def test_bidirectional_matches_onnxruntime(cell, merge_mode, return_sequences, padded, x, tmp_path):
    layer = built(rl.Bidirectional(cell(4, return_sequences=return_sequences, seed=2), merge_mode=merge_mode), x)
    assert_ort_matches(layer, x, tmp_path, LENGTHS if padded else None)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_return_state_matches_onnxruntime(cell, x, tmp_path):
    for layer in (
        cell(5, return_sequences=True, return_state=True, seed=3),
        rl.Bidirectional(cell(5, return_state=True, seed=3)),
    ):
        assert_ort_matches(built(layer, x), x, tmp_path, LENGTHS)  # y, then h (and c) per direction


@pytest.mark.parametrize(
    "options",
    [
        dict(activation="relu"),
        dict(activation="linear"),
        dict(recurrent_activation="hard_sigmoid"),
        dict(activation="hard_sigmoid"),
        dict(activation="softsign"),
        dict(activation="softsign", recurrent_activation="softsign"),
    ],
)
def test_activations_match_onnxruntime(options, x, tmp_path):
    cell = rl.LSTM if "recurrent_activation" in options or options["activation"] == "hard_sigmoid" else rl.SimpleRNN
    layer = built(cell(5, return_sequences=True, seed=4, **options), x)
    assert_ort_matches(layer, x, tmp_path, LENGTHS)


def test_hard_sigmoid_is_keras_not_onnx_default(x, tmp_path):
    """Keras 3's hard_sigmoid is relu6(z + 3) / 6: ONNX's default HardSigmoid (α = 0.2) would differ."""
    layer = built(rl.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid", seed=4), x)
    proto = rox.export(layer, tmp_path / "m.onnx")
    (node,) = [n for n in proto.graph.node if n.op_type == "LSTM"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["activation_alpha"] == pytest.approx([1 / 6])
    assert attrs["activation_beta"] == pytest.approx([0.5])
    for a in node.attribute:
        if a.name == "activation_alpha":
            a.floats[:] = [0.2]
    onnx.save(proto, tmp_path / "default_alpha.onnx")
    wrong = run_ort(tmp_path / "default_alpha.onnx", {"x": x})[0]
    assert np.abs(wrong - layer(x)).max() > 1e-3


def test_sequence_lens_semantics_of_onnxruntime(x, tmp_path):
    """ORT zero-fills Y past each length and returns the last real state; reverse reads only the real part."""
    for go_backwards in (False, True):
        layer = built(rl.LSTM(5, return_sequences=True, return_state=True, go_backwards=go_backwards, seed=5), x)
        y, h, _ = assert_ort_matches(layer, x, tmp_path, LENGTHS)
        padded = ~mask_of(LENGTHS)
        if go_backwards:
            padded = padded[:, ::-1]  # outputs in processing order: the padding comes first
        assert np.all(y[padded] == 0.0)
        np.testing.assert_allclose(h[LENGTHS == 0], 0.0)
        # go_backwards over the real part only: each row equals that row run alone, unpadded
        for b in (0, 1, 2):
            alone = layer(x[b : b + 1, : LENGTHS[b]])[1]
            np.testing.assert_allclose(h[b], alone[0], rtol=0, atol=TOL)


def test_stacked_sequential_with_embedding_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(6)
    ids = rng.integers(1, 20, size=(B, 7))
    ids[~mask_of(np.array([7, 3, 5, 1]), 7)] = 0  # right padding with id 0
    for activation in ("softmax", "relu", None, "tanh", "sigmoid", "hard_sigmoid"):
        model = rl.Sequential(
            [
                rl.Embedding(20, 6, mask_zero=True),
                rl.LSTM(5, return_sequences=True),
                rl.Dropout(0.3),
                rl.Bidirectional(rl.SimpleRNN(4, return_sequences=True)),
                rl.LSTM(3, return_sequences=True, go_backwards=True),
                rl.Dense(3, activation=activation),
            ],
            seed=1,
        )
        want = model(ids)
        rox.export(model, tmp_path / "seq.onnx", padding="right")
        (got,) = run_ort(tmp_path / "seq.onnx", {"ids": ids})
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


def test_stack_of_features_with_lengths_matches_onnxruntime(x, tmp_path):
    model = rl.Stack(
        [
            rl.LSTM(5, return_sequences=True, seed=7),
            rl.Bidirectional(rl.SimpleRNN(4, return_sequences=True, seed=8), merge_mode="ave"),
            rl.LSTM(3, go_backwards=True, seed=9),
            rl.Dense(2, use_bias=False, seed=10),
        ]
    )
    model(x)
    assert_ort_matches(model, x, tmp_path, LENGTHS)


@pytest.mark.parametrize("opset", [rox.MIN_OPSET, rox.DEFAULT_OPSET, onnx.defs.onnx_opset_version()])
def test_every_opset_from_14_to_the_newest(opset, x, tmp_path):
    model = rl.Stack(
        [
            rl.Bidirectional(rl.LSTM(4, return_sequences=True, seed=12)),
            rl.SimpleRNN(3, go_backwards=True, return_sequences=True, seed=13),
            rl.Dense(2, seed=14),
        ]
    )
    model(x)
    proto = rox.export(model, tmp_path / "m.onnx", opset=opset, lengths=True)
    assert proto.opset_import[0].version == opset
    (got,) = run_ort(tmp_path / "m.onnx", {"x": x, "sequence_lens": LENGTHS})
    np.testing.assert_allclose(got, model(x, mask=mask_of(LENGTHS)), rtol=0, atol=TOL)


def test_export_import_export_is_stable(x, tmp_path):
    rng = np.random.default_rng(11)
    ids = rng.integers(0, 12, size=(3, 5))
    models = [
        (
            rl.Sequential(
                [
                    rl.Embedding(12, 4, mask_zero=True),
                    rl.LSTM(5, return_sequences=True, seed=1),
                    rl.Dropout(0.1),
                    rl.Bidirectional(rl.SimpleRNN(3, activation="relu", seed=2), merge_mode="mul"),
                    rl.Dense(2, activation="softmax", seed=3),
                ],
                name="seq",
            ),
            ids,
            False,
        ),
        (
            built(rl.Bidirectional(rl.LSTM(4, return_state=True, recurrent_activation="hard_sigmoid", seed=4)), x),
            x,
            True,
        ),
    ]
    for model, inputs, lengths in models:
        model(inputs)
        padding = None if lengths else "right"  # the first model has mask_zero
        first = rox.export(model, tmp_path / "a.onnx", lengths=lengths, padding=padding)
        back = rox.load(tmp_path / "a.onnx")
        assert type(back) is type(model)
        for got, want in zip(as_list(back(inputs)), as_list(model(inputs))):
            np.testing.assert_array_equal(got, want)
        second = rox.export(back, tmp_path / "b.onnx", lengths=lengths, padding=padding)
        assert first.SerializeToString() == second.SerializeToString()


def _foreign_lstm_graph(path, W, R, Bias, direction):
    """An LSTM graph built by hand in ONNX's own layout (i, o, f, c), as another tool would write it."""
    h = onnx.helper
    H = R.shape[-1]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (Bias, "B"))]
    node = h.make_node("LSTM", ["X", "W", "R", "B"], ["Y"], name="encoder", hidden_size=H, direction=direction)
    dirs = W.shape[0]
    graph = h.make_graph(
        [node],
        "foreign",
        [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [T, B, D])],
        [h.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [T, dirs, B, H])],
        inits,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 14)], ir_version=8)
    onnx.save(model, path)


def test_import_reads_onnx_gate_order_iofc(x, tmp_path):
    """Trap: ONNX stores i, o, f, c. Reading it as i, f, c, o (rnnlab/Keras/PyTorch order) corrupts outputs."""
    rng = np.random.default_rng(12)
    H = 3
    W = rng.standard_normal((1, 4 * H, D)).astype(np.float32)
    R = rng.standard_normal((1, 4 * H, H)).astype(np.float32)
    Bias = rng.standard_normal((1, 8 * H)).astype(np.float32)  # Wb and Rb both non-zero
    _foreign_lstm_graph(tmp_path / "f.onnx", W, R, Bias, "forward")
    (Y,) = run_ort(tmp_path / "f.onnx", {"X": x.transpose(1, 0, 2).copy()})
    (layer,) = rox.load_recurrent(tmp_path / "f.onnx").values()
    np.testing.assert_allclose(layer(x), Y[:, 0].transpose(1, 0, 2), rtol=0, atol=TOL)

    # the gates the layer records are ONNX's, block by block: at step 0 (h = 0) z = x W^T + Wb + Rb
    rec = rl.probe.record(layer, x)[0]
    z = x[:, 0] @ W[0].T + Bias[0, : 4 * H] + Bias[0, 4 * H :]
    sigmoid = 1 / (1 + np.exp(-z))
    for name, block in (("i", 0), ("o", 1), ("f", 2)):
        np.testing.assert_allclose(rec[name][:, 0], sigmoid[:, block * H : (block + 1) * H], rtol=0, atol=TOL)
    np.testing.assert_allclose(rec["c_tilde"][:, 0], np.tanh(z[:, 3 * H :]), rtol=0, atol=TOL)

    # the misreading the test guards against really does change the output
    wrong = rl.LSTM(H, return_sequences=True).set_weights(W[0].T, R[0].T, Bias[0, : 4 * H] + Bias[0, 4 * H :])
    assert np.abs(wrong(x) - Y[:, 0].transpose(1, 0, 2)).max() > 1e-2


def test_import_bidirectional_foreign_graph(x, tmp_path):
    rng = np.random.default_rng(13)
    H = 2
    W = rng.standard_normal((2, 4 * H, D)).astype(np.float32)
    R = rng.standard_normal((2, 4 * H, H)).astype(np.float32)
    Bias = rng.standard_normal((2, 8 * H)).astype(np.float32)
    _foreign_lstm_graph(tmp_path / "bi.onnx", W, R, Bias, "bidirectional")
    (Y,) = run_ort(tmp_path / "bi.onnx", {"X": x.transpose(1, 0, 2).copy()})
    layer = rox.load_recurrent(tmp_path / "bi.onnx")["encoder"]
    want = Y.transpose(2, 0, 1, 3).reshape(B, T, 2 * H)  # [T, 2, B, H] -> (B, T, forward ‖ backward)
    np.testing.assert_allclose(layer(x), want, rtol=0, atol=TOL)


def test_reorder_blocks_round_trip():
    a = np.arange(8.0)
    onnx_order = common.reorder_blocks(a, common.ONNX_FROM_RNNLAB)  # i f c o -> i o f c
    np.testing.assert_array_equal(onnx_order, [0, 1, 6, 7, 2, 3, 4, 5])
    np.testing.assert_array_equal(common.reorder_blocks(onnx_order, common.RNNLAB_FROM_ONNX), a)


# ---- errors -------------------------------------------------------------------------------------------
class Unknown(rl.nn.Layer):
    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout


def test_unsupported_layers_and_options_are_named(x, tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="Unknown"):
        rox.export(rl.Stack([built(rl.LSTM(3, return_sequences=True), x), Unknown()]), path)
    with pytest.raises(ValueError, match="stateful"):
        rox.export(built(rl.LSTM(3, stateful=True), x), path)
    with pytest.raises(ValueError, match="merge_mode=None"):
        rox.export(built(rl.Bidirectional(rl.LSTM(3), merge_mode=None), x), path)
    with pytest.raises(ValueError, match="not built"):
        rox.export(rl.LSTM(3), path)
    with pytest.raises(ValueError, match="opset"):
        rox.export(built(rl.LSTM(3), x), path, opset=7)
    with pytest.raises(ValueError, match="mask_zero"):
        rox.export(rl.Sequential([rl.Embedding(5, 2, mask_zero=True), rl.LSTM(2)]).build((3,)), path, lengths=True)
    assert not path.exists()
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_failed_export_keeps_the_previous_file(x, tmp_path):
    path = tmp_path / "m.onnx"
    rox.export(built(rl.LSTM(3), x), path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        rox.export(built(rl.LSTM(3, stateful=True), x), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_malformed_onnx_files_give_clear_errors(x, tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not an onnx model at all \xff\xff")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        rox.load(garbage)
    good = tmp_path / "good.onnx"
    rox.export(built(rl.LSTM(3), x), good)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        rox.load_recurrent(truncated)
    with pytest.raises(FileNotFoundError):
        rox.load(tmp_path / "missing.onnx")


def test_tampered_rnnlab_metadata_gives_clear_errors(x, tmp_path):
    proto = rox.export(built(rl.LSTM(3, go_backwards=True), x), tmp_path / "m.onnx")
    for value, message in (
        ("{not json", "does not describe a model"),
        (proto.metadata_props[0].value.replace('"go_backwards": true', '"go_backwards": false'), "direction 'reverse'"),
    ):
        proto.metadata_props[0].value = value
        onnx.save(proto, tmp_path / "tampered.onnx")
        with pytest.raises(ValueError, match=message):
            rox.load(tmp_path / "tampered.onnx")


def test_foreign_graphs_give_clear_errors(tmp_path):
    h = onnx.helper
    H = 2
    rng = np.random.default_rng(14)
    W, R = rng.standard_normal((1, 4 * H, D)).astype(np.float32), rng.standard_normal((1, 4 * H, H)).astype(np.float32)

    def save(node, extra=(), y_shape=(T, 1, B, H)):
        inits = [onnx.numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), *extra)]
        graph = h.make_graph(
            [node],
            "g",
            [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [T, B, D])],
            [h.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, y_shape)],
            inits,
        )
        onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 14)], ir_version=8), tmp_path / "g.onnx")
        return tmp_path / "g.onnx"

    path = save(
        h.make_node("LSTM", ["X", "W", "R", "", "", "", "", "P"], ["Y"], name="peep", hidden_size=H),
        [(np.ones((1, 2 * H), np.float32), "P")],
    )
    with pytest.raises(ValueError, match=r"expected P of shape \(1, 6\)"):
        rox.load_recurrent(path)
    with pytest.raises(ValueError, match="clip"):
        rox.load_recurrent(save(h.make_node("LSTM", ["X", "W", "R"], ["Y"], name="c", hidden_size=H, clip=3.0)))
    with pytest.raises(ValueError, match="Elu"):
        rox.load_recurrent(
            save(
                h.make_node(
                    "LSTM", ["X", "W", "R"], ["Y"], name="s", hidden_size=H, activations=["Elu", "Tanh", "Tanh"]
                )
            )
        )
    with pytest.raises(ValueError, match=r"HardSigmoid\(alpha=0.2"):  # ONNX's default slope, Keras 2's form
        rox.load_recurrent(
            save(
                h.make_node(
                    "LSTM",
                    ["X", "W", "R"],
                    ["Y"],
                    name="k2",
                    hidden_size=H,
                    activations=["HardSigmoid", "Tanh", "Tanh"],
                )
            )
        )
    path = save(h.make_node("Relu", ["X"], ["Y"], name="r"), y_shape=(T, B, D))
    with pytest.raises(ValueError, match="no RNN, LSTM or GRU node.*Relu"):
        rox.load_recurrent(path)
    with pytest.raises(ValueError, match="not written by rnnlab"):
        rox.load(path)


def test_cli_export_writes_onnx_and_keras_weights(tmp_path, capsys):
    from rnnlab.cli import main

    model = rl.Sequential(
        [
            rl.Embedding(20, 6),
            rl.LSTM(5, return_sequences=True),
            rl.Bidirectional(rl.SimpleRNN(4)),
            rl.Dense(2, activation="softmax"),
        ],
        seed=1,
    )
    model.build((5,))
    model.save(tmp_path / "m.rnnlab")
    ids = np.array([[3, 4, 5, 0, 6], [1, 2, 3, 4, 5]])
    code = main(
        [
            "export",
            str(tmp_path / "m.rnnlab"),
            "--onnx",
            str(tmp_path / "m.onnx"),
            "--keras-weights",
            str(tmp_path / "m.weights.h5"),
        ]
    )
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    (got,) = run_ort(tmp_path / "m.onnx", {"ids": ids})
    np.testing.assert_allclose(got, model.predict(ids), rtol=0, atol=TOL)
    assert (tmp_path / "m.weights.h5").exists()
    assert main(["export", str(tmp_path / "m.rnnlab")]) == 1  # no output asked for
    assert "expected --onnx" in capsys.readouterr().err


def test_cli_export_of_a_masked_model_with_and_without_declared_padding(tmp_path, capsys):
    from rnnlab.cli import main

    model = rl.Sequential([rl.Embedding(20, 6, mask_zero=True), rl.LSTM(5), rl.Dense(2)], seed=1)
    model.build((5,))
    model.save(tmp_path / "m.rnnlab")
    out = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "m.rnnlab"), "--onnx", str(out)]) == 0  # a Scan: any mask
    ids = np.array([[0, 0, 3, 4, 5], [1, 2, 0, 4, 5]])  # left padding, a hole
    (got,) = run_ort(out, {"ids": ids})
    np.testing.assert_allclose(got, model.predict(ids), rtol=0, atol=TOL)
    assert main(["export", str(tmp_path / "m.rnnlab"), "--onnx", str(out), "--padding", "right"]) == 0
    assert "LSTM" in {node.op_type for node in onnx.load(out).graph.node}
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])  # right padding, as declared
    (got,) = run_ort(out, {"ids": ids})
    np.testing.assert_allclose(got, model.predict(ids), rtol=0, atol=TOL)
