"""One step's recurrent product on packed U against OpenBLAS's, on one thread.

z_t += h_{t-1} U for the rows of one core's block, U of an LSTM (H, 4H), float32: the product
as the fast kernels make it (products.recurrent_product) with U packed once
(RNNLAB_PRODUCT=auto) and without (OpenBLAS, which packs U again at every call). Per shape the
two alternate for `rounds` rounds of about 0.1 s each after a warm-up; printed: the median time
per product of each, its GFLOP/s, and the median of the per-round ratio packed / OpenBLAS
(whose two calls met the same load on a shared machine).

With --split: one step's product of all rows on two threads, the rows split between them (each
thread: half the rows against all of U, as the kernels do) against the gate columns split (each
thread: all rows against half of U, packed apart), the threads started for each product.

With --small-blocks: the fast kernels of each cell at B = 1 and 2 (one block of one or two rows),
inference and a training step (forward and backward), with those blocks on their wide panels
(RNNLAB_PRODUCT=auto) against their row loops (=blas, which leaves blocks of one or two rows to
the loops), alternating in 10 × --rounds rounds of at least 5 ms each, in an order that rotates; medians,
and the layer's inference (the kernel behind its checks) and ONNX Runtime's beside them.

With --pack: the pack of an LSTM's U (each call's, for the forward pass and inference) and of Uᵀ
(backward's) on one thread and on the kernel threads (RNNLAB_NUM_THREADS, which a U of
packed.PARALLEL_PACK bytes or more uses), beside a plain copy of U, alternating, medians.

With --few-rows: the fast kernels of each cell at B = 2–32, inference and a training
step, with the batch split into two blocks however few their rows (plan.MIN_SPLIT_ROWS and
MIN_BLOCK_WORK set aside)
against one block on one thread, alternating in 10 × --rounds rounds, medians: the measurement
behind those two.

With --from-end: 1000 steps of the product alone (z_t = h_{t-1} U, h_t = z_t clipped to ±1), on one
thread, U of an LSTM (4H columns) or a GRU (3H) packed for the block's rows, every other step
run from the end of U (packed.product's from_end, as the kernels do) against every step from its
start, alternating in 10 × --rounds rounds, medians per step: the measurement behind from_end.

With --input: the input terms x_t W of all steps at once, T·B rows of D features against W (D, G),
on one thread: on W packed (products.input_projection as plan.input_panels packs it, the pack in
the time) against OpenBLAS's product, alternating in --rounds rounds of about 0.1 s, medians and
the median of the per-round ratio: the measurement behind plan.input_panels.

    python benchmarks/packed_product.py [--rounds 9] [--quick] [--split] [--small-blocks] [--pack] [--few-rows]
                                        [--from-end] [--input]
"""

import argparse
import importlib
import os
import threading
import time

import numpy as np
from numba import njit

from rnnlab.bench.contenders import OnnxRuntime, Rnnlab, problem
from rnnlab.bench.speed import machine
from rnnlab.kernels.fast import packed, plan, pool, products
from rnnlab.kernels.fast.blas import one_blas_thread
from rnnlab.kernels.memory import aligned_empty

SHAPES = [(32, 64), (32, 128), (32, 256), (32, 512), (64, 1024), (128, 1024), (7, 64)]  # rows, H
FEW_ROWS = [(100, B, 1, H) for H in (64, 128, 256) for B in (2, 4, 6, 8)] + [(100, 16, 1, 64), (100, 32, 1, 32)]
FROM_END = [(1, 4, 64), (1, 3, 64), (1, 4, 128), (1, 3, 128), (2, 4, 64), (4, 4, 64), (32, 4, 256)]  # rows, G, H
# rows T·B, D, G: an LSTM's 4H at H = 256 for D = 8 to 512, then the input terms of the benchmark's last three shapes
INPUT = [(6400, D, 1024) for D in (8, 32, 64, 128, 160, 192, 256, 512)] + [(3200, 256, 2048), (3200, 512, 4096)]
SMALL_BLOCKS = [(100, 1, 1, 64), (100, 2, 1, 64), (100, 1, 1, 128), (100, 2, 1, 128), (100, 1, 1, 256)]  # T, B, D, H


