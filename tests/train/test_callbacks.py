"""Callbacks (rnnlab.train.callbacks): History, EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN.

Most tests drive a callback by hand against a small stand-in model, so the
logs and the epochs it sees are exactly those written in the test; a few run a
real Sequential.fit to check the wiring (stopping, restoring, checkpoint order,
resume).
"""

import json
import math
import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import rnnlab as rl
from rnnlab.io import archive

CB = rl.callbacks


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread(reference_kernels):
    with threadpool_limits(1, user_api="blas"):
        yield


class StubModel:
    """What the callbacks touch on a model: train_state, history, weights, stop flags, checkpoints."""

    def __init__(self, log_names=("loss", "val_loss")):
        self.train_state = SimpleNamespace(log_names=list(log_names), epoch=0)
        self.history = CB.History()
        self.stop_training = self.skip_update = False
        self.weights = {"w": np.array([0.0, 0.0])}
        self.saved = []

    def get_weights(self):
        return {k: v.copy() for k, v in self.weights.items()}

    def set_weights(self, weights):
        self.weights = {k: np.array(v) for k, v in weights.items()}

    def save_checkpoint(self, path):
        self.saved.append(path)


def attach(callback, model=None):
    model = model or StubModel()
    callback.set_model(model)
    callback.on_train_begin()
    return model


def drive(callback, model, values, key="val_loss"):
    """on_epoch_end for epochs 0, 1, ... with logs {key: value}, as fit does (weights set to the epoch's number);
    stops when the model asks to. Returns the epochs run."""
    run = []
    for epoch, value in enumerate(values):
        model.weights = {"w": np.array([float(epoch), -float(epoch)])}
        model.history.record(epoch, {key: value})
        callback.on_epoch_end(epoch, {key: value})
        run.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return run


def tiny_model(seed=0):
    m = rl.Sequential([rl.SimpleRNN(3), rl.Dense(1)], seed=seed)
    return m.compile("mse", rl.optim.SGD(0.05))


def tiny_data(n=12, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4, 2)).astype(np.float32)
    return X, rng.standard_normal((n, 1)).astype(np.float32)


# ---- Callback and History ----------------------------------------------------------------


def test_base_callback_has_no_state_and_writes_no_checkpoint():
    cb = CB.Callback()
    assert cb.get_state() == ({}, {})
    assert cb.writes_checkpoint is False
    assert CB.ModelCheckpoint("x.rnnlab").writes_checkpoint is True
    assert CB.EarlyStopping().writes_checkpoint is False and CB.CSVLogger("x.csv").writes_checkpoint is False


def test_history_records_one_value_per_epoch_and_key():
    h = CB.History()
    h.record(0, {"loss": 2, "val_loss": np.float32(1.5)})
    h.record(np.int64(1), {"loss": 1.25, "val_loss": 1.0})
    assert h.epoch == [0, 1] and type(h.epoch[1]) is int
    assert h["loss"] == [2.0, 1.25] and h["val_loss"] == [1.5, 1.0]
    assert all(type(v) is float for v in h["loss"] + h["val_loss"])
    assert h.stop_reason is None
    with pytest.raises(KeyError):
        h["accuracy"]


def test_history_dict_round_trip_through_json():
    h = CB.History()
    for e, (a, b) in enumerate([(3.0, 0.5), (2.0, 0.25)]):
        h.record(e, {"loss": a, "mae": b})
    d = json.loads(json.dumps(h.to_dict()))
    assert d == {"epoch": [0, 1], "history": {"loss": [3.0, 2.0], "mae": [0.5, 0.25]}}
    again = CB.History.from_dict(d)
    assert again.epoch == h.epoch and again.history == h.history
    again.record(2, {"loss": 1.0, "mae": 0.1})  # a copy, not a view of h
    assert h.epoch == [0, 1] and len(h["loss"]) == 2


@pytest.mark.parametrize(
    "d,message",
    [
        ({"history": {}}, "history expected"),
        ({"epoch": [0]}, "history expected"),
        ({"epoch": ["a"], "history": {}}, "history expected"),
        ({"epoch": [0], "history": {"loss": ["x"]}}, "history expected"),
        ({"epoch": [0], "history": [1.0]}, "history expected"),
        ([0, 1], "history expected"),
        ({"epoch": [0, 1], "history": {"loss": [1.0]}}, "one value per epoch"),
    ],
)
def test_history_from_bad_dict(d, message):
    with pytest.raises(ValueError, match=message):
        CB.History.from_dict(d)


