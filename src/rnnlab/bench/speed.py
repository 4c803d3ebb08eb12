"""Speed benchmark: rnnlab against PyTorch and ONNX Runtime, interleaved in one process.

For each cell (LSTM, SimpleRNN) and shape (T, B, D, H) of the grid, a training
step (forward + backward through the whole sequence) and an inference pass are
timed for every contender in turn, round after round (so that a slow patch of a
shared machine hits all of them alike), each timed after 0.1 s of untimed calls
of the same contender, over as many calls as fill about 2 ms (bench/timing.py);
each figure is the median of the rounds.
GFLOP/s count the matrix products only (contenders.flops); the peak is a large
float32 NumPy matrix product measured in the same run, before the grid and again
after it; where all the cores together made little more than one, the table says so
(`cores_note`). Memory: bench/memory.py.
"""

import json
import os
import platform
import time

import numpy as np

from .. import kernels
from ..io.atomic import atomic_open
from ..kernels import hardware
from ..nn.base import aligned
from ..nn.cells import cell_class
from . import contenders, fresh, memory
from .timing import rounds, warm_then_time

GRID = [
    (100, 1, 1, 64),
    (100, 32, 1, 64),
    (100, 64, 2, 128),
    (100, 64, 128, 256),
    (50, 64, 256, 512),
    (25, 128, 512, 1024),
]
QUICK_GRID = [(20, 1, 1, 8), (20, 4, 2, 16)]
# the sgemm peak on all cores below this many times the one-thread peak: the cores did not add up as on a
# free machine (the 2-core development machine read 1.9–2.0× at its quietest, 1.04–1.7× in busy hours)
FEW_CORES_WORTH = 1.5


