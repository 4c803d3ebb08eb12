"""Subnormals flushed to zero in the fast kernels: on every kernel thread, during the call only.

A float32 gradient that fades over many steps (loss on h_T only) passes through the
subnormal range; the reference keeps those numbers, the fast kernels flush them to zero
(kernels/fast/fpenv.py). Both stay within the usual tolerance of each other.
"""

import threading

import numpy as np
import pytest

from rnnlab import kernels
from rnnlab.kernels import gru as ref_gru
from rnnlab.kernels import lstm as ref_lstm
from rnnlab.kernels import simple_rnn as ref_rnn

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")

FLUSH = (1 << 15) | (1 << 6)  # MXCSR's FTZ and DAZ bits


def fpenv():
    from rnnlab.kernels.fast import fpenv

    return fpenv


def pool():
    from rnnlab.kernels.fast import pool

    return pool


x86_only = pytest.mark.skipif(not kernels.fast_available() or not fpenv().X86, reason="MXCSR is x86's")


def subnormal(a):
    a = np.abs(np.asarray(a))
    return (a > 0) & (a < np.finfo(a.dtype).tiny)


def fading_case(cell, B, seed=0):
    """float32, T = 250, a loss on h_T only and small weights: ∂L/∂h_t shrinks about 2× per step back."""
    rng = np.random.default_rng(seed)
    T, D, H = 250, 2, 5
    G = {"lstm": 4, "gru": 3}.get(cell, 1) * H
    params = {
        "W": rng.normal(0, 0.3, (D, G)).astype(np.float32),
        "U": rng.normal(0, 0.3 / np.sqrt(H), (H, G)).astype(np.float32),
        "b": np.zeros((2, G) if cell == "gru" else G, np.float32),  # the GRU's default reset_after: two biases
    }
    n_states = 2 if cell == "lstm" else 1
    state = tuple(np.zeros((B, H), np.float32) for _ in range(n_states))
    x = rng.normal(0, 1, (T, B, D)).astype(np.float32)
    dstate = (np.ones((B, H), np.float32),) + (None,) * (n_states - 1)
    return x, params, state, dstate


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_subnormals_of_the_reference_are_zeros_of_the_fast_kernels(cell, threads, monkeypatch):
    from rnnlab.kernels.fast import plan

    monkeypatch.setenv("RNNLAB_NUM_THREADS", str(threads))
    monkeypatch.setattr(plan, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(plan, "MIN_SPLIT_ROWS", 1)  # blocks of any size, on every thread
    monkeypatch.setattr(plan, "MIN_BLOCK_WORK", 0)
    ref, fast = {"lstm": ref_lstm, "gru": ref_gru, "simple_rnn": ref_rnn}[cell], kernels.get(cell, "fast")
    x, params, state, dstate = fading_case(cell, B=4)
    _, _, cache_r = ref.forward(x, params, state)
    _, _, cache_f = fast.forward(x, params, state)
    dx_r, _, grads_r = ref.backward(None, dstate, cache_r)
    dx_f, _, grads_f = fast.backward(None, dstate, cache_f)
    assert subnormal(dx_r).any(), "the case must take the reference's gradient through subnormal numbers"
    flushed = fpenv().X86
    for what, f, r in [("dx", dx_f, dx_r)] + [(k, grads_f[k], grads_r[k]) for k in ("W", "U", "b")]:
        if flushed:
            assert not subnormal(f).any(), f"{what}: a subnormal left in the fast result"
        scale = float(np.max(np.abs(r)))
        assert float(np.max(np.abs(f - r))) <= 1e-5 * scale, what
    if flushed:  # where the reference is subnormal, the fast kernels have exact zeros (or a normal number)
        assert np.all((dx_f[subnormal(dx_r)] == 0) | (np.abs(dx_f[subnormal(dx_r)]) >= np.finfo(np.float32).tiny))
        assert (dx_f[subnormal(dx_r)] == 0).any()


@x86_only
def test_flush_is_on_in_every_block_and_restored_after():
    env = fpenv()
    before = env.mxcsr()
    assert before & FLUSH == 0, "Python code runs without flushing"
    inside = pool().run(lambda begun: env.mxcsr(), [(), (), ()])  # three blocks: this thread and two workers
    assert all(m & FLUSH == FLUSH for m in inside)
    assert env.mxcsr() == before

    class Probe:  # what a worker holds back in Python, between blocks
        def __init__(self):
            self.seen = threading.Event()

        def run(self):
            self.mxcsr = env.mxcsr()
            self.seen.set()

    after = []
    for worker in pool()._workers_for(2):
        for _ in range(4):
            probe = Probe()
            worker.blocks.put(probe)
            assert probe.seen.wait(timeout=60)
            after.append(probe.mxcsr)
    assert len(after) == 8 and all(m & FLUSH == 0 for m in after)


@x86_only
def test_mxcsr_restored_after_an_error():
    env = fpenv()
    before = env.mxcsr()
    with pytest.raises(RuntimeError, match="inside"):
        with env.flushing():
            assert env.mxcsr() & FLUSH == FLUSH
            raise RuntimeError("inside")
    assert env.mxcsr() == before


@x86_only
def test_a_layer_call_leaves_the_thread_as_it_was():
    import rnnlab as rl

    env = fpenv()
    before = env.mxcsr()
    layer = rl.LSTM(3)
    layer.backend = "fast"
    layer.forward(np.ones((2, 4, 1), np.float32), training=True)
    layer.backward(np.ones((2, 3), np.float32))
    assert env.mxcsr() == before