# ---- EarlyStopping -----------------------------------------------------------------------


def test_early_stopping_patience_counts_epochs_without_improvement():
    stop = CB.EarlyStopping(patience=2)
    m = attach(stop)
    run = drive(stop, m, [1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    # best 0.8 at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3
    assert run == [0, 1, 2, 3]
    assert (stop.best, stop.best_epoch, stop.wait, stop.stopped_epoch) == (0.8, 1, 2, 3)
    assert m.stop_training is True


def test_early_stopping_patience_zero_stops_at_the_first_epoch_without_improvement():
    stop = CB.EarlyStopping(patience=0)
    m = attach(stop)
    assert drive(stop, m, [1.0, 0.9, 0.9, 0.1]) == [0, 1, 2]
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (0.9, 1, 2)


def test_early_stopping_an_improvement_resets_the_wait():
    stop = CB.EarlyStopping(patience=2)
    m = attach(stop)
    assert drive(stop, m, [1.0, 1.1, 0.9, 1.2, 0.8, 0.85, 0.81, 0.79]) == [0, 1, 2, 3, 4, 5, 6]
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (0.8, 4, 6)


def test_early_stopping_never_stops_while_improving():
    stop = CB.EarlyStopping(patience=0)
    m = attach(stop)
    assert drive(stop, m, [5.0, 4.0, 3.0, 2.0]) == [0, 1, 2, 3]
    assert stop.stopped_epoch is None and m.stop_training is False and stop.best_epoch == 3


@pytest.mark.parametrize("min_delta", [0.1, -0.1])  # the sign is ignored, as in Keras
def test_early_stopping_min_delta_is_the_smallest_improvement_that_counts(min_delta):
    stop = CB.EarlyStopping(patience=2, min_delta=min_delta)
    m = attach(stop)
    # 0.95 is within 0.1 of 1.0 (wait 1); 0.89 is not: it improves; 0.85 and 0.82 are within 0.1 of 0.89
    assert drive(stop, m, [1.0, 0.95, 0.89, 0.85, 0.82, 0.1]) == [0, 1, 2, 3, 4]
    assert stop.min_delta == 0.1 and (stop.best, stop.best_epoch, stop.stopped_epoch) == (0.89, 2, 4)


def test_early_stopping_auto_mode_maximises_accuracies():
    stop = CB.EarlyStopping(monitor="val_accuracy", patience=1)
    assert stop.mode == "max"
    m = attach(stop, StubModel(("loss", "accuracy", "val_loss", "val_accuracy")))
    assert drive(stop, m, [0.5, 0.7, 0.6, 0.9], key="val_accuracy") == [0, 1, 2]
    assert (stop.best, stop.best_epoch) == (0.7, 1)
    assert CB.EarlyStopping(monitor="loss").mode == "min"
    assert CB.EarlyStopping(monitor="accuracy", mode="min").mode == "min"


def test_early_stopping_explicit_max_mode_on_a_loss_name():
    stop = CB.EarlyStopping(monitor="loss", mode="max", patience=0)
    m = attach(stop)
    assert drive(stop, m, [1.0, 2.0, 1.5], key="loss") == [0, 1, 2]
    assert (stop.best, stop.best_epoch) == (2.0, 1)


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_restore_best_weights_when_stopping_early(restore):
    stop = CB.EarlyStopping(patience=2, restore_best_weights=restore)
    m = attach(stop)
    drive(stop, m, [1.0, 0.5, 0.7, 0.8, 0.1])
    # the stub's weights at epoch e are [e, -e]; best epoch 1, stopped at 3
    expected = [1.0, -1.0] if restore else [3.0, -3.0]
    np.testing.assert_array_equal(m.weights["w"], expected)


def test_early_stopping_restores_the_best_weights_also_when_all_epochs_run():
    stop = CB.EarlyStopping(patience=10, restore_best_weights=True)
    m = attach(stop)
    assert drive(stop, m, [1.0, 0.2, 0.7, 0.8]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(m.weights["w"], [1.0, -1.0])


def test_early_stopping_keeps_a_copy_of_the_best_weights():
    stop = CB.EarlyStopping(patience=3, restore_best_weights=True)
    m = attach(stop)
    drive(stop, m, [1.0])
    m.weights["w"][...] = 99.0  # an in-place update after the best epoch
    stop.on_train_end()
    np.testing.assert_array_equal(m.weights["w"], [0.0, 0.0])


def test_early_stopping_state_round_trip():
    stop = CB.EarlyStopping(patience=3, restore_best_weights=True)
    m = attach(stop)
    drive(stop, m, [1.0, 0.5, 0.6, 0.7])  # best 0.5 at epoch 1, wait 2
    state, arrays = stop.get_state()
    assert state == {"best": 0.5, "wait": 2, "best_epoch": 1}
    assert list(arrays) == ["w"]
    np.testing.assert_array_equal(arrays["w"], [1.0, -1.0])
    state = json.loads(json.dumps(state))  # checkpoints keep the state as JSON

    again = CB.EarlyStopping(patience=3, restore_best_weights=True)
    m2 = attach(again)
    again.set_state(state, arrays)
    assert (again.best, again.wait, again.best_epoch) == (0.5, 2, 1)
    # one more epoch without improvement reaches patience 3, like the original would
    m2.weights = {"w": np.array([4.0, -4.0])}
    again.on_epoch_end(4, {"val_loss": 0.55})
    assert m2.stop_training and again.stopped_epoch == 4
    again.on_train_end()
    np.testing.assert_array_equal(m2.weights["w"], [1.0, -1.0])


def test_early_stopping_state_without_restore_has_no_arrays():
    stop = CB.EarlyStopping(patience=3)
    m = attach(stop)
    drive(stop, m, [1.0, 2.0])
    assert stop.get_state() == ({"best": 1.0, "wait": 1, "best_epoch": 0}, {})
    again = CB.EarlyStopping(patience=3)
    again.set_state({"best": 1.0, "wait": 1, "best_epoch": 0}, {})
    assert again.best_weights is None


def test_early_stopping_bad_mode_and_unknown_monitor():
    with pytest.raises(ValueError, match=r"mode expected 'auto', 'min' or 'max', got 'minimum'"):
        CB.EarlyStopping(mode="minimum")
    stop = CB.EarlyStopping(monitor="val_mae")
    stop.set_model(StubModel(("loss", "val_loss")))
    with pytest.raises(
        ValueError,
        match=r"EarlyStopping expected monitor among \['loss', 'val_loss'\], "
        r"got 'val_mae'",
    ):
        stop.on_train_begin()


def test_early_stopping_instance_can_be_reused_for_a_second_fit():
    X, y = tiny_data()
    Xv, yv = tiny_data(seed=2)
    stop = CB.EarlyStopping(patience=1, restore_best_weights=True)
    m = tiny_model()
    h1 = m.fit(X, y, epochs=2, batch_size=4, validation_data=(Xv, yv), callbacks=[stop], verbose=0, seed=0)
    # then the same model on targets 10 times larger: every validation loss is far above the first fit's
    h2 = m.fit(X, 10 * y, epochs=3, batch_size=4, validation_data=(Xv, 10 * yv), callbacks=[stop], verbose=0, seed=0)
    assert min(h2.history["val_loss"]) > 10 * max(h1.history["val_loss"])
    assert stop.best == min(h2.history["val_loss"])


# ---- ModelCheckpoint ---------------------------------------------------------------------


def test_model_checkpoint_writes_every_epoch_with_formatted_names(tmp_path):
    ckpt = CB.ModelCheckpoint(str(tmp_path / "c-{epoch:02d}-{val_loss:.2f}.rnnlab"))
    m = attach(ckpt)
    drive(ckpt, m, [1.0, 0.25, 3.5])
    assert m.saved == [str(tmp_path / name) for name in ("c-01-1.00.rnnlab", "c-02-0.25.rnnlab", "c-03-3.50.rnnlab")]


def test_model_checkpoint_save_best_only_writes_on_improvement(tmp_path):
    ckpt = CB.ModelCheckpoint(tmp_path / "best-{epoch}.rnnlab", save_best_only=True)
    m = attach(ckpt)
    drive(ckpt, m, [1.0, 1.0, 0.5, 0.7, 0.4])  # equal is not better
    assert [os.path.basename(p) for p in m.saved] == ["best-1.rnnlab", "best-3.rnnlab", "best-5.rnnlab"]
    assert ckpt.best == 0.4


def test_model_checkpoint_save_best_only_in_max_mode(tmp_path):
    ckpt = CB.ModelCheckpoint(tmp_path / "{epoch}.rnnlab", monitor="val_accuracy", save_best_only=True)
    assert ckpt.mode == "max"
    m = attach(ckpt, StubModel(("loss", "val_accuracy")))
    drive(ckpt, m, [0.5, 0.4, 0.6, 0.6], key="val_accuracy")
    assert [os.path.basename(p) for p in m.saved] == ["1.rnnlab", "3.rnnlab"]


def test_model_checkpoint_state_round_trip(tmp_path):
    ckpt = CB.ModelCheckpoint(tmp_path / "{epoch}.rnnlab", save_best_only=True)
    m = attach(ckpt)
    drive(ckpt, m, [1.0, 0.3])
    assert ckpt.get_state() == ({"best": 0.3}, {})
    again = CB.ModelCheckpoint(tmp_path / "{epoch}.rnnlab", save_best_only=True)
    m2 = attach(again)
    again.set_state(json.loads(json.dumps({"best": 0.3})), {})
    again.on_epoch_end(2, {"val_loss": 0.4})
    again.on_epoch_end(3, {"val_loss": 0.2})
    assert [os.path.basename(p) for p in m2.saved] == ["4.rnnlab"]


def test_model_checkpoint_checks_its_path_and_monitor_before_training(tmp_path):
    bad = [
        (CB.ModelCheckpoint(str(tmp_path / "c-{step}.rnnlab")), "fields among epoch and the logs"),
        (CB.ModelCheckpoint(str(tmp_path / "c-{0}.rnnlab")), "fields among epoch and the logs"),
        (CB.ModelCheckpoint(str(tmp_path / "c-{epoch:d}-{loss:d}.rnnlab")), "fields among epoch"),
        (CB.ModelCheckpoint(tmp_path / "missing" / "c.rnnlab"), "expected an existing folder"),
        (
            CB.ModelCheckpoint(tmp_path / "c.rnnlab", monitor="val_mae", save_best_only=True),
            r"ModelCheckpoint expected monitor among",
        ),
    ]
    for ckpt, message in bad:
        ckpt.set_model(StubModel())
        with pytest.raises(ValueError, match=message):
            ckpt.on_train_begin()
    ok = CB.ModelCheckpoint(tmp_path / "c.rnnlab", monitor="val_mae")  # monitor only matters with save_best_only
    ok.set_model(StubModel())
    ok.on_train_begin()
    with pytest.raises(ValueError, match="mode expected"):
        CB.ModelCheckpoint(tmp_path / "c.rnnlab", mode="best")


# ---- CSVLogger and the atomic write ------------------------------------------------------


def test_csv_logger_rewrites_the_file_from_the_history(tmp_path):
    path = tmp_path / "log.csv"
    log = CB.CSVLogger(path)
    m = attach(log, StubModel(("loss", "mae")))
    for epoch, (loss, mae) in enumerate([(1.5, 0.1), (0.75, 1 / 3)]):
        m.history.record(epoch, {"loss": loss, "mae": mae})
        log.on_epoch_end(epoch, {"loss": loss, "mae": mae})
        rows = path.read_text(encoding="utf-8").splitlines()
        assert len(rows) == epoch + 2
    assert rows == ["epoch,loss,mae", "0,1.5,0.1", "1,0.75,0.3333333333333333"]  # repr: every digit
    assert float(rows[2].split(",")[2]) == 1 / 3
    assert os.listdir(tmp_path) == ["log.csv"]  # no temporary file left


def test_csv_logger_separator_and_braces_in_the_name(tmp_path):
    path = tmp_path / "log{epoch}.tsv"  # braces are part of the name, never a pattern
    log = CB.CSVLogger(path, separator="\t")
    m = attach(log, StubModel(("loss",)))
    m.history.record(0, {"loss": 2.0})
    log.on_epoch_end(0, {"loss": 2.0})
    assert path.read_text(encoding="utf-8") == "epoch\tloss\n0\t2.0\n"


def test_csv_logger_after_a_resume_holds_the_restored_epochs(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n0,9.0\n1,8.0\n2,7.0\n", encoding="utf-8")  # a run that went further
    log = CB.CSVLogger(path)
    m = attach(log, StubModel(("loss",)))
    m.history = CB.History.from_dict({"epoch": [0], "history": {"loss": [9.0]}})  # the checkpoint knew one
    m.history.record(1, {"loss": 4.0})
    log.on_epoch_end(1, {"loss": 4.0})
    assert path.read_text(encoding="utf-8") == "epoch,loss\n0,9.0\n1,4.0\n"


def test_csv_logger_needs_an_existing_folder(tmp_path):
    log = CB.CSVLogger(tmp_path / "no" / "log.csv")
    log.set_model(StubModel())
    with pytest.raises(ValueError, match="CSVLogger expected an existing folder"):
        log.on_train_begin()


# ---- TerminateOnNaN ------------------------------------------------------------------------


def test_terminate_on_nan_lets_finite_steps_through():
    guard = CB.TerminateOnNaN()
    m = attach(guard)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guard.on_gradients(0, 1.5, {"0.W": np.ones(3), "0.b": np.zeros(2)})
    assert guard.message is None and not m.stop_training and not m.skip_update
    assert guard._last_norms == {"0.W": pytest.approx(3**0.5), "0.b": 0.0}


@pytest.mark.parametrize(
    "loss,grads,detail",
    [
        (math.nan, {"a": np.ones(4), "b": np.full(1, 3.0)}, "loss nan, largest gradient norm 3 in parameter 'b'"),
        (math.inf, {"a": np.ones(4)}, "loss inf, largest gradient norm 2 in parameter 'a'"),
        (0.5, {"a": np.array([np.inf]), "b": np.ones(1)}, "loss 0.5, largest gradient norm inf in parameter 'a'"),
        (
            0.5,
            {"a": np.ones(1), "b": np.array([1e30, np.nan]), "c": np.array([np.inf])},
            "loss 0.5, largest gradient norm nan in parameter 'b'",
        ),  # NaN counts as the largest
    ],
)
def test_terminate_on_nan_stops_and_names_the_largest_gradient(loss, grads, detail):
    guard = CB.TerminateOnNaN()
    m = attach(guard)
    m.train_state.epoch = 2
    with pytest.warns(RuntimeWarning) as record:
        guard.on_gradients(7, loss, grads)
    message = f"non-finite value at step 7 (epoch 3): {detail}"
    assert [str(w.message) for w in record] == [message]
    assert guard.message == message and m.history.stop_reason == message
    assert m.stop_training and m.skip_update


def test_terminate_on_nan_raise_error():
    guard = CB.TerminateOnNaN(raise_error=True)
    m = attach(guard)
    with pytest.raises(
        CB.NonFiniteError,
        match=r"^non-finite value at step 0 \(epoch 1\): loss nan, "
        r"largest gradient norm 0 in parameter 'w'$",
    ) as err:
        guard.on_gradients(0, math.nan, {"w": np.zeros(2)})
    assert isinstance(err.value, FloatingPointError)
    assert m.stop_training and m.skip_update and m.history.stop_reason is None


def test_terminate_on_nan_non_finite_output_reports_the_step_before():
    guard = CB.TerminateOnNaN()
    attach(guard)
    with pytest.warns(
        RuntimeWarning,
        match=r"^non-finite value at step 0 \(epoch 1\): loss nan, layer 0 blew up; "
        r"largest gradient norm at the step before: none yet$",
    ):
        guard.on_non_finite_output(0, "layer 0 blew up")
    guard2 = CB.TerminateOnNaN(raise_error=True)
    attach(guard2)
    guard2.on_gradients(4, 0.1, {"a": np.full(4, 0.5), "b": np.full(1, 0.25)})
    with pytest.raises(
        CB.NonFiniteError,
        match=r"step 5 \(epoch 1\): loss nan, layer 1 \(dense\) gave 2 NaN; "
        r"largest gradient norm at the step before: 1 in parameter 'a'$",
    ):
        guard2.on_non_finite_output(5, "layer 1 (dense) gave 2 NaN")


# ---- inside Sequential.fit ------------------------------------------------------------------


def test_fit_stops_and_restores_the_weights_of_the_best_epoch():
    X, y = tiny_data()
    seen = []

    class Scripted(CB.Callback):  # a validation loss chosen by the test: best at epoch 1
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = [3.0, 1.0, 2.0, 2.5, 0.5][epoch]
            seen.append(self.model.get_weights())

    stop = CB.EarlyStopping(patience=2, restore_best_weights=True)
    m = tiny_model()
    m.fit(X, y, epochs=5, batch_size=4, validation_data=(X, y), callbacks=[Scripted(), stop], verbose=0, seed=0)
    assert len(seen) == 4 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert not all(np.array_equal(seen[3][k], seen[1][k]) for k in seen[1])
    for k, v in m.get_weights().items():
        np.testing.assert_array_equal(v, seen[1][k])


def test_fit_writes_checkpoints_after_the_other_callbacks(tmp_path):
    """ModelCheckpoint listed first still saves the EarlyStopping state of the epoch just ended."""
    X, y = tiny_data()
    path = tmp_path / "ckpt.rnnlab"
    stop = CB.EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    m = tiny_model()
    m.fit(X, y, epochs=3, batch_size=4, callbacks=[CB.ModelCheckpoint(path), stop], verbose=0, seed=0)
    config, arrays = archive.read(path, kinds=("checkpoint",))
    entries = config["train"]["callbacks"]
    assert [e["class_name"] for e in entries] == ["ModelCheckpoint", "EarlyStopping"]
    state, best = stop.get_state()
    assert entries[1]["state"] == state and state["best_epoch"] is not None
    assert sorted(k for k in arrays if k.startswith("callback:")) == sorted(f"callback:1:{k}" for k in best)
    for k, v in best.items():
        np.testing.assert_array_equal(arrays[f"callback:1:{k}"], v)


def test_fit_save_best_only_files_hold_the_best_epochs(tmp_path):
    X, y = tiny_data()
    m = tiny_model()
    h = m.fit(
        X,
        y,
        epochs=4,
        batch_size=4,
        validation_data=(X[:6], y[:6]),
        verbose=0,
        seed=0,
        callbacks=[CB.ModelCheckpoint(str(tmp_path / "e{epoch}.rnnlab"), save_best_only=True)],
    )
    val = h.history["val_loss"]
    improved = [e + 1 for e in range(4) if val[e] < min(val[:e], default=math.inf)]
    assert sorted(os.listdir(tmp_path)) == sorted(f"e{e}.rnnlab" for e in improved)
    last = rl.load(tmp_path / f"e{improved[-1]}.rnnlab")
    assert last.history.history["val_loss"] == val[: improved[-1]]


def test_fit_resumes_early_stopping_from_a_checkpoint(tmp_path):
    """The EarlyStopping state (best, wait, best weights) survives a resume: the resumed run ends like the
    uninterrupted one."""
    X, y = tiny_data()

    def run(epochs, resume_from=None):
        m = tiny_model()
        stop = CB.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
        ckpt = CB.ModelCheckpoint(str(tmp_path / "c{epoch}.rnnlab"))
        h = m.fit(
            X,
            y,
            epochs=epochs,
            batch_size=4,
            validation_data=(X[:6], y[:6]),
            verbose=0,
            seed=3,
            callbacks=[stop, ckpt],
            resume_from=resume_from,
        )
        return m, stop, h

    whole, stop_whole, h_whole = run(5)
    resumed, stop_resumed, h_resumed = run(5, resume_from=tmp_path / "c2.rnnlab")
    assert h_resumed.epoch == h_whole.epoch and h_resumed.history == h_whole.history
    assert stop_resumed.get_state()[0] == stop_whole.get_state()[0]
    assert stop_resumed.stopped_epoch == stop_whole.stopped_epoch
    for k, v in whole.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[k], v)


def test_fit_terminate_on_nan_skips_the_bad_update():
    X, y = tiny_data()
    m = tiny_model()
    seen = []

    class Blowup(CB.Callback):  # after step 0 the output layer's weights jump to 1e30: (1e30)² overflows float32
        def on_train_batch_end(self, step, logs=None):
            if step == 0:
                self.model.params["1.W"][...] = 1e30
                seen.append(self.model.get_weights())

    guard = CB.TerminateOnNaN()
    with (
        np.errstate(invalid="ignore", over="ignore"),
        pytest.warns(RuntimeWarning, match=r"^non-finite value at step 1 \(epoch 1\): loss inf, "),
    ):
        h = m.fit(X, y, epochs=2, batch_size=4, shuffle=False, callbacks=[Blowup(), guard], verbose=0)
    assert len(seen) == 1 and h.epoch == [] and m.train_state.step == 1
    assert h.stop_reason == guard.message
    for k, v in m.get_weights().items():  # the weights after step 0, untouched by step 1
        np.testing.assert_array_equal(v, seen[0][k])
