"""Compiled building blocks of the fast kernels: matrix products and activations.

Importing this module imports numba and binds NumPy's OpenBLAS (blas.blas())
into compiled code; it raises ImportError when either is missing, and the fast
backend then falls back to the reference kernels.

Activations take a code (TANH, SIGMOID, ...) so that one compiled loop serves
every choice; derivatives are written in terms of the activation's output, as
in activations.py. In float64 tanh is the C library's; in float32 it is a
rational function that vectorises (see `tanh32`).
"""

import math

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from . import numba_cache  # noqa: F401  (installs the cache locators before anything compiles)
from .blas import blas

_blas = blas()
if _blas is None:
    raise ImportError("no 64-bit OpenBLAS found next to NumPy for the fast kernels")
llvm.add_symbol("rnnlab_cblas_sgemm", _blas.sgemm)
llvm.add_symbol("rnnlab_cblas_dgemm", _blas.dgemm)


def _cblas_gemm(name, dtype):
    # cblas_?gemm(order, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc), 64-bit ints
    i32, i64, ptr = types.int32, types.int64, types.CPointer(dtype)
    return types.ExternalFunction(
        name, types.void(i32, i32, i32, i64, i64, i64, dtype, ptr, i64, ptr, i64, dtype, ptr, i64)
    )


_sgemm = _cblas_gemm("rnnlab_cblas_sgemm", types.float32)
_dgemm = _cblas_gemm("rnnlab_cblas_dgemm", types.float64)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

# every kernel is compiled with these options; fastmath only contracts a*b+c into
# an FMA: no NaN/Inf assumptions, so a diverging model still shows NaN
JIT = dict(nogil=True, cache=True, fastmath={"contract"}, error_model="numpy", boundscheck=False)

TANH, SIGMOID, HARD_SIGMOID, RELU, LINEAR, SOFTSIGN = range(6)
CODES = {
    "tanh": TANH,
    "sigmoid": SIGMOID,
    "hard_sigmoid": HARD_SIGMOID,
    "relu": RELU,
    "linear": LINEAR,
    "softsign": SOFTSIGN,
}


def gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """C = alpha op(A) op(B) + beta C, row-major; A, B, C are arrays whose data start the matrices."""


