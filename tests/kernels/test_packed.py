"""The products on packed weights (kernels/fast/packed.py) equal OpenBLAS's and the reference: the
recurrent product on U, and the input terms of all steps on W (packed.project).

Both tile widths (AVX-512's and AVX2's, forced with packed.TILE, which RNNLAB_TILE sets: either
runs on any x86 CPU, the compiler splitting or joining vectors) and both product paths
(plan.PRODUCT, which RNNLAB_PRODUCT sets: packed, which packs U and W, or blas) are run through
every cell's forward, backward and infer, with sizes that do not fill a tile (odd H, rows not a
multiple of the tile's). Tolerances as in test_fast.py.
"""

import functools
import os
import subprocess
import sys

import numpy as np
import pytest
from test_fast import assert_close, compare, compare_infer, random_case

import rnnlab as rl
from rnnlab import kernels
from rnnlab.kernels.memory import aligned_empty

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")

if kernels.fast_available():
    from rnnlab.kernels.fast import packed
    from rnnlab.kernels.fast import plan as fast_plan


def numpy_product(A, a0, lda, n, M, C, c0, ldc):
    """What packed.product must compute with add, in float64: C[c0 + m·ldc + j] += Σ_k A[a0 + m·lda + k] M[k, j]."""
    K, N = M.shape
    out = C.astype(np.float64)
    for m in range(n):
        row = A[a0 + m * lda : a0 + m * lda + K].astype(np.float64)
        out[c0 + m * ldc : c0 + m * ldc + N] += row @ M.astype(np.float64)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("width", ["wide", "narrow"])
