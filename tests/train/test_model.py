"""Sequential end to end: learning, gradients, masks, determinism, callbacks, bad input."""

import os

import numpy as np
import pytest
from gradcheck_util import check
from threadpoolctl import threadpool_limits

import rnnlab as rl

CB = rl.callbacks


@pytest.fixture(autouse=True)
def one_blas_thread():
    # two OpenBLAS threads stall the reference kernel's small products on 2 cores
    with threadpool_limits(1, user_api="blas"):
        yield


def adding_problem(n, T, rng):
    """Hochreiter & Schmidhuber's adding problem: channel 0 values in U[0, 1], channel 1 marks
    one step in each half; the target is the sum of the two marked values."""
    x = np.zeros((n, T, 2), dtype=np.float32)
    x[:, :, 0] = rng.uniform(0.0, 1.0, (n, T))
    rows = np.arange(n)
    first, second = rng.integers(0, T // 2, n), rng.integers(T // 2, T, n)
    x[rows, first, 1] = x[rows, second, 1] = 1.0
    return x, (x[rows, first, 0] + x[rows, second, 0])[:, None]


def test_lstm_learns_the_adding_problem():
    rng = np.random.default_rng(0)
    X, y = adding_problem(3000, 10, rng)
    Xt, yt = adding_problem(1000, 10, rng)
    mean_predictor = float(((yt - y.mean()) ** 2).mean())  # ≈ 1/6: the variance of a sum of two U[0, 1]
    model = rl.Sequential([rl.LSTM(24), rl.Dense(1)], seed=0)
    model.compile("mse", rl.optim.Adam(1e-2))
    model.fit(X, y, epochs=5, batch_size=32, seed=0, verbose=0)
    mse = model.evaluate(Xt, yt)["loss"]
    assert 0.15 < mean_predictor < 0.18
    assert mse < 0.0167, (mse, mean_predictor)


def _per_step_model(dtype="float64"):
    return rl.Sequential(
        [
            rl.Embedding(6, 3, mask_zero=True, dtype=dtype),
            rl.LSTM(2, return_sequences=True, dtype=dtype),
            rl.Dense(4, dtype=dtype),
        ],
        seed=1,
    )


def _randomize(model, rng):
    for p in model.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)


def _gradcheck_model(model, x, y, weight_fn):
    def f():
        out = model(x)
        return model.loss(out, y, weight_fn(out))[0]

    out = model(x)
    _, dout = model.loss(out, y, weight_fn(out))
    model.backward(dout)
    grads = model.grads
    check(f, [(k, p, grads[k]) for k, p in model.params.items()])


def test_sequential_gradients_with_mask_and_per_step_loss():
    rng = np.random.default_rng(2)
    model = _per_step_model().compile("sparse_categorical_crossentropy")
    ids = np.array([[1, 5, 2, 0, 0], [3, 3, 1, 4, 2], [2, 0, 0, 0, 0]])
    labels = rng.integers(0, 4, size=(3, 5, 1))
    model(ids)
    _randomize(model, rng)
    _gradcheck_model(model, ids, labels, lambda out: model.position_weights(out, None))
    assert model.output_mask is not None and model.output_mask.sum() == 9


def test_sequential_gradients_bidirectional_dense_mse():
    rng = np.random.default_rng(3)
    model = rl.Sequential(
        [
            rl.Bidirectional(rl.SimpleRNN(2, dtype="float64", return_sequences=True)),
            rl.Dense(3, activation="tanh", dtype="float64"),
            rl.LSTM(2, dtype="float64"),
            rl.Dense(1, dtype="float64"),
        ],
        seed=0,
    ).compile("mse")
    x, y = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 1))
    model(x)
    _randomize(model, rng)
    _gradcheck_model(model, x, y, lambda out: None)


def test_padding_targets_do_not_matter():
    rng = np.random.default_rng(4)
    model = _per_step_model("float32").compile("sparse_categorical_crossentropy", metrics=["accuracy"])
    ids = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    y = rng.integers(0, 4, size=(2, 4))
    y2 = y.copy()
    y2[ids == 0] = (y[ids == 0] + 1) % 4
    assert model.evaluate(ids, y) == model.evaluate(ids, y2)


def _small_data(rng, n=64):
    return rng.standard_normal((n, 5, 3)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32)


