"""The kernel threads (kernels/fast/pool.py): blocks in parallel, results in order, an error raised, no block
still running when a call returns, whether the caller waits for the workers by watching flags or asleep."""

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
    got = pool.run(lambda k: (k, threading.current_thread().name), [(k,) for k in range(4)])
    assert [k for k, _ in got] == [0, 1, 2, 3]
    assert got[0][1] == threading.current_thread().name
    workers = [name for _, name in got[1:]]
    assert len(set(workers)) == 3 and all(name.startswith("rnnlab-kernel") for name in workers)


@pytest.mark.parametrize("caller_pauses", [0, 8000], ids=["caller-sleeps-at-once", "caller-watches-first"])
@pytest.mark.parametrize("delay", [0.0, 0.05], ids=["short-blocks", "long-blocks"])
def test_no_block_is_still_running_when_run_returns(pool, monkeypatch, caller_pauses, delay):
    monkeypatch.setattr(pool, "CALLER_PAUSES", caller_pauses)

    def block(out, k):
        if k > 0:
            time.sleep(delay * k)
        out[k] = k + 1

    for _ in range(20 if delay == 0 else 2):
        out = np.zeros(3)
        assert pool.run(block, [(out, 0), (out, 1), (out, 2)]) == [None] * 3
        assert list(out) == [1, 2, 3]


def test_an_error_in_a_block_is_raised_once_every_block_has_finished(pool):
    out = np.zeros(3)

    def block(k, failing):
        if k == failing:
            raise ValueError(f"block {k}")
        time.sleep(0.03 * k)
        out[k] = 1

    for failing in (1, 0):  # a worker's block, the caller's own
        out[:] = 0
        with pytest.raises(ValueError, match=f"block {failing}"):
            pool.run(block, [(0, failing), (1, failing), (2, failing)])
        assert out[2] == 1 and out.sum() == 2
    assert pool.run(lambda k: k * k, [(1,), (2,), (3,)]) == [1, 4, 9]  # the workers serve on


def test_calls_from_several_threads_at_once_each_get_their_own_results(pool):
    wrong = []

    def calls(t):
        for i in range(100):
            got = pool.run(lambda a, b: a * 1000 + b, [(t, i), (t, i + 1), (t, i + 2)])
            if got != [t * 1000 + i, t * 1000 + i + 1, t * 1000 + i + 2]:
                wrong.append((t, i, got))

    threads = [threading.Thread(target=calls, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and wrong == []
