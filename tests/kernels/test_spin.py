"""Flags set and watched across threads without the GIL (kernels/fast/spin.py)."""

import threading
import time

import numpy as np
import pytest

from rnnlab import kernels

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")


@pytest.fixture
def spin():
    from rnnlab.kernels.fast import spin

    return spin


def test_all_set_answers_at_once_or_after_its_pauses(spin):
    L = spin.LINE
    flags = np.zeros(3 * L, np.int64)
    flags[L] = 1
    assert spin.all_set(flags, 1, 0)  # the first block's flag is set
    assert not spin.all_set(flags, 2, 1000)  # the second's is not
    flags[2 * L] = 2
    assert spin.all_set(flags, 2, 0)  # any value but 0 counts
    flags[L] = 0
    assert not spin.all_set(flags, 2, 0)
    assert spin.all_set(flags, 0, 0)  # no block to wait for


def test_a_flag_set_on_one_thread_is_seen_by_another_waiting_for_it(spin):
    L = spin.LINE
    flags = np.zeros(3 * L, np.int64)
    seen = []
    watcher = threading.Thread(target=lambda: seen.append(spin.all_set(flags, 2, 1_000_000_000)))
    watcher.start()
    spin.set_then_wait(flags, L, 1, 0, 0)
    time.sleep(0.01)
    assert watcher.is_alive() and not seen  # one of two flags: still waiting
    spin.set_then_wait(flags, 2 * L, 1, 0, 0)
    watcher.join(timeout=60)
    assert seen == [True]


def test_set_then_wait_sets_first_then_waits_for_the_other_flag(spin):
    L = spin.LINE
    flags = np.zeros(2 * L, np.int64)
    assert not spin.set_then_wait(flags, L, 3, 0, 1000)  # nothing set flags[0]
    assert flags[L] == 3
    flags[0] = 1
    assert spin.set_then_wait(flags, L, 4, 0, 0) and flags[L] == 4
    answer = []
    flags[0] = 0
    waiter = threading.Thread(target=lambda: answer.append(spin.set_then_wait(flags, L, 5, 0, 1_000_000_000)))
    waiter.start()
    time.sleep(0.01)
    assert flags[L] == 5 and waiter.is_alive()
    flags[0] = 2
    waiter.join(timeout=60)
    assert answer == [True]
