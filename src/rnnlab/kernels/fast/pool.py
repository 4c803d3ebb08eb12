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
workers' flags. A worker, its block done, does not ask for the GIL while the
caller may hold it (of two threads that ask, one sleeps): it watches, for a while,
for the next call's first block to begin, which has let the GIL go, and only
then takes the GIL and its next block.

The protocol of a block function: its first argument, `begun`, is an int64 array
that it marks (spin.mark_begun) as its first act, in compiled code without the
GIL; run() passes it, a real array for the caller's block and an empty one for the
others. A function that does not mark is still run right, its workers only slower
to start; so are calls from several threads at once, which share the mark: a worker
takes its blocks from its queue, the mark only says when.
"""

import itertools
import os
import queue
import threading

import numpy as np

from . import spin
from .fpenv import flushing

# a worker's flag: its block is through (returned, or raised: the error is on the block)
DONE = 1
# the caller's flag (flags[0]): it has gone to sleep until the workers let go of their locks
ASLEEP = 1
# pauses the caller waits for the workers before it sleeps (some 200–260 µs): a longer wait is rare, for blocks
# of equal rows, and a core that watches a flag is a core no other program can use
CALLER_PAUSES = 8000
# pauses a worker, its block done, watches for the next call's first block (some 400–520 µs): the Python between
# two calls of a loop takes tens of microseconds; past them the worker asks for the GIL, and may sleep
WATCH_PAUSES = 16000
# what each call's first block marks (spin.mark_begun): [0] the number of the last call whose first block has
# begun, [1] the number of the call being made
BEGUN = np.zeros(spin.LINE, np.int64)
# what the other blocks, and functions called outside run(), are given to mark: nothing
NO_MARK = np.zeros(0, np.int64)


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
    number: the call's number (BEGUN). finished: a lock held until the worker is through with the block,
    for a caller that sleeps.
    """

    __slots__ = ("fn", "args", "flags", "k", "number", "finished", "result", "error")

    def __init__(self, fn, args, flags, k, number):
        self.fn, self.args, self.flags, self.k, self.number = fn, args, flags, k, number
        self.finished = threading.Lock()
        self.finished.acquire()
        self.result = self.error = None

    def run(self):
        """On the worker: the block, its flag, the watch for a sleeping caller or the next call, the lock let go."""
        try:
            self.result = _flushed(self.fn, self.args)
        except BaseException as error:  # handed to the caller, which raises it
            self.error = error
        spin.set_then_watch(self.flags, spin.LINE * self.k, DONE, 0, BEGUN, self.number, WATCH_PAUSES)
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


_numbers = itertools.count(1)


def run(fn, blocks):
    """fn(begun, *args) for each args in blocks, in parallel; the first runs on this thread.

    fn must release the GIL (a numba nogil function) for the blocks to overlap,
    and marks `begun` as its first act (the protocol above).
    Each block runs with subnormals flushed to zero on its thread (fpenv.py).
    Returns the results in order; an error raised in any block is raised here,
    once every block has finished.
    """
    if len(blocks) == 1:
        return [_flushed(fn, (NO_MARK, *blocks[0]))]
    number = next(_numbers)
    flags = np.zeros(spin.LINE * len(blocks), np.int64)
    handed = [_Block(fn, (NO_MARK, *args), flags, k, number) for k, args in enumerate(blocks[1:], 1)]
    for worker, block in zip(_workers_for(len(handed)), handed):
        worker.blocks.put(block)
    BEGUN[1] = number
    try:
        first = _flushed(fn, (BEGUN, *blocks[0]))
    finally:  # the workers write into arrays this call shares: none may still run when it returns
        if not spin.all_set(flags, len(handed), CALLER_PAUSES):
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