def sgemm_peak(n=2048, repeats=5):
    """GFLOP/s of an n×n×n float32 product through NumPy: its default threads, and one thread."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    out = {}
    blas = kernels.blas()  # NumPy's OpenBLAS, to hold it to one thread
    for label, count in (("default_threads", None), ("one_thread", 1)):
        if count is not None and blas is None:
            continue
        before = blas.get_threads() if blas else None
        if count is not None:
            blas.set_threads(count)
        try:
            a @ a
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                a @ a
                times.append(time.perf_counter() - t0)
        finally:
            if count is not None:
                blas.set_threads(before)
        out[label] = 2 * n**3 / float(np.median(times)) / 1e9
    return out


def interleaved(fns, repeats, warm=0.1):
    """{name: [seconds per round]}: rounds in rotating order; each contender runs untimed for `warm` s first.

    Before its timed calls (timing.warm_then_time) a contender calls itself back to back for
    at least `warm` seconds (at least once), as in a loop that uses one library. Timed right
    after another library, a call ran slow: ONNX Runtime's and PyTorch's threads
    keep spinning for a while after their call returns (rnnlab's layer came up to
    1.7x slower at mid shapes here, and with the rotation it always came right after
    ONNX Runtime); and after a pause rnnlab's own threads wake up slowly on this VM
    (a (100, 32, 1, 64) LSTM step took 11.8 ms after 50 ms of sleep against 6.4 ms
    back to back).
    """
    return rounds({name: (lambda fn=fn: warm_then_time(fn, warm)) for name, fn in fns.items()}, repeats)


class Kernel:
    """rnnlab's active kernel called directly: the layer's checks and copies left out.

    Training: forward and backward, time-major; inference: infer(), batch first.
    """

    name = "kernel"

    def __init__(self, cell, p):
        self.k = kernels.get(cell)
        self.params = {key: aligned(p[key]) for key in ("W", "U", "b")}  # placed as the layer's are
        self.x_batch_first = p["x"]
        self.x = np.ascontiguousarray(p["x"].transpose(1, 0, 2))
        self.dy = np.ascontiguousarray(p["dy"].transpose(1, 0, 2))
        B, H = self.x.shape[1], p["U"].shape[0]
        self.state = tuple(np.zeros((B, H), np.float32) for _ in cell_class(cell).state_names)

    def train(self):
        _, _, cache = self.k.forward(self.x, self.params, self.state)
        return self.k.backward(self.dy, (None,) * len(self.state), cache)

    def infer(self):
        return self.k.infer(self.x_batch_first, self.params, self.state)[0]


def machine():
    """What the figures were measured on: the CPU model, its SIMD flags and the BLAS core type among the rest."""
    cpu, simd = hardware.cpu()
    info = {
        "cpu": cpu or platform.machine(),
        "simd": simd,
        "blas": hardware.blas_libraries(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "kernel_backend": kernels.backend(),
        "kernel_threads": kernels.num_threads(),
    }
    for mod in ("numba", "torch", "onnxruntime"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info


def _row(cell, shape, mode, times, peak, missing):
    T, B, D, H = shape
    ms = {name: 1e3 * float(np.median(t)) for name, t in times.items()}
    work = contenders.flops(cell, *shape) * (3 if mode == "train" else 1)
    gflops = {name: work / (v / 1e3) / 1e9 for name, v in ms.items()}
    row = {
        "cell": cell,
        "T": T,
        "B": B,
        "D": D,
        "H": H,
        "mode": mode,
        "ms": ms,
        "runs_ms": {name: [1e3 * v for v in t] for name, t in times.items()},
        "gflops": gflops,
        "peak_fraction": gflops["rnnlab"] / peak if peak else None,
        "missing": missing,
    }
    for other in ("torch", "onnxruntime"):
        if other in ms:  # paired by round: a slow spell of the shared machine hits both sides of a ratio
            ratios = np.array(times["rnnlab"]) / np.array(times[other])
            row[f"ratio_{other}"] = float(np.median(ratios))
            row[f"ratio_{other}_quartiles"] = [float(q) for q in np.percentile(ratios, [25, 75])]
    return row


METHODS = {
    False: "one process: every contender in this process, in rotating rounds",
    True: "fresh processes: each contender in a process of its own (one library each), in rotating rounds",
}


def run(
    grid=GRID,
    cells=("lstm", "simple_rnn"),
    repeats=7,
    with_memory=True,
    progress=None,
    fresh_processes=False,
    threads=None,
):
    """Time the grid; returns a JSON-ready dict (machine, method, threads, peak, first_call, rows).

    fresh_processes: time each contender in a child process of its own (bench/fresh.py)
    instead of all in this one; there is then no "kernel" column and no output check.
    threads: every library on that many threads (rnnlab's kernels, PyTorch, ONNX Runtime's
    pool); None: each library's default.
    """
    if repeats < 1:
        raise ValueError(f"repeats expected a positive integer, got {repeats!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads expected a positive integer, got {threads!r}")
    before = os.environ.get("RNNLAB_NUM_THREADS")
    if threads:
        os.environ["RNNLAB_NUM_THREADS"] = str(threads)  # read at every kernel call, and by the children
    try:
        return _run(grid, cells, repeats, with_memory, progress or (lambda msg: None), fresh_processes, threads)
    finally:
        if before is None:
            os.environ.pop("RNNLAB_NUM_THREADS", None)
        else:
            os.environ["RNNLAB_NUM_THREADS"] = before


def _run(grid, cells, repeats, with_memory, say, fresh_processes, threads):
    result = {
        "machine": machine(),
        "method": METHODS[bool(fresh_processes)],
        "threads": threads,
        "load_before": os.getloadavg(),
        "repeats": repeats,
    }
    say("sgemm peak ...")
    result["peak_gflops"] = sgemm_peak()
    peak = result["peak_gflops"]["default_threads"]
    say("first call in a fresh process ...")
    result["first_call"] = memory.first_call()
    result["first_call_without_scipy"] = memory.first_call(hide_scipy=True)
    rows = []
    session = fresh.Session() if fresh_processes else None
    try:
        for cell in cells:
            for shape in grid:
                say(f"{cell} T,B,D,H={shape} ...")
                p = contenders.problem(cell, *shape)
                if session:
                    train, infer = _in_children(session, cell, shape, p, repeats, peak, threads)
                else:
                    train, infer = _in_this_process(cell, shape, p, repeats, peak, threads)
                if with_memory:
                    train["peak_bytes"] = {lib: memory.peak_memory(lib, cell, *shape) for lib in ("rnnlab", "torch")}
                rows += [train, infer]
        if session:
            result["modules_of_each_process"] = session.modules()
    finally:
        if session:
            session.close()
    result["rows"] = rows
    result["load_after"] = os.getloadavg()
    say("sgemm peak again ...")
    result["peak_gflops_after"] = sgemm_peak()
    return result


def cores_note(result):
    """A line saying that the cores did not add up (the sgemm peak on all of them, before or after the
    grid, below FEW_CORES_WORTH times the one-thread peak), or None."""
    if (result["machine"].get("cores") or 1) < 2:
        return None
    low = []
    for when, key in (("before", "peak_gflops"), ("after", "peak_gflops_after")):
        peak = result.get(key) or {}
        if peak.get("one_thread") and peak["default_threads"] < FEW_CORES_WORTH * peak["one_thread"]:
            low.append(f"{peak['default_threads'] / peak['one_thread']:.2f}× the one-thread peak {when} the grid")
    if not low:
        return None
    return (
        f"The cores did not add up: the sgemm peak on all of them was {' and '.join(low)} (other work on the "
        "machine, or a lower clock with more cores busy); times and % peak are not a free machine's."
    )


def _in_this_process(cell, shape, p, repeats, peak, threads):
    """Training and inference rows, every contender in this process; outputs checked against rnnlab's."""
    runners, missing = contenders.contenders(cell, p, inference=True, threads=threads)
    runners.insert(1, Kernel(cell, p))
    agreement = contenders.check_same([r for r in runners if r.name != "kernel"])
    trainers = {r.name: r.train for r in runners if hasattr(r, "train")}
    train = _row(cell, shape, "train", interleaved(trainers, repeats), peak, missing)
    infer = _row(cell, shape, "infer", interleaved({r.name: r.infer for r in runners}, repeats), peak, missing)
    infer["max_abs_diff_from_rnnlab"] = agreement
    return train, infer


