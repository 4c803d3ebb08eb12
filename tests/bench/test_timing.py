"""bench/timing.py: how one figure of the speed benchmark is timed."""

import pytest

from rnnlab.bench import timing
from rnnlab.bench.timing import rounds, warm_then_time


class Clock:
    """timing's clock, standing still but where a call of counting() moves it (by binary fractions of a
    second, whose sums are exact), whatever else the machine is doing."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timing, "time", clock)
    return clock


def counting(clock, seconds):
    """A call that takes `seconds` on the clock and counts its calls."""
    count = [0]

    def call():
        count[0] += 1
        clock.now += seconds

    return call, count


def test_a_short_call_is_timed_as_the_mean_of_many(clock):
    call, count = counting(clock, 2**-12)  # 0.24 ms
    per_call = warm_then_time(call, warm=0.0, span=2e-3)
    assert count[0] == 1 + 8  # one untimed call, then as many as fill 2 ms: ⌊2e-3 · 4096⌋
    assert per_call == 2**-12  # the mean of one call, not the time of them all


def test_the_untimed_calls_fill_the_warm_up_and_set_the_pace(clock):
    call, count = counting(clock, 2**-12)
    per_call = warm_then_time(call, warm=0.01, span=2e-3)
    assert count[0] == 41 + 8  # ⌈0.01 · 4096⌉ untimed calls, then 8 timed
    assert per_call == 2**-12


def test_a_long_call_is_timed_once_after_its_warm_up(clock):
    call, count = counting(clock, 2**-7)  # 7.8 ms, longer than the span
    per_call = warm_then_time(call, warm=0.0, span=2e-3)
    assert count[0] == 2  # one untimed, one timed
    assert per_call == 2**-7


def test_rounds_rotate_the_order():
    seen = []
    timers = {name: (lambda name=name: seen.append(name) or 1.0) for name in "abc"}
    times = rounds(timers, 3)
    assert seen == list("abcbcacab") and times == {name: [1.0] * 3 for name in "abc"}
