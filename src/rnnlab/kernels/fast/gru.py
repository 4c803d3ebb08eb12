"""GRU, compiled: the same forward/backward/infer as kernels/gru.py, which stays the spec.

The work is laid out as in lstm.py: the input term x_t W of every step first, as
one large product per thread; one compiled loop over time per block of batch
rows (one block per core); the gate activations and the state update fused per
row, in place in the gates buffer, the cells of training inlined into the loops over rows
(lstm._cell_forward_usual says why); inference's float32 rows (reset_after, σ and tanh) on
explicit vectors of 16 units (cell_vectors.py); buffers reused from call to call.
What the GRU adds: the recurrent term is kept apart from the input term, since
the reset gate multiplies part of it (reset_after=True: hu = h_{t-1} U + b' as
one product per step; reset_after=False: h_{t-1} U_z, h_{t-1} U_r first, then
(r_t ⊙ h_{t-1}) U_h, a second product inside the step, on U_zr (H, 2H) and U_h (H, H):
copied out of U once per call in training, packed from U's own columns in inference, where
the packs are kept from call to call with U's (kept.py)). The weight gradients are NumPy
products after the loop, split by output columns across the cores (one BLAS thread each),
as products.weight_grads does for the other cells.
The cache keeps the reference's keys (x, W, U, h, gates, hU_h, mask, rdrop, ...).
Shapes and semantics: see kernels/gru.py.
"""

import numpy as np
from numba import njit
from numba.extending import overload

from .. import gru as reference
from .. import inference
from . import buffers, packed, pool
from .blas import one_blas_thread
from .cell_vectors import gru_infer_groups, vectors_or_loop
from .ops import JIT, SIGMOID, TANH, activate, copy, dact, gemm, sigmoid_fraction, tanh_fraction
from .plan import (
    blocks_for,
    calls_blas,
    empty,
    infer_plan,
    input_panels,
    input_steps,
    panels,
    supported,
    transposed_if_small,
)
from .products import (
    SMALL_ROWS,
    at_b_small,
    bias_grad,
    from_end,
    input_grad,
    input_projection,
    projection_block,
    recurrent_grad,
    recurrent_product,
    step_input,
)
from .spin import mark_begun


# ---- one row of one step ------------------------------------------------------------
@njit(inline="always", **JIT)
def _cell_after(g, bx, hu, h_prev, h_new, hU_h, code_a, code_r):
    """reset_after=True, one row: g (3H) holds x_t W, hu (3H) h_{t-1} U + b'; g becomes z, r, h̃."""
    H = h_prev.shape[0]
    one = h_new.dtype.type(1.0)  # 1 in the arrays' precision: a bare 1.0 would make float32 rows compute in float64
    for j in range(2 * H):
        g[j] += hu[j]
    activate(code_r, g[: 2 * H], bx[: 2 * H])  # z_t, r_t = σ(x_t W + h_{t-1} U + b + b')
    for j in range(H):
        hU_h[j] = hu[2 * H + j]  # h_{t-1} U_h + b'_h, kept for backward
        g[2 * H + j] += g[H + j] * hu[2 * H + j]  # x_t W_h + r_t ⊙ (h_{t-1} U_h + b'_h)
    activate(code_a, g[2 * H :], bx[2 * H :])  # h̃_t = tanh(· + b_h)
    for j in range(H):
        z = g[j]
        h_new[j] = z * h_prev[j] + (one - z) * g[2 * H + j]  # h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t


