"""Layers without a bias (use_bias=False) through every converter: PyTorch's bias=False, Keras' use_bias=False
and its .weights.h5 files (all three cells, the GRU in both reset_after forms), ONNX without a B input."""

import os

import numpy as np
import pytest
from gradcheck_util import leaves

import rnnlab as rl
from rnnlab.interop import h5 as rh

os.environ.setdefault("KERAS_BACKEND", "torch")

TOL = 1e-5
B, T, D, H = 3, 6, 4, 5
# (rnnlab class, options, Keras class name)
CELLS = [
    (rl.SimpleRNN, {}, "SimpleRNN"),
    (rl.LSTM, {}, "LSTM"),
    (rl.GRU, {"reset_after": True}, "GRU"),
    (rl.GRU, {"reset_after": False}, "GRU"),
]
IDS = ["simple_rnn", "lstm", "gru", "gru_before"]


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((B, T, D)).astype(np.float32)


def built(layer, x):
    layer(x)
    rng = np.random.default_rng(1)
    for leaf in leaves(layer):
        for p in leaf.params.values():
            p[...] = 0.5 * rng.standard_normal(p.shape)
    return layer


# ---- PyTorch ------------------------------------------------------------------------------------------
def test_to_torch_follows_use_bias_and_refuses_a_mixed_stack(x):
    torch = pytest.importorskip("torch")
    from rnnlab.interop.torch import from_torch, to_torch

    model = built(rl.Stack([rl.LSTM(H, use_bias=False, return_sequences=True), rl.LSTM(H, use_bias=False)]), x)
    module = to_torch(model)
    assert isinstance(module, torch.nn.LSTM) and not module.bias
    out, _ = module(torch.tensor(x))
    np.testing.assert_allclose(out[:, -1].detach().numpy(), model(x), rtol=TOL, atol=TOL)
    back = from_torch(module)
    assert all(not leaf.use_bias and "b" not in leaf.params for leaf in leaves(back))

    mixed = built(rl.Stack([rl.GRU(H, use_bias=False, return_sequences=True), rl.GRU(H)]), x)
    with pytest.raises(ValueError, match="use_bias=False.*got use_bias=True at layer 1"):
        to_torch(mixed)
    module = to_torch(mixed, bias=True)  # zero biases for the layer without one: the same numbers
    assert module.bias and not module.bias_ih_l0.detach().numpy().any()
    out, _ = module(torch.tensor(x))
    np.testing.assert_allclose(out[:, -1].detach().numpy(), mixed(x), rtol=TOL, atol=TOL)


# ---- Keras ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, options, kind", CELLS, ids=IDS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_keras_both_ways(cls, options, kind, go_backwards, x):
    keras = pytest.importorskip("keras")
    from rnnlab.interop.keras import from_keras, to_keras

    mask = np.arange(T)[None, :] < np.array([6, 3, 1])[:, None]
    theirs = getattr(keras.layers, kind)(
        H, use_bias=False, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=True, **options
    )
    theirs(x)
    rng = np.random.default_rng(2)
    theirs.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in theirs.get_weights()])
    assert len(theirs.get_weights()) == 2
    want = keras.ops.convert_to_numpy(theirs(x, mask=mask))
    ours = from_keras(theirs)
    assert not ours.use_bias and sorted(ours.params) == ["U", "W"] and ours.count_params() == theirs.count_params()
    np.testing.assert_allclose(ours(x, mask=mask), want, rtol=TOL, atol=TOL)
    back = to_keras(ours)
    assert not back.use_bias and len(back.get_weights()) == 2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(x, mask=mask)), want, rtol=TOL, atol=TOL)


def keras_model(keras):
    K = keras.layers
    return keras.Sequential(
        [
            keras.Input((None, D)),
            K.SimpleRNN(4, use_bias=False, return_sequences=True),
            K.Bidirectional(K.LSTM(3, use_bias=False, return_sequences=True)),
            K.GRU(3, use_bias=False, return_sequences=True),
            K.GRU(2, use_bias=False, reset_after=False),
            K.Dense(1, use_bias=False),
        ]
    )


