"""LSTM, compiled: the same forward/backward as kernels/lstm.py, which stays the spec.

What differs from the reference is only how the work is laid out:
- one compiled loop over time per block of batch rows; the blocks (one per
  core) run the whole sequence in parallel, since rows never interact;
- each step's z_t = [x_t, h_{t-1}] [W; U] as one product on W stacked over U,
  packed once per call, where U is packed and x_t has more than two features
  (plan.stacked_panels); else the input terms x_t W of all steps first, as one
  large product per thread, and z_t += h_{t-1} U at each step;
- gate activations and the cell update fused per row, in place in the gates
  buffer, inlined into the loop over rows; float32 stays float32 (tanh32 vectorises);
  inference's float32 rows run on explicit vectors of 16 units (cell_vectors.py);
- tanh(C_t) recomputed in backward instead of stored (a T·B·H buffer less);
- the weight gradients after the loop, in one pass over dz where few features and
  units feed them, else as large products; split by output columns across the
  cores, dx by rows (products.weight_grads);
- buffers reused from call to call (buffers.py).
infer() runs batch first in a loop of its own, which fills no cache.
The cache keeps the reference's keys (x, W, U, h, c, gates, mask, rdrop, …)
except tanh_c. Shapes and semantics: see kernels/lstm.py.
"""

import numpy as np
from numba import njit
from numba.extending import overload

from .. import inference
from .. import lstm as reference
from . import buffers, pool
from .blas import one_blas_thread
from .cell_vectors import lstm_infer_groups, vectors_or_loop
from .ops import JIT, SIGMOID, TANH, act, activate, copy, dact, sigmoid_fraction, tanh, tanh_fraction, wide_vectors
from .plan import (
    blocks_for,
    calls_blas,
    empty,
    grads_in_one_pass,
    infer_plan,
    infer_terms,
    panels,
    step_terms,
    supported,
    transposed_if_small,
)
from .products import (
    NO_DROP,
    from_end,
    input_projection,
    recurrent_grad,
    recurrent_product,
    stacked_product,
    step_input,
    step_product,
    weight_grads,
)
from .spin import mark_begun