@njit(**JIT)
def _cell_after_infer(g, bx, hu, h_prev, h_new):
    """reset_after=True with σ gates and tanh, one row, in inference: h_t from g (3H) = x_t W and
    hu (3H) = h_{t-1} U + b'; nothing kept, g and hu left as they are.

    One fused loop instead of _cell_after's four passes over the row (0.60–0.66× its time at H = 64
    and 256, docs/PERFORMANCE.md), the gates kept as fractions n/d (ops.sigmoid_fraction,
    tanh_fraction) as in lstm._cell_infer: (1 − z_t) ⊙ h̃_t divides once; z_t divides on its own,
    so that a large h_{t-1} (an initial state) is never multiplied by a denominator. The sums run
    in _cell_after's order.
    """
    H = h_prev.shape[0]
    for j in range(H):
        nz, dz = sigmoid_fraction(g[j] + hu[j] + bx[j])  # z_t = σ(x_t W_z + h_{t-1} U_z + b'_z + b_z) = nz/dz
        nr, dr = sigmoid_fraction(g[H + j] + hu[H + j] + bx[H + j])  # r_t = nr/dr
        a = g[2 * H + j] + nr / dr * hu[2 * H + j] + bx[2 * H + j]  # x_t W_h + r_t ⊙ (h_{t-1} U_h + b'_h) + b_h
        nt, dt = tanh_fraction(a)  # h̃_t = tanh(a) = nt/dt
        h_new[j] = nz / dz * h_prev[j] + ((dz - nz) * nt) / (dz * dt)  # h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t


def _cell_after_infer_row(g, bx, hu, h_prev, h_new):
    """_cell_after_infer for one row, on explicit vectors (cell_vectors.py) where the row is float32, has
    LANES units or more and the CPU has FMA, as lstm._cell_infer_row."""


overload(_cell_after_infer_row, inline="always")(vectors_or_loop(gru_infer_groups, _cell_after_infer))


@njit(inline="always", **JIT)
def _cell_before_gates(g, b, hu, hp, rh, code_r):
    """reset_after=False, one row, first half: z, r from hu (2H) = h_{t-1} U_zr; rh = r_t ⊙ h_{t-1}."""
    H = hp.shape[0]
    for j in range(2 * H):
        g[j] += hu[j]
    activate(code_r, g[: 2 * H], b[: 2 * H])  # z_t, r_t = σ(x_t W + h_{t-1} U + b)
    for j in range(H):
        rh[j] = g[H + j] * hp[j]  # r_t ⊙ h_{t-1}


@njit(inline="always", **JIT)
def _cell_before_state(g, b, ah, h_prev, h_new, code_a):
    """reset_after=False, one row, second half: h̃ from ah = (r_t ⊙ h_{t-1}) U_h; h_t."""
    H = h_prev.shape[0]
    one = h_new.dtype.type(1.0)  # as in _cell_after
    for j in range(H):
        g[2 * H + j] += ah[j]
    activate(code_a, g[2 * H :], b[2 * H :])  # h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
    for j in range(H):
        z = g[j]
        h_new[j] = z * h_prev[j] + (one - z) * g[2 * H + j]  # h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t


# ---- training forward ---------------------------------------------------------------
@njit(**JIT)
def _forward_rows(
    begun,
    x,
    U,
    P,
    Uh,
    Ph,
    b,
    b_rec,
    h,
    gates,
    hU_h,
    y,
    mask,
    rdrop,
    hp,
    hu,
    rh,
    ah,
    reset_after,
    code_a,
    code_r,
    r0,
    r1,
):
    """Steps 0..T-1 of batch rows r0:r1; h[0] set on entry; h, gates, hU_h (reset_after), y filled.

    U is the whole U (reset_after) or U_zr; P, Ph: U and U_h packed, or empty; b (3H) the input
    bias, b_rec (3H) b' (reset_after); hu, rh, ah (B, ·) are work rows of this block.
    """
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    for t in range(x.shape[0]):
        if reset_after:
            for r in range(r0, r1):
                copy(b_rec, hu[r])  # b', then + h_{t-1} U
            recurrent_product(h[t], U, P, rdrop, hp, hu, r0, r1, from_end(t))
            for r in range(r0, r1):
                _cell_after(gates[t, r], b, hu[r], h[t, r], h[t + 1, r], hU_h[t, r], code_a, code_r)
        else:
            hu[r0:r1] = 0.0
            recurrent_product(h[t], U, P, rdrop, hp, hu, r0, r1, from_end(t))  # h_{t-1} U_z, h_{t-1} U_r
            for r in range(r0, r1):
                _cell_before_gates(gates[t, r], b, hu[r], hp[r] if rdrop.shape[0] > 0 else h[t, r], rh[r], code_r)
            ah[r0:r1] = 0.0
            recurrent_product(rh, Uh, Ph, rdrop[:0], hp[:0], ah, r0, r1, from_end(t))  # (r_t ⊙ h_{t-1}) U_h
            for r in range(r0, r1):
                _cell_before_state(gates[t, r], b, ah[r], h[t, r], h[t + 1, r], code_a)
        if mask.shape[0] > 0:  # y is its own array only under a mask (else h[1:])
            for r in range(r0, r1):
                if mask[t, r]:
                    copy(h[t + 1, r], y[t, r])
                else:  # state carried over, output zero
                    copy(h[t, r], h[t + 1, r])
                    y[t, r, :] = 0.0


