"""SimpleRNN over a whole sequence, forward and exact backward (BPTT).

    h_t = φ(x_t W + h_{t-1} U + b)

Shapes are time-major: x (T, B, D), W (D, H), U (H, H), b (H,), h (B, H).
A mask (T, B) marks real steps; at a masked step the state is carried over
unchanged and the output is zero, so the step receives no gradient.
`rdrop` (B, H), when given, multiplies h_{t-1} before the recurrent product
(recurrent dropout: one mask for every step of a sequence).
"""

import numpy as np

from . import activations, inference


def forward(x, params, state, mask=None, activation="tanh", rdrop=None):
    """Run the sequence. params: dict W, U, b; state: (h0,).

    Returns (y (T, B, H), (h_T,), cache).
    """
    W, U, b = params["W"], params["U"], params["b"]
    (h0,) = state
    T, B, D = x.shape
    H = U.shape[0]
    phi, _ = activations.get(activation)

    # the input projection of every step in one matrix product
    xW = (x.reshape(T * B, D) @ W + b).reshape(T, B, H)
    h = np.empty((T + 1, B, H), dtype=x.dtype)  # h[0] = h0, h[t+1] = h_t
    h[0] = h0
    h_new = np.empty((T, B, H), dtype=x.dtype)  # the new state φ(·) of every step
    for t in range(T):
        h_prev = h[t] if rdrop is None else h[t] * rdrop
        h_new[t] = phi(xW[t] + h_prev @ U)  # h_t = φ(x_t W + h_{t-1} U + b)
        h[t + 1] = h_new[t] if mask is None else np.where(mask[t, :, None], h_new[t], h[t])
    y = h_new if mask is None else np.where(mask[:, :, None], h_new, 0)
    cache = dict(x=x, U=U, W=W, h=h, h_new=h_new, mask=mask, activation=activation, rdrop=rdrop)
    return y, (h[T].copy(),), cache


def infer(x, params, state, mask=None, go_backwards=False, sequences=True, activation="tanh"):
    """forward() without a cache, batch first: x (B, T, D) -> (y (B, T, H) or None, (h_T,)).

    mask is (B, T); see kernels/inference.py.
    """
    return inference.via_forward(forward, x, params, state, mask, go_backwards, sequences, activation=activation)


def backward(dy, dstate, cache):
    """Exact BPTT. dy (T, B, H) or None; dstate: (dh_T,) with None for zero.

    Returns (dx (T, B, D), (dh0,), grads dict W, U, b).
    """
    x, W, U, h, h_new = cache["x"], cache["W"], cache["U"], cache["h"], cache["h_new"]
    mask, rdrop = cache["mask"], cache["rdrop"]
    _, dphi = activations.get(cache["activation"])
    T, B, _ = x.shape
    H = U.shape[0]

    dh = np.zeros((B, H), dtype=x.dtype) if dstate[0] is None else np.array(dstate[0], dtype=x.dtype)
    dz = np.empty((T, B, H), dtype=x.dtype)  # ∂L/∂(x_t W + h_{t-1} U + b)
    for t in reversed(range(T)):
        dh_t = dh if dy is None else dh + dy[t]  # everything that reaches h_t
        if mask is not None:
            dh_t = np.where(mask[t, :, None], dh_t, 0)  # a masked step gets no gradient
        dz[t] = dh_t * dphi(h_new[t])  # ∂h_t/∂z_t = φ'(z_t)
        dh_rec = dz[t] @ U.T if rdrop is None else (dz[t] @ U.T) * rdrop
        # at a masked step h_t = h_{t-1}: the carried gradient passes straight through
        dh = dh_rec if mask is None else np.where(mask[t, :, None], 0, dh) + dh_rec
    h_prev = h[:-1] if rdrop is None else h[:-1] * rdrop
    dz2 = dz.reshape(T * B, H)
    grads = {
        "W": x.reshape(T * B, -1).T @ dz2,  # ∂L/∂W = Σ_t x_tᵀ dz_t
        "U": h_prev.reshape(T * B, H).T @ dz2,  # ∂L/∂U = Σ_t h_{t-1}ᵀ dz_t
        "b": dz2.sum(axis=0),
    }
    dx = (dz2 @ W.T).reshape(T, B, -1)
    return dx, (dh,), grads
