"""Threads of the fast kernels: the batch split into blocks of rows, one per core.

Each block runs the whole sequence in a compiled loop that releases the GIL, so
the blocks run in parallel; every matrix product inside runs on the calling
thread (blas.one_blas_thread). Set RNNLAB_NUM_THREADS to change the number of
kernel threads.

The calling thread runs the first block and hands each other block to a worker
thread of its own. At the end of a call the threads wait for each other without
sleeping, for a while (spin.py): a thread put to sleep took 20–40 µs to run again
on a virtual machine whose idle cores halt, and a call of a millisecond lost
3–4 % that way (docs/PERFORMANCE.md). The caller, its block done, watches the
workers' flags; a worker, its flag set, waits for the caller to hold the GIL
again before it asks for it (of two threads that ask, one sleeps).
"""

import os
import queue
import threading

import numpy as np

from . import spin
from .fpenv import flushing

# a worker's flag: its block is through (returned, or raised: the error is on the block)
DONE = 1
# the caller's flag (flags[0]), either of which ends a worker's wait: it holds the GIL again, or it has gone
# to sleep until the workers let go of their locks
BACK, ASLEEP = 1, 2
# pauses the caller waits for the workers before it sleeps (some 200 µs): a longer wait is rare, for blocks
# of equal rows, and a core that watches a flag is a core no other program can use
CALLER_PAUSES = 8000
# pauses a worker waits for the caller's flag (some 100 µs); past them it asks for the GIL, and may sleep
WORKER_PAUSES = 4000


def _cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_CORES = _cores()


def num_threads():
    """Kernel threads: RNNLAB_NUM_THREADS, else the cores this process may use (read at import)."""
    env = os.environ.get("RNNLAB_NUM_THREADS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"RNNLAB_NUM_THREADS expected a positive integer, got {env!r}")
        return int(env)
    return _CORES


def _flushed(fn, args):
    """fn(*args) with subnormals flushed to zero on this thread (fpenv.py)."""
    with flushing():
        return fn(*args)


class _Block:
    """One block handed to a worker: fn(*args), its result or error, and how the two threads meet after it.

    flags: the call's int64 flags, flags[0] the caller's, flags[spin.LINE · k] this block's.
    finished: a lock held until the worker is through with the block, for a caller that sleeps.
    """

    __slots__ = ("fn", "args", "flags", "k", "finished", "result", "error")

    def __init__(self, fn, args, flags, k):
        self.fn, self.args, self.flags, self.k = fn, args, flags, k
        self.finished = threading.Lock()
        self.finished.acquire()
        self.result = self.error = None

    def run(self):
        """On the worker: the block, its flag, the wait for the caller's, then the lock let go."""
        try:
            self.result = _flushed(self.fn, self.args)
        except BaseException as error:  # handed to the caller, which raises it
            self.error = error
        spin.set_then_wait(self.flags, spin.LINE * self.k, DONE, 0, WORKER_PAUSES)
        self.finished.release()


class _Worker:
    """A daemon thread that runs the blocks put in its queue, one after another."""

    def __init__(self, name):
        self.blocks = queue.SimpleQueue()
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self):
        while True:
            self.blocks.get().run()


_workers = ([], None)  # (the workers, the process that made them)
_workers_lock = threading.Lock()


def _workers_for(n):
    """n workers, made again after a fork (a child has none of its parent's threads)."""
    global _workers
    with _workers_lock:
        if _workers[1] != os.getpid():
            _workers = ([], os.getpid())
        while len(_workers[0]) < n:
            _workers[0].append(_Worker(f"rnnlab-kernel-{len(_workers[0]) + 1}"))
        return _workers[0][:n]


def run(fn, blocks):
    """fn(*args) for each args in blocks, in parallel; the first runs on this thread.

    fn must release the GIL (a numba nogil function) for the blocks to overlap.
    Each block runs with subnormals flushed to zero on its thread (fpenv.py).
    Returns the results in order; an error raised in any block is raised here,
    once every block has finished.
    """
    if len(blocks) == 1:
        return [_flushed(fn, blocks[0])]
    flags = np.zeros(spin.LINE * len(blocks), np.int64)
    handed = [_Block(fn, args, flags, k) for k, args in enumerate(blocks[1:], 1)]
    for worker, block in zip(_workers_for(len(handed)), handed):
        worker.blocks.put(block)
    try:
        first = _flushed(fn, blocks[0])
    finally:  # the workers write into arrays this call shares: none may still run when it returns
        if spin.all_set(flags, len(handed), CALLER_PAUSES):
            flags[0] = BACK
        else:
            flags[0] = ASLEEP
            for block in handed:
                block.finished.acquire()
    for block in handed:
        if block.error is not None:
            raise block.error
    return [first] + [block.result for block in handed]


def split(n, parts):
    """Bounds of `parts` contiguous blocks of range(n), sizes differing by at most one."""
    parts = max(1, min(parts, n))
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))