# ---- backward -------------------------------------------------------------------------
@njit(**JIT)
def _backward_rows(
    begun,
    dy,
    gates,
    h,
    hU_h,
    U,
    Ut,
    Pt,
    Uh,
    Uht,
    Pht,
    mask,
    rdrop,
    da,
    da_rec,
    dzr,
    dah,
    drh,
    dh,
    dhr,
    reset_after,
    code_a,
    code_r,
    r0,
    r1,
):
    """BPTT of rows r0:r1: dh (B, H) holds dh_T on entry, dh_0 on exit; da (and da_rec) filled.

    reset_after: da_rec[t] = ∂L/∂(h_{t-1} U + b') feeds dh_{t-1} through U. Else
    dzr (B, 2H), dah, drh (B, H) are work rows: ∂L/∂a_{z,r}, ∂L/∂a_h, ∂L/∂(r_t ⊙ h_{t-1}).
    Ut, Pt (Uht, Pht): Uᵀ (U_hᵀ) for the product's loops and packed panels (products.recurrent_grad).
    """
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    T = gates.shape[0]
    H = h.shape[2]
    rd = rdrop.shape[0] > 0
    one = h.dtype.type(1.0)  # as in _cell_after
    for t in range(T - 1, -1, -1):
        for r in range(r0, r1):
            if mask.shape[0] > 0 and not mask[t, r]:  # no gradient; dh passes straight through
                da[t, r, :] = 0.0
                if reset_after:
                    da_rec[t, r, :] = 0.0
                else:
                    dzr[r, :] = 0.0
                    dah[r, :] = 0.0
                continue
            if dy.shape[0] > 0:
                for j in range(H):
                    dh[r, j] += dy[t, r, j]  # everything that reaches h_t
            g = gates[t, r]
            for j in range(H):
                z, rr, ht, dht = g[j], g[H + j], g[2 * H + j], dh[r, j]
                da_z = dht * (h[t, r, j] - ht) * dact(code_r, z)  # ∂h_t/∂z_t = h_{t-1} − h̃_t
                da_h = dht * (one - z) * dact(code_a, ht)  # ∂h_t/∂h̃_t = 1 − z_t
                da[t, r, j] = da_z
                da[t, r, 2 * H + j] = da_h
                if reset_after:
                    da_r = da_h * hU_h[t, r, j] * dact(code_r, rr)  # ∂a_h/∂r_t = h_{t-1} U_h + b'_h
                    da[t, r, H + j] = da_r
                    da_rec[t, r, j] = da_z
                    da_rec[t, r, H + j] = da_r
                    da_rec[t, r, 2 * H + j] = da_h * rr  # ∂a_h/∂(h_{t-1} U_h + b'_h) = r_t
                else:
                    dzr[r, j] = da_z
                    dah[r, j] = da_h
                dh[r, j] = dht * z  # through the carried term z_t ⊙ h_{t-1}; products added below
        if reset_after:
            recurrent_grad(da_rec[t], U, Ut, Pt, rdrop, dh, dhr, r0, r1, from_end(t))  # + (da_rec_t Uᵀ) ⊙ rdrop
            continue
        drh[r0:r1] = 0.0
        end = from_end(t)
        recurrent_grad(dah, Uh, Uht, Pht, rdrop[:0], drh, dhr[:0], r0, r1, end)  # ∂L/∂(r_t ⊙ h_{t-1}) = da_h U_hᵀ
        for r in range(r0, r1):
            if mask.shape[0] > 0 and not mask[t, r]:
                continue
            for j in range(H):
                rr = gates[t, r, H + j]
                keep = rdrop[r, j] if rd else 1.0
                da_r = drh[r, j] * h[t, r, j] * keep * dact(code_r, rr)  # ∂(r_t ⊙ h_{t-1})/∂r_t = h_{t-1}
                da[t, r, H + j] = da_r
                dzr[r, H + j] = da_r
                dh[r, j] += drh[r, j] * rr * keep
        recurrent_grad(dzr, U, Ut, Pt, rdrop, dh, dhr, r0, r1, end)  # + ([da_z, da_r] U_zrᵀ) ⊙ rdrop


