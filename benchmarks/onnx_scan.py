"""ONNX Runtime time of the Scan graph (a mask anywhere) against ONNX's LSTM operator with lengths.

One model, Masking → LSTM(return_sequences=True), float32, exported twice: by default (a Scan over
time, exact for any mask) and with padding="right" (the LSTM operator with sequence_lens). Both get
the same right-padded batch (a quarter of the rows a quarter shorter), which both compute exactly,
and are checked against rnnlab before timing. Per shape and thread count, the calls alternate
between the two graphs for `rounds` rounds after a warm-up. Printed: the median time per call of
each, and the median (with quartiles) of the ratio Scan / operator within a round, whose two calls
met the same load on a shared machine.

    python benchmarks/onnx_scan.py [--rounds 31] [--quick]
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import onnxruntime as ort

import rnnlab as rl
from rnnlab.interop import onnx as rox

SHAPES = [(100, 32, 16, 64), (100, 64, 128, 256)]  # T, B, D, H


def _session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _batch(T, B, D, seed=0):
    x = np.random.default_rng(seed).standard_normal((B, T, D)).astype(np.float32)
    x[: B // 4, -T // 4 :] = 0  # right padding: both graphs are exact on it
    return x


def measure(T, B, D, H, threads, rounds, folder):
    model = rl.Sequential([rl.Masking(), rl.LSTM(H, return_sequences=True, seed=0)])
    x = _batch(T, B, D)
    want = model(x)
    sessions = {}
    for name, padding in (("scan", None), ("operator", "right")):
        path = os.path.join(folder, f"{name}.onnx")
        rox.export(model, path, padding=padding)
        sessions[name] = _session(path, threads)
        (got,) = sessions[name].run(None, {"x": x})
        error = float(np.abs(got - want).max())
        if error > 1e-5:
            raise SystemExit(f"{name}: max |ONNX Runtime − rnnlab| = {error:.2e} > 1e-5")
    times = {name: [] for name in sessions}
    for _ in range(3):  # warm-up
        for session in sessions.values():
            session.run(None, {"x": x})
    for _ in range(rounds):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(None, {"x": x})
            times[name].append(time.perf_counter() - start)
    ratios = np.array(times["scan"]) / np.array(times["operator"])
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}, np.percentile(ratios, [25, 50, 75])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--quick", action="store_true", help="the small shape only, 5 rounds")
    args = parser.parse_args()
    shapes, rounds = (SHAPES[:1], 5) if args.quick else (SHAPES, args.rounds)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; onnxruntime {ort.__version__}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"T, B, D, H | threads | Scan ms | operator ms | Scan / operator (quartiles), {rounds} rounds")
    with tempfile.TemporaryDirectory() as folder:
        for T, B, D, H in shapes:
            for threads in (1, 2):
                ms, (q1, ratio, q3) = measure(T, B, D, H, threads, rounds, folder)
                shape = f"{T}, {B}, {D}, {H} | {threads}"
                print(f"{shape} | {ms['scan']:.2f} | {ms['operator']:.2f} | {ratio:.2f} ({q1:.2f}–{q3:.2f})")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
