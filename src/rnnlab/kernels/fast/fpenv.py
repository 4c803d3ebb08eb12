"""Subnormal numbers flushed to zero while a kernel runs, on the thread that runs it.

A float32 gradient that fades over many steps (a loss on h_T only) passes through
subnormal numbers, and x86 cores take a slow path for operations on them: a float32
LSTM training step at T = 1000, B = 16, H = 64 with the loss on h_T took 374 ms,
38 ms flushed (docs/PERFORMANCE.md, "Subnormals flushed to zero"). The SSE control register
MXCSR has two bits against it: FTZ (results that would be subnormal become ±0)
and DAZ (subnormal inputs are read as ±0). `flushing()` sets both on the calling
thread and puts the register back as it was on exit; pool.run wraps every block in
it, so the BLAS products called from a block run flushed too. The register is
per thread: Python code on other threads is not affected.

Off x86 the functions do nothing: other architectures keep this switch in another
register, which is left as it is.

Flushing drops only amounts below 2⁻¹²⁶ ≈ 1.2e-38 (float32) or 2⁻¹⁰²² ≈ 2.2e-308
(float64) from intermediate results; tests/kernels/test_fpenv.py holds the flushed
gradients to the reference's within the usual tolerances on a case full of subnormals.
"""

import platform

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")

FTZ = 1 << 15  # MXCSR bit 15: flush to zero (Intel SDM vol. 1, 10.2.3)
DAZ = 1 << 6  # MXCSR bit 6: denormals are zeros

if X86:
    import numpy as np
    from llvmlite import ir
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    from . import numba_cache  # noqa: F401  (installs the cache locators before anything compiles)

    _I32 = ir.IntType(32)
    _PTR = ir.IntType(8).as_pointer()

    def _mxcsr_call(builder, name, slot):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [_PTR]), name)
        builder.call(fn, [builder.bitcast(slot, _PTR)])

    @intrinsic
    def _stmxcsr(typingctx):
        """The MXCSR register, as llvm.x86.sse.stmxcsr stores it."""

        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, _I32)
            _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
            return builder.load(slot)

        return types.uint32(), codegen

    @intrinsic
    def _ldmxcsr(typingctx, value):
        """MXCSR = value (llvm.x86.sse.ldmxcsr)."""

        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, _I32)
            builder.store(args[0], slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
            return context.get_dummy_value()

        return types.void(types.uint32), codegen

    @njit(nogil=True, cache=True)
    def mxcsr():
        """This thread's MXCSR."""
        return _stmxcsr()

    @njit(nogil=True, cache=True)
    def flush_on():
        """Set FTZ and DAZ on this thread; returns MXCSR as it was."""
        before = _stmxcsr()
        _ldmxcsr(np.uint32(before | FTZ | DAZ))
        return before

    @njit(nogil=True, cache=True)
    def restore(before):
        """MXCSR = before (a value flush_on returned)."""
        _ldmxcsr(np.uint32(before))

else:

    def mxcsr():
        """No MXCSR off x86: 0."""
        return 0

    def flush_on():
        """Off x86: nothing to set."""
        return 0

    def restore(before):
        """Off x86: nothing to restore."""


class flushing:
    """Context: subnormals flushed to zero on this thread inside, MXCSR restored after (even on an error)."""

    def __enter__(self):
        self._before = flush_on()
        return self

    def __exit__(self, *exc):
        restore(self._before)
        return False
