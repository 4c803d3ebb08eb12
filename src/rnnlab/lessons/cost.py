"""The cost of long sequences: time and memory of a training step against T, and why more cores do not
shorten a sequence.

BPTT runs a sequence's T steps in order, forward then backward: the time of a step grows as T¹ whatever
the machine. Full BPTT also keeps every step's cache for the backward pass, so memory grows as T¹ too.
`checkpoint_every = k` keeps only the state entering each segment of k steps and recomputes a segment's
cache just before backpropagating through it (Chen et al. 2016, "Training deep nets with sublinear memory
cost"): the same gradients, one more forward pass, and the cache of one segment at a time.
`bptt_steps = k` (truncated BPTT, Williams & Peng 1990) stops the gradient at segment edges. The cores
share out the sequences of a batch, never the steps of one sequence, so with batch size 1 a second core
has nothing to do.
"""

import os
import time

import numpy as np

from .. import kernels, plots
from ..bench.memory import process_status, release_memory
from ..nn.lstm import LSTM
from ..nn.simple_rnn import SimpleRNN
from ..plots import lessons as figures
from .report import Lesson, check_size, table

SETTINGS = {
    "full": {"lengths": (10, 100, 1000, 10000), "batches": (1, 2, 4, 8, 16, 32, 64, 128, 256), "repeats": 3},
    "short": {"lengths": (10, 100, 1000), "batches": (1, 4, 16, 64), "repeats": 2},
    "tiny": {"lengths": (10, 40), "batches": (1, 4), "repeats": 1},
}
BATCH, FEATURES, HIDDEN = 16, 1, 64  # the T sweep
SEGMENT = 100  # k of checkpoint_every and bptt_steps
BATCH_LENGTH = 100  # T of the batch sweep (LSTM)
CELLS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM}
METHODS = {
    "full BPTT": {},
    f"checkpoint_every {SEGMENT}": {"checkpoint_every": SEGMENT},
    f"bptt_steps {SEGMENT}": {"bptt_steps": SEGMENT},
}


def _release():
    """The fast kernels' kept buffers and every freed block back to the system, before a peak is read."""
    kernels.release_buffers()
    release_memory()


def peak_bytes(fn):
    """Peak resident memory fn() adds, as rnnlab.bench.memory measures it: reset the kernel's high-water mark
    (write 5 to /proc/self/clear_refs), run, read VmHWM − VmRSS before. None where /proc lacks it (not Linux)."""
    _release()
    try:
        before = process_status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        fn()
        return None
    fn()
    return process_status("VmHWM") - before


