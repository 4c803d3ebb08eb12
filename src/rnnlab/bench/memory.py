"""Peak memory of one training step and the cost of the first call, each in a fresh process.

Peak memory, the same method for every library (Linux): in a new process, build
the model, warm up with one step on a tiny problem of the same cell (imports,
compiled code, lazy initialisation), build the measured problem, release freed
memory to the system (gc.collect, malloc_trim), reset the kernel's high-water
mark of resident memory (write 5 to /proc/self/clear_refs), run one training
step and read VmHWM: peak = VmHWM − VmRSS before the step. It counts whatever
the step touches, in any allocator. For rnnlab, tracemalloc's peak over the same
step is reported too (NumPy reports each array to it; a cross-check), and over a
second step of the same shape, which takes most of its buffers from the ones the
first step gave back (kernels/fast/buffers.py).

First call: a new process times `import rnnlab`, then the first forward and
backward of a small LSTM (numba import and compiled-code cache load included);
once as installed here, once with SciPy hidden (numba imports SciPy when it
finds it, which rnnlab does not need).
"""

import ctypes
import gc
import json
import subprocess
import sys
import tracemalloc

from . import contenders

TINY = (2, 1, 1, 4)


def process_status(field):
    """A field of /proc/self/status (VmRSS, VmHWM, ...) in bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def release_memory():
    """Hand freed memory back to the system, so that the next peak starts from what is really held."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: freed memory may stay counted as resident
        pass


def _runner(lib, cell, shape):
    kind = contenders.Rnnlab if lib == "rnnlab" else contenders.Torch
    return kind(cell, contenders.problem(cell, *shape))


def measure(lib, cell, T, B, D, H):
    """Peak bytes of one training step (see the module docstring), in this process."""
    _runner(lib, cell, TINY).train()  # warm-up on another shape: no cache of the measured one exists
    runner = _runner(lib, cell, (T, B, D, H))
    release_memory()
    if lib == "rnnlab":
        tracemalloc.start()
    before = process_status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the high-water mark restarts from the present resident size
    runner.train()
    out = {"rss_peak_bytes": process_status("VmHWM") - before}
    if lib == "rnnlab":  # the same step, counted by NumPy's allocations; then a second step
        out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        release_memory()
        tracemalloc.start()
        runner.train()
        out["tracemalloc_second_step_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out


def peak_memory(lib, cell, T, B, D, H, timeout=600):
    """measure() in a fresh process; None where the library or /proc is missing."""
    code = (
        f"import json; from rnnlab.bench import memory; print(json.dumps(memory.measure({lib!r}, {cell!r}, "
        f"{T}, {B}, {D}, {H})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


_COLD = """
import sys, time
if {hide_scipy}:  # as installed by pip install rnnlab[fast]: numba imports SciPy only where it finds it
    sys.modules["scipy"] = None
t0 = time.perf_counter()
import numpy as np
import rnnlab as rl
t1 = time.perf_counter()
layer = rl.LSTM(32, return_sequences=True, seed=0)
x = np.ones((4, 20, 8), np.float32)
t2 = time.perf_counter()
layer(x)
layer.backward(np.ones((4, 20, 32), np.float32))
t3 = time.perf_counter()
import json
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "backend": rl.kernels.backend()}))
"""


def first_call(hide_scipy=False, timeout=300):
    """Seconds to import rnnlab and for the first LSTM forward+backward, in a fresh process;
    hide_scipy: as if SciPy were not installed."""
    code = _COLD.replace("{hide_scipy}", str(bool(hide_scipy)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"first-call probe failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