@njit(**JIT)
def _forward_rows(begun, x, U, P, WU, b, h, c, gates, y, mask, rdrop, hp, xh, code_a, code_r, r0, r1):
    """Steps 0..T-1 of batch rows r0:r1; h[0], c[0] set on entry, h, c, gates, y filled.

    WU: [W; U] packed (plan.stacked_panels), each step's terms one product with xh (B, D + H) its
    work; else empty, z_t = x_t W already in gates, and P: U packed, or empty. The bias comes with
    the activation."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    for t in range(x.shape[0]):
        if WU.shape[0] > 0:  # z_t = [x_t, h_{t-1}] [W; U]
            stacked_product(x[t], h[t], WU, rdrop, xh, gates[t], r0, r1, from_end(t))
        else:
            recurrent_product(h[t], U, P, rdrop, hp, gates[t], r0, r1, from_end(t))  # z_t += h_{t-1} U
        for r in range(r0, r1):
            if code_a == TANH and code_r == SIGMOID:  # the usual LSTM: its fused loop, inlined here
                _cell_forward_usual(gates[t, r], b, c[t, r], c[t + 1, r], h[t + 1, r])
            else:
                _cell_forward(gates[t, r], b, c[t, r], c[t + 1, r], h[t + 1, r], code_a, code_r)
            if mask.shape[0] > 0:  # y is its own array only under a mask (else h[1:])
                copy(h[t + 1, r], y[t, r])
                if not mask[t, r]:  # state carried over, output zero
                    copy(h[t, r], h[t + 1, r])
                    copy(c[t, r], c[t + 1, r])
                    y[t, r, :] = 0.0


@njit(**JIT)
def _cell_forward(z, b, c_prev, c_new, h_new, code_a, code_r):
    """One row, any activations: z (4H) → i, f, C̃, o in place; C_t and h_t written.

    A loop per gate, so that the branch on each code sits outside it (the usual σ and tanh:
    _cell_forward_usual)."""
    H = c_prev.shape[0]
    activate(code_r, z[:H], b[:H])  # i_t = σ(x_t W_i + h_{t-1} U_i + b_i)
    activate(code_r, z[H : 2 * H], b[H : 2 * H])  # f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
    activate(code_a, z[2 * H : 3 * H], b[2 * H : 3 * H])  # C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)
    activate(code_r, z[3 * H :], b[3 * H :])  # o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
    for j in range(H):
        cn = z[H + j] * c_prev[j] + z[j] * z[2 * H + j]  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
        c_new[j] = cn
        h_new[j] = z[3 * H + j] * act(code_a, cn)  # h_t = o_t ⊙ tanh(C_t)


@njit(inline="always", **JIT)
def _cell_forward_usual(z, b, c_prev, c_new, h_new):
    """_cell_forward for the usual LSTM (σ gates, tanh): one fused loop over the units, inlined.

    Its arithmetic bounds it, as _cell_infer's: 512-bit vectors where the CPU has them. A loop per
    gate took 1.15–1.3× its time at H = 64 and 256; a call per row instead of the inlined loop,
    1.16× the time of the loop over time at (100, 32, 1, 64): numba counts a reference to each
    array view it hands to a function that is not inlined (docs/PERFORMANCE.md)."""
    wide_vectors()
    H = c_prev.shape[0]
    for j in range(H):
        i = act(SIGMOID, z[j] + b[j])  # i_t = σ(x_t W_i + h_{t-1} U_i + b_i)
        f = act(SIGMOID, z[H + j] + b[H + j])  # f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
        g = tanh(z[2 * H + j] + b[2 * H + j])  # C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)
        o = act(SIGMOID, z[3 * H + j] + b[3 * H + j])  # o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
        z[j], z[H + j], z[2 * H + j], z[3 * H + j] = i, f, g, o  # kept for backward
        cn = f * c_prev[j] + i * g  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
        c_new[j] = cn
        h_new[j] = o * tanh(cn)  # h_t = o_t ⊙ tanh(C_t)


@njit(inline="always", **JIT)
def _cell_infer(z, b, c_prev, c_new, h_new):
    """One row of the usual LSTM (σ gates, tanh), in inference: C_t and h_t from z (4H), no gate kept.

    One fused loop with three divisions a unit instead of five: the gates are kept as fractions
    n/d (ops.sigmoid_fraction, tanh_fraction) and i_t ⊙ C̃_t and o_t ⊙ tanh(C_t) each divide
    once. f_t divides on its own, so that a large C_{t-1} is never multiplied by a denominator.
    Inlined into the loop over rows, which then moves C_t and h_t into c and h in a loop of its own:
    called, with a call to ops.copy for each, inference at (100, 32, 1, 64) took 1.03–1.04× the time
    (the same bits; docs/PERFORMANCE.md).
    """
    wide_vectors()  # its arithmetic, not memory, bounds this loop: 512-bit vectors where the CPU has them
    H = c_prev.shape[0]
    for j in range(H):
        ni, di = sigmoid_fraction(z[j] + b[j])  # i_t = σ(x_t W_i + h_{t-1} U_i + b_i) = ni/di
        nf, df = sigmoid_fraction(z[H + j] + b[H + j])  # f_t = nf/df
        ng, dg = tanh_fraction(z[2 * H + j] + b[2 * H + j])  # C̃_t = tanh(…) = ng/dg
        no, do = sigmoid_fraction(z[3 * H + j] + b[3 * H + j])  # o_t = no/do
        cn = nf / df * c_prev[j] + (ni * ng) / (di * dg)  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
        c_new[j] = cn
        nt, dt = tanh_fraction(cn)
        h_new[j] = (no * nt) / (do * dt)  # h_t = o_t ⊙ tanh(C_t)


def _cell_infer_row(z, b, c_prev, c_new, h_new):
    """_cell_infer for one row, on explicit vectors (cell_vectors.py) where the row is float32, has LANES
    units or more and the CPU has FMA: there one vector's chain of dependent operations bounded the loop."""


overload(_cell_infer_row, inline="always")(vectors_or_loop(lstm_infer_groups, _cell_infer))


