"""How one call is timed, and rounds of calls in rotating order: shared by both methods of the speed benchmark."""

import time


def warm_then_time(call, warm):
    """Seconds of one call of `call`, after calling it back to back, untimed, for at least `warm` s (once at least)."""
    start = time.perf_counter()
    call()
    while time.perf_counter() - start < warm:
        call()
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def rounds(timers, repeats):
    """{name: [seconds per round]}: each round calls every timers[name]() (which returns the seconds of one
    timed call) once, the order rotating from round to round."""
    times = {name: [] for name in timers}
    names = list(timers)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timers[name]())
    return times
