"""How one call is timed, and rounds of calls in rotating order: shared by both methods of the speed benchmark."""

import time

# the timed calls of one round fill at least this many seconds: a call of ~0.1 ms is timed as the
# mean of some twenty, so that one interruption of the shared machine does not make the round's figure
SPAN = 2e-3


def warm_then_time(call, warm, span=SPAN):
    """Seconds per call of `call`, after calling it back to back, untimed, for at least `warm` s (once at least):
    the mean of as many back-to-back calls as the untimed ones say fill `span` s (one at least)."""
    start = time.perf_counter()
    call()
    done = 1
    while time.perf_counter() - start < warm:
        call()
        done += 1
    calls = max(1, int(span * done / (time.perf_counter() - start)))
    t0 = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - t0) / calls


def rounds(timers, repeats):
    """{name: [seconds per round]}: each round calls every timers[name]() (which returns the round's
    seconds per call) once, the order rotating from round to round."""
    times = {name: [] for name in timers}
    names = list(timers)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timers[name]())
    return times