def test_product_on_packed_panels_equals_numpy(dtype, width):
    vector_bytes = packed.WIDE if width == "wide" else packed.NARROW
    rng = np.random.default_rng(7)
    for trial in range(60):
        K, N, n = int(rng.integers(1, 300)), int(rng.integers(1, 600)), int(rng.integers(1, 20))
        rows = [packed.MR, 2, 1][trial % 3]  # the layout for blocks of this many rows
        if trial < 11:  # sizes that fill whole panels and tiles, one panel exactly, ones that cross a k-block
            fixed = [(64, 256, 12), (513, 128, 7), (7, 64, 1), (300, 512, 2), (64, 256, 1), (200, 384, 3)]
            K, N, n = (fixed + [(5, 64, 7), (33, 128, 2), (64, 256, 1), (2100, 40, 7), (50, 192, 2)])[trial]
        if rows < 3 and trial % 2 == 0:  # the rows the layout was made for (else more: tiles in turn)
            n = min(n, rows)
        M = rng.standard_normal((K, N)).astype(dtype)
        transpose = trial % 2 == 1  # pack Mᵀ's transpose: M again
        P = packed.pack(np.ascontiguousarray(M.T) if transpose else M, transpose, vector_bytes, rows)
        NR = packed.panel_width(np.dtype(dtype), vector_bytes, rows, N)
        assert P.shape == (-(-N // NR), K, NR)
        if packed.own_panel(M, transpose, NR):  # M is one whole panel: P is M, not a copy
            assert np.shares_memory(P, M)
        else:
            assert P.ctypes.data % 64 == 0, "panels start on a cache line"
        lda, ldc = K + int(rng.integers(0, 3)), N + int(rng.integers(0, 3))
        a0, c0 = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        A = rng.standard_normal(a0 + n * lda).astype(dtype)
        C = rng.standard_normal(c0 + n * ldc + 3).astype(dtype)
        expected = numpy_product(A, a0, lda, n, M, C, c0, ldc)
        rows_of_c = np.zeros(C.shape, bool)  # where C's n rows of N lie
        for m in range(n):
            rows_of_c[c0 + m * ldc : c0 + m * ldc + N] = True
        alone = numpy_product(A, a0, lda, n, M, np.where(rows_of_c, 0.0, C), c0, ldc)  # C = A M
        for from_end, add in ((False, True), (True, True), (False, False), (True, False)):
            out = C.copy() if add else np.where(rows_of_c, np.nan, C).astype(dtype)  # = never reads C's rows
            packed.product(A, a0, lda, n, P, out, c0, ldc, N, from_end, add)
            want = expected if add else alone
            assert_close(out, want.astype(dtype), dtype, f"K={K} N={N} n={n} rows={rows} {from_end=} {add=}")
            assert np.array_equal(out[~rows_of_c], C[~rows_of_c]), "wrote outside the rows"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("width", ["wide", "narrow"])
def test_product_with_its_k_blocks_prefetched_equals_numpy(dtype, width):
    """K-blocks of a panel larger than L1 (packed.L1_PANEL), whose rows the tiles prefetch ahead, the
    prefetch reaching past P's end, and ones just within it, which they do not: the same sums either way."""
    vector_bytes = packed.WIDE if width == "wide" else packed.NARROW
    rng = np.random.default_rng(5)
    row_bytes = packed.panel_width(np.dtype(dtype), vector_bytes, packed.MR, 1) * np.dtype(dtype).itemsize
    within = packed.L1_PANEL // row_bytes  # rows of a k-block that fits
    for K in (within, within + 1, within + packed.PREFETCH_ROWS + 3):
        n, N = packed.MR + 3, 3 * row_bytes // np.dtype(dtype).itemsize - 5  # two tiles of rows, a cut panel
        M = rng.standard_normal((K, N)).astype(dtype)
        A = rng.standard_normal(n * K).astype(dtype)
        C = rng.standard_normal(n * N).astype(dtype)
        P = packed.pack(M, width=vector_bytes)
        expected = numpy_product(A, 0, K, n, M, C, 0, N)
        for from_end in (False, True):
            out = C.copy()
            packed.product(A, 0, K, n, P, out, 0, N, N, from_end, True)
            assert_close(out, expected.astype(dtype), dtype, f"K={K} {from_end=}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_the_tiles_run_across_groups_of_panels_with_the_sums_numpy_makes(dtype):
    """AVX2's panels in groups (packed.panels_per_group): groups that do not divide the panels, the last
    holding a panel cut by N; a K of two k-blocks whose groups differ; both directions, += and =.
    AVX-512's panels keep groups of one."""
    itemsize = np.dtype(dtype).itemsize
    row_bytes = packed.panel_width(np.dtype(dtype), packed.NARROW, packed.MR, 1) * itemsize
    assert row_bytes == packed.NARROW_ROW
    NR, k_block = row_bytes // itemsize, packed.K_BLOCK // row_bytes
    rng = np.random.default_rng(13)
    n = 2 * packed.MR + 1  # three tiles of rows
    for K in (packed.GROUP_BYTES // (3 * row_bytes), k_block + 40):
        group = packed.panels_per_group(row_bytes, min(K, k_block))
        N = (2 * group + 1) * NR + 5  # two whole groups, then one whole panel and one cut by N
        assert 1 < group < -(-N // NR) - 2
        M = rng.standard_normal((K, N)).astype(dtype)
        A = rng.standard_normal(n * K).astype(dtype)
        C = rng.standard_normal(n * N).astype(dtype)
        P = packed.pack(M, width=packed.NARROW)
        for from_end, add in ((False, True), (True, True), (False, False), (True, False)):
            out = C.copy() if add else np.full_like(C, np.nan)  # = never reads C
            packed.product(A, 0, K, n, P, out, 0, N, N, from_end, add)
            want = numpy_product(A, 0, K, n, M, C if add else np.zeros_like(C), 0, N)
            assert_close(out, want.astype(dtype), dtype, f"K={K} N={N} {group=} {from_end=} {add=}")
    assert packed.panels_per_group(packed.WIDE_ROW, 8) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("width", ["wide", "narrow"])
def test_input_terms_on_packed_panels_equal_numpy(dtype, width):
    """packed.project overwrites rows q0:q1 of C with A M: what C held is never read (NaN there stays out)."""
    vector_bytes = packed.WIDE if width == "wide" else packed.NARROW
    rng = np.random.default_rng(11)
    k_block = packed.K_BLOCK // (
        packed.panel_width(np.dtype(dtype), vector_bytes, packed.MR, 1) * np.dtype(dtype).itemsize
    )
    # (rows, K, N): whole panels, a panel cut by N, more rows than a block of PROJECT_ROWS, K across two k-blocks
    cases = [(100, 128, 256), (7, 3, 40), (130, 64, 192), (61, 33, 100), (9, k_block + 5, 70), (1, 1, 1)]
    for N_rows, K, N in cases:
        A = rng.standard_normal((N_rows, K)).astype(dtype)
        M = rng.standard_normal((K, N)).astype(dtype)
        P = packed.pack(M, width=vector_bytes)
        expected = (A.astype(np.float64) @ M.astype(np.float64)).astype(dtype)
        for q0, q1 in ((0, N_rows), (N_rows // 3, N_rows - N_rows // 4)):
            C = np.full((N_rows, N), np.nan, dtype)
            packed.project(A, P, C, q0, q1)
            assert_close(C[q0:q1], expected[q0:q1], dtype, f"rows={N_rows} K={K} N={N} q={q0}:{q1}")
            assert np.isnan(C[:q0]).all() and np.isnan(C[q1:]).all(), "wrote outside rows q0:q1"


def test_the_input_terms_are_packed_where_a_panel_fits_l1(monkeypatch):
    """Auto packs W where all D rows of a panel fit packed.L1_PANEL and there are enough input rows (T·B);
    "packed" for any D and rows; never for D ≤ 2."""
    monkeypatch.setattr(packed, "HAS_FMA", True)
    enough = fast_plan.INPUT_PANEL_ROWS
    for tile, most in (("avx512", 128), ("avx2", 512)):
        monkeypatch.setattr(packed, "TILE", tile)
        for product, D, rows, packs in (
            ("auto", most, enough, True),
            ("auto", most + 1, enough, False),
            ("auto", 3, enough, True),
            ("auto", 3, enough - 1, False),
            ("auto", 2, enough, False),
            ("packed", most + 1, 1, True),
            ("packed", 2, enough, False),
            ("blas", 3, enough, False),
        ):
            monkeypatch.setattr(fast_plan, "PRODUCT", product)
            W = np.ones((D, 40), np.float32)
            PW = fast_plan.input_panels(W, rows)
            assert (PW.shape[0] > 0) == packs, (tile, product, D, rows)
            if packs:
                assert np.array_equal(PW.transpose(1, 0, 2).reshape(D, -1)[:, :40], W)
    monkeypatch.setattr(packed, "HAS_FMA", False)  # an x86 CPU without FMA: auto keeps OpenBLAS's product
    monkeypatch.setattr(fast_plan, "PRODUCT", "auto")
    assert fast_plan.input_panels(np.ones((8, 40), np.float32), enough).shape[0] == 0


@pytest.mark.parametrize("K", [3, 37])
def test_packed_panels_hold_the_matrix_and_zeros_past_it(K):
    M = np.arange(K * 20, dtype=np.float32).reshape(K, 20)
    P = packed.pack(M, width=packed.NARROW)  # 16 columns a panel in float32
    assert P.shape == (2, K, 16)
    assert np.array_equal(P[0], M[:, :16]) and np.array_equal(P[1, :, :4], M[:, 16:])
    assert not P[1, :, 4:].any()
    assert np.array_equal(packed.pack(np.ascontiguousarray(M.T), transpose=True, width=packed.NARROW), P)
    one_row = packed.pack(M, width=packed.NARROW, rows=1)  # 48 columns a panel
    assert one_row.shape == (1, K, 48) and np.array_equal(one_row[0, :, :20], M) and not one_row[0, :, 20:].any()


@pytest.mark.parametrize("width", ["NARROW", "WIDE"])
def test_a_range_of_columns_packs_as_a_copy_of_them_would(width, monkeypatch):
    """pack(M, columns=(c0, c1)) is the pack of M[:, c0:c1] copied: ranges at either end, inside, cut by
    the panels or not, for blocks of one row and of many; also by every thread. A transposed pack takes
    all of M."""
    M = np.random.default_rng(4).standard_normal((37, 150)).astype(np.float32)
    vector_bytes = getattr(packed, width)
    for rows in (1, 2, 6):
        for c0, c1 in [(0, 100), (100, 150), (13, 61), (0, 150), (64, 128)]:
            copy = packed.pack(np.ascontiguousarray(M[:, c0:c1]), width=vector_bytes, rows=rows)
            P = packed.pack(M, width=vector_bytes, rows=rows, columns=(c0, c1))
            assert P.shape == copy.shape and np.array_equal(P, copy), (rows, c0, c1)
    monkeypatch.setenv("RNNLAB_NUM_THREADS", "3")
    monkeypatch.setattr(packed, "PARALLEL_PACK", 0)  # every matrix counts as large
    by_threads = packed.pack(M, width=vector_bytes, columns=(13, 150))
    assert np.array_equal(by_threads, packed.pack(np.ascontiguousarray(M[:, 13:]), width=vector_bytes))
    with pytest.raises(ValueError, match="all of M"):
        packed.pack(M, True, columns=(0, 10))


@pytest.mark.parametrize("transpose", [False, True])
def test_a_large_matrix_is_packed_by_every_thread_alike(transpose, monkeypatch):
    M = np.random.default_rng(3).standard_normal((70, 45)).astype(np.float32)
    alone = packed.pack(M, transpose)
    monkeypatch.setenv("RNNLAB_NUM_THREADS", "3")
    monkeypatch.setattr(packed, "PARALLEL_PACK", 0)  # every matrix counts as large
    assert np.array_equal(packed.pack(M, transpose), alone)


def test_a_matrix_of_one_panel_is_its_own(monkeypatch):
    U = aligned_empty((8, 256), np.float32)  # one panel of 16 AVX-512 vectors for a one-row block
    U[:] = 1.0
    P = packed.pack(U, width=packed.WIDE, rows=1)
    assert P.shape == (1, 8, 256) and np.shares_memory(P, U)
    off_line = aligned_empty((8 * 256 + 1,), np.float32)[1:].reshape(8, 256)  # 4 bytes past a cache line
    not_c_order = (aligned_empty((256, 8), np.float32).T, aligned_empty((8, 512), np.float32)[:, ::2])
    for other in (off_line, *not_c_order):
        other[...] = np.arange(other.size, dtype=np.float32).reshape(other.shape)  # distinct: a stride misread shows
        P = packed.pack(other, width=packed.WIDE, rows=1)
        assert not np.shares_memory(P, other) and np.array_equal(P[0], other)
    Ut = np.ones((256, 8), np.float32)  # its transpose: Uᵀ's panel is a copy
    assert not np.shares_memory(packed.pack(Ut, True, packed.WIDE, 1), Ut)
    monkeypatch.setattr(fast_plan, "PRODUCT", "auto")
    monkeypatch.setattr(packed, "TILE", "avx512")
    monkeypatch.setattr(packed, "HAS_FMA", True)
    assert np.shares_memory(fast_plan.panels(U, [(0, 1)], 1), U)  # no pack to pay for, however short the sequence
    assert fast_plan.panels(np.ones((8, 512), np.float32), [(0, 1)], 1).shape[0] == 0  # a pack would not pay


@pytest.fixture(params=["packed-wide", "packed-narrow", "stacked-wide", "stacked-narrow", "blas"])
def path(request, monkeypatch):
    """The recurrent product forced to one path; the batch split however little the work.

    packed: U packed on its own, the input terms of all steps first; stacked: one product a step on
    [W; U] packed wherever the rule allows it (plan.stacked_panels), however few the rows."""
    product, _, width = request.param.partition("-")
    monkeypatch.setattr(fast_plan, "PRODUCT", "packed" if product == "stacked" else product)
    monkeypatch.setattr(fast_plan, "INPUT_PANEL_ROWS", 0 if product == "stacked" else 1 << 60)
    monkeypatch.setattr(packed, "TILE", {"wide": "avx512", "narrow": "avx2"}.get(width, ""))
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_ROWS", 1)  # blocks of any size, on every thread
    monkeypatch.setattr(fast_plan, "MIN_BLOCK_WORK", 0)
    monkeypatch.setattr(fast_plan, "ROW_PANEL_STEPS", 0)  # one or two rows on panels however short the sequence
    return request.param


# (T, B, D, H): blocks of 3 to 11 rows, H filling no tile, a tile exactly, or panels and a part;
# then blocks of one and two rows (on two threads: 1 and 1, 1 and 2), on their own panels where
# U's columns fill whole ones (AVX-512: 256 or 192 for one row, 128 for two, else one row's for
# each of the two; AVX2: 48 and 32), else on their loops; each cell's U and Uᵀ meet both cases on each tile
SHAPES = [(5, 7, 3, 13), (4, 9, 5, 16), (3, 11, 2, 37), (6, 8, 4, 64), (3, 6, 3, 150)]
SMALL_BLOCK_SHAPES = [
    (4, 1, 3, 64),
    (3, 1, 2, 256),
    (4, 1, 3, 24),
    (3, 1, 2, 48),
    (5, 2, 2, 32),
    (3, 2, 2, 128),
    (3, 3, 2, 64),
    (4, 2, 3, 64),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "simple_rnn", "gru"])
def test_cells_on_each_product_path_equal_the_reference(cell, dtype, threads, path, monkeypatch):
    monkeypatch.setenv("RNNLAB_NUM_THREADS", str(threads))
    for seed, shape in enumerate(SHAPES + SMALL_BLOCK_SHAPES):
        case = random_case(cell, dtype, 900 + seed, shape)
        compare(cell, dtype, case)
        compare_infer(cell, dtype, case, go_backwards=seed % 2 == 1, sequences=seed != 2)


def test_each_path_is_taken_when_forced(monkeypatch):
    """The option reaches the kernels, and each block size gets its layout of panels."""
    U = np.ones((8, 32), np.float32)
    monkeypatch.setattr(fast_plan, "PRODUCT", "packed")
    assert fast_plan.panels(U, [(0, 3)], 1).shape[0] > 0
    for tile, columns in (("avx512", 32), ("avx2", 24)):  # fewer columns than a two-row panel (128, 32): loops
        monkeypatch.setattr(packed, "TILE", tile)
        assert fast_plan.panels(np.ones((8, columns), np.float32), [(0, 2), (2, 4)], 100).shape[0] == 0, tile
    monkeypatch.setattr(packed, "TILE", "")
    monkeypatch.setattr(fast_plan, "PRODUCT", "blas")
    assert fast_plan.panels(U, [(0, 3)], 1).shape[0] == 0
    monkeypatch.setattr(fast_plan, "PRODUCT", "auto")
    assert fast_plan.panels(U, [(0, 3)], 1).shape[0] > 0
    monkeypatch.setattr(packed, "HAS_FMA", False)  # an x86 CPU without FMA: auto keeps OpenBLAS's product
    assert fast_plan.panels(U, [(0, 3)], 1).shape[0] == 0
    monkeypatch.setattr(fast_plan, "PRODUCT", "packed")
    assert fast_plan.panels(U, [(0, 3)], 1).shape[0] > 0
    monkeypatch.setattr(packed, "HAS_FMA", True)
    monkeypatch.setattr(fast_plan, "PRODUCT", "auto")
    wide_U = np.ones((8, 768), np.float32)  # whole panels for one row and for two, on either tile
    for tile, widths in (("avx2", (16, 32, 48)), ("avx512", (64, 128, 256))):
        monkeypatch.setattr(packed, "TILE", tile)
        many, two, one = widths
        assert fast_plan.panels(U, [(0, 3)], 1).shape[2] == many
        assert fast_plan.panels(wide_U, [(0, 2), (2, 3)], 100).shape[2] == two
        assert fast_plan.panels(wide_U, [(0, 1)], 100).shape[2] == one
        assert fast_plan.panels(wide_U, [(0, 1)], fast_plan.ROW_PANEL_STEPS - 1).shape[0] == 0  # short: loops
        assert fast_plan.panels(wide_U[:, :100], [(0, 1)], 100).shape[0] == 0  # a panel cut: loops
    gru_U = np.ones((8, 384), np.float32)  # 3H at H = 128: whole panels of 12 vectors, not of 16
    assert fast_plan.panels(gru_U, [(0, 1)], 100).shape[2] == 192
    gru_U = np.ones((8, 192), np.float32)  # 3H at H = 64: no whole panel of two rows' 8 vectors; one row's 12
    assert fast_plan.panels(gru_U, [(0, 2)], 100).shape[2] == 192


@pytest.mark.parametrize("rows", [1, 3])
def test_stacked_panels_hold_w_over_u(rows, monkeypatch):
    """[W; U] packed equals the packed concatenation, small or packed by every thread (PARALLEL_PACK)."""
    monkeypatch.setenv("RNNLAB_NUM_THREADS", "2")
    rng = np.random.default_rng(7)
    for D, H, G in ((3, 5, 20), (5, 40, 300), (256, 512, 2048)):
        W, U = rng.normal(size=(D, G)).astype(np.float32), rng.normal(size=(H, G)).astype(np.float32)
        for width in (packed.WIDE, packed.NARROW):
            P = packed.pack_stacked(W, U, width, rows)
            assert np.array_equal(P, packed.pack(np.concatenate([W, U]), width=width, rows=rows))


def test_one_product_a_step_where_u_is_packed_and_enough_rows_pay_for_w(monkeypatch):
    """stacked_panels: more than two features, U packed (panels), T·B ≥ INPUT_PANEL_ROWS, and U more than one
    panel; the decision reads shapes only, never where U lies in memory."""
    monkeypatch.setattr(fast_plan, "PRODUCT", "auto")
    monkeypatch.setattr(packed, "TILE", "avx512")
    monkeypatch.setattr(packed, "HAS_FMA", True)
    W, U = np.ones((16, 256), np.float32), np.ones((64, 256), np.float32)
    many = fast_plan.INPUT_PANEL_ROWS
    assert fast_plan.stacked_panels(W, U, [(0, 4), (4, 8)], many // 8).shape == (4, 80, 64)
    assert fast_plan.stacked_panels(W, U, [(0, 4), (4, 8)], many // 8 - 1).shape[0] == 0  # too few rows
    assert fast_plan.stacked_panels(W[:2], U, [(0, 8)], many).shape[0] == 0  # two features: a loop makes x_t W
    assert fast_plan.stacked_panels(W, U, [(0, 1)], many).shape[0] == 0  # U (one row's panel) is its own
    small_U = np.ones((16, 64), np.float32)  # one panel of the tiles of six rows, on a cache line or not
    for U_here in (small_U, np.ones((16, 65), np.float32)[:, 1:]):
        assert fast_plan.stacked_panels(W[:, :64], U_here, [(0, 8)], many).shape[0] == 0
    monkeypatch.setattr(fast_plan, "PRODUCT", "blas")  # U not packed: nor is [W; U]
    assert fast_plan.stacked_panels(W, U, [(0, 8)], many).shape[0] == 0


@pytest.mark.parametrize("threads", [2, 16])
def test_the_batch_splits_only_into_blocks_worth_a_thread(threads, monkeypatch):
    """Each block reads all of U at every step: blocks of one row, or with too little arithmetic a step,
    would only repeat that reading on another core."""
    monkeypatch.setenv("RNNLAB_NUM_THREADS", str(threads))
    # (gates, H, the fewest rows a block may have): two, or enough for MIN_BLOCK_WORK multiply-adds a step, or eight
    for gates, H, fewest in ((4, 256, 2), (4, 128, 2), (4, 64, 3), (3, 64, 3), (1, 256, 2), (1, 128, 3), (1, 32, 8)):
        for B in (1, 2, 3, 4, 5, 6, 7, 9, 18, 32, 64):
            blocks = fast_plan.blocks_for(B, 1000, 1, H, gates)  # work enough to split, in all
            sizes = [r1 - r0 for r0, r1 in blocks]
            assert blocks[0][0] == 0 and blocks[-1][1] == B and all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
            assert len(blocks) == min(threads, max(1, B // fewest)), (gates, H, B)
            assert len(blocks) == 1 or min(sizes) >= fewest, (gates, H, B)
    assert fast_plan.blocks_for(64, 2, 1, 4, 4) == [(0, 64)]  # too little work to split in all


_OPTIONS_CHILD = """
import numpy as np
from rnnlab.kernels.fast import packed, plan
try:
    print(plan.product_path(), packed.vector_bytes(), plan.panels(np.ones((4, 16), np.float32), [(0, 4)], 1).shape)
except ValueError as err:
    print(err)
"""


@pytest.mark.parametrize(
    "environment, printed",
    [
        ({"RNNLAB_PRODUCT": "blas", "RNNLAB_TILE": "avx2"}, "blas 32 (0, 0, 0)"),
        ({"RNNLAB_PRODUCT": "packed", "RNNLAB_TILE": "avx512"}, "packed 64 (1, 4, 64)"),
        ({"RNNLAB_PRODUCT": "fastest"}, "RNNLAB_PRODUCT expected one of auto, packed, blas, got 'fastest'"),
        ({"RNNLAB_TILE": "sse"}, "RNNLAB_TILE expected 'avx512' or 'avx2', got 'sse'"),
    ],
)
def test_the_options_are_read_from_the_environment_when_the_kernels_load(environment, printed):
    """In a fresh process: each reaches the kernels, and a misspelt one is refused by name at the first call."""
    env = {key: value for key, value in os.environ.items() if key not in ("RNNLAB_PRODUCT", "RNNLAB_TILE")}
    out = subprocess.run(
        [sys.executable, "-c", _OPTIONS_CHILD], env={**env, **environment}, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == printed


@pytest.mark.parametrize("cell", [rl.LSTM, rl.GRU, rl.SimpleRNN])
def test_three_training_steps_repack_the_changed_weights(cell, monkeypatch):
    """Weights change at every optimizer step and by set_weights: each step must use the new ones.

    Three Adam steps on the fast kernels with packed products, against the same steps on the
    reference kernels; then set_weights, and one more step."""
    monkeypatch.setattr(fast_plan, "PRODUCT", "packed")
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_ROWS", 1)  # blocks of any size, on every thread
    monkeypatch.setattr(fast_plan, "MIN_BLOCK_WORK", 0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 6, 5)).astype(np.float32)
    target = rng.normal(size=(12, 1)).astype(np.float32)
    models = {}
    for backend in ("fast", "reference"):
        layer = cell(21, seed=4)
        layer.backend = backend
        model = rl.Sequential([layer, rl.Dense(1, seed=5)])
        model.compile(loss="mse", optimizer=rl.optim.Adam(0.05))
        models[backend] = model
    losses = {b: [float(m.train_on_batch(x, target)) for _ in range(3)] for b, m in models.items()}
    assert losses["fast"][0] != losses["fast"][2], "the weights did not change"
    np.testing.assert_allclose(losses["fast"], losses["reference"], rtol=1e-4)
    fast, reference = models["fast"].get_weights(), models["reference"].get_weights()
    for name in reference:
        assert_close(fast[name], reference[name], np.float32, f"{name} after three steps")
    new = {name: w * np.float32(0.5) for name, w in reference.items()}
    for model in models.values():
        model.set_weights(new)
    after = {b: m.predict(x) for b, m in models.items()}
    assert_close(after["fast"], after["reference"], np.float32, "predictions after set_weights")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("wide", [True, False], ids=["wide", "narrow"])
def test_weight_gradient_products_and_column_sums_equal_numpy(dtype, wide):
    """at_b: each C[:, c0:c1] = Aᵀ B[:, c0:c1] in one pass over B, read in place, other columns of each C
    untouched: one source, and three, the last a single 1.0 read at every row (stride 0), which gives the
    column sums of B (the bias gradient)."""
    rng = np.random.default_rng(11)
    for _ in range(30):
        N, G = int(rng.integers(1, 400)), int(rng.integers(1, 300))
        M1, M2 = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        c0 = int(rng.integers(0, G))
        c1 = int(rng.integers(c0, G + 1))
        A1, A2 = (rng.standard_normal((N, M)).astype(dtype) for M in (M1, M2))
        ones = np.ones((1, 1), dtype)
        B = rng.standard_normal((N, G)).astype(dtype)
        what = f"N={N} M={M1},{M2} columns {c0}:{c1}"
        expected = [A.T.astype(np.float64) @ B[:, c0:c1].astype(np.float64) for A in (A1, A2)]
        expected.append(B[:, c0:c1].astype(np.float64).sum(0, keepdims=True))
        for sources, strides, wanted in (((A1,), (M1,), expected[:1]), ((A1, A2, ones), (M1, M2, 0), expected)):
            Cs = tuple(rng.standard_normal((e.shape[0], G)).astype(dtype) for e in wanted)
            before = [C.copy() for C in Cs]
            packed.at_b(sources, strides, B, Cs, c0, c1, wide)
            for C, old, e in zip(Cs, before, wanted):
                assert_close(C[:, c0:c1], e.astype(dtype), dtype, what)
                assert np.array_equal(C[:, :c0], old[:, :c0]) and np.array_equal(C[:, c1:], old[:, c1:])


def test_the_weight_gradients_take_one_pass_where_the_tiles_run_and_few_columns_feed_them(monkeypatch):
    """grads_in_one_pass: up to GRAD_TILE_COLUMNS features and units, with the tiles on; OpenBLAS beyond,
    under "blas", and on an x86 CPU without FMA."""
    limit = fast_plan.GRAD_TILE_COLUMNS
    monkeypatch.setattr(packed, "HAS_FMA", True)
    for product in ("auto", "packed"):
        monkeypatch.setattr(fast_plan, "PRODUCT", product)
        assert fast_plan.grads_in_one_pass(1, limit - 1) and fast_plan.grads_in_one_pass(limit - 64, 64)
        assert not fast_plan.grads_in_one_pass(1, limit) and not fast_plan.grads_in_one_pass(limit, 64)
    monkeypatch.setattr(fast_plan, "PRODUCT", "blas")
    assert not fast_plan.grads_in_one_pass(1, 64)
    monkeypatch.setattr(fast_plan, "PRODUCT", "auto")
    monkeypatch.setattr(packed, "HAS_FMA", False)
    assert not fast_plan.grads_in_one_pass(1, 64)


@pytest.mark.parametrize(
    "cell",
    [rl.LSTM, rl.GRU, functools.partial(rl.GRU, reset_after=False), rl.SimpleRNN],
    ids=["LSTM", "GRU", "GRU-reset-before", "SimpleRNN"],
)
def test_inference_after_the_weights_change_uses_the_new_ones(cell, monkeypatch):
    """Inference keeps its packs from call to call; after an optimizer step, set_weights, or a write into
    layer.params (into the GRU's U_z and U_h, packed apart under reset_after=False), the next prediction
    equals the reference kernels' with the new weights."""
    monkeypatch.setattr(fast_plan, "PRODUCT", "packed")
    rng = np.random.default_rng(13)
    x = rng.normal(size=(40, 20, 5)).astype(np.float32)  # 800 input rows: W stacked over U where the cell stacks
    target = rng.normal(size=(40, 1)).astype(np.float32)
    models = {}
    for backend in ("fast", "reference"):
        layer = cell(16, seed=4)
        layer.backend = backend
        models[backend] = rl.Sequential([layer, rl.Dense(1, seed=5)])
        models[backend].compile(loss="mse", optimizer=rl.optim.Adam(0.05))

    def predictions_agree(what):
        fast, reference = models["fast"].predict(x), models["reference"].predict(x)
        assert_close(fast, reference, np.float32, what)
        return fast

    first = predictions_agree("first prediction")
    np.testing.assert_array_equal(models["fast"].predict(x), first)  # on the kept packs: the same bits
    for model in models.values():
        model.train_on_batch(x, target)
    assert not np.array_equal(predictions_agree("after a step"), first)
    for model in models.values():
        model.set_weights({name: w * np.float32(0.5) for name, w in model.get_weights().items()})
    predictions_agree("after set_weights")
    for where in ((-1, -1), (0, 0)):
        for model in models.values():
            model.layers[0].params["U"][where] += np.float32(0.25)
        predictions_agree(f"after a write into params at {where}")