@njit(**JIT)
def _backward_rows(begun, dy, gates, c, U, Ut, Pt, mask, rdrop, dz, dh, dc, dhr, code_a, code_r, r0, r1):
    """BPTT of rows r0:r1: dh, dc (B, H) hold dh_T, dC_T on entry, dh_0, dC_0 on exit; dz filled.

    Ut, Pt: Uᵀ for the product's loops and packed panels (products.recurrent_grad).
    """
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    T = gates.shape[0]
    H = U.shape[0]
    for t in range(T - 1, -1, -1):
        for r in range(r0, r1):
            if mask.shape[0] > 0 and not mask[t, r]:  # no gradient; dh, dC pass straight through
                dz[t, r, :] = 0.0
                continue
            if dy.shape[0] > 0:
                for j in range(H):
                    dh[r, j] += dy[t, r, j]  # everything that reaches h_t
            _cell_backward(gates[t, r], c[t, r], c[t + 1, r], dh[r], dc[r], dz[t, r], code_a, code_r)
        recurrent_grad(dz[t], U, Ut, Pt, rdrop, dh, dhr, r0, r1, from_end(t))  # dh_{t-1} += dz_t Uᵀ


@njit(inline="always", **JIT)
def _cell_backward(g, c_prev, c_t, dh, dc, dz, code_a, code_r):
    """One row: gradients at z_t from dh_t, dC_t; dh zeroed, dc becomes ∂L/∂C_{t-1}.

    Inlined into the loop over rows, as _cell_forward_usual: called, it took 1.19× the time of the
    loop over time at (100, 32, 1, 64)."""
    H = dh.shape[0]
    if code_a == TANH and code_r == SIGMOID:  # the usual LSTM: the same loop, the codes known
        for j in range(H):
            i, f, gt, o = g[j], g[H + j], g[2 * H + j], g[3 * H + j]
            tc = tanh(c_t[j])  # tanh(C_t), recomputed
            dC = dc[j] + dh[j] * o * dact(TANH, tc)  # through h_t = o_t ⊙ tanh(C_t)
            dz[j] = dC * gt * dact(SIGMOID, i)  # ∂C_t/∂i_t = C̃_t
            dz[H + j] = dC * c_prev[j] * dact(SIGMOID, f)  # ∂C_t/∂f_t = C_{t-1}
            dz[2 * H + j] = dC * i * dact(TANH, gt)  # ∂C_t/∂C̃_t = i_t
            dz[3 * H + j] = dh[j] * tc * dact(SIGMOID, o)  # ∂h_t/∂o_t = tanh(C_t)
            dc[j] = dC * f  # ∂C_t/∂C_{t-1} = f_t
            dh[j] = 0.0
        return
    for j in range(H):
        i, f, gt, o = g[j], g[H + j], g[2 * H + j], g[3 * H + j]
        tc = act(code_a, c_t[j])
        dC = dc[j] + dh[j] * o * dact(code_a, tc)
        dz[j] = dC * gt * dact(code_r, i)
        dz[H + j] = dC * c_prev[j] * dact(code_r, f)
        dz[2 * H + j] = dC * i * dact(code_a, gt)
        dz[3 * H + j] = dh[j] * tc * dact(code_r, o)
        dc[j] = dC * f
        dh[j] = 0.0


# ---- inference: no cache ------------------------------------------------------------
@njit(**JIT)
def _infer_rows(x, W, PW, U, P, WU, b, h, c, y, mask, backwards, code_a, code_r, z, xh, hc, r0, r1):
    """All steps of batch rows r0:r1, batch first.

    h, c (B, H) hold h_0, C_0 on entry and h_T, C_T on exit; z and hc (B, 2H) are
    work (C_t and h_t are written apart from C_{t-1}, so that the cell loop
    vectorises). WU: [W; U] packed (plan.stacked_panels), or empty. With WU, each
    step's terms are one product (products.stacked_product) into z (B, 1, 4H), xh
    (B, D + H) its work; else z is (B, T, 4H), every step's input term made first,
    or (B, 1, 4H), each step's made at that step, and PW, P: W and U packed, or empty.
    """
    B, T, D = x.shape
    H = h.shape[1]
    stacked = WU.shape[0] > 0
    every = z.shape[1] == T and not stacked
    if every:
        input_projection(x.reshape(B * T, D), W, PW, z.reshape(B * T, 4 * H), r0 * T, r1 * T)  # x_t W, every step
    for t in range(T):
        s = T - 1 - t if backwards else t  # the input step read at processing step t
        q = s if every else 0  # where z_t is
        if stacked:  # z_t = [x_t, h_{t-1}] [W; U]
            stacked_product(x[:, s], h, WU, NO_DROP, xh, z.reshape(B, 4 * H), r0, r1, from_end(t))
        else:
            if not every:
                step_input(x, W, z, s, r0, r1)  # z_t = x_t W
            step_product(h, U, P, z, q, r0, r1, from_end(t))  # z_t += h_{t-1} U
        for r in range(r0, r1):
            keep = mask.shape[0] == 0 or mask[r, s]
            if keep:  # else state carried over, output zero
                cn, hn = hc[r, :H], hc[r, H:]
                if code_a == TANH and code_r == SIGMOID:
                    _cell_infer_row(z[r, q], b, c[r], cn, hn)
                else:
                    _cell_forward(z[r, q], b, c[r], cn, hn, code_a, code_r)
                for j in range(H):  # C_t, h_t become the next step's C_{t-1}, h_{t-1}
                    c[r, j] = hc[r, j]
                    h[r, j] = hc[r, H + j]
            if y.shape[0] > 0:
                for j in range(H):
                    y[r, t, j] = h[r, j] if keep else 0.0


