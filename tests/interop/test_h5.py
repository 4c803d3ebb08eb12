"""Keras 3 .weights.h5 files read and written by rnnlab with h5py alone."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.interop import h5 as rh

h5py = pytest.importorskip("h5py")

TOL = 1e-5
IDS_SHAPE = (4, 7)


def rnnlab_model():
    """The rnnlab twin of keras_model() below: the same layers, in the same order."""
    return rl.Sequential(
        [
            rl.Embedding(20, 6, mask_zero=True),
            rl.LSTM(5, return_sequences=True),
            rl.Bidirectional(rl.SimpleRNN(4, return_sequences=True)),
            rl.LSTM(3, return_sequences=True, go_backwards=True),
            rl.Dropout(0.2),
            rl.Dense(2, activation="softmax"),
            rl.Dense(2, use_bias=False),
        ]
    )


def keras_model(keras):
    K = keras.layers
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int64"),
            K.Embedding(20, 6, mask_zero=True),
            K.LSTM(5, return_sequences=True),
            K.Bidirectional(K.SimpleRNN(4, return_sequences=True)),
            K.LSTM(3, return_sequences=True, go_backwards=True, zero_output_for_mask=True),
            K.Dropout(0.2),
            K.Dense(2, activation="softmax"),
            K.Dense(2, use_bias=False),
        ]
    )


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A .weights.h5 file written by Keras itself, with Keras' outputs on padded ids."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("keras")
    model = keras_model(keras)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial biases, so that a missing or misplaced bias shows
        layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
    ids = rng.integers(1, 20, size=IDS_SHAPE)
    ids[np.arange(IDS_SHAPE[1])[None, :] >= np.array([7, 3, 5, 1])[:, None]] = 0
    model.save_weights(folder / "model.weights.h5")
    np.savez(folder / "data.npz", ids=ids, y=keras.ops.convert_to_numpy(model(ids)))
    return folder, keras, model


def test_keras_file_loads_without_keras_and_writes_back(keras_files):
    """In a fresh interpreter where keras, torch and tensorflow cannot be imported."""
    folder, _, _ = keras_files
    script = textwrap.dedent(f"""
        import sys
        for blocked in ("keras", "torch", "tensorflow"):
            sys.modules[blocked] = None  # import raises ImportError
        import numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_h5 import rnnlab_model
        from rnnlab.interop import h5
        data = np.load({str(folder / "data.npz")!r}, allow_pickle=False)
        model = h5.load_weights(rnnlab_model(), {str(folder / "model.weights.h5")!r})
        y = model(data["ids"])
        h5.save_weights(model, {str(folder / "rnnlab.weights.h5")!r})
        np.save({str(folder / "rnnlab_y.npy")!r}, y)
        assert "keras" not in sys.modules or sys.modules["keras"] is None
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    data = np.load(folder / "data.npz", allow_pickle=False)
    np.testing.assert_allclose(np.load(folder / "rnnlab_y.npy"), data["y"], rtol=0, atol=TOL)
    # back: the same groups and the same arrays, bit for bit
    original, written = _contents(folder / "model.weights.h5"), _contents(folder / "rnnlab.weights.h5")
    assert sorted(original) == sorted(written)
    for key, value in original.items():
        if value is not None:
            assert written[key].dtype == value.dtype
            np.testing.assert_array_equal(written[key], value)


def test_keras_reads_what_rnnlab_writes(keras_files, tmp_path):
    _, keras, theirs = keras_files
    ours = rnnlab_model()
    ours.build((IDS_SHAPE[1],))
    rng = np.random.default_rng(1)
    for value in ours.params.values():
        value[...] = rng.standard_normal(value.shape) * 0.5
    rh.save_weights(ours, tmp_path / "ours.weights.h5")
    fresh = keras_model(keras)
    fresh.load_weights(tmp_path / "ours.weights.h5")
    ids = rng.integers(1, 20, size=IDS_SHAPE)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fresh(ids)), ours(ids), rtol=0, atol=TOL)


def _contents(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()] if isinstance(obj, h5py.Dataset) else None))
    return out


def test_read_weights_lists_every_array(keras_files):
    folder, _, _ = keras_files
    arrays = rh.read_weights(folder / "model.weights.h5")
    assert sorted(arrays) == [
        "bidirectional/backward_layer/cell",
        "bidirectional/forward_layer/cell",
        "dense",
        "dense_1",
        "embedding",
        "lstm/cell",
        "lstm_1/cell",
    ]
    assert [a.shape for a in arrays["lstm/cell"]] == [(6, 20), (5, 20), (20,)]
    assert [a.shape for a in arrays["dense_1"]] == [(2, 2)]


# ---- errors -------------------------------------------------------------------------------------------
def test_model_that_does_not_fit_the_file_is_named(keras_files):
    folder, _, _ = keras_files
    path = folder / "model.weights.h5"
    wrong_units = rl.Sequential([rl.Embedding(20, 6, mask_zero=True), rl.LSTM(7, return_sequences=True)])
    with pytest.raises(ValueError, match="layers/lstm/cell/vars"):
        rh.load_weights(wrong_units, path)
    too_few = rl.Sequential([rl.Embedding(20, 6, mask_zero=True), rl.LSTM(5, return_sequences=True)])
    with pytest.raises(ValueError, match="no layer for.*bidirectional"):
        rh.load_weights(too_few, path)
    too_many = rl.Sequential(rnnlab_model().layers + [rl.LSTM(2)])
    with pytest.raises(ValueError, match="lstm_2"):
        rh.load_weights(too_many, path)
    no_bias = rl.Sequential(rnnlab_model().layers[:-1] + [rl.Dense(2, use_bias=True)])
    with pytest.raises(ValueError, match="dense_1.*1 arrays"):
        rh.load_weights(no_bias, path)


def test_unsupported_layer_is_named(tmp_path):
    class Unknown(rl.nn.Layer):
        def forward(self, x, training=False):
            return x

        def backward(self, dout):
            return dout

    with pytest.raises(ValueError, match="Unknown"):
        rh.save_weights(rl.Stack([rl.LSTM(2), Unknown()]), tmp_path / "x.weights.h5")
    assert os.listdir(tmp_path) == []


def test_malformed_files_give_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"this is not HDF5" * 10)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        rh.load_weights(rl.LSTM(2), garbage)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a Keras 3 .weights.h5 file"):
        rh.read_weights(other)
    odd = tmp_path / "odd.weights.h5"
    with h5py.File(odd, "w") as f:
        f["layers/lstm/cell/vars/kernel"] = np.zeros((2, 8))
    with pytest.raises(ValueError, match="datasets named 0, 1"):
        rh.load_weights(rl.LSTM(2), odd)
    with pytest.raises(FileNotFoundError):
        rh.load_weights(rl.LSTM(2), tmp_path / "missing.weights.h5")


def test_single_layer_round_trip(tmp_path):
    layer = rl.Bidirectional(rl.LSTM(3, seed=2))
    x = np.random.default_rng(3).standard_normal((2, 4, 5)).astype(np.float32)
    want = layer(x)
    rh.save_weights(layer, tmp_path / "one.weights.h5")
    other = rh.load_weights(rl.Bidirectional(rl.LSTM(3, seed=9)), tmp_path / "one.weights.h5")
    np.testing.assert_array_equal(other(x), want)