def _model(seed=0):
    return rl.Sequential(
        [rl.LSTM(4, dropout=0.2, recurrent_dropout=0.2), rl.Dropout(0.1), rl.Dense(1)], seed=seed
    ).compile("mse", rl.optim.Adam(1e-2), metrics=["mae"])


def test_same_seed_same_weights_batches_and_history():
    X, y = _small_data(np.random.default_rng(5))
    runs = []
    for _ in range(2):
        m = _model()
        h = m.fit(X, y, epochs=3, batch_size=16, seed=7, validation_split=0.25, verbose=0)
        runs.append((h.history, m.get_weights()))
    assert runs[0][0] == runs[1][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][k], runs[1][1][k])
    other = _model().fit(X, y, epochs=3, batch_size=16, seed=8, validation_split=0.25, verbose=0)
    assert other.history["loss"] != runs[0][0]["loss"]


def test_predict_in_batches_and_evaluate():
    X, y = _small_data(np.random.default_rng(6), n=10)
    m = _model()
    np.testing.assert_allclose(m.predict(X, batch_size=3), m(X), rtol=1e-6)
    logs = m.evaluate(X, y, batch_size=4)
    assert set(logs) == {"loss", "mae"}
    assert logs["loss"] == pytest.approx(float(((m(X) - y) ** 2).mean()), rel=1e-5)


def test_summary_lists_shapes_and_counts():
    m = rl.Sequential([rl.LSTM(4, return_sequences=True), rl.Dense(2)])
    assert "not built" in m.summary(print_fn=None)
    m.build((7, 2))
    text = m.summary(print_fn=None)
    assert "(None, 7, 4)" in text and "(None, 7, 2)" in text
    assert "112" in text and "Total params: 122" in text  # 4·4·(2 + 4 + 1), then 4·2 + 2


def test_verbose_modes(capsys):
    X, y = _small_data(np.random.default_rng(7), n=8)
    _model().fit(X, y, epochs=2, verbose=1)  # standard output is not a terminal under pytest
    assert capsys.readouterr().out == ""
    _model().fit(X, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2") and "loss=" in lines[1]


def test_early_stopping_restores_best_weights():
    rng = np.random.default_rng(8)
    X, y = _small_data(rng)
    Xv, yv = _small_data(rng, 16)
    seen = []

    class Record(CB.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_weights())

    m = rl.Sequential([rl.LSTM(4), rl.Dense(1)], seed=0).compile("mse", rl.optim.SGD(0.5, momentum=0.9))
    stop = CB.EarlyStopping(patience=2, restore_best_weights=True)
    h = m.fit(X, y, epochs=30, batch_size=8, validation_data=(Xv, yv), callbacks=[Record(), stop], verbose=0)
    assert len(h.epoch) < 30  # random targets: the validation loss stops improving
    best = int(np.argmin(h.history["val_loss"]))
    assert stop.best_epoch == best and len(h.epoch) == best + 3
    for k, v in m.get_weights().items():
        np.testing.assert_array_equal(v, seen[best][k])


def _exploding_model(T):
    """A relu SimpleRNN whose recurrent matrix is 3·I: h grows like 3^t, past float32 after ~80 steps."""
    m = rl.Sequential([rl.SimpleRNN(3, activation="relu", recurrent_initializer="identity"), rl.Dense(1)], seed=0)
    m.build((T, 1))
    m.params["0.U"][...] *= 3
    m.params["0.W"][...] = np.abs(m.params["0.W"]) + 0.1
    return m.compile("mse", rl.optim.SGD(1e-3))


def test_non_finite_guard_names_step_loss_and_parameter():
    # T = 44: h ≈ 3^44 ≈ 1e21 is finite, the squared error and BPTT's 3^44 growth are not
    X, y = np.ones((8, 44, 1), dtype=np.float32), np.zeros((8, 1), dtype=np.float32)
    m = _exploding_model(44)
    before = m.get_weights()
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.warns(
            RuntimeWarning,
            match=r"step 0 \(epoch 1\): loss inf, largest gradient norm "
            r"(inf|nan) in parameter '0\.[WUb]'",
        ),
    ):
        h = m.fit(X, y, epochs=3, batch_size=8, callbacks=[CB.TerminateOnNaN()], verbose=0)
    assert h.epoch == [] and "step 0" in h.stop_reason
    for k, v in m.get_weights().items():  # the bad update was never applied
        np.testing.assert_array_equal(v, before[k])