@njit(**JIT)
def _infer_block(begun, x, W, PW, U, P, WU, b, h0, c0, mask, backwards, code_a, code_r, steps, y, hT, cT, r0, r1):
    """_infer_rows on batch rows r0:r1, with state and work arrays of the block's own, made on its
    thread; writes y[r0:r1] (unless y is empty), h_T into hT[r0:r1] and C_T into cT[r0:r1].

    Blocks on two threads that shared these arrays, each writing its own rows, took up to
    1.46× the time: lines at the edge of a block's rows went back and forth between the cores
    (docs/PERFORMANCE.md, "Blocks on arrays of their own").
    """
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    n = r1 - r0
    D = x.shape[2]
    H = h0.shape[1]
    h, c = h0[r0:r1].copy(), c0[r0:r1].copy()  # become h_T, C_T
    z = np.empty((n, steps, 4 * H), x.dtype)
    xh = np.empty((n, D + H) if WU.shape[0] > 0 else (0, 0), x.dtype)
    hc = np.empty((n, 2 * H), x.dtype)
    xs, ys, ms = x[r0:r1], y[r0:r1], mask[r0:r1]
    # np.intp(0), not the literal 0 (here and in _infer_batch): numba would compile the callee once more for it
    _infer_rows(xs, W, PW, U, P, WU, b, h, c, ys, ms, backwards, code_a, code_r, z, xh, hc, np.intp(0), n)
    hT[r0:r1] = h
    cT[r0:r1] = c


@njit(**JIT)
def _infer_batch(begun, x, W, PW, U, P, WU, b, h0, c0, mask, backwards, code_a, code_r, sequences, steps):
    """_infer_block on the whole batch, its outputs made here: (y or an empty array, h_T, C_T).

    Made in Python, the arrays took a one-step call about 7 µs more: after a kernel
    has run, NumPy's code is out of the caches (docs/PERFORMANCE.md, "A short path").
    """
    B, T, _ = x.shape
    H = h0.shape[1]
    y = np.empty((B, T, H) if sequences else (0, 0, 0), x.dtype)
    h, c = np.empty((B, H), x.dtype), np.empty((B, H), x.dtype)
    _infer_block(begun, x, W, PW, U, P, WU, b, h0, c0, mask, backwards, code_a, code_r, steps, y, h, c, np.intp(0), B)
    return y, h, c


