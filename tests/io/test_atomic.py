"""io/atomic.py: every file rnnlab writes is whole or absent, with the mode a plain open() gives."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.io import atomic


def _mode(path):
    return os.stat(path).st_mode & 0o777


@pytest.fixture
def umask():
    """Set a umask for one test, then restore the old one."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_modes_equal_those_of_open_under_the_umask(tmp_path, umask, mask):
    umask(mask)
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    expected = _mode(tmp_path / "plain.txt")
    assert expected == 0o666 & ~mask
    writers = {
        "text.txt": lambda p: atomic.write_text(p, "x"),
        "bytes.bin": lambda p: atomic.write_bytes(p, b"x"),
        "model.rnnlab": lambda p: _model().save(p),
        "log.csv": lambda p: _csv(p),
    }
    for name, write in writers.items():
        write(tmp_path / name)
        assert _mode(tmp_path / name) == expected, name


def _model():
    model = rl.Sequential([rl.SimpleRNN(3, seed=0), rl.Dense(1, seed=0)])
    model.build((4, 2))
    return model


def _csv(path):
    model = _model()
    model.compile("mse", optimizer=rl.optim.SGD(0.1))
    x = np.zeros((2, 4, 2), np.float32)
    model.fit(x, np.zeros((2, 1), np.float32), epochs=1, verbose=0, callbacks=[rl.callbacks.CSVLogger(path)])


def test_a_figure_gets_the_same_mode(tmp_path, umask):
    pytest.importorskip("matplotlib")
    umask(0o027)
    fig = rl.plots.gates(rl.probe.record(rl.LSTM(2, seed=0), np.zeros((1, 3, 1), np.float32))[0])
    path = rl.plots.save(fig, tmp_path / "gates.png")
    assert _mode(path) == 0o640


def test_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic.write_text(path, "first\n")
    atomic.write_text(path, "second\n")
    assert path.read_text(encoding="utf-8") == "second\n"

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text(path, "third\n")
    assert path.read_text(encoding="utf-8") == "second\n"
    assert os.listdir(tmp_path) == ["f.txt"]  # the temporary file was removed


def test_an_error_while_writing_leaves_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    atomic.write_bytes(path, b"old")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic.atomic_open(path) as f:
            f.write(b"new, half")
            raise RuntimeError("half way")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


_KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from rnnlab.io import atomic
    with atomic.atomic_open(sys.argv[1]) as f:
        f.write(b"new, half")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-write, before the rename
""")


def test_a_kill_mid_write_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path):
    path = tmp_path / "model.bin"
    atomic.write_bytes(path, b"old")
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], capture_output=True)
    assert done.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"old"
    left = [name for name in os.listdir(tmp_path) if name != "model.bin"]
    assert len(left) == 1 and left[0].startswith(".model.bin.") and left[0].endswith(".tmp")
    atomic.write_bytes(path, b"newer")  # the killed writer's temporary file goes
    assert path.read_bytes() == b"newer" and os.listdir(tmp_path) == ["model.bin"]


def test_a_live_writers_temporary_file_is_kept(tmp_path):
    path = tmp_path / "f.txt"
    other = tmp_path / f".f.txt.{os.getppid()}-abc.tmp"  # a process that is alive (our parent)
    other.write_text("in progress")
    atomic.write_text(path, "mine")
    assert other.exists() and path.read_text() == "mine"
