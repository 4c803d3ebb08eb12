"""Masking: padded float steps marked by a value reach the recurrent layers and the loss as a mask."""

import numpy as np
import pytest

import rnnlab as rl

LENGTHS = np.array([7, 3, 5, 1])


def padded(seed=0, value=0.0, lengths=LENGTHS, features=3):
    """Right-padded float sequences (4, 7, features): steps past each length hold `value`."""
    x = np.random.default_rng(seed).normal(size=(len(lengths), 7, features))
    x[np.arange(7)[None, :] >= lengths[:, None]] = value
    return x


def test_forward_zeroes_padding_and_backward_lets_nothing_through_it():
    layer = rl.Masking(-1.0, dtype="float64")
    x = padded(value=-1.0)
    x[0, 2] = [-1.0, 5.0, -1.0]  # one feature differs: a real step
    y = layer(x)
    real = np.arange(7)[None, :] < LENGTHS[:, None]
    np.testing.assert_array_equal(layer.compute_mask(x), real)
    np.testing.assert_array_equal(y[real], x[real])
    assert not y[~real].any()
    dout = np.random.default_rng(1).normal(size=y.shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx[real], dout[real])
    assert not dx[~real].any()


@pytest.mark.parametrize("cell", [rl.LSTM, rl.SimpleRNN])
def test_sequential_equals_each_sequence_run_alone(cell):
    x = padded(2)
    model = rl.Sequential(
        [rl.Masking(dtype="float64"), cell(5, seed=3, dtype="float64"), rl.Dense(2, seed=4, dtype="float64")]
    )
    out = model(x)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(out[b], model(x[b : b + 1, :n])[0], rtol=0, atol=1e-12)


def test_the_loss_skips_padded_steps_and_fit_learns():
    x = padded(5, features=2)
    y = np.cumsum(x[:, :, :1], axis=1)  # running sum: per-step targets
    y[np.arange(7)[None, :] >= LENGTHS[:, None]] = 1e3  # targets at padded steps must not count
    model = rl.Sequential([rl.Masking(), rl.LSTM(8, return_sequences=True), rl.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=rl.optim.Adam(1e-2))
    np.testing.assert_array_equal(model(x).shape, (4, 7, 1))
    assert model.output_mask is not None
    history = model.fit(x, y, epochs=30, batch_size=4, verbose=0, seed=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0] and losses[0] < 100  # 1e3 at a padded step would dominate


def test_a_finite_value_and_ids_only_where_ids_arrive():
    rl.Sequential([rl.LSTM(2, return_sequences=True), rl.Masking()])  # anywhere, as Keras
    with pytest.raises(
        ValueError,
        match=r"Embedding \(position 1\) to receive integer ids, but layer 0 "
        r"\(LSTM\) gives floats",
    ):
        rl.Sequential([rl.LSTM(2, return_sequences=True), rl.Embedding(5, 2)])
    for bad in (float("nan"), "0", True, None):
        with pytest.raises(ValueError, match="mask_value"):
            rl.Masking(bad)
    with pytest.raises(ValueError, match=r"Masking expected input \(batch, time, features\)"):
        rl.Masking()(np.zeros((2, 3)))


def test_save_and_load(tmp_path):
    x = padded(6)
    model = rl.Sequential([rl.Masking(0.0), rl.LSTM(4), rl.Dense(1)], seed=2)
    want = model.predict(x)
    model.save(tmp_path / "m.rnnlab")
    same = rl.load(tmp_path / "m.rnnlab")
    assert isinstance(same.layers[0], rl.Masking)
    np.testing.assert_array_equal(same.predict(x), want)


def test_keras_both_directions():
    keras = pytest.importorskip("keras")
    from rnnlab.interop.keras import from_keras, to_keras

    x = padded(7).astype(np.float32)
    ours = rl.Sequential([rl.Masking(), rl.LSTM(5, seed=1), rl.Dense(2, seed=2)])
    want = ours(x)
    theirs = to_keras(ours)
    assert isinstance(theirs.layers[0], keras.layers.Masking)
    np.testing.assert_allclose(np.asarray(theirs(x).detach()), want, rtol=0, atol=1e-5)
    back = from_keras(theirs)
    assert isinstance(back.layers[0], rl.Masking)
    np.testing.assert_array_equal(back(x), want)


def test_onnx_counts_the_lengths_from_the_input(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.interop import onnx as rox

    x = padded(8).astype(np.float32)
    model = rl.Sequential(
        [
            rl.Masking(),
            rl.LSTM(5, return_sequences=True, seed=1),
            rl.Bidirectional(rl.SimpleRNN(3, seed=2), merge_mode="sum"),
        ]
    )
    want = model(x)
    rox.export(model, tmp_path / "m.onnx", padding="right")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    back = rox.load(tmp_path / "m.onnx")
    assert isinstance(back.layers[0], rl.Masking)
    np.testing.assert_allclose(back(x), want, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="lengths=False"):
        rox.export(model, tmp_path / "n.onnx", lengths=True)
