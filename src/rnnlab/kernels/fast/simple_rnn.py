"""SimpleRNN, compiled: the same forward/backward as kernels/simple_rnn.py, which stays the spec.

    h_t = φ(x_t W + h_{t-1} U + b)

The work is laid out as in lstm.py: one compiled loop over time per block of
batch rows (one block per core), a step's terms one product on [W; U] where
lstm.py's are, the activation applied in place after the step's products, the
weight gradients as large products after the loop. The
cache keeps the reference's keys (x, W, U, h, h_new, mask, rdrop, activation).
infer() runs batch first in a loop of its own, which fills no cache.
"""

import numpy as np
from numba import njit

from .. import inference
from .. import simple_rnn as reference
from . import buffers, pool
from .blas import one_blas_thread
from .ops import JIT, TANH, activate, copy, dact
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
def _forward_rows(begun, x, U, P, WU, b, h, hn, y, mask, rdrop, hp, xh, code, r0, r1):
    """Steps 0..T-1 of batch rows r0:r1; h[0] set on entry, h, hn, y filled.

    WU: [W; U] packed, each step's terms one product with xh its work (see lstm.py); else empty,
    z_t = x_t W already in hn, and P: U packed, or empty. The bias comes with the activation."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    for t in range(x.shape[0]):
        if WU.shape[0] > 0:  # z_t = [x_t, h_{t-1}] [W; U]
            stacked_product(x[t], h[t], WU, rdrop, xh, hn[t], r0, r1, from_end(t))
        else:
            recurrent_product(h[t], U, P, rdrop, hp, hn[t], r0, r1, from_end(t))  # z_t += h_{t-1} U
        for r in range(r0, r1):
            activate(code, hn[t, r], b)  # h_t = φ(x_t W + h_{t-1} U + b)
            if mask.shape[0] > 0:  # h, hn and y are separate arrays only under a mask
                if mask[t, r]:
                    copy(hn[t, r], h[t + 1, r])
                    copy(hn[t, r], y[t, r])
                else:  # state carried over, output zero
                    copy(h[t, r], h[t + 1, r])
                    y[t, r, :] = 0.0


@njit(**JIT)
def _backward_rows(begun, dy, hn, U, Ut, Pt, mask, rdrop, dz, dh, dhr, code, r0, r1):
    """BPTT of rows r0:r1: dh (B, H) holds dh_T on entry and dh_0 on exit; dz filled (Ut, Pt: see lstm.py)."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    T = hn.shape[0]
    H = U.shape[0]
    for t in range(T - 1, -1, -1):
        for r in range(r0, r1):
            if mask.shape[0] > 0 and not mask[t, r]:  # no gradient; dh passes straight through
                dz[t, r, :] = 0.0
                continue
            g, d, hr = dh[r], dz[t, r], hn[t, r]
            if dy.shape[0] > 0:
                for j in range(H):
                    g[j] += dy[t, r, j]  # everything that reaches h_t
            if code == TANH:
                for j in range(H):
                    d[j] = g[j] * dact(TANH, hr[j])  # ∂h_t/∂z_t = 1 - h_t²
                    g[j] = 0.0
            else:
                for j in range(H):
                    d[j] = g[j] * dact(code, hr[j])  # ∂h_t/∂z_t = φ'(z_t)
                    g[j] = 0.0
        recurrent_grad(dz[t], U, Ut, Pt, rdrop, dh, dhr, r0, r1, from_end(t))  # dh_{t-1} += dz_t Uᵀ


# ---- inference: no cache ------------------------------------------------------------
@njit(**JIT)
def _infer_rows(x, W, PW, U, P, WU, b, h, y, mask, backwards, code, z, xh, r0, r1):
    """All steps of batch rows r0:r1, batch first.

    h (B, H) holds h_0 on entry and h_T on exit. WU: [W; U] packed (plan.stacked_panels), or
    empty. With WU, each step's terms are one product (products.stacked_product) into z (B, 1, H),
    xh (B, D + H) its work; else z is (B, T, H), every step's input term made first, or (B, 1, H),
    each step's made at that step, and PW, P: W and U packed, or empty.
    """
    B, T, D = x.shape
    H = h.shape[1]
    stacked = WU.shape[0] > 0
    every = z.shape[1] == T and not stacked
    if every:
        input_projection(x.reshape(B * T, D), W, PW, z.reshape(B * T, H), r0 * T, r1 * T)  # x_t W, every step
    for t in range(T):
        s = T - 1 - t if backwards else t  # the input step read at processing step t
        q = s if every else 0  # where z_t is
        if stacked:  # z_t = [x_t, h_{t-1}] [W; U]
            stacked_product(x[:, s], h, WU, NO_DROP, xh, z.reshape(B, H), r0, r1, from_end(t))
        else:
            if not every:
                step_input(x, W, z, s, r0, r1)  # z_t = x_t W
            step_product(h, U, P, z, q, r0, r1, from_end(t))  # z_t += h_{t-1} U
        for r in range(r0, r1):
            keep = mask.shape[0] == 0 or mask[r, s]
            if keep:  # else state carried over, output zero
                activate(code, z[r, q], b)  # h_t = φ(x_t W + h_{t-1} U + b)
                copy(z[r, q], h[r])
            if y.shape[0] > 0:
                for j in range(H):
                    y[r, t, j] = h[r, j] if keep else 0.0


