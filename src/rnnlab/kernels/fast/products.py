"""Matrix products of the fast kernels, on blocks of batch rows.

The recurrent products (h_{t-1} U forward, dz_t Uᵀ backward) run on U packed once
per call (packed.py) when the call was handed packed panels (plan.panels); else
blocks of three rows or more call OpenBLAS (blas.py, one thread per block), and
one or two rows go to plain loops, which beat a BLAS call there (OpenBLAS spends
microseconds per call and is slow for a one- or two-row operand: 1×64×256 took
4.1 µs against 1.3 µs for the loop). On packed panels every other step reads U
from its end (packed.product's from_end): the loops over time pass `from_end(t)`.
Where U is packed and there are more than SMALL_ROWS input features, a step's
input and recurrent terms are one product on W stacked over U, packed
(stacked_product, plan.stacked_panels); else the input terms x_t W of all
steps run first, on W packed where its panels fit L1 (plan.input_panels), else
on OpenBLAS. The products after the loop over time stay on OpenBLAS but for one
or two features (packed.at_b).
"""

import numpy as np
from numba import njit

from . import packed, pool
from .ops import JIT, gemm
from .spin import mark_begun

SMALL_ROWS = 2


@njit(inline="always", **JIT)
def row_matmul_acc(a, M, out):
    """out += a M for one row a (K,), M (K, N) C-contiguous: a sum of scaled rows of M, four at a time.

    Inlined where it is called once per row: numba counts a reference to each array view handed to a
    function that is not inlined, which took 0.29 against 0.18 ms for the input terms of 3200 rows at
    D = 1, H = 64 (docs/PERFORMANCE.md)."""
    K, N = M.shape
    k = 0
    while k + 4 <= K:  # four rows per pass over out: a quarter of the loads and stores of out
        a0, a1, a2, a3 = a[k], a[k + 1], a[k + 2], a[k + 3]
        M0, M1, M2, M3 = M[k], M[k + 1], M[k + 2], M[k + 3]
        for j in range(N):
            out[j] += a0 * M0[j] + a1 * M1[j] + a2 * M2[j] + a3 * M3[j]
        k += 4
    for rest in range(k, K):  # the rows left over from the four-at-a-time loop
        ak, Mk = a[rest], M[rest]
        for j in range(N):
            out[j] += ak * Mk[j]


@njit(inline="always", **JIT)
def row_matmul_small(a, M, out):
    """out = a M for a row a of one or two values, M (1 or 2, N): one pass over out, which is not read.

    Zeroing out and then adding into it (row_matmul_acc) took 1.4× the time for the input terms of
    3200 rows at D = 2, H = 128 and at D = 1, H = 256; as long at D = 1, H = 64."""
    if M.shape[0] == 1:
        a0, M0 = a[0], M[0]
        for j in range(out.shape[0]):
            out[j] = a0 * M0[j]
    else:
        a0, a1, M0, M1 = a[0], a[1], M[0], M[1]
        for j in range(out.shape[0]):
            out[j] = a0 * M0[j] + a1 * M1[j]


@njit(**JIT)
def input_projection(x, W, PW, z, q0, q1):
    """z[q] = x[q] W for rows q0:q1 of x (N, D): every step's input term in one product per block.

    PW: W packed (plan.input_panels), or empty; then OpenBLAS, or loops for one or two features."""
    D, G = W.shape
    if PW.shape[0] > 0:
        packed.project(x, PW, z, q0, q1)
    elif D <= SMALL_ROWS:  # one or two input features: a sum of scaled rows of W
        for q in range(q0, q1):
            row_matmul_small(x[q], W, z[q])
    elif q1 > q0:
        gemm(False, False, q1 - q0, G, D, 1.0, x[q0:], D, W, G, 0.0, z[q0:], G)


@njit(**JIT)
def projection_block(begun, x, W, PW, z, q0, q1):
    """input_projection as a block of pool.run, which passes `begun` (pool.py's protocol)."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    input_projection(x, W, PW, z, q0, q1)


@njit(**JIT)
def step_input(x, W, z, s, r0, r1):
    """z[r, 0] = x[r, s] W for rows r0:r1 of a batch-first x (B, T, D ≤ SMALL_ROWS): one step's input term."""
    for r in range(r0, r1):
        row_matmul_small(x[r, s], W, z[r, 0])


@njit(**JIT)
def from_end(t):
    """Whether step t's product reads U (or Uᵀ) from its end: every other step, so that it starts where
    the step before left off, still in the caches (packed.product's from_end)."""
    return t % 2 == 1