@njit(**JIT)
def _grads_block(begun, x, hp, hh, da, da_rec, W, gW, gU, gb, gb_rec, dx, c0, c1, q0, q1, wide):
    """Columns c0:c1 of ∂L/∂W = Σ x_tᵀ da_t, ∂L/∂U and ∂L/∂b (and ∂L/∂b'); rows q0:q1 of dx = da Wᵀ.

    ∂L/∂U = Σ hpᵀ da_rec over the z and r columns, Σ hhᵀ da_rec over the h̃ columns: hh = hp and
    da_rec = ∂L/∂(h_{t-1} U + b') under reset_after, hh = r_t ⊙ h_{t-1} and da_rec = da without it.
    x (N, D), hp, hh (N, H), da, da_rec (N, 3H): the steps of all rows stacked (N = T·B).
    """
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    N = x.shape[0]
    G = da.shape[1]
    split = 2 * (G // 3)  # the first column of the h̃ block
    if c1 > c0:
        parts = ((x, da, gW, c0, c1), (hp, da_rec, gU, c0, min(c1, split)), (hh, da_rec, gU, max(c0, split), c1))
        for A, Bm, C, a, b in parts:
            if b <= a:
                continue
            K = A.shape[1]
            if K <= SMALL_ROWS:
                at_b_small(A, Bm, C, a, b, wide)
            else:
                gemm(True, False, K, b - a, N, 1.0, A, K, Bm[:, a:], G, 0.0, C[:, a:], G)
        bias_grad(da, gb, c0, c1, wide)  # ∂L/∂b = Σ da
        if gb_rec.shape[0] > 0:
            bias_grad(da_rec, gb_rec, c0, c1, wide)  # ∂L/∂b' = Σ da_rec
    input_grad(da, W, dx, q0, q1)  # dx = da Wᵀ


# ---- inference: no cache ------------------------------------------------------------
@njit(**JIT)
def _infer_rows(
    x, W, PW, U, P, Uh, Ph, b, b_rec, h, y, mask, backwards, reset_after, code_a, code_r, z, hu, rh, ah, hn, hUh, r0, r1
):
    """All steps of batch rows r0:r1, batch first. h (B, H) holds h_0 on entry and h_T on exit;
    z (B, T or 1, 3H) the input terms (all steps first, or each at its step); PW, P, Ph: W, U
    and U_h packed, or empty; the rest work rows."""
    B, T, D = x.shape
    H = h.shape[1]
    every = z.shape[1] == T
    none = np.empty((0, 0), x.dtype)
    if every:
        input_projection(x.reshape(B * T, D), W, PW, z.reshape(B * T, 3 * H), r0 * T, r1 * T)  # x_t W, every step
    for t in range(T):
        s = T - 1 - t if backwards else t  # the input step read at processing step t
        q = s if every else 0
        if not every:
            step_input(x, W, z, s, r0, r1)
        if reset_after:
            for r in range(r0, r1):
                copy(b_rec, hu[r])
            recurrent_product(h, U, P, none, none, hu, r0, r1, from_end(t))  # h_{t-1} U + b'
            for r in range(r0, r1):
                if code_a == TANH and code_r == SIGMOID:
                    _cell_after_infer_row(z[r, q], b, hu[r], h[r], hn[r])
                else:
                    _cell_after(z[r, q], b, hu[r], h[r], hn[r], hUh[r], code_a, code_r)
        else:
            hu[r0:r1] = 0.0
            recurrent_product(h, U, P, none, none, hu, r0, r1, from_end(t))
            for r in range(r0, r1):
                _cell_before_gates(z[r, q], b, hu[r], h[r], rh[r], code_r)
            ah[r0:r1] = 0.0
            recurrent_product(rh, Uh, Ph, none, none, ah, r0, r1, from_end(t))
            for r in range(r0, r1):
                _cell_before_state(z[r, q], b, ah[r], h[r], hn[r], code_a)
        for r in range(r0, r1):
            keep = mask.shape[0] == 0 or mask[r, s]
            if keep:  # else state carried over, output zero
                copy(hn[r], h[r])
            if y.shape[0] > 0:
                for j in range(H):
                    y[r, t, j] = h[r, j] if keep else 0.0


@njit(**JIT)
def _infer_block(
    begun, x, W, PW, U, P, Uh, Ph, b, b_rec, h0, mask, backwards, reset_after, code_a, code_r, steps, y, hT, r0, r1
):
    """_infer_rows on batch rows r0:r1, with state and work arrays of the block's own, made on its
    thread (see lstm.py); writes y[r0:r1] (unless y is empty) and h_T into hT[r0:r1]."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    n = r1 - r0
    H = h0.shape[1]
    h = h0[r0:r1].copy()  # becomes h_T
    z = np.empty((n, steps, 3 * H), x.dtype)
    hu = np.empty((n, 3 * H if reset_after else 2 * H), x.dtype)
    rh, ah = np.empty((n, H), x.dtype), np.empty((n, H), x.dtype)
    hn, hUh = np.empty((n, H), x.dtype), np.empty((n, H), x.dtype)
    work = (z, hu, rh, ah, hn, hUh)
    xs, ys, ms = x[r0:r1], y[r0:r1], mask[r0:r1]
    _infer_rows(
        xs, W, PW, U, P, Uh, Ph, b, b_rec, h, ys, ms, backwards, reset_after, code_a, code_r, *work, np.intp(0), n
    )
    hT[r0:r1] = h


def _split_U(U, reset_after):
    """(U, empty) under reset_after, else (U_zr (H, 2H), U_h (H, H)), each C order."""
    if reset_after:
        return U, empty(2, U.dtype)
    H = U.shape[0]
    return np.ascontiguousarray(U[:, : 2 * H]), np.ascontiguousarray(U[:, 2 * H :])


def _unpacked(U, reset_after, P, Ph):
    """(U_zr, U_h) as inference's loops read them where their product is not packed (P, Ph empty): U itself
    and an empty U_h under reset_after, else C-order copies of U's columns; an empty stand-in for a packed
    one, of which only the pack is read."""
    none = empty(2, U.dtype)
    if reset_after:
        return U, none
    H = U.shape[0]
    Ur = none if P.shape[0] > 0 else np.ascontiguousarray(U[:, : 2 * H])
    Uh = none if Ph.shape[0] > 0 else np.ascontiguousarray(U[:, 2 * H :])
    return Ur, Uh


def _biases(b, reset_after, H):
    """(b (3H,), b' (3H,) or an empty stand-in), C order; the reference's error for a bias of the other form."""
    b, b_rec = reference.split_bias(b, reset_after, H)
    return np.ascontiguousarray(b), (empty(1, b.dtype) if b_rec is None else np.ascontiguousarray(b_rec))


def forward(
    x, params, state, mask=None, activation="tanh", recurrent_activation="sigmoid", reset_after=True, rdrop=None
):
    """As kernels.gru.forward. Returns (y (T, B, H), (h_T,), cache)."""
    plan = supported(x, params, state, mask, rdrop, (activation, recurrent_activation))
    if plan is None:  # a dtype or layout the compiled loops do not take: the reference
        return reference.forward(x, params, state, mask, activation, recurrent_activation, reset_after, rdrop)
    x, W, U, b, m8, rd, codes = plan
    T, B, D = x.shape
    H = U.shape[0]
    reset_after = bool(reset_after)
    b, b_rec = _biases(b, reset_after, H)
    dtype = x.dtype
    Ur, Uh = _split_U(U, reset_after)
    h = buffers.empty((T + 1, B, H), dtype)  # h[t+1] = h_t (carried state)
    h[0] = state[0]
    gates = buffers.empty((T, B, 3 * H), dtype)  # z, r, h̃ of every step
    hU_h = buffers.empty((T, B, H), dtype) if reset_after else empty(3, dtype)  # h_{t-1} U_h + b'_h
    y = h[1:] if mask is None else np.empty((T, B, H), dtype)
    hp = np.empty((B, H) if rd.size else (0, 0), dtype)  # h_{t-1} ⊙ rdrop
    hu = np.empty((B, 3 * H if reset_after else 2 * H), dtype)
    rh, ah = (empty(2, dtype), empty(2, dtype)) if reset_after else (np.empty((B, H), dtype), np.empty((B, H), dtype))
    rows = blocks_for(B, T, D, H, 3)
    P, Ph = panels(Ur, rows, T), panels(Uh, rows, T)  # U_h is empty under reset_after
    PW = input_panels(W, T * B)
    with one_blas_thread():  # x_t W for all steps first, as one large product per thread
        pool.run(
            projection_block,
            [
                (x.reshape(T * B, -1), W, PW, gates.reshape(T * B, 3 * H), q0, q1)
                for q0, q1 in pool.split(T * B, len(rows))
            ],
        )
        pool.run(
            _forward_rows,
            [
                (x, Ur, P, Uh, Ph, b, b_rec, h, gates, hU_h, y, m8, rd, hp, hu, rh, ah, reset_after, *codes, r0, r1)
                for r0, r1 in rows
            ],
        )
    cache = dict(
        x=x,
        W=W,
        U=U,
        h=h,
        gates=gates,
        hU_h=hU_h if reset_after else None,
        mask=mask,
        rdrop=rdrop,
        activation=activation,
        recurrent_activation=recurrent_activation,
        reset_after=reset_after,
        fast=(b, m8, rd, codes, hU_h),
        lease=buffers.Lease(h, gates, hU_h),
    )  # last: see buffers.py
    return y, (h[T].copy(),), cache


def backward(dy, dstate, cache):
    """As kernels.gru.backward. Returns (dx (T, B, D), (dh0,), grads W, U, b)."""
    if "fast" not in cache:  # a cache of the reference
        return reference.backward(dy, dstate, cache)
    x, W, U, h, gates = (cache[k] for k in ("x", "W", "U", "h", "gates"))
    b, m8, rd, codes, hU_h = cache["fast"]
    reset_after = cache["reset_after"]
    T, B, D = x.shape
    H = U.shape[0]
    dtype = x.dtype
    dh = np.zeros((B, H), dtype) if dstate[0] is None else np.array(dstate[0], dtype=dtype)
    dy = empty(3, dtype) if dy is None else np.ascontiguousarray(dy, dtype=dtype)
    da = buffers.empty((T, B, 3 * H), dtype)  # ∂L/∂(x_t W + b)
    da_rec = buffers.empty((T, B, 3 * H), dtype) if reset_after else empty(3, dtype)  # ∂L/∂(h_{t-1} U + b')
    Ur, Uh = _split_U(U, reset_after)
    rows = blocks_for(B, T, D, H, 3)
    Pt, Pht = panels(Ur, rows, T, transpose=True), panels(Uh, rows, T, transpose=True)
    Urt, Uht = transposed_if_small(Ur, rows, Pt), transposed_if_small(Uh, rows, Pht)
    if reset_after:
        dzr = dah = drh = empty(2, dtype)
    else:
        dzr, dah, drh = np.empty((B, 2 * H), dtype), np.empty((B, H), dtype), np.empty((B, H), dtype)
    dhr = np.empty((B, H) if rd.size else (0, 0), dtype)
    with one_blas_thread():
        pool.run(
            _backward_rows,
            [
                (
                    dy,
                    gates,
                    h,
                    hU_h,
                    Ur,
                    Urt,
                    Pt,
                    Uh,
                    Uht,
                    Pht,
                    m8,
                    rd,
                    da,
                    da_rec,
                    dzr,
                    dah,
                    drh,
                    dh,
                    dhr,
                    reset_after,
                    *codes,
                    r0,
                    r1,
                )
                for r0, r1 in rows
            ],
        )
        # the weight gradients, after the loop, as a few large products split by columns
        N, G = T * B, 3 * H
        hp = (h[:-1] if rd.size == 0 else h[:-1] * rd).reshape(N, H)  # h_{t-1} as the products saw it
        hh = hp if reset_after else np.ascontiguousarray(gates[:, :, H : 2 * H]).reshape(N, H) * hp  # r_t ⊙ h_{t-1}
        da_u = da_rec.reshape(N, G) if reset_after else da.reshape(N, G)
        grads = {"W": np.empty_like(W), "U": np.empty_like(U), "b": np.empty((2, G) if reset_after else G, dtype)}
        gb, gb_rec = (grads["b"][0], grads["b"][1]) if reset_after else (grads["b"], empty(1, dtype))
        dx = np.empty((T, B, D), dtype)
        parts = len(rows)
        blocks = zip(
            [(G * k // parts, G * (k + 1) // parts) for k in range(parts)],
            [(N * k // parts, N * (k + 1) // parts) for k in range(parts)],
        )
        pool.run(
            _grads_block,
            [
                (
                    x.reshape(N, D),
                    hp,
                    hh,
                    da.reshape(N, G),
                    da_u,
                    W,
                    grads["W"],
                    grads["U"],
                    gb,
                    gb_rec,
                    dx.reshape(N, D),
                    *cols,
                    *rws,
                    packed.tile_is_wide(),
                )
                for cols, rws in blocks
            ],
        )
    spare = [da, da_rec]
    del da, da_rec, da_u
    buffers.give_back(spare)
    return dx, (dh,), grads


def infer(
    x,
    params,
    state,
    mask=None,
    go_backwards=False,
    sequences=True,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
):
    """As kernels.gru.infer: x (B, T, D) -> (y (B, T, H) or None, (h_T,)); no cache.

    Batch first throughout, nothing kept for backward; each block of rows computes its
    own input terms (all first, or step by step: input_steps) and runs its steps.
    """
    plan = infer_plan(x, params, state, mask, (activation, recurrent_activation))
    if plan is None:
        return inference.via_forward(
            forward,
            x,
            params,
            state,
            mask,
            go_backwards,
            sequences,
            activation=activation,
            recurrent_activation=recurrent_activation,
            reset_after=reset_after,
        )
    x, W, U, b, state, m8, codes, rows = plan
    B, T, D = x.shape
    H = U.shape[0]
    reset_after = bool(reset_after)
    b, b_rec = _biases(b, reset_after, H)
    steps = input_steps(T, D)
    dtype = x.dtype
    y = np.empty((B, T, H), dtype) if sequences else empty(3, dtype)
    h = np.empty((B, H), dtype)  # h_T
    # packed from U's own columns, so that the packs are kept from call to call with U's (kept.py)
    G = 3 * H if reset_after else 2 * H  # the first product's columns: all of U, or U_z and U_r
    P = panels(U, rows, T, keep=True, columns=(0, G))
    Ph = empty(3, dtype) if reset_after else panels(U, rows, T, keep=True, columns=(G, 3 * H))
    Ur, Uh = _unpacked(U, reset_after, P, Ph)
    PW = input_panels(W, T * B, keep=True)
    with one_blas_thread(calls_blas(D, rows, (P,) if reset_after else (P, Ph), PW, empty(3, dtype))):
        args = (x, W, PW, Ur, P, Uh, Ph, b, b_rec, state[0], m8, go_backwards, reset_after, *codes, steps, y, h)
        pool.run(_infer_block, [(*args, r0, r1) for r0, r1 in rows])  # each block on arrays of its own
    return (y if sequences else None), (h,)