def _per_call(fn, seconds):
    """Seconds per call of fn, over calls for about `seconds`."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / n


def measure(rows, H, rounds, seconds=0.1):
    rng = np.random.default_rng(0)
    U = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32)
    h = rng.standard_normal((rows, H)).astype(np.float32)
    z = np.zeros((rows, 4 * H), np.float32)
    none = np.empty((0, 0), np.float32)
    paths = {"packed": packed.pack(U), "OpenBLAS": np.empty((0, 0, 0), np.float32)}
    calls = {
        name: (lambda P=P: products.recurrent_product(h, U, P, none, none, z, 0, rows, False))
        for name, P in paths.items()
    }
    times = {name: [] for name in calls}
    for fn in calls.values():
        _per_call(fn, seconds)  # warm-up (and compilation)
    for _ in range(rounds):
        for name, fn in calls.items():
            times[name].append(_per_call(fn, seconds))
    flops = 2 * rows * H * 4 * H
    ratio = np.array(times["packed"]) / np.array(times["OpenBLAS"])
    return {name: (np.median(t), flops / np.median(t) / 1e9) for name, t in times.items()}, ratio


def measure_split(rows, H, rounds, calls=10):
    """Median seconds of one step's product on two threads: rows split, then gate columns split."""
    rng = np.random.default_rng(0)
    U = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32)
    h = rng.standard_normal((rows, H)).astype(np.float32)
    z = np.zeros((rows, 4 * H), np.float32)
    P = packed.pack(U)
    halves = [packed.pack(np.ascontiguousarray(U[:, k * 2 * H : (k + 1) * 2 * H])) for k in range(2)]
    z_halves = [np.zeros((rows, 2 * H), np.float32) for _ in range(2)]
    half = rows // 2

    def by_rows(k):
        r0, r1 = (0, half) if k == 0 else (half, rows)
        packed.product(h, r0 * H, H, r1 - r0, P, z, r0 * 4 * H, 4 * H, 4 * H, False, True)

    def by_columns(k):
        packed.product(h, 0, H, rows, halves[k], z_halves[k], 0, 2 * H, 2 * H, False, True)

    def two_threads(part):
        for _ in range(calls):
            other = threading.Thread(target=part, args=(1,))
            other.start()
            part(0)
            other.join()

    times = {"rows": [], "columns": []}
    parts = {"rows": by_rows, "columns": by_columns}
    for part in parts.values():
        two_threads(part)
    for _ in range(rounds):
        for name, part in parts.items():
            start = time.perf_counter()
            two_threads(part)
            times[name].append((time.perf_counter() - start) / calls)
    return {name: np.median(t) for name, t in times.items()}


def _kernel_steps(cell, shape):
    """The problem and the fast kernel's inference and training step (forward and backward) on it,
    (infer, train, p), its weights on cache lines as a layer's are."""
    p = problem(cell, *shape)
    kernel = importlib.import_module(f"rnnlab.kernels.fast.{cell}")
    params = {k: aligned_empty(p[k].shape, p[k].dtype) for k in ("W", "U", "b")}
    for k, a in params.items():
        a[...] = p[k]
    B, H = p["x"].shape[0], p["U"].shape[0]
    state = tuple(np.zeros((B, H), np.float32) for _ in range(2 if cell == "lstm" else 1))
    xt, dyt = (np.ascontiguousarray(a.transpose(1, 0, 2)) for a in (p["x"], p["dy"]))

    def infer():
        return kernel.infer(p["x"], params, state)

    def train():
        _, _, cache = kernel.forward(xt, params, state)
        return kernel.backward(dyt, (None,) * len(state), cache)

    return infer, train, p


def _with_option(name, value, fn):
    """fn, called with the environment variable `name` set to value."""

    def call():
        os.environ[name] = value
        return fn()

    return call


def _with_product(path, fn):
    """fn, called with the recurrent product's path set to `path` (plan.PRODUCT, which RNNLAB_PRODUCT sets)."""

    def call():
        plan.PRODUCT = path
        return fn()

    return call


