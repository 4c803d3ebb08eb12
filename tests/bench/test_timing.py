"""bench/timing.py: how one figure of the speed benchmark is timed."""

import time

from rnnlab.bench.timing import rounds, warm_then_time


def counting(seconds):
    """A call that sleeps `seconds` (spins, for short ones) and counts its calls."""
    count = [0]

    def call():
        count[0] += 1
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return call, count


def test_a_short_call_is_timed_as_the_mean_of_many():
    call, count = counting(1e-4)
    per_call = warm_then_time(call, warm=0.0, span=2e-3)
    assert 6 <= count[0] - 1 <= 20  # one untimed call, then as many as fill about 2 ms
    assert 1e-4 <= per_call < 1e-3  # the mean of one call, not the time of them all


def test_a_long_call_is_timed_once_after_its_warm_up():
    call, count = counting(5e-3)
    per_call = warm_then_time(call, warm=0.0, span=2e-3)
    assert count[0] == 2  # one untimed, one timed
    assert 5e-3 <= per_call < 1e-1


def test_rounds_rotate_the_order():
    seen = []
    timers = {name: (lambda name=name: seen.append(name) or 1.0) for name in "abc"}
    times = rounds(timers, 3)
    assert seen == list("abcbcacab") and times == {name: [1.0] * 3 for name in "abc"}