@njit(**JIT)
def recurrent_product(h_t, U, P, rdrop, hp, z_t, r0, r1, from_end):
    """z_t[r] += (h_t[r] ⊙ rdrop[r]) U for rows r0:r1 (no rdrop: an empty array); P: U packed, or empty;
    from_end: as packed.product's. h_t (B, H), z_t (B, G); U (H, G) is read only where P is empty."""
    n, H, G = r1 - r0, h_t.shape[1], z_t.shape[1]
    hs = h_t
    if rdrop.shape[0] > 0:  # h_{t-1} ⊙ rdrop
        for r in range(r0, r1):
            for j in range(H):
                hp[r, j] = h_t[r, j] * rdrop[r, j]
        hs = hp
    if P.shape[0] > 0:
        packed.product(hs, r0 * H, H, n, P, z_t, r0 * G, G, G, from_end, True)
    elif n <= SMALL_ROWS:
        for r in range(r0, r1):
            row_matmul_acc(hs[r], U, z_t[r])
    else:
        gemm(False, False, n, G, H, 1.0, hs[r0:], H, U, G, 1.0, z_t[r0:], G)


@njit(**JIT)
def step_product(h, U, P, z, s, r0, r1, from_end):
    """z[r, s] += h[r] U for rows r0:r1 of a batch-first z (B, T, G): one step of every row; P, from_end as above."""
    n, H = r1 - r0, U.shape[0]
    T, G = z.shape[1], z.shape[2]
    if P.shape[0] > 0:  # rows of z_t lie T·G apart
        packed.product(h, r0 * H, H, n, P, z, (r0 * T + s) * G, T * G, G, from_end, True)
    elif n <= SMALL_ROWS:
        for r in range(r0, r1):
            row_matmul_acc(h[r], U, z[r, s])
    else:  # C starts at z[r0, s]; its rows lie T·G apart
        gemm(False, False, n, G, H, 1.0, h[r0:], H, U, G, 1.0, z[r0, s], T * G)


NO_DROP = np.empty((0, 0), np.float32)  # stacked_product's rdrop in inference: none (its shape alone is read)


@njit(**JIT)
def stacked_product(x_t, h_t, WU, rdrop, xh, z_t, r0, r1, from_end):
    """z_t[r] = [x_t[r], h_t[r] ⊙ rdrop[r]] [W; U] for rows r0:r1: a step's input and recurrent terms as one product.

    x_t (B, D), h_t (B, H): the step's inputs and h_{t-1} (no rdrop: an empty array); WU: W stacked over U,
    packed (plan.stacked_panels); xh (B, D + H): work, the rows [x_t, h_{t-1}]; z_t (B, G), C-contiguous,
    overwritten. The step's terms are then still in the caches when its cells read them, where the input
    terms of all steps made first are read back from memory (docs/PERFORMANCE.md, "One product a step").
    """
    D, H, G = x_t.shape[1], h_t.shape[1], z_t.shape[1]
    K = D + H
    for r in range(r0, r1):  # indexed in place: a view per row costs a reference count that the threads share
        for d in range(D):
            xh[r, d] = x_t[r, d]
        if rdrop.shape[0] > 0:  # h_{t-1} ⊙ rdrop
            for j in range(H):
                xh[r, D + j] = h_t[r, j] * rdrop[r, j]
        else:
            for j in range(H):
                xh[r, D + j] = h_t[r, j]
    packed.product(xh, r0 * K, K, r1 - r0, WU, z_t, r0 * G, G, G, from_end, False)  # z_t = [x_t, h_{t-1}] [W; U]


@njit(**JIT)
def recurrent_grad(dz, U, Ut, Pt, rdrop, dh, dhr, r0, r1, from_end):
    """dh_{t-1} += dz_t Uᵀ, times rdrop under recurrent dropout; rows r0:r1.

    Pt is Uᵀ packed (packed.pack(U, transpose=True)), else empty; Ut is Uᵀ in C order when Pt is
    empty and a block has one or two rows (a loop then beats a BLAS call), else empty. from_end: as
    packed.product's.
    """
    n, H, G = r1 - r0, U.shape[0], U.shape[1]
    out = dh if rdrop.shape[0] == 0 else dhr
    if rdrop.shape[0] > 0:
        out[r0:r1] = 0.0
    if Pt.shape[0] > 0:
        packed.product(dz, r0 * G, G, n, Pt, out, r0 * H, H, H, from_end, True)
    elif n <= SMALL_ROWS:
        for r in range(r0, r1):
            row_matmul_acc(dz[r], Ut, out[r])
    else:
        gemm(False, True, n, H, G, 1.0, dz[r0:], G, U, G, 1.0, out[r0:], H)
    if rdrop.shape[0] > 0:
        for r in range(r0, r1):
            for j in range(H):
                dh[r, j] += dhr[r, j] * rdrop[r, j]


