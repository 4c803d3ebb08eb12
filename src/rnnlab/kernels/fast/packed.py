"""The recurrent product on weights packed once per call, with a register-tiled microkernel.

Every step multiplies a few batch rows (one core's block) by the same matrix, U or
Uᵀ. OpenBLAS copies U into its own packed layout at every call; packed once, the product
of 32 rows at H = 256 took 0.68× OpenBLAS's time (docs/PERFORMANCE.md, "The product of one
step, on one core"). Here the matrix is packed once per kernel call into column panels,

    P[p, k, j] = M[k, p·NR + j]        (zero past the last column),

so that the NR columns of one panel lie together for each k, and the microkernel
`_tile` keeps an MR × NR block of the result in vector registers while it runs
down k: per k it loads the panel's row once (NR/V vectors) and broadcasts one
value of each of the MR rows of A, MR·NR/V fused multiply-adds in all.

The tile's shape is chosen from the CPU's features when the matrix is packed
(`panel_width`), and the compiled loops read it back from P's shape, so cached code
serves any CPU: with AVX-512 (32 vector registers of 64 bytes) a panel row is four
vectors and MR = 6 (24 accumulators); with AVX2 (16 registers of 32 bytes) two
vectors and MR = 6 (12 accumulators). A block of one or two rows would leave most
registers idle on those panels, and its product waits on each accumulator's latency;
it gets wider panels instead, 16 (or 12) and 8 vectors (AVX-512), 6 and 4 (AVX2), so
that its one or two rows still keep 12–16 accumulators busy (`ROW_LAYOUTS`). The vector
code is written in LLVM IR (`_make_tile`) because numba keeps no register tile of its
own (it compiled the same loop in numba to scalar code, 3.2–3.7× slower, PERFORMANCE.md).
The same tiles make the input terms x_t W of all steps from W packed (`project`), overwriting
their result instead of adding to it, and a step's input and recurrent terms at once from W
stacked over U (`pack_stacked`).
"""

import os

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..memory import aligned_empty
from . import (
    kept,
    numba_cache,  # noqa: F401  (installs the cache locators before anything compiles)
    pool,
)
from .ops import JIT
from .spin import mark_begun

MR = 6  # rows of A per tile
WIDE, NARROW = 64, 32  # bytes per vector: AVX-512, AVX2
WIDE_VECTORS, NARROW_VECTORS = 4, 2  # vectors per panel row (NR = vectors · lanes)
WIDE_ROW = WIDE_VECTORS * WIDE  # bytes of a panel row with AVX-512's tile
NARROW_ROW = NARROW_VECTORS * NARROW
# blocks of one and of two rows: vectors per panel row, (one row's in order of preference, two
# rows'), for each vector width; one row takes 12 vectors where its matrix's columns fill whole
# panels of 12 and not of 16 (a GRU's 3H); each bytes-per-panel-row is distinct, so P's shape
# alone tells the compiled loops its layout
ROW_LAYOUTS = {WIDE: ((16, 12), 8), NARROW: ((6,), 4)}
# bytes of a panel kept in L1 for all rows: a k-block of the gradient products' columns (at_b), W's whole
# panel for the input terms (plan.input_panels); a larger k-block of the product is prefetched (PREFETCH_ROWS)
L1_PANEL = 32 * 1024
# bytes of a panel's k-block in the recurrent product, read from L2 by the tiles of all rows: 1.0–1.10×
# faster than k-blocks that fit L1 (32 KiB), whose sums each tile loads and stores once per k-block
K_BLOCK = 128 * 1024
# rows of the input terms (project) for which the tiles run over all of W's panels: 48 took 0.4–0.5× the
# time of 96 at K ≤ 32 and 0.85–1.04× at K = 64–512, 24 about as long as 48 (one thread)
PROJECT_ROWS = 48
CACHE_LINE = 64
# bytes of the k-blocks of a group of AVX2's panels that each tile of the product runs across before the next
# tile starts, its rows of A staying in L1 while the group stays in L2 (panels_per_group): at K = 384–1 536 the
# loop of products took 0.92–0.96× the time of one panel at a time on two threads (0.97× on one), whole calls
# 0.94–1.01× (LSTM inference), 0.87–1.03× (LSTM training), 0.86–1.02× (GRU inference), the same bits; all the
# panels in one group took 1.6–1.8× at 24 MiB of [W; U], read from L3 by every tile (docs/PERFORMANCE.md,
# "Tiles across a group of panels")
GROUP_BYTES = 256 * 1024
# rows ahead of the one in use that the tiles on MR-row panels prefetch from a panel into L1 (product, where a
# k-block exceeds L1_PANEL and every tile reads it from L2): the loop of products took 0.88–0.98× the
# time at H = 256–1024 against none, 0.99–1.01× at H = 128 (where the k-block fits L1 and nothing is
# fetched); 2–16 rows ahead all gained, 8 about the most. The tiles of one or two rows took 1.03–1.18×
# the time of LSTM and GRU calls at B = 1 and 2 with it, so theirs have none (docs/PERFORMANCE.md)
PREFETCH_ROWS = 8
# matrices of this many bytes or more are packed by all the kernel threads: two threads took 0.51–0.85×
# the time of one for an LSTM's U and Uᵀ at H = 512 and 1024 (4 and 16 MiB), 0.96–1.3× at H = 256 (1 MiB)
PARALLEL_PACK = 2 << 20

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)


