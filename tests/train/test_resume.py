"""Checkpoints survive a crash: SIGKILL after a checkpoint, or in the middle of writing one.

The training run lives in a script that a subprocess runs, so the kill is a
real one (no cleanup, no atexit); the test process then resumes or loads.
"""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import rnnlab as rl

SETUP = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import rnnlab as rl

    def data():
        rng = np.random.default_rng(0)
        X = rng.standard_normal((48, 6, 3)).astype(np.float32)
        return X, (X[:, :, 0].sum(axis=1, keepdims=True) > 0).astype(np.float32)

    def model():
        m = rl.Sequential([rl.LSTM(5, dropout=0.2, recurrent_dropout=0.2), rl.Dropout(0.3),
                           rl.Dense(1, activation="sigmoid")], seed=11)
        lr = rl.schedules.Warmup(rl.schedules.CosineDecay(2e-2, decay_steps=40), warmup_steps=5)
        return m.compile("binary_crossentropy", rl.optim.Adam(lr), metrics=["accuracy"], clip_norm=1.0)

    def callbacks(folder, checkpoint=rl.callbacks.ModelCheckpoint):
        return [rl.callbacks.EarlyStopping(monitor="val_loss", patience=50),
                rl.callbacks.CSVLogger(os.path.join(folder, "log.csv")),
                checkpoint(os.path.join(folder, "ckpt.rnnlab"))]

    def fit(m, folder, epochs, checkpoint=rl.callbacks.ModelCheckpoint, **kw):
        X, y = data()
        return m.fit(X, y, epochs=epochs, batch_size=8, validation_split=0.25, seed=5, verbose=0,
                     callbacks=callbacks(folder, checkpoint), **kw)
""")

KILL_AFTER_SECOND = SETUP + textwrap.dedent("""
    class KillAfterSecond(rl.callbacks.ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    fit(model(), sys.argv[1], epochs=4, checkpoint=KillAfterSecond)
""")

KILL_DURING_SECOND_WRITE = SETUP + textwrap.dedent("""
    import io
    real_savez, calls = np.savez, []

    def savez_then_die(file, *args, **kwargs):
        calls.append(1)
        if len(calls) < 2:
            return real_savez(file, *args, **kwargs)
        buffer = io.BytesIO()
        real_savez(buffer, *args, **kwargs)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # half of the second checkpoint
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    np.savez = savez_then_die
    fit(model(), sys.argv[1], epochs=4)
""")


@pytest.fixture(autouse=True)
def one_blas_thread():
    # the subprocess runs with one BLAS thread too, so both sides compute the same bits
    with threadpool_limits(1, user_api="blas"):
        yield


def _run_killed(script, folder):
    path = folder / "train.py"
    path.write_text(script)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(path), str(folder)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _namespace():
    ns = {}
    exec(compile(SETUP, "setup", "exec"), ns)
    return ns


def test_resume_after_sigkill_equals_a_straight_run(tmp_path):
    ns = _namespace()
    straight_dir, crash_dir = tmp_path / "straight", tmp_path / "crash"
    straight_dir.mkdir(), crash_dir.mkdir()
    straight = ns["model"]()
    h_straight = ns["fit"](straight, str(straight_dir), epochs=4)

    _run_killed(KILL_AFTER_SECOND, crash_dir)
    assert rl.load(crash_dir / "ckpt.rnnlab").history.epoch == [0, 1]
    resumed = ns["model"]()
    h_resumed = ns["fit"](resumed, str(crash_dir), epochs=4, resume_from=crash_dir / "ckpt.rnnlab")

    assert h_resumed.epoch == h_straight.epoch == [0, 1, 2, 3]
    assert h_resumed.history == h_straight.history
    for k, v in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.params[k], v, err_msg=k)
    assert (crash_dir / "log.csv").read_text() == (straight_dir / "log.csv").read_text()
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 20


def test_kill_while_writing_keeps_the_previous_checkpoint(tmp_path):
    _run_killed(KILL_DURING_SECOND_WRITE, tmp_path)
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and "ckpt" in p.name]
    assert len(leftovers) == 1  # the half-written second checkpoint, never renamed
    with pytest.raises(ValueError, match="not a valid rnnlab file"):
        rl.load(leftovers[0])
    first = rl.load(tmp_path / "ckpt.rnnlab")
    assert first.history.epoch == [0]
    ns = _namespace()
    resumed = ns["model"]()
    h = ns["fit"](resumed, str(tmp_path), epochs=2, resume_from=tmp_path / "ckpt.rnnlab")
    assert h.epoch == [0, 1]


def test_resume_refuses_a_different_setup(tmp_path):
    ns = _namespace()
    m = ns["model"]()
    ns["fit"](m, str(tmp_path), epochs=1)
    X, y = ns["data"]()
    other = rl.Sequential([rl.LSTM(6), rl.Dense(1, activation="sigmoid")], seed=11).compile("binary_crossentropy")
    with pytest.raises(ValueError, match="layers differ"):
        other.fit(X, y, epochs=2, verbose=0, resume_from=tmp_path / "ckpt.rnnlab")
    with pytest.raises(ValueError, match="fit arguments"):
        ns["model"]().fit(
            X, y, epochs=2, batch_size=4, validation_split=0.25, verbose=0, resume_from=tmp_path / "ckpt.rnnlab"
        )
