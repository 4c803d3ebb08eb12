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
    begun = np.zeros(L, np.int64)
    seen = []
    watcher = threading.Thread(target=lambda: seen.append(spin.all_set(flags, 2, 1_000_000_000)))
    watcher.start()
    spin.set_then_watch(flags, L, 1, 0, begun, 0, 0)
    time.sleep(0.01)
    assert watcher.is_alive() and not seen  # one of two flags: still waiting
    spin.set_then_watch(flags, 2 * L, 1, 0, begun, 0, 0)
    watcher.join(timeout=60)
    assert seen == [True]


def test_mark_begun_writes_the_calls_number_unless_given_nothing(spin):
    begun = np.zeros(spin.LINE, np.int64)
    begun[1] = 7
    spin.mark_begun(begun)
    assert begun[0] == 7 and begun[1] == 7
    spin.mark_begun(np.zeros(0, np.int64))  # a block that is not a call's first: nothing to mark


def test_set_then_watch_sets_first_then_answers_what_it_saw(spin):
    L = spin.LINE
    flags = np.zeros(2 * L, np.int64)
    begun = np.zeros(L, np.int64)
    begun[0] = 3
    assert spin.set_then_watch(flags, L, 5, 0, begun, 3, 1000) == spin.TIMED_OUT  # call 3 is its own
    assert flags[L] == 5
    assert spin.set_then_watch(flags, L, 6, 0, begun, 2, 0) == spin.BEGUN and flags[L] == 6  # a later call
    flags[0] = 1
    assert spin.set_then_watch(flags, L, 7, 0, begun, 2, 0) == spin.FLAGGED  # the other flag comes first
    flags[0] = 0
    answers = []
    for release in (lambda: begun.__setitem__(0, 4), lambda: flags.__setitem__(0, 2)):
        waiter = threading.Thread(target=lambda: answers.append(spin.set_then_watch(flags, L, 8, 0, begun, 3, 10**9)))
        waiter.start()
        time.sleep(0.01)
        assert waiter.is_alive() and flags[L] == 8
        release()
        waiter.join(timeout=60)
        begun[0] = 3
    assert answers == [spin.BEGUN, spin.FLAGGED]
