"""The kernel threads (kernels/fast/pool.py): blocks in parallel, results in order, an error raised, no block
still running when a call returns, whether the caller waits for the workers by watching flags or asleep, and a
worker that takes its next block once the next call's first block has marked that it began."""

import threading
import time

import numpy as np
import pytest

from rnnlab import kernels

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")


@pytest.fixture
def pool():
    from rnnlab.kernels.fast import pool

    return pool


def test_the_first_block_runs_on_the_caller_the_others_on_workers_of_their_own(pool):
    got = pool.run(lambda begun, k: (k, threading.current_thread().name), [(k,) for k in range(4)])
    assert [k for k, _ in got] == [0, 1, 2, 3]
    assert got[0][1] == threading.current_thread().name
    workers = [name for _, name in got[1:]]
    assert len(set(workers)) == 3 and all(name.startswith("rnnlab-kernel") for name in workers)


@pytest.mark.parametrize("caller_pauses", [0, 8000], ids=["caller-sleeps-at-once", "caller-watches-first"])
@pytest.mark.parametrize("delay", [0.0, 0.05], ids=["short-blocks", "long-blocks"])
def test_no_block_is_still_running_when_run_returns(pool, monkeypatch, caller_pauses, delay):
    monkeypatch.setattr(pool, "CALLER_PAUSES", caller_pauses)

    def block(begun, out, k):
        if k > 0:
            time.sleep(delay * k)
        out[k] = k + 1

    for _ in range(20 if delay == 0 else 2):
        out = np.zeros(3)
        assert pool.run(block, [(out, 0), (out, 1), (out, 2)]) == [None] * 3
        assert list(out) == [1, 2, 3]


def test_an_error_in_a_block_is_raised_once_every_block_has_finished(pool):
    out = np.zeros(3)

    def block(begun, k, failing):
        if k == failing:
            raise ValueError(f"block {k}")
        time.sleep(0.03 * k)
        out[k] = 1

    for failing in (1, 0):  # a worker's block, the caller's own
        out[:] = 0
        with pytest.raises(ValueError, match=f"block {failing}"):
            pool.run(block, [(0, failing), (1, failing), (2, failing)])
        assert out[2] == 1 and out.sum() == 2
    assert pool.run(lambda begun, k: k * k, [(1,), (2,), (3,)]) == [1, 4, 9]  # the workers serve on


def test_calls_from_several_threads_at_once_each_get_their_own_results(pool):
    wrong = []

    def calls(t):
        for i in range(100):
            got = pool.run(lambda begun, a, b: a * 1000 + b, [(t, i), (t, i + 1), (t, i + 2)])
            if got != [t * 1000 + i, t * 1000 + i + 1, t * 1000 + i + 2]:
                wrong.append((t, i, got))

    threads = [threading.Thread(target=calls, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and wrong == []


def test_only_the_first_block_is_given_the_calls_mark(pool):
    got = pool.run(lambda begun, k: (k, begun.shape[0], begun[1] if begun.size else None), [(0,), (1,), (2,)])
    assert [(k, size) for k, size, _ in got] == [(0, pool.spin.LINE), (1, 0), (2, 0)]
    assert got[0][2] > 0  # the call's number
    assert pool.run(lambda begun: begun.shape[0], [()]) == [0]  # one block: no worker waits for it


def test_a_worker_takes_its_next_block_when_the_next_calls_first_block_has_begun(pool, monkeypatch):
    from numba import njit

    @njit(nogil=True)
    def block(begun, out, k):
        pool.spin.mark_begun(begun)
        out[k] += 1

    seen = []

    def watch(*args):
        seen.append(watch.of(*args))
        return seen[-1]

    watch.of = pool.spin.set_then_watch
    monkeypatch.setattr(pool.spin, "set_then_watch", watch)
    pauses = pool.WATCH_PAUSES
    monkeypatch.setattr(pool, "CALLER_PAUSES", 10**9)  # no caller sleeps: the worker is freed by a mark only
    monkeypatch.setattr(pool, "WATCH_PAUSES", 2 * 10**7)  # some seconds: a missed mark fails, not hangs
    out = np.zeros(2)
    for _ in range(3):
        pool.run(block, [(out, 0), (out, 1)])
    monkeypatch.setattr(pool, "WATCH_PAUSES", pauses)
    pool.run(block, [(out, 0), (out, 1)])  # frees the worker still watching after the third call
    assert list(out) == [4, 4]
    assert seen[:3] == [pool.spin.BEGUN] * 3