def _rounds(calls, rounds, seconds, options):
    """Median seconds of each call ({name: fn}) over `rounds` rounds of calls for at least `seconds`,
    after a warm-up (and compilation), in an order that rotates (a call right after a training step
    met colder caches); the environment variables named in `options` are put back as they were."""
    before = {name: os.environ.get(name) for name in options}
    try:
        for fn in calls.values():
            _per_call(fn, seconds)
        times = {name: [] for name in calls}
        names = list(calls)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                times[name].append(_per_call(calls[name], seconds))
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return {name: np.median(t) for name, t in times.items()}


def measure_small(cell, shape, rounds, seconds=5e-3):
    """Median µs of each call: the fast kernel's inference and training step (forward and backward)
    with panels and with loops, the layer's inference, and ONNX Runtime's."""
    infer, train, p = _kernel_steps(cell, shape)
    calls = {
        f"{step} {path}": _with_product(option, fn)
        for step, fn in (("infer", infer), ("train", train))
        for path, option in (("packed", "auto"), ("loops", "blas"))
    }
    # the same kernel through the layer, its checks included, on the panels as "infer packed"
    calls["layer infer"] = _with_product("auto", Rnnlab(cell, p).infer)
    try:
        calls["ONNX Runtime"] = OnnxRuntime(cell, p).infer
    except ImportError:
        pass
    before = plan.PRODUCT
    try:
        return {name: t * 1e6 for name, t in _rounds(calls, rounds, seconds, []).items()}
    finally:
        plan.PRODUCT = before


def measure_few_rows(cell, shape, rounds, seconds=5e-3):
    """Median µs of the fast kernel's inference and training step on one thread, and the ratio of
    two threads (each its block of rows, however few) to one."""
    infer, train, _ = _kernel_steps(cell, shape)
    calls = {
        (step, n): _with_option("RNNLAB_NUM_THREADS", n, fn)
        for step, fn in (("infer", infer), ("train", train))
        for n in ("1", "2")
    }
    rules = plan.MIN_SPLIT_ROWS, plan.MIN_BLOCK_WORK
    plan.MIN_SPLIT_ROWS, plan.MIN_BLOCK_WORK = 1, 0  # two threads split even two rows
    try:
        t = _rounds(calls, rounds, seconds, ["RNNLAB_NUM_THREADS"])
    finally:
        plan.MIN_SPLIT_ROWS, plan.MIN_BLOCK_WORK = rules
    return {step: (t[(step, "1")] * 1e6, t[(step, "2")] / t[(step, "1")]) for step in ("infer", "train")}


@njit(nogil=True)
def _steps(h, P, z, steps, alternate):
    """`steps` steps of z_t = h_{t-1} U (P: U packed), h_t = z_t[:, :H] clipped to ±1 (bounded, never
    subnormal), so that each step waits on the one before; every other step from the end of U with
    `alternate`, else none."""
    rows, H = h.shape
    N = z.shape[1]
    for t in range(steps):
        for r in range(rows):
            for j in range(N):
                z[r, j] = 0.0
        packed.product(h, 0, H, rows, P, z, 0, N, N, alternate and t % 2 == 1, True)
        for r in range(rows):
            for j in range(H):
                h[r, j] = min(max(z[r, j], -1.0), 1.0)


def measure_from_end(rows, G, H, rounds, steps=1000):
    """Median ns per step of the product loop (_steps): every step from the start of U, and every other
    step from its end."""
    rng = np.random.default_rng(0)
    U = aligned_empty((H, G * H), np.float32)  # on a cache line, as a layer's: one panel is its own
    U[...] = rng.standard_normal((H, G * H)) / np.sqrt(H)
    P = packed.pack(U, rows=rows)
    h0 = rng.standard_normal((rows, H)).astype(np.float32)
    h, z = h0.copy(), np.zeros((rows, G * H), np.float32)

    def run(alternate):
        h[...] = h0
        _steps(h, P, z, steps, alternate)

    calls = {"from the start": lambda: run(False), "every other from the end": lambda: run(True)}
    return {name: t / steps * 1e9 for name, t in _rounds(calls, rounds, 0.0, []).items()}


