"""Waiting without sleeping: flags that one thread sets and another watches, in compiled code without the GIL.

A thread that sleeps until the operating system wakes it took 20–40 µs to run again
on the virtual machines of docs/PERFORMANCE.md, whose idle cores halt; one that
watches a flag sees it set within a microsecond. pool.py waits this way at the end
of a call, where the threads wait for each other some tens of microseconds, and a
worker between calls, until the next call's first block has begun.

Flags are int64 arrays, 0 until set. Each thread's flag has a cache line of its own
(index LINE · k): a thread that sets its flag then does not take the line from under
one that watches another.
"""

import ctypes
import ctypes.util
import platform

import llvmlite.binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import numba_cache  # noqa: F401  (installs the cache locators before anything compiles)
from .ops import JIT

# int64 values in a cache line of 64 bytes
LINE = 8
# pauses between two offers of the core to other threads (sched_yield): where there are more threads than
# cores, a thread that waits would otherwise hold a core that one with work needs
YIELD_EVERY = 200

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _yield_function():
    """The C function that offers the core to another thread: sched_yield, or Windows' SwitchToThread."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None).sched_yield
    except (OSError, AttributeError):
        return ctypes.windll.kernel32.SwitchToThread  # type: ignore[attr-defined]


llvm.add_symbol("rnnlab_yield", ctypes.cast(_yield_function(), ctypes.c_void_p).value)
_yield = types.ExternalFunction("rnnlab_yield", types.int32())


def _pointer(context, builder, signature, args):
    array_type = signature.args[0]
    array = context.make_array(array_type)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])


@intrinsic
def _load(typingctx, flags, i):
    """flags[i] (int64), read with acquire ordering: what its writer stored before it is seen too."""

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_pointer(context, builder, signature, args), "acquire", 8)

    return types.int64(flags, i), codegen


@intrinsic
def _store(typingctx, flags, i, value):
    """flags[i] = value (int64), stored with release ordering: what this thread stored before is seen first."""

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(value, _pointer(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return types.void(flags, i, value), codegen


@intrinsic
def _pause(typingctx):
    """x86's pause, which tells the core it is in a wait loop (it then spares the pipeline); elsewhere nothing."""

    def codegen(context, builder, signature, args):
        if _X86:
            void = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, void, "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()

    return types.void(), codegen


@njit(**JIT)
def all_set(flags, n, pauses):
    """Whether flags[LINE · k] is set for every k in 1..n within `pauses` pauses of this core (some 25 ns
    each on the machines of docs/PERFORMANCE.md). flags: int64 (LINE · (n + 1),). The GIL is released."""
    k = 1
    for p in range(pauses + 1):
        while k <= n and _load(flags, LINE * k) != 0:
            k += 1
        if k > n:
            return True
        _pause()
        if p % YIELD_EVERY == YIELD_EVERY - 1:
            _yield()
    return False


# what set_then_watch saw: nothing within its pauses, a later call's first block begun, the other flag set
TIMED_OUT, BEGUN, FLAGGED = 0, 1, 2


@njit(**JIT)
def mark_begun(begun):
    """begun[0] = begun[1] (the number of a call), unless begun is empty: the first block of that call has
    begun and its thread has let the GIL go (pool.py). begun: int64 (LINE,) or (0,)."""
    if begun.shape[0] > 1:
        _store(begun, 0, begun[1])


@njit(**JIT)
def set_then_watch(flags, i, value, j, begun, number, pauses):
    """flags[i] = value; then, for up to `pauses` pauses, watch flags[j] and begun[0] (mark_begun) for a call
    numbered above `number`. Returns FLAGGED, BEGUN (flags[j] first) or TIMED_OUT. The GIL is released first."""
    _store(flags, i, value)
    for p in range(pauses + 1):
        if _load(flags, j) != 0:
            return FLAGGED
        if _load(begun, 0) > number:
            return BEGUN
        _pause()
        if p % YIELD_EVERY == YIELD_EVERY - 1:
            _yield()
    return TIMED_OUT