def _in_children(session, cell, shape, p, repeats, peak, threads):
    """Training and inference rows, each contender in its own process (fresh.Session)."""
    ready, missing = session.setup(cell, p, threads)
    train = _row(cell, shape, "train", session.time(ready, "train", repeats), peak, missing)
    infer = _row(cell, shape, "infer", session.time(ready, "infer", repeats), peak, missing)
    return train, infer


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _ratio(row, other):
    """Median of the per-round ratios, with their quartiles."""
    if f"ratio_{other}" not in row:
        return "-"
    q1, q3 = row[f"ratio_{other}_quartiles"]
    return f"{row[f'ratio_{other}']:.2f} ({q1:.2f}–{q3:.2f})"


def table(result):
    """The rows as a Markdown table."""
    head = (
        "| cell | T, B, D, H | step | rnnlab ms | kernel ms | PyTorch ms | ORT ms | ×PyTorch | ×ORT "
        "| GFLOP/s | % peak | MB rnnlab | MB PyTorch |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in result["rows"]:
        ms = r["ms"]
        mem = r.get("peak_bytes") or {}
        mb = {lib: (m or {}).get("rss_peak_bytes") for lib, m in mem.items()}
        lines.append(
            f"| {r['cell']} | {r['T']}, {r['B']}, {r['D']}, {r['H']} | {r['mode']} "
            f"| {_fmt(ms.get('rnnlab'), '.3g')} | {_fmt(ms.get('kernel'), '.3g')} | {_fmt(ms.get('torch'), '.3g')} "
            f"| {_fmt(ms.get('onnxruntime'), '.3g')} | {_ratio(r, 'torch')} "
            f"| {_ratio(r, 'onnxruntime')} | {_fmt(r['gflops']['rnnlab'], '.1f')} "
            f"| {_fmt(None if r['peak_fraction'] is None else 100 * r['peak_fraction'], '.0f')} "
            f"| {_fmt(None if mb.get('rnnlab') is None else mb['rnnlab'] / 2**20, '.1f')} "
            f"| {_fmt(None if mb.get('torch') is None else mb['torch'] / 2**20, '.1f')} |"
        )
    fc, bare = result["first_call"], result["first_call_without_scipy"]
    peak = result["peak_gflops"]
    m = result["machine"]
    cores = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')}" for b in m.get("blas") or []
    )
    lines.append("")
    threads = result.get("threads")
    each = "each library's default threads" if threads is None else f"{threads} thread(s) for every library"
    lines.append(f"Method: {result['method']}, {result['repeats']} rounds, {each}.")
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores; SIMD: {' '.join(m['simd']) or '-'}; BLAS: {cores or '-'}.")
    after = result.get("peak_gflops_after")
    again = (
        ""
        if after is None
        else f", after the grid {after['default_threads']:.0f} (one thread: {_fmt(after.get('one_thread'), '.0f')})"
    )
    lines.append(
        f"sgemm peak {peak['default_threads']:.0f} GFLOP/s (one thread: "
        f"{_fmt(peak.get('one_thread'), '.0f')}){again}; first call in a fresh process: import "
        f"{fc['import_s']:.2f} s, first LSTM forward+backward {fc['first_call_s']:.2f} s "
        f"({fc['backend']} kernels; {bare['first_call_s']:.2f} s without SciPy installed); "
        f"load average {result['load_before'][0]:.1f} before, "
        f"{result['load_after'][0]:.1f} after"
    )
    note = cores_note(result)
    if note:
        lines.append(note)
    return "\n".join(lines)


def write_json(result, path):
    """Write atomically: a temporary file in the same folder, then a rename."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