@njit(**JIT)
def at_b_small(A, Bm, C, c0, c1, wide):
    """C[:, c0:c1] = Aᵀ Bm[:, c0:c1] for an A (N, K) of one or two columns, by the tiled product
    (OpenBLAS is slow there; a loop took 5.4 ms at N = 6400, 256 columns, the tiles 0.4)."""
    packed.at_b((A,), (A.shape[1],), Bm, (C,), c0, c1, wide)


@njit(nogil=True, cache=True, fastmath={"contract", "reassoc"}, error_model="numpy")
def _dot(a, b, zero):
    """Σ a_j b_j; the sum may be reordered (vectorised), which only changes rounding."""
    s = zero
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


@njit(**JIT)
def bias_grad(dz, gb, c0, c1, wide):
    """Columns c0:c1 of ∂L/∂b = Σ_n dz_n (dz (N, G), the steps of all rows stacked), in order of n.

    The tiled product with A a single 1.0 read at every n: its vector registers hold the sums
    (a loop over n and j, with the sums in memory, took 2.8 ms at N = 6400, 256 columns, the tiles 0.4).
    """
    packed.at_b((np.ones((1, 1), dz.dtype),), (0,), dz, (gb.reshape(1, -1),), c0, c1, wide)


@njit(**JIT)
def input_grad(dz, W, dx, q0, q1):
    """Rows q0:q1 of dx = dz Wᵀ (dz (N, G), W (D, G), dx (N, D)): a dot product per entry for one or two
    features, else one BLAS product."""
    D, G = W.shape
    if q1 <= q0:
        return
    if D <= SMALL_ROWS:
        for q in range(q0, q1):
            for d in range(D):
                dx[q, d] = _dot(dz[q], W[d], dx.dtype.type(0.0))
    else:
        gemm(False, True, q1 - q0, D, G, 1.0, dz[q0:], G, W, G, 0.0, dx[q0:], D)


@njit(**JIT)
def grads_block(begun, x, hp, dz, W, gW, gU, gb, dx, c0, c1, q0, q1, one_pass, wide):
    """Columns c0:c1 of ∂L/∂W = Σ x_tᵀ dz_t, ∂L/∂U = Σ h_{t-1}ᵀ dz_t, ∂L/∂b; rows q0:q1 of dx = dz Wᵀ.

    x (N, D), hp (N, H), dz (N, G): the steps of all rows stacked (N = T·B). one_pass: the tiles make
    all three in one pass over dz (plan.grads_in_one_pass), else OpenBLAS the products of more than
    SMALL_ROWS columns, the tiles the others and the bias, each in a pass of its own. wide: the tiles'
    width (packed.tile_is_wide).
    """
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    N = x.shape[0]
    G = dz.shape[1]
    if c1 > c0 and one_pass:
        ones = np.ones((1, 1), dz.dtype)  # read at every step (stride 0): Σ_t 1 · dz_t = ∂L/∂b
        packed.at_b((x, hp, ones), (x.shape[1], hp.shape[1], 0), dz, (gW, gU, gb.reshape(1, -1)), c0, c1, wide)
    elif c1 > c0:
        for A, C in ((x, gW), (hp, gU)):
            K = A.shape[1]
            if K <= SMALL_ROWS:
                at_b_small(A, dz, C, c0, c1, wide)
            else:
                gemm(True, False, K, c1 - c0, N, 1.0, A, K, dz[:, c0:], G, 0.0, C[:, c0:], G)
        bias_grad(dz, gb, c0, c1, wide)
    input_grad(dz, W, dx, q0, q1)


def weight_grads(x, h, rdrop, dz, W, U, b, parts, one_pass):
    """(dx (T, B, D), grads W, U, b) from dz (T, B, G), in `parts` threads (one BLAS thread each);
    one_pass: as grads_block's."""
    T, B, D = x.shape
    H, G = U.shape
    hp = h[:-1] if rdrop.size == 0 else h[:-1] * rdrop  # h_{t-1} as the recurrent product saw it
    grads = {"W": np.empty_like(W), "U": np.empty_like(U), "b": np.empty_like(b)}
    dx = np.empty((T, B, D), x.dtype)
    N = T * B
    blocks = zip(
        [(G * k // parts, G * (k + 1) // parts) for k in range(parts)],  # columns of the gradients
        [(N * k // parts, N * (k + 1) // parts) for k in range(parts)],
    )  # rows of dx
    pool.run(
        grads_block,
        [
            (
                x.reshape(N, D),
                hp.reshape(N, H),
                dz.reshape(N, G),
                W,
                grads["W"],
                grads["U"],
                grads["b"],
                dx.reshape(N, D),
                *cols,
                *rows,
                one_pass,
                packed.tile_is_wide(),
            )
            for cols, rows in blocks
        ],
    )
    return dx, grads