@njit(**JIT)
def _infer_block(begun, x, W, PW, U, P, WU, b, h0, mask, backwards, code, steps, y, hT, r0, r1):
    """_infer_rows on batch rows r0:r1, with state and work arrays of the block's own, made on its
    thread (see lstm.py); writes y[r0:r1] (unless y is empty) and h_T into hT[r0:r1]."""
    mark_begun(begun)  # the GIL let go: a worker waiting for this call may take it (pool.py)
    n = r1 - r0
    D = x.shape[2]
    H = h0.shape[1]
    h = h0[r0:r1].copy()  # becomes h_T
    z = np.empty((n, steps, H), x.dtype)
    xh = np.empty((n, D + H) if WU.shape[0] > 0 else (0, 0), x.dtype)
    _infer_rows(x[r0:r1], W, PW, U, P, WU, b, h, y[r0:r1], mask[r0:r1], backwards, code, z, xh, np.intp(0), n)
    hT[r0:r1] = h


@njit(**JIT)
def _infer_batch(begun, x, W, PW, U, P, WU, b, h0, mask, backwards, code, sequences, steps):
    """_infer_block on the whole batch, its outputs made here (see lstm.py): (y or an empty array, h_T)."""
    B, T, _ = x.shape
    H = h0.shape[1]
    y = np.empty((B, T, H) if sequences else (0, 0, 0), x.dtype)
    h = np.empty((B, H), x.dtype)
    _infer_block(begun, x, W, PW, U, P, WU, b, h0, mask, backwards, code, steps, y, h, np.intp(0), B)
    return y, h


def forward(x, params, state, mask=None, activation="tanh", rdrop=None):
    """As kernels.simple_rnn.forward. Returns (y (T, B, H), (h_T,), cache)."""
    plan = supported(x, params, state, mask, rdrop, (activation,))
    if plan is None:  # a dtype the compiled loops do not take: the reference
        return reference.forward(x, params, state, mask, activation, rdrop)
    x, W, U, b, m8, rd, (code,) = plan
    T, B, _ = x.shape
    H = U.shape[0]
    dtype = x.dtype
    h = buffers.empty((T + 1, B, H), dtype)  # h[0] = h0, h[t+1] = h_t
    h[0] = state[0]
    # the new state φ(·) of every step, and the output; without a mask both are h[1:]
    hn = h[1:] if mask is None else buffers.empty((T, B, H), dtype)
    y = hn if mask is None else np.empty((T, B, H), dtype)
    rows = blocks_for(B, T, x.shape[2], H, 1)
    with one_blas_thread():
        WU, P, xh, hp = step_terms(x, W, U, rows, hn, rd)
        pool.run(_forward_rows, [(x, U, P, WU, b, h, hn, y, m8, rd, hp, xh, code, r0, r1) for r0, r1 in rows])
    cache = dict(
        x=x,
        U=U,
        W=W,
        h=h,
        h_new=hn,
        mask=mask,
        activation=activation,
        rdrop=rdrop,
        fast=(b, m8, rd, code),
        lease=buffers.Lease(h) if mask is None else buffers.Lease(h, hn),
    )  # last: see buffers.py
    return y, (h[T].copy(),), cache


def backward(dy, dstate, cache):
    """As kernels.simple_rnn.backward. Returns (dx (T, B, D), (dh0,), grads W, U, b)."""
    if "fast" not in cache:  # a cache of the reference
        return reference.backward(dy, dstate, cache)
    x, W, U, h, hn = (cache[k] for k in ("x", "W", "U", "h", "h_new"))
    b, m8, rd, code = cache["fast"]
    T, B, D = x.shape
    H = U.shape[0]
    dtype = x.dtype
    dh = np.zeros((B, H), dtype) if dstate[0] is None else np.array(dstate[0], dtype=dtype)
    dy = empty(3, dtype) if dy is None else np.ascontiguousarray(dy, dtype=dtype)
    dz = buffers.empty((T, B, H), dtype)  # ∂L/∂(x_t W + h_{t-1} U + b)
    dhr = np.empty((B, H) if rd.size else (0, 0), dtype)
    rows = blocks_for(B, T, D, H, 1)
    Pt = panels(U, rows, T, transpose=True)
    Ut = transposed_if_small(U, rows, Pt)
    with one_blas_thread():
        pool.run(_backward_rows, [(dy, hn, U, Ut, Pt, m8, rd, dz, dh, dhr, code, r0, r1) for r0, r1 in rows])
        dx, grads = weight_grads(x, h, rd, dz, W, U, b, len(rows), grads_in_one_pass(D, H))
    spare = [dz]
    del dz
    buffers.give_back(spare)
    return dx, (dh,), grads


def infer(x, params, state, mask=None, go_backwards=False, sequences=True, activation="tanh"):
    """As kernels.simple_rnn.infer: x (B, T, D) -> (y (B, T, H) or None, (h_T,)); no cache.

    As lstm.infer here: batch first, each block of rows its input terms (all first, or step
    by step: input_steps), then its steps; one block makes its arrays in compiled code.
    """
    plan = infer_plan(x, params, state, mask, (activation,))
    if plan is None:
        return inference.via_forward(forward, x, params, state, mask, go_backwards, sequences, activation=activation)
    x, W, U, b, state, m8, (code,), rows = plan
    B, T, D = x.shape
    WU, P, PW, steps = infer_terms(W, U, rows, T, B)
    with one_blas_thread(calls_blas(D, rows, (P,), PW, WU)):
        if len(rows) == 1:
            args = (x, W, PW, U, P, WU, b, state[0], m8, go_backwards, code, sequences, steps)
            y, h = pool.run(_infer_batch, [args])[0]
        else:  # blocks of rows in parallel, each on arrays of its own but for the outputs
            H = U.shape[0]
            y = np.empty((B, T, H), x.dtype) if sequences else empty(3, x.dtype)
            h = np.empty((B, H), x.dtype)  # h_T
            pool.run(
                _infer_block,
                [(x, W, PW, U, P, WU, b, state[0], m8, go_backwards, code, steps, y, h, r0, r1) for r0, r1 in rows],
            )
    return (y if sequences else None), (h,)
