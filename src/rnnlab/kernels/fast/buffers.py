"""Work buffers of the fast kernels, reused from call to call.

A training step allocates its caches and dz afresh. glibc hands large freed
blocks back to the system, and the next step faults them in again page by
page: on the 2-core VM of docs/PERFORMANCE.md thousands of page faults per
step, about a third of the time of a (100, 32, 1, 64) LSTM step. So the
buffers come back here instead, once nothing else refers to them, and are
handed out again for the same shape and dtype; at most LIMIT bytes are kept
(oldest dropped first; set it to 0 to keep none), and clear() lets them all go.

A buffer is taken back only when its reference count shows no other holder:
no view (a view refers to the array that owns the memory), no other name.
"""

import sys
import threading
from collections import OrderedDict

import numpy as np

from ... import interrupts

LIMIT = 128 << 20

_free = OrderedDict()  # (shape, dtype) -> list of arrays, least recently given back first
_kept = 0
_lock = threading.Lock()


def empty(shape, dtype):
    """np.empty(shape, dtype), from the kept buffers when one fits."""
    global _kept
    key = (tuple(shape), np.dtype(dtype))
    with _lock:
        stack = _free.get(key)
        if stack:
            a = stack.pop()
            if not stack:
                del _free[key]
            _kept -= a.nbytes
            return a
    return np.empty(shape, dtype)


def clear():
    """Let every kept buffer go (back to the system)."""
    global _kept
    with _lock:
        _free.clear()
        _kept = 0


def _count(items, k):
    return sys.getrefcount(items[k])


_ALONE = _count([np.empty(1)], 0)  # the count of an array held by the list only, measured the same way


def give_back(items):
    """Keep the arrays of the list `items` that nothing else refers to; forget the others."""
    global _kept
    for k in range(len(items)):
        if _count(items, k) != _ALONE:
            continue
        a = items[k]
        with _lock:
            _free.setdefault((a.shape, a.dtype), []).append(a)
            _free.move_to_end((a.shape, a.dtype))
            _kept += a.nbytes
            while _kept > LIMIT and _free:
                key, stack = next(iter(_free.items()))
                _kept -= stack.pop(0).nbytes
                if not stack:
                    del _free[key]
        del a
    items.clear()


class Lease:
    """Put last in a cache dict: when the cache goes, its buffers come back (the dict drops
    its entries in order, so by then the lease holds the only references)."""

    __slots__ = ("arrays",)

    def __init__(self, *arrays):
        self.arrays = list(arrays)

    def __del__(self):
        try:
            give_back(self.arrays)
        except KeyboardInterrupt:  # Ctrl-C landed in here, where Python would print and drop it:
            interrupts.hold()  # the next kernel call raises it
        except Exception:  # interpreter shutdown: module globals may be gone
            pass