def forward(x, params, state, mask=None, activation="tanh", recurrent_activation="sigmoid", rdrop=None):
    """As kernels.lstm.forward. Returns (y (T, B, H), (h_T, C_T), cache)."""
    plan = supported(x, params, state, mask, rdrop, (activation, recurrent_activation))
    if plan is None:  # a dtype or layout the compiled loops do not take: the reference
        return reference.forward(x, params, state, mask, activation, recurrent_activation, rdrop)
    x, W, U, b, m8, rd, codes = plan
    T, B, _ = x.shape
    H = U.shape[0]
    dtype = x.dtype
    h = buffers.empty((T + 1, B, H), dtype)  # h[t+1] = h_t (carried state)
    c = buffers.empty((T + 1, B, H), dtype)  # c[t+1] = C_t (carried state)
    h[0], c[0] = state
    gates = buffers.empty((T, B, 4 * H), dtype)  # i, f, C̃, o of every step
    y = h[1:] if mask is None else np.empty((T, B, H), dtype)  # unmasked, the output is h_1..h_T
    rows = blocks_for(B, T, x.shape[2], H, 4)
    with one_blas_thread():
        WU, P, xh, hp = step_terms(x, W, U, rows, gates, rd)
        pool.run(_forward_rows, [(x, U, P, WU, b, h, c, gates, y, m8, rd, hp, xh, *codes, r0, r1) for r0, r1 in rows])
    cache = dict(
        x=x,
        W=W,
        U=U,
        h=h,
        c=c,
        gates=gates,
        mask=mask,
        rdrop=rdrop,
        activation=activation,
        recurrent_activation=recurrent_activation,
        fast=(b, m8, rd, codes),
        lease=buffers.Lease(h, c, gates),
    )  # last: see buffers.py
    return y, (h[T].copy(), c[T].copy()), cache


def backward(dy, dstate, cache):
    """As kernels.lstm.backward. Returns (dx (T, B, D), (dh0, dC0), grads W, U, b)."""
    if "fast" not in cache:  # a cache of the reference
        return reference.backward(dy, dstate, cache)
    x, W, U, h, c, gates = (cache[k] for k in ("x", "W", "U", "h", "c", "gates"))
    b, m8, rd, codes = cache["fast"]
    T, B, D = x.shape
    H = U.shape[0]
    dtype = x.dtype
    dh = np.zeros((B, H), dtype) if dstate[0] is None else np.array(dstate[0], dtype=dtype)
    dc = np.zeros((B, H), dtype) if dstate[1] is None else np.array(dstate[1], dtype=dtype)
    dy = empty(3, dtype) if dy is None else np.ascontiguousarray(dy, dtype=dtype)
    dz = buffers.empty((T, B, 4 * H), dtype)  # ∂L/∂(x_t W + h_{t-1} U + b)
    dhr = np.empty((B, H) if rd.size else (0, 0), dtype)
    rows = blocks_for(B, T, D, H, 4)
    Pt = panels(U, rows, T, transpose=True)
    Ut = transposed_if_small(U, rows, Pt)
    with one_blas_thread():
        pool.run(
            _backward_rows, [(dy, gates, c, U, Ut, Pt, m8, rd, dz, dh, dc, dhr, *codes, r0, r1) for r0, r1 in rows]
        )
        dx, grads = weight_grads(x, h, rd, dz, W, U, b, len(rows), grads_in_one_pass(D, H))
    spare = [dz]
    del dz
    buffers.give_back(spare)
    return dx, (dh, dc), grads


def infer(
    x, params, state, mask=None, go_backwards=False, sequences=True, activation="tanh", recurrent_activation="sigmoid"
):
    """As kernels.lstm.infer: x (B, T, D) -> (y (B, T, H) or None, (h_T, C_T)); no cache.

    Batch first throughout (no transposed copies), nothing kept for backward; each
    block of rows computes its own input terms (all first, or step by step: input_steps)
    and runs its steps. One block (a small batch) makes its arrays in compiled code.
    """
    plan = infer_plan(x, params, state, mask, (activation, recurrent_activation))
    if plan is None:  # what the compiled loops do not take
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
        )
    x, W, U, b, state, m8, codes, rows = plan
    B, T, D = x.shape
    WU, P, PW, steps = infer_terms(W, U, rows, T, B)
    with one_blas_thread(calls_blas(D, rows, (P,), PW, WU)):
        if len(rows) == 1:
            args = (x, W, PW, U, P, WU, b, state[0], state[1], m8, go_backwards, *codes, sequences, steps)
            y, h, c = pool.run(_infer_batch, [args])[0]
        else:  # blocks of rows in parallel, each on arrays of its own but for the outputs
            H = U.shape[0]
            y = np.empty((B, T, H), x.dtype) if sequences else empty(3, x.dtype)
            h, c = np.empty((B, H), x.dtype), np.empty((B, H), x.dtype)  # h_T, C_T
            pool.run(
                _infer_block,
                [(x, W, PW, U, P, WU, b, *state, m8, go_backwards, *codes, steps, y, h, c, r0, r1) for r0, r1 in rows],
            )
    return (y if sequences else None), (h, c)