def _make_tile(mr, vectors, vector_bytes, ahead=0):
    """An intrinsic: C[c0 + m·ldc + g·V + v] (+)= Σ_k A[a0 + m·lda + k·ka] · P[p0 + k·ldp + g·V + v].

    For m < mr, g < vectors, v < V = vector_bytes / itemsize, k < K. A, P, C are arrays of
    one float dtype (any shape; offsets and strides count elements from their first). P is a
    packed panel (ldp = NR) or the columns of a row-major matrix (ldp its row length); A is read
    along rows (ka = 1) or down columns (lda = 1); ka = -1 and ldp = -NR run down k from the
    end (product's from_end). The mr·vectors accumulators live in registers for the whole k loop.
    add: they start from C's values (+=), else from zero, C never read (=).
    fetch: at each k, P's row k + ahead (in the direction of k) is prefetched into L1, a cache line at a
    time (two k loops are compiled, with and without); a tile made with ahead = 0 has one loop and
    ignores fetch.
    """

    @intrinsic
    def tile(typingctx, A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch):
        i = types.intp
        sig = types.void(A, i, i, i, P, i, i, i, C, i, i, types.boolean, types.boolean)

        def codegen(context, builder, signature, args):
            A_, a0_, lda_, ka_, P_, p0_, ldp_, K_, C_, c0_, ldc_, add_, fetch_ = args
            dtype = signature.args[0].dtype
            lanes = vector_bytes // (4 if dtype == types.float32 else 8)
            vty = ir.VectorType(context.get_value_type(dtype), lanes)
            vptr = vty.as_pointer()
            name = f"llvm.fma.v{lanes}{'f32' if dtype == types.float32 else 'f64'}"
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)

            def data(k, value):
                return context.make_array(signature.args[k])(context, builder, value).data

            a = builder.gep(data(0, A_), [a0_])
            p = builder.gep(data(4, P_), [p0_])
            c = builder.gep(data(8, C_), [c0_])

            def c_vector(m, g):  # where C's vector (m, g) starts
                offset = builder.add(builder.mul(ir.Constant(_I64, m), ldc_), ir.Constant(_I64, g * lanes))
                return builder.bitcast(builder.gep(c, [offset]), vptr)

            acc = [[cgutils.alloca_once(builder, vty) for _ in range(vectors)] for _ in range(mr)]
            with builder.if_else(add_) as (from_c, from_zero):
                with from_c:
                    for m in range(mr):
                        for g in range(vectors):
                            builder.store(builder.load(c_vector(m, g), align=4), acc[m][g])
                with from_zero:
                    for m in range(mr):
                        for g in range(vectors):
                            builder.store(ir.Constant(vty, None), acc[m][g])  # zeroinitializer
            undef = ir.Constant(vty, ir.Undefined)
            splat = ir.Constant(ir.VectorType(_I32, lanes), [0] * lanes)
            byte_ptr = ir.IntType(8).as_pointer()
            prefetch_type = ir.FunctionType(ir.VoidType(), [byte_ptr, _I32, _I32, _I32])

            def k_loop(fetching):
                with cgutils.for_range(builder, K_) as loop:
                    k = loop.index
                    row = builder.gep(p, [builder.mul(k, ldp_)])  # P's row k
                    if fetching:  # a read (0), kept in all levels (3), of data (1): P's row k + ahead, line by line
                        prefetch = cgutils.get_or_insert_function(builder.module, prefetch_type, "llvm.prefetch.p0i8")
                        later = builder.gep(row, [builder.mul(ir.Constant(_I64, ahead), ldp_)])
                        for offset in range(0, vectors * vector_bytes, CACHE_LINE):
                            line = builder.gep(builder.bitcast(later, byte_ptr), [ir.Constant(_I64, offset)])
                            builder.call(prefetch, [line, *(ir.Constant(_I32, v) for v in (0, 3, 1))])
                    b = [
                        builder.load(builder.bitcast(builder.gep(row, [ir.Constant(_I64, g * lanes)]), vptr), align=4)
                        for g in range(vectors)
                    ]
                    for m in range(mr):
                        at = builder.add(builder.mul(ir.Constant(_I64, m), lda_), builder.mul(k, ka_))
                        value = builder.load(builder.gep(a, [at]))
                        am = builder.shuffle_vector(
                            builder.insert_element(undef, value, ir.Constant(_I32, 0)), undef, splat
                        )
                        for g in range(vectors):
                            builder.store(builder.call(fma, [am, b[g], builder.load(acc[m][g])]), acc[m][g])

            if ahead:
                with builder.if_else(fetch_) as (with_fetch, without):
                    with with_fetch:
                        k_loop(True)
                    with without:
                        k_loop(False)
            else:
                k_loop(False)
            for m in range(mr):
                for g in range(vectors):
                    builder.store(builder.load(acc[m][g]), c_vector(m, g), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


# every tile on MR-row panels prefetches: product() cuts a block's rows into tiles of nearly equal size, and
# those of four and five rows read the panels from L2 as the tiles of six do
_W1, _W2, _W3, _W4, _W5, _W6 = (_make_tile(mr, WIDE_VECTORS, WIDE, PREFETCH_ROWS) for mr in range(1, MR + 1))
_N1, _N2, _N3, _N4, _N5, _N6 = (_make_tile(mr, NARROW_VECTORS, NARROW, PREFETCH_ROWS) for mr in range(1, MR + 1))
_W1_ROW, _W1_ROW12, _W1_PAIR, _W2_PAIR = (_make_tile(mr, v, WIDE) for mr, v in ((1, 16), (1, 12), (1, 8), (2, 8)))
_N1_ROW, _N1_PAIR, _N2_PAIR = (_make_tile(mr, v, NARROW) for mr, v in ((1, 6), (1, 4), (2, 4)))
WIDE_ONE_ROW, WIDE_ONE_ROW12, WIDE_TWO_ROWS = 16 * WIDE, 12 * WIDE, 8 * WIDE  # bytes of their panel rows
NARROW_ONE_ROW, NARROW_TWO_ROWS = 6 * NARROW, 4 * NARROW


@njit(**JIT)
def most_rows(row_bytes):
    """The rows of A one tile takes on panels of row_bytes bytes a row: MR, 2 or 1."""
    if row_bytes == WIDE_ONE_ROW or row_bytes == WIDE_ONE_ROW12 or row_bytes == NARROW_ONE_ROW:
        return 1
    if row_bytes == WIDE_TWO_ROWS or row_bytes == NARROW_TWO_ROWS:
        return 2
    return MR


@njit(**JIT)
def _tile(row_bytes, mr, A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch):
    """The microkernel for mr rows (1..most_rows) on panels of row_bytes bytes a row; add: += (else =);
    fetch: prefetch P's rows ahead (the tiles on MR-row panels; those on one or two rows' have none)."""
    if row_bytes == WIDE_ONE_ROW:
        _W1_ROW(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif row_bytes == WIDE_ONE_ROW12:
        _W1_ROW12(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif row_bytes == WIDE_TWO_ROWS:
        if mr == 2:
            _W2_PAIR(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        else:
            _W1_PAIR(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif row_bytes == NARROW_ONE_ROW:
        _N1_ROW(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif row_bytes == NARROW_TWO_ROWS:
        if mr == 2:
            _N2_PAIR(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        else:
            _N1_PAIR(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif row_bytes == WIDE_ROW:
        if mr == 6:
            _W6(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        elif mr == 5:
            _W5(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        elif mr == 4:
            _W4(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        elif mr == 3:
            _W3(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        elif mr == 2:
            _W2(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
        else:
            _W1(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif mr == 6:
        _N6(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif mr == 5:
        _N5(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif mr == 4:
        _N4(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif mr == 3:
        _N3(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    elif mr == 2:
        _N2(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)
    else:
        _N1(A, a0, lda, ka, P, p0, ldp, K, C, c0, ldc, add, fetch)


_FEATURES = llvm.get_host_cpu_features()
_HOST = WIDE if _FEATURES.get("avx512f") else NARROW
# an x86 core without FMA would run llvm.fma as a library call per lane: there the product stays OpenBLAS's
HAS_FMA = bool(_FEATURES.get("fma")) or not any(name.startswith(("sse", "avx")) for name in _FEATURES)


# RNNLAB_TILE=avx512 or avx2 forces the tiles' vector width (any x86 CPU with FMA runs either), read when the
# kernels load: os.environ.get of an unset name raises and catches a KeyError, 1–2 µs at every call of a layer
TILE = os.environ.get("RNNLAB_TILE", "")


def vector_bytes():
    """Vector width the packed panels are laid out for: TILE ("avx512" or "avx2") forces one, else the CPU's."""
    if TILE == "avx512":
        return WIDE
    if TILE == "avx2":
        return NARROW
    if TILE:
        raise ValueError(f"RNNLAB_TILE expected 'avx512' or 'avx2', got {TILE!r}")
    return _HOST


def tile_is_wide():
    """Whether the tiles are AVX-512's (vector_bytes): the flag the compiled loops take."""
    return vector_bytes() == WIDE


def panel_width(dtype, vector_bytes, rows, columns):
    """NR, the columns of one panel for blocks of at most `rows` rows: vectors of a panel row × lanes.

    MR-row tiles' panels for three rows or more; for one or two, the first of ROW_LAYOUTS' widths
    (two rows: theirs, then one row's) that `columns` (the matrix's) fills whole panels of, else the
    first. Two rows on one row's panels take a tile each: a GRU's 3H = 192 at H = 64 fills no panel
    of two rows' 128 columns, but one of 192. dtype: a NumPy dtype."""
    lanes = vector_bytes // dtype.itemsize
    if rows > 2:
        return (WIDE_VECTORS if vector_bytes == WIDE else NARROW_VECTORS) * lanes
    one, two = ROW_LAYOUTS[vector_bytes]
    widths = ((two,) if rows == 2 else ()) + one
    for vectors in widths:
        if columns % (vectors * lanes) == 0:
            return vectors * lanes
    return widths[0] * lanes


@njit(**JIT)
def _pack(begun, M, c0, N, transpose, P, p0, p1):
    """P[p, k, j] = M[k, c0 + p·NR + j] (or Mᵀ's with transpose, c0 = 0) for panels p0:p1 of the N columns
    from c0, zero past the last; M C-contiguous, P's panel rows of unit stride (a slice of P's rows will do).

    Both orders work on blocks of 16 rows of P, which stay in L1. Plain, a block's 16 rows of M are
    read once and handed out to each panel in turn, a panel's row of each as one copy (_move); panel
    by panel, each over all of M's rows, took twice as long at H = 1024: every row of M its own page.
    Transposed, M is read along its rows sixteen values at a time, which land in sixteen rows of the
    panel (reading M down its columns took 2–3× as long)."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    _, K, NR = P.shape
    if transpose:
        for p in range(p0, p1):
            j0 = p * NR
            cols = min(NR, N - j0)
            for k0 in range(0, K, 16):
                k1 = min(k0 + 16, K)
                for j in range(cols):
                    for k in range(k0, k1):
                        P[p, k, j] = M[j0 + j, k]
                for k in range(k0, k1):
                    for j in range(cols, NR):
                        P[p, k, j] = 0.0
        return
    lp, lk = P.strides[0] // P.itemsize, P.strides[1] // P.itemsize  # P may be a slice of rows (pack_stacked)
    ld = M.shape[1]
    for k0 in range(0, K, 16):
        k1 = min(k0 + 16, K)
        for p in range(p0, p1):
            j0 = p * NR
            cols = min(NR, N - j0)
            for k in range(k0, k1):
                _move(P, p * lp + k * lk, M, k * ld + c0 + j0, cols)  # P[p, k, :cols] = M[k, c0 + j0 : c0 + j0 + cols]
                for j in range(cols, NR):
                    P[p, k, j] = 0.0


@intrinsic
def _move(typingctx, dst, d0, src, s0, n):
    """n values from offset s0 of src's data to offset d0 of dst's (one dtype; offsets count elements), one memcpy.

    The same copy as a loop over the row compiled to scalar moves (numba cannot tell LLVM that P and M
    never overlap): packing took 3–5× as long (docs/PERFORMANCE.md)."""
    sig = types.void(dst, types.intp, src, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        dst_, d0_, src_, s0_, n_ = args
        to = context.make_array(signature.args[0])(context, builder, dst_).data
        of = context.make_array(signature.args[2])(context, builder, src_).data
        size = context.get_abi_sizeof(context.get_value_type(signature.args[0].dtype))
        cgutils.raw_memcpy(builder, builder.gep(to, [d0_]), builder.gep(of, [s0_]), n_, size)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _line_offset(M):
    """Bytes from the last cache line boundary to M's data (compiled: NumPy's `M.ctypes` took 1–3 µs)."""
    return M.ctypes.data % CACHE_LINE


def own_panel(M, transpose, NR, columns=None):
    """Whether M (K, N), not transposed and taken whole (columns None or (0, N), as pack's), already is a
    panel of NR columns: N = NR, in C order, from a cache line (as the layers' weights are,
    memory.aligned_empty). Off a line, every vector load of the tile would straddle two lines: a GRU at
    (100, 1, 1, 64) took 1.15× the row loops' time."""
    whole = columns is None or tuple(columns) == (0, M.shape[1])
    return whole and not transpose and M.shape[1] == NR and M.flags.c_contiguous and _line_offset(M) == 0


def pack(M, transpose=False, width=None, rows=MR, keep=False, columns=None):
    """M (K, N) (or Mᵀ with transpose) packed into panels: P (⌈N/NR⌉, K, NR), NR = panel_width.

    width: the vector bytes to lay the panels out for (WIDE or NARROW); default vector_bytes().
    rows: the most rows of A a call of product() will take (one block's).
    columns: (c0, c1), M[:, c0:c1] packed (not transposed), as if it were M: the GRU's U_zr and U_h
    under reset_after=False, packed from U itself, so that their packs are kept like U's; None: all.
    A matrix of one whole panel (N = NR, own_panel) is its own: P is then a view of M, nothing
    copied. A large one (PARALLEL_PACK) is packed by all the kernel threads, each its share of the
    panels. keep (not transposed, as inference asks): the pack is kept for the next call that asks for
    M's with keep (kept.py)."""
    K, N = (M.shape[1], M.shape[0]) if transpose else M.shape
    c0, c1 = (0, N) if columns is None else columns
    if transpose and (c0, c1) != (0, N):
        raise ValueError("a transposed pack takes all of M's rows")
    NR = panel_width(M.dtype, vector_bytes() if width is None else width, rows, c1 - c0)
    if own_panel(M, transpose, NR, columns):
        return M.reshape(1, K, NR)
    if keep and transpose:
        raise ValueError("only a pack of M as it lies is kept")
    key, P = kept.find((M,), ("pack", NR, M.shape, M.dtype.str, c0, c1)) if keep else (None, None)
    if P is None:
        P = aligned_empty((-(-(c1 - c0) // NR), K, NR), M.dtype, CACHE_LINE)  # panel rows on cache lines
        _fill(M, transpose, P, c0, c1 - c0)
        if keep:
            kept.keep(key, (M,), P, (c0, c1))
    return P


def pack_stacked(W, U, width=None, rows=MR, keep=False):
    """W (D, N) stacked over U (H, N), [W; U], packed as pack() packs one matrix: P (⌈N/NR⌉, D + H, NR).

    Each panel's first D rows are W's, the next H rows U's; nothing is concatenated first. keep: as pack()'s."""
    D, N = W.shape
    NR = panel_width(W.dtype, vector_bytes() if width is None else width, rows, N)
    key, P = kept.find((W, U), ("stacked", NR, W.shape, U.shape, W.dtype.str)) if keep else (None, None)
    if P is None:
        P = aligned_empty((-(-N // NR), D + U.shape[0], NR), W.dtype, CACHE_LINE)
        _fill(W, False, P[:, :D], 0, N)
        _fill(U, False, P[:, D:], 0, N)
        if keep:
            kept.keep(key, (W, U), P)
    return P


def _fill(M, transpose, P, c0, N):
    """_pack of all of P's panels, the N columns of M from c0 (all of Mᵀ's, transposed); by all the kernel
    threads for a large pack (PARALLEL_PACK)."""
    M = np.ascontiguousarray(M)  # rows of M as _pack copies them, M.shape[1] values apart
    if P.shape[1] * N * M.itemsize < PARALLEL_PACK:  # the bytes copied: K rows of N values
        _pack(pool.NO_MARK, M, c0, N, transpose, P, 0, P.shape[0])
    else:
        parts = pool.split(P.shape[0], pool.num_threads())
        pool.run(_pack, [(M, c0, N, transpose, P, p0, p1) for p0, p1 in parts])


@njit(**JIT)
def project(A, P, C, q0, q1):
    """C[q] = A[q] M for rows q0:q1 of A (·, K) and C (·, N), both C-contiguous; P packs M (K, N).

    The input terms x_t W of many steps at once, C overwritten (never read, as a BLAS product
    with β = 0): the rows in blocks of PROJECT_ROWS, for each of which the tiles run over all of
    M's panels. Where a panel of all K fits L1 (plan.input_panels) this took 0.53–0.89× OpenBLAS's
    time from K = 8 to 64 and 0.94–1.01× at 128, one thread, the pack included (benchmarks/packed_product.py
    --input, two runs).
    """
    K, N = P.shape[1], C.shape[1]
    for m in range(q0, q1, PROJECT_ROWS):
        product(A, m * K, K, min(PROJECT_ROWS, q1 - m), P, C, m * N, N, N, False, False)


@njit(**JIT)
def panels_per_group(row_bytes, kb):
    """Panels whose k-blocks of kb rows each tile of product() runs across before the next tile starts: as
    many as make GROUP_BYTES on AVX2's panels (row_bytes of a panel row), where that order was measured; one
    on the others, whose panel-by-panel order was measured on AVX-512 machines and grouping never was."""
    if row_bytes != NARROW_ROW:
        return 1
    return max(1, GROUP_BYTES // (kb * row_bytes))


@njit(**JIT)
def product(A, a0, lda, n, P, C, c0, ldc, N, from_end, add):
    """C[c0 + m·ldc + j] (+)= Σ_k A[a0 + m·lda + k] M[k, j] for rows m < n and columns j < N; P packs M (K, N).

    add: C += A M; else C = A M, C never read (as a BLAS product's β = 1 or 0).

    The loops run over k-blocks of K_BLOCK bytes of a panel (outer), groups of panels whose k-blocks
    make GROUP_BYTES, tiles, then the panels of the group (inner): each tile runs across the group with
    its rows of A in L1, and the group's k-blocks serve the tiles of all n rows from L2. A group of one
    panel (panels_per_group) is the order the tiles on AVX-512's panels keep: one k-block of a panel
    serves every tile, and where it exceeds L1 (L1_PANEL) the tiles prefetch its rows PREFETCH_ROWS
    ahead. Rows that fit one tile take each panel whole, as no other tile will reuse it. The n rows
    are cut into ⌈n / most_rows⌉ tiles of nearly equal size: a tile of one or two rows has too few
    sums to hide the latency of its multiply-adds, and 32 rows as five tiles of six and one of two
    took 1.06× the time of four of five and two of six (8 rows as 6 + 2: 1.14× 4 + 4; AVX2, one
    thread, docs/PERFORMANCE.md). A panel cut by N (the last, when N is not a multiple of NR) is
    computed on a tile of its own and copied back. C is C-contiguous (its offsets count elements).
    The order of the loops changes no sum: each element of C adds its products along k in the same
    order.

    from_end: the k-blocks, the groups, the panels and k within each tile run backwards. The loops
    over time pass it at every other step, so that the part of M one step read last, still in the caches,
    is the part the next step reads first: a U somewhat larger than L1 is then mostly read from
    L1 instead of L2 (an LSTM's U at H = 64 is 64 KiB; L1 holds 48 KiB).
    """
    n_panels, K, NR = P.shape
    row_bytes = NR * P.itemsize
    tile_rows = most_rows(row_bytes)
    tiles = -(-n // tile_rows)
    base, extra = divmod(n, max(tiles, 1))  # the first `extra` tiles take base + 1 rows, the others base
    kc = max(1, K_BLOCK // row_bytes) if n > tile_rows else K
    n_blocks = -(-K // kc)
    dk = -1 if from_end else 1  # the tiles' step along k, in A and in P
    if N % NR:  # only a panel cut by N needs a tile of its own: nothing is allocated at the other steps
        work = np.empty((tile_rows, NR), P.dtype)
    for kq in range(n_blocks):
        k0 = (n_blocks - 1 - kq if from_end else kq) * kc
        kb = min(kc, K - k0)
        first = k0 + kb - 1 if from_end else k0  # the k a tile starts from
        onto = add or kq > 0  # the k-blocks after the first add to what it wrote
        group = panels_per_group(row_bytes, kb)
        fetch = group == 1 and kb * row_bytes > L1_PANEL  # one k-block read from L2 by every tile: rows prefetched
        for g in range(0, n_panels, group):
            m = 0
            for i in range(tiles):
                mr = base + 1 if i < extra else base
                a = a0 + m * lda + first
                for q in range(g, min(g + group, n_panels)):
                    p = n_panels - 1 - q if from_end else q
                    j0 = p * NR
                    cols = min(NR, N - j0)
                    pk = (p * K + first) * NR
                    if cols == NR:
                        _tile(row_bytes, mr, A, a, lda, dk, P, pk, dk * NR, kb, C, c0 + m * ldc + j0, ldc, onto, fetch)
                    else:
                        flat = C.reshape(-1)  # C is C-contiguous, as the offsets assume
                        for u in range(mr):
                            for j in range(NR):
                                work[u, j] = flat[c0 + (m + u) * ldc + j0 + j] if j < cols else 0.0
                        _tile(row_bytes, mr, A, a, lda, dk, P, pk, dk * NR, kb, work, 0, NR, onto, fetch)
                        for u in range(mr):
                            for j in range(cols):
                                flat[c0 + (m + u) * ldc + j0 + j] = work[u, j]
                m += mr


@njit(**JIT)
def at_b(As, strides, B, Cs, c0, c1, wide):
    """Cs[s][:, c0:c1] = As[s]ᵀ B[:, c0:c1] for each source s, in one pass over B (N, G), read in place.

    As: a tuple of matrices A (N, M), each with its C (M, G) in the tuple Cs and its row length in
    strides; all C-contiguous. The weight gradients Σ_t x_tᵀ dz_t, Σ_t h_{t-1}ᵀ dz_t and Σ_t dz_t over all
    steps at once (N = T·B): the microkernel reads A down its columns (lda = 1, ka = M) and B's rows
    as they lie (ldp = G), k-block by k-block so that a k-block of B's columns stays in L1 for the
    tiles of every source. A stride of 0 with A a single 1.0 gives the column sums of B (M = 1): the
    bias gradient. Columns past the last whole panel go through a zero-padded copy of their stripe.
    """
    N, G = B.shape
    row_bytes = WIDE_ROW if wide else NARROW_ROW
    NR = row_bytes // B.itemsize
    kc = max(1, L1_PANEL // row_bytes)
    for s in range(len(Cs)):
        Cs[s][:, c0:c1] = 0.0
    stripe = np.zeros((kc, NR), B.dtype)  # the last, partial panel's k-block
    work = np.empty((MR, NR), B.dtype)
    for k0 in range(0, N, kc):
        kb = min(kc, N - k0)
        for j0 in range(c0, c1, NR):
            cols = min(NR, c1 - j0)
            if cols < NR:
                for k in range(kb):
                    for j in range(cols):
                        stripe[k, j] = B[k0 + k, j0 + j]
            for s in range(len(As)):
                A, a_stride, C = As[s], strides[s], Cs[s]
                flat = C.reshape(-1)
                tiles = -(-C.shape[0] // MR)
                base, extra = divmod(C.shape[0], max(tiles, 1))  # tiles of nearly equal size, as in product
                m = 0
                for i in range(tiles):
                    mr = base + 1 if i < extra else base
                    a = k0 * a_stride + m
                    if cols == NR:
                        _tile(row_bytes, mr, A, a, 1, a_stride, B, k0 * G + j0, G, kb, C, m * G + j0, G, True, False)
                    else:
                        for u in range(mr):
                            for j in range(NR):
                                work[u, j] = flat[(m + u) * G + j0 + j] if j < cols else 0.0
                        _tile(row_bytes, mr, A, a, 1, a_stride, stripe, 0, NR, kb, work, 0, NR, True, False)
                        for u in range(mr):
                            for j in range(cols):
                                flat[(m + u) * G + j0 + j] = work[u, j]
                    m += mr