@overload(gemm)
def _gemm_impl(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    call = _sgemm if C.dtype == types.float32 else _dgemm
    F = np.float32 if C.dtype == types.float32 else np.float64

    def impl(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
        call(
            ROW_MAJOR,
            TRANS if trans_a else NO_TRANS,
            TRANS if trans_b else NO_TRANS,
            m,
            n,
            k,
            F(alpha),
            A.ctypes,
            lda,
            B.ctypes,
            ldb,
            F(beta),
            C.ctypes,
            ldc,
        )

    return impl


# tanh(x) ≈ x P(x²) / Q(x²) on |x| ≤ 9, where float32 tanh is already ±1: a fit for relative
# error printed by benchmarks/fit_tanh.py; against float64 tanh on 2·10⁶ points the float32
# evaluation is off by at most 6.4 units in the last place (NumPy's own float32 tanh: 1.4)
TANH_P = tuple(
    np.float32(v)
    for v in (
        0.9999999411834656,
        0.12919270368186864,
        0.0029208070017278254,
        9.267833791301666e-06,
        -1.2781674186529973e-08,
        1.825837059416292e-11,
    )
)
TANH_Q = tuple(np.float32(v) for v in (1.0, 0.46252554247372646, 0.023763353325993813, 0.00022810645049115003))
TANH_CLAMP, _ONE32 = np.float32(9.0), np.float32(1.0)


@njit(**JIT)
def tanh32_fraction(x):
    """(n, d) with tanh32(x) = n / d before its clamp to [-1, 1]; d ≥ 1."""
    x = TANH_CLAMP if TANH_CLAMP < x else x  # min(9, x) and max(-9, x) as x86's minps and maxps: a NaN x passes through
    x = -TANH_CLAMP if x < -TANH_CLAMP else x
    s = x * x
    p = ((((TANH_P[5] * s + TANH_P[4]) * s + TANH_P[3]) * s + TANH_P[2]) * s + TANH_P[1]) * s + TANH_P[0]
    q = ((TANH_Q[3] * s + TANH_Q[2]) * s + TANH_Q[1]) * s + TANH_Q[0]
    return x * p, q


@njit(**JIT)
def tanh32(x):
    """float32 tanh with only +, ×, ÷ and compares, so that loops over it vectorise."""
    n, d = tanh32_fraction(x)
    y = n / d
    if y > _ONE32:
        y = _ONE32
    if y < -_ONE32:
        y = -_ONE32
    return y


def tanh(x):
    """tanh in the precision of x."""


@overload(tanh)
def _tanh_impl(x):
    if x == types.float32:
        return lambda x: tanh32(x)
    return lambda x: math.tanh(x)


def tanh_fraction(x):
    """(n, d) with tanh(x) = n / d in the precision of x: float32's rational function unclamped, else (tanh(x), 1).

    Inference multiplies gates as fractions and divides once (lstm.py, `_cell_infer`): a division
    costs far more than a product in a vector loop."""


@overload(tanh_fraction)
def _tanh_fraction_impl(x):
    if x == types.float32:
        return lambda x: tanh32_fraction(x)
    return lambda x: (math.tanh(x), 1.0)


def sigmoid_fraction(x):
    """(n, d) with σ(x) = n / d: σ(x) = (1 + tanh(x/2)) / 2 = (d' + n') / (2d') for tanh(x/2) = n'/d'."""


@overload(sigmoid_fraction)
def _sigmoid_fraction_impl(x):
    half = np.float32(0.5) if x == types.float32 else 0.5

    def impl(x):
        n, d = tanh_fraction(half * x)
        return d + n, d + d

    return impl


def act(code, z):
    """f(z) for the activation `code`, in the precision of z."""


@overload(act)
def _act_impl(code, z):
    F = np.float32 if z == types.float32 else np.float64
    half, one, zero, six = F(0.5), F(1.0), F(0.0), F(6.0)

    def impl(code, z):
        if code == TANH:
            return tanh(z)
        if code == SIGMOID:  # σ(z) = (1 + tanh(z/2)) / 2, as in activations.sigmoid
            return half * (one + tanh(half * z))
        # written so that a NaN comes out as NaN, as from np.clip and np.maximum
        if code == HARD_SIGMOID:  # relu6(z + 3) / 6
            v = z / six + half
            return zero if v < zero else (one if v > one else v)
        if code == RELU:
            return zero if z < zero else z
        if code == SOFTSIGN:  # z / (1 + |z|)
            return z / (one + abs(z))
        return z

    return impl


def dact(code, y):
    """f'(z) written with y = f(z)."""


@overload(dact)
def _dact_impl(code, y):
    F = np.float32 if y == types.float32 else np.float64
    one, zero, sixth = F(1.0), F(0.0), F(1.0 / 6.0)

    def impl(code, y):
        if code == TANH:
            return one - y * y
        if code == SIGMOID:
            return y * (one - y)
        if code == HARD_SIGMOID:
            return sixth if (y > zero and y < one) else zero
        if code == RELU:
            return one if y > zero else zero
        if code == SOFTSIGN:  # (1 − |y|)²
            d = one - abs(y)
            return d * d
        return one

    return impl


@intrinsic
def wide_vectors(typingctx):
    """Called first in a compiled function: its loops may be vectorised with 512-bit vectors where the CPU
    has them. LLVM prefers 256-bit ones on Intel's CPUs with AVX-512 (its tuning for AMD's Zen 4 already
    prefers 512) unless a function asks otherwise ("prefer-vector-width"), and numba sets that only for
    the whole process (NUMBA_CPU_FEATURES). It pays in the LSTM's inference cell, bound by its
    arithmetic: 0.84–0.90× its time with its data in L1 at H = 64–1024, 0.96–0.99× a whole inference
    call from B = 32 (docs/PERFORMANCE.md). The attribute is a string LLVM reads and llvmlite's list of
    known attributes lacks, so it is added to the function's set directly; a CPU without AVX-512 ignores
    it."""

    def codegen(context, builder, signature, args):
        prefer_wide_vectors(builder)
        return context.get_dummy_value()

    return types.void(), codegen


def prefer_wide_vectors(builder):
    """wide_vectors' attribute, set on the function `builder` writes into (for intrinsics that emit vectors)."""
    set.add(builder.function.attributes, '"prefer-vector-width"="512"')  # past llvmlite's check of the name


@njit(**JIT)
def copy(src, dst):
    """dst[j] = src[j] over a row. numba's `dst[:] = src` goes through its broadcasting assignment,
    which took 3–10× as long for rows of 64–1024 values (0.36–0.58 against 0.05–0.13 ns a value)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(inline="always", **JIT)
def activate(code, z, b):
    """z[j] = f(z[j] + b[j]) over a row; the branch on code sits outside the loop. Inlined, as it runs
    once per row (products.row_matmul_acc says why)."""
    n = z.shape[0]
    if code == TANH:
        for j in range(n):
            z[j] = tanh(z[j] + b[j])
    elif code == SIGMOID:
        for j in range(n):
            z[j] = act(SIGMOID, z[j] + b[j])
    else:
        for j in range(n):
            z[j] = act(code, z[j] + b[j])


@njit(nogil=True, cache=True, fastmath={"reassoc"}, error_model="numpy", boundscheck=False)
def all_finite(a):
    """Whether every value of a (1-D) is finite: Σ a_j·0 is then ±0, else NaN.

    The sum may be reordered (vectorised); nothing else is assumed, so a·0 stays NaN for a NaN or ±Inf.
    """
    zero = a.dtype.type(0)
    s = zero
    for j in range(a.shape[0]):
        s += a[j] * zero
    return s == zero