def test_non_finite_activation_is_named():
    X, y = np.ones((8, 10, 1), dtype=np.float32), np.zeros((8, 1), dtype=np.float32)

    class Blowup(CB.Callback):  # after two updates every U entry jumps to 1e5: h ≈ 1e50 overflows float32
        def on_train_batch_end(self, step, logs=None):
            if step == 1:
                for key, value in (("0.U", 1e5), ("0.W", 1.0), ("0.b", 0.0)):
                    self.model.params[key][...] = value

    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(
            CB.NonFiniteError,
            match=r"step 2 \(epoch 1\): loss nan, layer 0 \(simplernn\) gave "
            r"\d+ NaN or Inf value\(s\); largest gradient norm at the step "
            r"before: \S+ in parameter '\d\.[WUb]'",
        ):
            _exploding_model(10).fit(
                X, y, batch_size=2, callbacks=[Blowup(), CB.TerminateOnNaN(raise_error=True)], shuffle=False, verbose=0
            )
        with pytest.raises(CB.NonFiniteError, match=r"step 2 \(epoch 1\): layer 0"):  # no guard: still an error
            _exploding_model(10).fit(X, y, batch_size=2, callbacks=[Blowup()], shuffle=False, verbose=0)


def test_csv_logger_and_checkpoint_pattern(tmp_path):
    X, y = _small_data(np.random.default_rng(9), n=16)
    m = _model()
    h = m.fit(
        X,
        y,
        epochs=3,
        batch_size=8,
        validation_split=0.25,
        verbose=0,
        callbacks=[
            CB.CSVLogger(tmp_path / "log.csv"),
            CB.ModelCheckpoint(str(tmp_path / "c{epoch:02d}.rnnlab"), monitor="loss"),
        ],
    )
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,mae,val_loss,val_mae"
    assert [float(r.split(",")[3]) for r in rows[1:]] == h.history["val_loss"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c01.rnnlab", "c02.rnnlab", "c03.rnnlab", "log.csv"]


def _classifier():
    m = rl.Sequential([rl.LSTM(3), rl.Dense(4)], seed=0).compile("sparse_categorical_crossentropy")
    m.build((5, 2))
    return m


X_OK = np.zeros((6, 5, 2), dtype=np.float32)
Y_OK = np.array([0, 1, 2, 3, 0, 1])
BAD_FIT = {
    "lengths differ": (dict(x=X_OK, y=Y_OK[:5]), "same number of samples"),
    "feature size": (dict(x=np.zeros((6, 5, 3), np.float32)), r"X of shape \(samples, time, 2\)"),
    "label out of range": (dict(y=np.array([0, 1, 2, 4, 0, 1])), r"labels y in \[0, 4\)"),
    "empty": (dict(x=X_OK[:0], y=Y_OK[:0]), "at least one sample"),
    "batch_size 0": (dict(batch_size=0), "batch_size expected a positive integer"),
    "NaN in X": (dict(x=np.full((6, 5, 2), np.nan, np.float32)), "finite"),
    "validation shape": (dict(validation_data=(X_OK[:, :, :1], Y_OK)), "X of shape"),
    "validation split": (dict(validation_split=1.0), "validation_split"),
}


@pytest.mark.parametrize("case", list(BAD_FIT))
def test_bad_fit_input_raises_and_writes_nothing(case, tmp_path):
    args, message = BAD_FIT[case]
    m = _classifier()
    before = m.get_weights()
    callbacks = [CB.ModelCheckpoint(tmp_path / "ckpt.rnnlab"), CB.CSVLogger(tmp_path / "log.csv")]
    with pytest.raises(ValueError, match=message):
        m.fit(
            args.get("x", X_OK),
            args.get("y", Y_OK),
            epochs=2,
            batch_size=args.get("batch_size", 2),
            validation_data=args.get("validation_data"),
            validation_split=args.get("validation_split", 0.0),
            callbacks=callbacks,
            verbose=0,
        )
    assert os.listdir(tmp_path) == []
    for k, v in m.get_weights().items():
        np.testing.assert_array_equal(v, before[k])


def test_bad_resume_file_writes_nothing(tmp_path):
    (tmp_path / "bad.rnnlab").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a valid rnnlab file"):
        _classifier().fit(
            X_OK, Y_OK, resume_from=tmp_path / "bad.rnnlab", verbose=0, callbacks=[CB.CSVLogger(tmp_path / "log.csv")]
        )
    assert os.listdir(tmp_path) == ["bad.rnnlab"]


def test_bad_predict_and_evaluate_input():
    m = _classifier()
    with pytest.raises(ValueError, match="X of shape"):
        m.predict(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="at least one sample"):
        m.predict(X_OK[:0])
    with pytest.raises(ValueError, match="batch_size"):
        m.predict(X_OK, batch_size=0)
    with pytest.raises(ValueError, match="same number of samples"):
        m.evaluate(X_OK, Y_OK[:3])
    with pytest.raises(ValueError, match=r"labels y in \[0, 4\)"):
        m.evaluate(X_OK, Y_OK + 1)


def test_unknown_loss_and_uncompiled_model():
    m = rl.Sequential([rl.Dense(1)])
    with pytest.raises(ValueError, match="loss expected one of"):
        m.compile(loss="cross_entropy")
    with pytest.raises(ValueError, match="compile"):
        m.fit(np.zeros((2, 3), np.float32), np.zeros((2, 1)), verbose=0)
    with pytest.raises(ValueError, match="metric 'mse'"):
        m.compile("sparse_categorical_crossentropy", metrics=["mse"])


def test_bad_callback_paths_fail_before_training(tmp_path):
    for callback, message in (
        (CB.ModelCheckpoint(str(tmp_path / "c-{step}.rnnlab")), "fields"),
        (CB.CSVLogger(tmp_path / "missing" / "log.csv"), "existing folder"),
        (CB.EarlyStopping(monitor="val_loss"), "monitor"),
    ):
        m = _classifier()
        with pytest.raises(ValueError, match=message):
            m.fit(X_OK, Y_OK, epochs=2, callbacks=[CB.CSVLogger(tmp_path / "log.csv"), callback], verbose=0)
        assert os.listdir(tmp_path) == [] and m.history.epoch == []


def test_progress_bar_on_a_terminal(capsys, monkeypatch):
    X, y = _small_data(np.random.default_rng(10), n=8)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    _model().fit(X, y, epochs=2, batch_size=4, verbose=1)
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "2/2" in out and "loss=" in out


def test_stateful_model_carries_state_between_batches_and_checks_do_not_disturb_it():
    rng = np.random.default_rng(11)
    X, y = _small_data(rng, n=8)
    m = rl.Sequential([rl.LSTM(3, stateful=True), rl.Dense(1)], seed=0).compile("mse")
    first = m.predict(X[:4], batch_size=4)
    carried = m.predict(X[:4], batch_size=4)  # starts from the state the first call left
    assert not np.array_equal(first, carried)
    before = m.layers[0]._carry
    m.evaluate(X[4:], y[4:], batch_size=4)  # its shape check runs on one sample without the carry
    m.reset_state()
    np.testing.assert_array_equal(m.predict(X[:4], batch_size=4), first)
    assert before is not None


def test_sequential_gradients_equal_torch():
    """Embedding → LSTM → Dense with a masked per-step cross-entropy, against the same network in torch."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(12)
    model = _per_step_model().compile("sparse_categorical_crossentropy")
    ids = np.array([[1, 5, 2, 0, 0], [3, 3, 1, 4, 2], [2, 0, 0, 0, 0]])  # right padding
    labels = rng.integers(0, 4, size=(3, 5))
    model(ids)
    _randomize(model, rng)
    out = model(ids)
    loss, dout = model.loss(out, labels[..., None], model.position_weights(out, None))
    model.backward(dout)

    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    x = p["0.E"][torch.from_numpy(ids)]
    lstm = torch.nn.LSTM(3, 2, batch_first=True, dtype=torch.float64)
    # torch keeps W_ih (4H, D) and W_hh (4H, H) with the same gate order i, f, g, o, and two biases
    weights = {
        "weight_ih_l0": p["1.W"].T,
        "weight_hh_l0": p["1.U"].T,
        "bias_ih_l0": p["1.b"],
        "bias_hh_l0": torch.zeros(8, dtype=torch.float64),
    }
    h, _ = torch.func.functional_call(lstm, weights, (x,))
    logits = h @ p["2.W"] + p["2.b"]
    mask = torch.from_numpy(ids != 0).double()
    ce = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 4), torch.from_numpy(labels).reshape(-1), reduction="none"
    ).reshape(3, 5)
    ref = (ce * mask).sum() / mask.sum()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for k, t in p.items():
        np.testing.assert_allclose(model.grads[k], t.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)