def measure_input(N, D, G, rounds, seconds=0.1):
    """Median seconds of the input terms of N rows on W (D, G) packed, the pack included, and on OpenBLAS;
    and the per-round ratios packed / OpenBLAS."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D)).astype(np.float32)
    W = aligned_empty((D, G), np.float32)
    W[...] = rng.standard_normal((D, G)) / np.sqrt(D)
    z = np.empty((N, G), np.float32)
    calls = {
        "packed": lambda: products.input_projection(x, W, packed.pack(W), z, 0, N),
        "OpenBLAS": lambda: products.input_projection(x, W, np.empty((0, 0, 0), np.float32), z, 0, N),
    }
    times = {name: [] for name in calls}
    for fn in calls.values():
        _per_call(fn, seconds)  # warm-up (and compilation)
    for r in range(rounds):
        for name in list(calls)[:: 1 if r % 2 else -1]:
            times[name].append(_per_call(calls[name], seconds))
    return {name: np.median(t) for name, t in times.items()}, np.array(times["packed"]) / np.array(times["OpenBLAS"])


def measure_pack(H, rounds, seconds=0.05):
    """Median ms of a copy of U (H, 4H) and of its pack and its transpose's, on one thread and on the
    kernel threads."""
    U = np.random.default_rng(0).standard_normal((H, 4 * H)).astype(np.float32)
    copy = np.empty_like(U)
    threads = os.environ.get("RNNLAB_NUM_THREADS") or str(pool.num_threads())
    calls = {"copy": lambda: np.copyto(copy, U)}
    for transpose in (False, True):
        for name, n in (("1", "1"), ("all", threads)):
            calls[f"{'Uᵀ' if transpose else 'U'} {name}"] = _with_option(
                "RNNLAB_NUM_THREADS", n, lambda transpose=transpose: packed.pack(U, transpose)
            )
    return {name: t * 1e3 for name, t in _rounds(calls, rounds, seconds, ["RNNLAB_NUM_THREADS"]).items()}


def _table(columns):
    """Print a blank line and the head of a Markdown table with these columns."""
    print()
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="two small shapes, three rounds")
    parser.add_argument("--split", action="store_true", help="rows or gate columns split across two threads")
    parser.add_argument("--small-blocks", action="store_true", help="whole calls at B = 1 and 2: wide panels or loops")
    parser.add_argument("--pack", action="store_true", help="the pack of U and of Uᵀ, on one thread and on all")
    parser.add_argument("--few-rows", action="store_true", help="B = 2–8 on one thread or split into two blocks")
    parser.add_argument("--from-end", action="store_true", help="every other step's product from the end of U, or none")
    parser.add_argument("--input", action="store_true", help="the input terms of all steps on W packed, or OpenBLAS")
    args = parser.parse_args(argv)
    shapes, rounds = (SHAPES[:2], 3) if args.quick else (SHAPES, args.rounds)
    m = machine()
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')}" for b in m["blas"] or [])
    print(
        f"Machine: {m['cpu']}; SIMD: {' '.join(m['simd'])}; BLAS: {blas}; tile: {packed.vector_bytes() * 8}-bit vectors"
    )
    _table(["rows, H", "packed µs", "GFLOP/s", "OpenBLAS µs", "GFLOP/s", "packed / OpenBLAS (quartiles)"])
    with one_blas_thread():
        for rows, H in shapes:
            result, ratio = measure(rows, H, rounds)
            (tp, gp), (tb, gb) = result["packed"], result["OpenBLAS"]
            q1, q2, q3 = np.percentile(ratio, [25, 50, 75])
            ratios = f"{q2:.2f} ({q1:.2f}–{q3:.2f})"
            print(f"| {rows}, {H} | {tp * 1e6:.1f} | {gp:.0f} | {tb * 1e6:.1f} | {gb:.0f} | {ratios} |")
    if args.split:
        _table(["rows, H", "rows split, µs", "gate columns split, µs", "columns / rows"])
        with one_blas_thread():
            for rows, H in [(64, 256), (128, 512), (128, 1024)][: 1 if args.quick else 3]:
                t = measure_split(rows, H, rounds)
                rows_us, columns_us = t["rows"] * 1e6, t["columns"] * 1e6
                print(f"| {rows}, {H} | {rows_us:.0f} | {columns_us:.0f} | {columns_us / rows_us:.2f} |")
    if args.small_blocks:
        ratios = ["infer packed / loops", "train packed / loops", "infer packed / ONNX Runtime", "layer / ONNX Runtime"]
        _table(["cell", "T, B, D, H", *ratios])
        for cell in ("lstm", "gru", "simple_rnn"):
            for shape in SMALL_BLOCKS[: 1 if args.quick else len(SMALL_BLOCKS)]:
                t = measure_small(cell, shape, 3 if args.quick else 10 * args.rounds)
                ort, layer = (
                    f"{t[k] / t['ONNX Runtime']:.2f}" if "ONNX Runtime" in t else "-"
                    for k in ("infer packed", "layer infer")
                )
                infer, train = t["infer packed"] / t["infer loops"], t["train packed"] / t["train loops"]
                print(f"| {cell} | {', '.join(map(str, shape))} | {infer:.2f} | {train:.2f} | {ort} | {layer} |")
    if args.pack:
        _table(["H", "U, MiB", "copy of U, ms", "pack U, ms (1 thread / all)", "pack Uᵀ, ms (1 thread / all)"])
        for H in (64, 256, 512, 1024)[: 2 if args.quick else 4]:
            t = measure_pack(H, 3 if args.quick else args.rounds)
            mib = H * 4 * H * 4 / 2**20
            U, Ut = (f"{t[m + ' 1']:.3f} / {t[m + ' all']:.3f}" for m in ("U", "Uᵀ"))
            print(f"| {H} | {mib:g} | {t['copy']:.3f} | {U} | {Ut} |")
    if args.few_rows:
        infer, train = ["infer µs, 1 thread", "2 threads / 1"], ["train µs, 1 thread", "2 threads / 1"]
        _table(["cell", "T, B, D, H", "rows a block on two threads", *infer, *train])
        for cell in ("lstm", "gru", "simple_rnn"):
            for shape in FEW_ROWS[: 2 if args.quick else len(FEW_ROWS)]:
                t = measure_few_rows(cell, shape, 3 if args.quick else 10 * args.rounds)
                (i1, i2), (t1, t2) = t["infer"], t["train"]
                figures = f"{i1:.0f} | {i2:.2f} | {t1:.0f} | {t2:.2f}"
                print(f"| {cell} | {', '.join(map(str, shape))} | {shape[1] // 2} | {figures} |")
    if args.from_end:
        _table(["rows, G·H, H", "U, KiB", "ns a step, from the start", "every other from the end", "ratio"])
        with one_blas_thread():
            for rows, G, H in FROM_END[: 2 if args.quick else len(FROM_END)]:
                t = measure_from_end(rows, G, H, 3 if args.quick else 10 * args.rounds)
                start, end = t["from the start"], t["every other from the end"]
                kib = H * G * H * 4 // 1024
                print(f"| {rows}, {G}·{H}, {H} | {kib} | {start:.0f} | {end:.0f} | {end / start:.2f} |")

    if args.input:
        _table(["T·B, D, G", "packed ms", "GFLOP/s", "OpenBLAS ms", "GFLOP/s", "packed / OpenBLAS (quartiles)"])
        with one_blas_thread():
            for N, D, G in INPUT[: 2 if args.quick else len(INPUT)]:
                t, ratio = measure_input(N, D, G, rounds)
                flops = 2 * N * D * G
                q1, q2, q3 = np.percentile(ratio, [25, 50, 75])
                tp, tb = t["packed"], t["OpenBLAS"]
                figures = f"{tp * 1e3:.2f} | {flops / tp / 1e9:.0f} | {tb * 1e3:.2f} | {flops / tb / 1e9:.0f}"
                print(f"| {N}, {D}, {G} | {figures} | {q2:.2f} ({q1:.2f}–{q3:.2f}) |")


if __name__ == "__main__":
    main()