def rnnlab_model():
    return rl.Sequential(
        [
            rl.SimpleRNN(4, use_bias=False, return_sequences=True),
            rl.Bidirectional(rl.LSTM(3, use_bias=False, return_sequences=True)),
            rl.GRU(3, use_bias=False, return_sequences=True),
            rl.GRU(2, use_bias=False, reset_after=False),
            rl.Dense(1, use_bias=False),
        ]
    )


def test_weights_files_both_ways(x, tmp_path):
    keras = pytest.importorskip("keras")
    theirs = keras_model(keras)
    rng = np.random.default_rng(3)
    theirs.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in theirs.get_weights()])
    want = keras.ops.convert_to_numpy(theirs(x))
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours = rnnlab_model()
    ours.predict(x)
    rh.load_weights(ours, tmp_path / "keras.weights.h5")
    np.testing.assert_allclose(ours.predict(x), want, rtol=TOL, atol=TOL)
    assert ours.count_params() == theirs.count_params()
    rh.save_weights(ours, tmp_path / "rnnlab.weights.h5")
    again = keras_model(keras)
    again.load_weights(tmp_path / "rnnlab.weights.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(x)), want, rtol=TOL, atol=TOL)
    # a layer with a bias takes a file without one as a zero bias (Keras' numbers); the other way is refused
    biased = rl.Sequential([rl.GRU(3, reset_after=False)])
    unbiased = rl.Sequential([rl.GRU(3, reset_after=False, use_bias=False)])
    for model in (biased, unbiased):
        model.predict(x)
    rh.save_weights(unbiased, tmp_path / "unbiased.weights.h5")
    rh.load_weights(biased, tmp_path / "unbiased.weights.h5")
    assert not biased.layers[0].params["b"].any()
    np.testing.assert_array_equal(biased.predict(x), unbiased.predict(x))
    rh.save_weights(biased, tmp_path / "biased.weights.h5")
    with pytest.raises(ValueError, match=r"holds 3 arrays, layer 'gru' expects 2 \(W, U\)"):
        rh.load_weights(unbiased, tmp_path / "biased.weights.h5")


# ---- ONNX -----------------------------------------------------------------------------------------------
def onnx_node(proto):
    (node,) = [n for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU")]
    return node


@pytest.mark.parametrize("cls, options, kind", CELLS, ids=IDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_onnx_export_without_b_runs_in_onnxruntime_and_loads_back(cls, options, kind, bidirectional, x, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.interop import onnx as rox

    layer = cls(H, use_bias=False, return_sequences=True, **options)
    layer = built(rl.Bidirectional(layer) if bidirectional else layer, x)
    lengths = np.array([6, 2, 0], np.int32)
    proto = rox.export(layer, tmp_path / "m.onnx", lengths=True)
    node = onnx_node(proto)
    assert len(node.input) < 4 or node.input[3] == ""  # no B input
    session = ort.InferenceSession(os.fspath(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x, "sequence_lens": lengths})
    mask = np.arange(T)[None, :] < lengths[:, None]
    np.testing.assert_allclose(got, layer(x, mask=mask), rtol=0, atol=TOL)
    back = rox.load(tmp_path / "m.onnx")
    assert all(not leaf.use_bias for leaf in leaves(back))
    np.testing.assert_array_equal(back(x, mask=mask), layer(x, mask=mask))
    imported = next(iter(rox.load_recurrent(tmp_path / "m.onnx").values()))  # a node without B
    assert all(not leaf.use_bias and "b" not in leaf.params for leaf in leaves(imported))
    np.testing.assert_array_equal(imported(x, mask=mask), layer(x, mask=mask))


def test_onnx_bidirectional_with_one_biased_direction(x, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.interop import onnx as rox

    layer = built(rl.Bidirectional(rl.LSTM(H, use_bias=False), backward_layer=rl.LSTM(H, go_backwards=True)), x)
    proto = rox.export(layer, tmp_path / "m.onnx")
    assert onnx_node(proto).input[3]  # B, zero for the forward direction
    session = ort.InferenceSession(os.fspath(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": x})[0], layer(x), rtol=0, atol=TOL)
    back = rox.load(tmp_path / "m.onnx")
    assert [leaf.use_bias for leaf in leaves(back)] == [False, True]
    np.testing.assert_array_equal(back(x), layer(x))