class _threads:
    """Context: the fast kernels split a batch over n threads (RNNLAB_NUM_THREADS), restored after."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.before = os.environ.get("RNNLAB_NUM_THREADS")
        os.environ["RNNLAB_NUM_THREADS"] = str(self.n)

    def __exit__(self, *exc):
        if self.before is None:
            del os.environ["RNNLAB_NUM_THREADS"]
        else:
            os.environ["RNNLAB_NUM_THREADS"] = self.before
        return False


def training_step(cell, T, B, **options):
    """A function running one forward and backward pass of cell(HIDDEN, **options) over x (B, T, FEATURES),
    with the loss on h_T (∂L/∂h_T = 1)."""
    layer = CELLS[cell](HIDDEN, seed=0, **options)
    x = np.random.default_rng(0).standard_normal((B, T, FEATURES)).astype(np.float32)
    dh = np.ones((B, HIDDEN), dtype=np.float32)

    def step():
        layer.forward(x, training=True)
        layer.backward(dh)

    step()  # builds the weights, compiles, warms the caches
    return step


def seconds(step, repeats):
    """The fastest of `repeats` timed calls (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return min(times)


def slope(xs, ys):
    """Slope of log y against log x, over the points with x ≥ SEGMENT where there are two, else all."""
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    keep = np.isfinite(ys) & (ys > 0)
    if np.count_nonzero(keep & (xs >= SEGMENT)) >= 2:
        keep &= xs >= SEGMENT
    return float(np.polyfit(np.log(xs[keep]), np.log(ys[keep]), 1)[0]) if np.count_nonzero(keep) >= 2 else float("nan")


def run(out_dir, size="full", say=print):
    """Measure the T sweep and the batch sweep; print the tables, write cost.png; returns a Lesson."""
    s = SETTINGS[check_size(size)]
    say(
        f"cost of long sequences: one training step (forward and backward) of {BATCH} sequences, {HIDDEN} units, "
        f"T = {', '.join(map(str, s['lengths']))}; fastest of {s['repeats']}; memory: the peak resident "
        f"memory the step adds"
    )
    time_rows, memory_rows, rows = {}, {}, []
    for cell in CELLS:
        for method, options in METHODS.items():
            ts, ms = [], []
            for T in s["lengths"]:
                step = training_step(cell, T, BATCH, **options)
                ts.append(seconds(step, s["repeats"]))
                peak = peak_bytes(step)
                ms.append(float("nan") if peak is None else peak / 2**20)
                rows.append([f"{cell}, {method}", T, f"{ts[-1] * 1e3:.2f}", f"{ms[-1]:.1f}"])
            label = f"{cell}, {method}"
            time_rows[label] = (s["lengths"], ts, slope(s["lengths"], ts))
            memory_rows[label] = (s["lengths"], ms, slope(s["lengths"], ms))
    text = table(["cell, method", "T", "ms per step", "peak MiB"], rows)
    text += f"\nfitted slopes (log–log, T ≥ {SEGMENT}): " + "; ".join(
        f"{k}: time {time_rows[k][2]:.2f}, memory {memory_rows[k][2]:.2f}" for k in time_rows
    )

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    batch_rows, brows = {}, []
    for threads in sorted({1, cores}):
        per_sequence = []
        with _threads(threads):
            for B in s["batches"]:
                per_sequence.append(seconds(training_step("LSTM", BATCH_LENGTH, B), s["repeats"]) / B)
        batch_rows[f"LSTM, T = {BATCH_LENGTH}, {threads} thread{'s' if threads > 1 else ''}"] = (
            s["batches"],
            per_sequence,
        )
        brows.append([f"{threads} thread{'s' if threads > 1 else ''}"] + [f"{v * 1e3:.3f}" for v in per_sequence])
    text += f"\n\nms per sequence against batch size B (LSTM, T = {BATCH_LENGTH}):\n"
    text += table(["kernel threads"] + [f"B = {B}" for B in s["batches"]], brows)
    values = list(batch_rows.values())
    speedup = [a / b for a, b in zip(values[0][1], values[-1][1])]

    numbers = {
        "time_slope": {k: v[2] for k, v in time_rows.items()},
        "memory_slope": {k: v[2] for k, v in memory_rows.items()},
        "cores": cores,
        "speedup_by_batch": dict(zip(s["batches"], speedup)),
    }
    fig = figures.cost(
        time_rows,
        memory_rows,
        batch_rows,
        title=f"cost of BPTT: batch {BATCH}, {HIDDEN} units, {cores} core{'s' if cores > 1 else ''}",
    )
    path = plots.save(fig, os.path.join(out_dir, "cost.png"))
    full = time_rows["LSTM, full BPTT"][2], memory_rows["LSTM, full BPTT"][2]
    ckpt = memory_rows[f"LSTM, checkpoint_every {SEGMENT}"][2]
    caption = (
        f"Left: the time of a training step grows with T (fitted slope {full[0]:.2f} for the LSTM with "
        f"full BPTT; 1 is proportional to T): the steps run one after another. Middle: full BPTT keeps every step's "
        f"cache, so its memory grows as T too (slope {full[1]:.2f}); checkpoint_every {SEGMENT} keeps one "
        f"segment's cache at a time (slope {ckpt:.2f}), paying one more forward pass. Right: time per "
        f"sequence against batch size with 1 and {cores} kernel threads: {cores} threads run ×{speedup[0]:.2f} "
        f"as fast as one at B = {s['batches'][0]}, ×{speedup[-1]:.2f} at B = {s['batches'][-1]} — "
        f"cores share out sequences of a batch, never the steps of one sequence."
    )
    return Lesson("cost", text, path, caption, numbers)
