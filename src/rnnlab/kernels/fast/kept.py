"""Inference's packs of the weights (packed.pack with keep), kept from call to call.

The last pack of each weight matrix (or of a range of its columns), or of W and U stacked, is kept
by the matrices' identities and the layout, so that a call on weights unchanged since the last takes
it instead of packing again: the pack took 27 of the 1 150 µs of LSTM inference at (100, 32, 1, 64)
and 4.4 of 250 ms at (25, 128, 512, 1024) on two threads (docs/PERFORMANCE.md). Whether the weights changed is read off
the pack itself, bit for bit (`holds`), however they were changed (an optimizer's step,
set_weights, a write into layer.params): the pack holds every value of its matrices. An entry goes
with its matrices (weak references), and a stale one before its successor is made. Training does
not keep its packs: its weights change at every step.
"""

import weakref

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import (
    numba_cache,  # noqa: F401  (installs the cache locators before anything compiles)
    pool,
)
from .ops import JIT
from .spin import mark_begun

# packs of this many bytes or more are compared by all the kernel threads, as packed.py packs them
PARALLEL_COMPARE = 2 << 20

_I32, _I64 = ir.IntType(32), ir.IntType(64)

_kept = {}  # (the matrices' ids, the layout) -> (weak references to the matrices, the pack)


def find(Ms, layout):
    """(key, P): the kept pack of the matrices Ms (a tuple) in this layout (a hashable description)
    where they still hold its bits, else (key, None), a stale entry dropped; key for keep()."""
    key = (tuple(id(M) for M in Ms), layout)
    entry = _kept.get(key)
    if entry is None:
        return key, None
    refs, P, columns = entry
    if all(ref() is M for ref, M in zip(refs, Ms)) and holds(Ms, P, columns):
        return key, P
    _kept.pop(key, None)
    return key, None


def keep(key, Ms, P, columns=None):
    """P kept for the matrices Ms until they go (or until find() finds it stale); columns as holds()'s."""

    def drop(_, key=key):
        _kept.pop(key, None)

    _kept[key] = (tuple(weakref.ref(M, drop) for M in Ms), P, columns)


def holds(Ms, P, columns=None):
    """Whether the packed panels P (⌈N/NR⌉, K, NR) hold the matrices Ms (C-contiguous, stacked down K) as
    packed.pack put them, bit for bit (a NaN equals itself, −0 differs from +0); columns: (c0, c1), P
    holds M[:, c0:c1] of one matrix M (packed.pack's columns); None: all N columns of each."""
    n = P.shape[0]
    k0 = 0
    for M in Ms:
        if not M.flags.c_contiguous:  # its rows are not where the compare reads them: never the same
            return False
        c0, c1 = (0, M.shape[1]) if columns is None else columns
        N = c1 - c0
        if P.nbytes >= PARALLEL_COMPARE:
            parts = pool.split(n, pool.num_threads())
            same = all(pool.run(_same, [(M, c0, N, P, k0, p0, p1) for p0, p1 in parts]))
        else:  # called directly: pool.run's setting of the floating-point state would cost more than the compare
            same = _same(pool.NO_MARK, M, c0, N, P, k0, 0, n)
        if not same:
            return False
        k0 += M.shape[0]
    return True


@njit(**JIT)
def _same(begun, M, c0, N, P, k0, p0, p1):
    """Whether panels p0:p1 of P, from their row k0, hold M's N columns from c0: each panel row against M's
    as one memcmp."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    _, _, NR = P.shape
    K, ld = M.shape
    lp, lk = P.strides[0] // P.itemsize, P.strides[1] // P.itemsize
    for k in range(K):
        for p in range(p0, p1):
            j0 = p * NR
            if _differ(P, p * lp + (k0 + k) * lk, M, k * ld + c0 + j0, min(NR, N - j0)):
                return False
    return True


@intrinsic
def _differ(typingctx, a, a0, b, b0, n):
    """Whether n values from offset a0 of a's data differ from those at offset b0 of b's in any bit (memcmp)."""
    sig = types.boolean(a, types.intp, b, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        a_, a0_, b_, b0_, n_ = args
        byte_ptr = ir.IntType(8).as_pointer()
        size = context.get_abi_sizeof(context.get_value_type(signature.args[0].dtype))
        memcmp = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_I32, [byte_ptr, byte_ptr, _I64]), "memcmp"
        )
        pa = builder.bitcast(
            builder.gep(context.make_array(signature.args[0])(context, builder, a_).data, [a0_]), byte_ptr
        )
        pb = builder.bitcast(
            builder.gep(context.make_array(signature.args[2])(context, builder, b_).data, [b0_]), byte_ptr
        )
        order = builder.call(memcmp, [pa, pb, builder.mul(n_, ir.Constant(_I64, size))])
        return builder.icmp_signed("!=", order, ir.Constant(_I32, 0))

    return sig, codegen
