"""Memory and time of one training step on a 10,000-step sequence, per long-sequence mode.

    python benchmarks/long_sequences.py [--T 10000] [--B 16] [--D 8] [--H 64] [--k 100]

For each backend (fast, reference) and mode (full BPTT, checkpoint_every=k, bptt_steps=k,
both), an LSTM layer (float32, return_sequences) runs forward and backward once; the peak
of new memory is tracemalloc's (NumPy reports every array), next to the bound of
docs/PERFORMANCE.md (kernels.segmented.memory_bound) for the recomputing modes.
"""

import argparse
import time
import tracemalloc

import numpy as np

import rnnlab as rl
from rnnlab.kernels.fast import buffers as fast_buffers
from rnnlab.kernels.segmented import memory_bound


def step(backend, options, T, B, D, H, seed=0):
    fast_buffers.clear()  # no buffers kept from the previous mode
    rl.set_backend(backend)
    try:
        layer = rl.LSTM(H, return_sequences=True, seed=seed, **options)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(B, T, D)).astype(np.float32)
        dy = (0.01 * rng.normal(size=(B, T, H))).astype(np.float32)
        layer(x[:, :3])  # weights built, compiled code loaded: outside the measurement
        layer.backward(dy[:, :3])
        tracemalloc.start()
        t0 = time.perf_counter()
        layer(x)
        layer.backward(dy)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        rl.set_backend("auto")
    return peak, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("T", 10_000), ("B", 16), ("D", 8), ("H", 64), ("k", 100)):
        parser.add_argument(f"--{name}", type=int, default=default)
    a = parser.parse_args()
    modes = [
        ("full BPTT", {}),
        (f"checkpoint_every={a.k}", {"checkpoint_every": a.k}),
        (f"bptt_steps={a.k}", {"bptt_steps": a.k}),
        (f"bptt_steps={a.k}, checkpoint_every={a.k}", {"bptt_steps": a.k, "checkpoint_every": a.k}),
    ]
    print(f"LSTM, float32, T={a.T}, B={a.B}, D={a.D}, H={a.H}: one training step")
    print("| mode | backend | peak MB | seconds | formula MB |")
    print("|---|---|---|---|---|")
    for backend in ("fast", "reference"):
        for label, options in modes:
            peak, seconds = step(backend, options, a.T, a.B, a.D, a.H)
            bound = memory_bound(a.T, a.B, a.D, a.H, a.k) / 2**20 if "checkpoint_every" in options else None
            print(
                f"| {label} | {rl.kernels.backend() if backend == 'auto' else backend} | {peak / 2**20:.1f} "
                f"| {seconds:.2f} | {'-' if bound is None else f'{bound:.1f}'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
