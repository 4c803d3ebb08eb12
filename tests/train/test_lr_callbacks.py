"""ReduceLROnPlateau, LearningRateScheduler, LambdaCallback, TerminateOnNaN, with the numbers checked."""

import numpy as np
import pytest

import rnnlab as rl

X = np.random.default_rng(0).standard_normal((16, 4, 2)).astype(np.float32)
Y = X.sum(axis=(1, 2))[:, None]


def model(lr=0.1):
    return rl.Sequential([rl.SimpleRNN(3), rl.Dense(1)], seed=0).compile("mse", rl.optim.SGD(lr))


def test_reduce_lr_on_plateau_after_patience_epochs_without_improvement():
    m = model()
    script = [5.0, 4.0, 4.0, 3.99995, 4.5, 3.0, 3.5, 3.5, 3.5, 3.5]  # the monitored value, epoch by epoch
    values = iter(script)

    class Feed(rl.callbacks.Callback):  # puts the scripted values in the logs before the others read them
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = next(values)

    plateau = rl.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=2, min_delta=1e-4, cooldown=1, min_lr=0.02
    )
    seen = []
    record = rl.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(m.optimizer.lr))
    m.fit(X, Y, epochs=10, batch_size=8, verbose=0, callbacks=[Feed(), plateau, record])
    # epochs 0,1 improve; 2 and 3 (a change below min_delta) do not -> halved at epoch 3; 4 ends the cooldown
    # and counts; 5 improves; 6, 7 do not -> halved at 7; 8 ends the cooldown and counts, 9 -> 0.0125, floored
    # at min_lr
    assert plateau.lrs == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02]
    assert seen == [0.1] + plateau.lrs[:-1]  # each epoch trains with the rate set at the end of the one before
    m2 = model()
    with pytest.raises(ValueError, match=r"factor expected a number in \(0, 1\)"):
        rl.callbacks.ReduceLROnPlateau(factor=1.0)
    m2.compile("mse", rl.optim.SGD(rl.schedules.StepDecay(0.1, 5)))
    with pytest.raises(ValueError, match="ReduceLROnPlateau expected an optimizer with a numeric lr, got a schedule"):
        m2.fit(X, Y, verbose=0, callbacks=[rl.callbacks.ReduceLROnPlateau(monitor="loss")])


def test_reduce_lr_on_plateau_equals_keras():
    keras = pytest.importorskip("keras")
    script = [5.0, 4.0, 4.0, 3.99995, 4.5, 3.0, 3.5, 3.5, 3.5, 3.5, 2.0, 2.5, 2.5, 2.5]
    kwargs = dict(monitor="loss", factor=0.5, patience=2, min_delta=1e-4, cooldown=1, min_lr=0.001)
    km = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    theirs = keras.callbacks.ReduceLROnPlateau(**kwargs)
    theirs.set_model(km)
    theirs.on_train_begin()
    ours = rl.callbacks.ReduceLROnPlateau(**kwargs)
    ours.set_model(model())
    want = []
    for epoch, value in enumerate(script):
        theirs.on_epoch_end(epoch, {"loss": value})
        ours.on_epoch_end(epoch, {"loss": value})
        want.append(float(km.optimizer.learning_rate))
    np.testing.assert_allclose(ours.lrs, want, rtol=1e-6)  # Keras keeps the rate in float32


def test_min_lr_is_a_floor():
    m = model()
    plateau = rl.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0, min_delta=1e9, min_lr=0.003)
    m.fit(X, Y, epochs=4, batch_size=8, verbose=0, callbacks=[plateau])
    assert plateau.lrs == [0.1, pytest.approx(0.01), 0.003, 0.003]


@pytest.mark.parametrize("two_arguments", [False, True])
def test_learning_rate_scheduler_sets_the_schedules_values_exactly(two_arguments):
    m = model()
    wanted = [0.1 * 0.7**e for e in range(5)]
    used = []

    class Spy(rl.callbacks.Callback):
        def on_gradients(self, step, loss, grads):
            used.append(m.optimizer.current_lr())

    schedule = (lambda epoch, lr: wanted[epoch]) if two_arguments else (lambda epoch: wanted[epoch])
    m.fit(X, Y, epochs=5, batch_size=8, verbose=0, callbacks=[rl.callbacks.LearningRateScheduler(schedule), Spy()])
    assert used == [w for w in wanted for _ in range(2)]  # two steps per epoch, each at exactly its epoch's value
    with pytest.raises(ValueError, match="schedule to return a positive number, got -1 at epoch 0"):
        model().fit(X, Y, verbose=0, callbacks=[rl.callbacks.LearningRateScheduler(lambda e: -1)])


def test_lambda_callback_and_keras_names():
    events = []
    cb = rl.callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append((epoch, sorted(logs))),
        on_train_batch_end=lambda step, logs: events.append(step),
        on_train_end=lambda logs: events.append("end"),
    )
    model().fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    assert events == ["begin", 0, 1, (0, ["loss"]), 2, 3, (1, ["loss"]), "end"]
    with pytest.raises(TypeError, match="LambdaCallback expected on_epoch_end to be callable"):
        rl.callbacks.LambdaCallback(on_epoch_end=3)
    m = model(lr=1e30)
    with pytest.warns(RuntimeWarning, match="non-finite value"), np.errstate(all="ignore"):
        history = m.fit(X * 1e10, Y, epochs=3, batch_size=8, verbose=0, callbacks=[rl.callbacks.TerminateOnNaN()])
    assert history.stop_reason.startswith("non-finite value at step")


def test_an_lr_callback_resumes_with_its_rate(tmp_path):
    ckpt = str(tmp_path / "c.ckpt")

    def run(epochs, resume=None):
        m = model()
        cbs = [
            rl.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9),
            rl.callbacks.ModelCheckpoint(ckpt),
        ]
        m.fit(X, Y, epochs=epochs, batch_size=8, verbose=0, seed=0, callbacks=cbs, resume_from=resume)
        return m

    whole = run(4)
    run(2)
    resumed = run(4, resume=ckpt)
    assert resumed.optimizer.lr == whole.optimizer.lr == 0.1 * 0.5**3  # epoch 0 sets the best; 1, 2, 3 halve
    for k, v in whole.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[k], v)
