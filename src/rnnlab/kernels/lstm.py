"""LSTM over a whole sequence, forward and exact backward (BPTT).

    i_t = σ(x_t W_i + h_{t-1} U_i + b_i)       input gate
    f_t = σ(x_t W_f + h_{t-1} U_f + b_f)       forget gate
    C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)    candidate memory
    o_t = σ(x_t W_o + h_{t-1} U_o + b_o)       output gate
    C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t            cell state
    h_t = o_t ⊙ tanh(C_t)                      hidden state

Shapes are time-major: x (T, B, D), W (D, 4H), U (H, 4H), b (4H,), gate blocks
in the order i, f, C̃, o. σ is `recurrent_activation`, tanh is `activation`.
A mask (T, B) marks real steps: at a masked step h and C are carried over
unchanged and the output is zero. `rdrop` (B, H) multiplies h_{t-1} before
the recurrent product (recurrent dropout).
"""

import numpy as np

from . import activations, inference


def forward(x, params, state, mask=None, activation="tanh", recurrent_activation="sigmoid", rdrop=None):
    """Run the sequence. params: dict W, U, b; state: (h0, C0).

    Returns (y (T, B, H), (h_T, C_T), cache).
    """
    W, U, b = params["W"], params["U"], params["b"]
    h0, c0 = state
    T, B, D = x.shape
    H = U.shape[0]
    act, _ = activations.get(activation)
    sigma, _ = activations.get(recurrent_activation)

    # the input projection of every step in one matrix product
    xW = (x.reshape(T * B, D) @ W + b).reshape(T, B, 4 * H)
    h = np.empty((T + 1, B, H), dtype=x.dtype)  # h[t+1] = h_t (carried state)
    c = np.empty((T + 1, B, H), dtype=x.dtype)  # c[t+1] = C_t (carried state)
    h[0], c[0] = h0, c0
    gates = np.empty((T, B, 4 * H), dtype=x.dtype)  # i, f, C̃, o of every step
    tanh_c = np.empty((T, B, H), dtype=x.dtype)  # tanh(C_t)
    h_new = np.empty((T, B, H), dtype=x.dtype)  # h_t before masking
    for t in range(T):
        h_prev = h[t] if rdrop is None else h[t] * rdrop
        z = xW[t] + h_prev @ U
        i = gates[t, :, :H] = sigma(z[:, :H])  # i_t = σ(x_t W_i + h_{t-1} U_i + b_i)
        f = gates[t, :, H : 2 * H] = sigma(z[:, H : 2 * H])  # f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
        c_tilde = gates[t, :, 2 * H : 3 * H] = act(z[:, 2 * H : 3 * H])  # C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)
        o = gates[t, :, 3 * H :] = sigma(z[:, 3 * H :])  # o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
        c_new = f * c[t] + i * c_tilde  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
        tanh_c[t] = act(c_new)
        h_new[t] = o * tanh_c[t]  # h_t = o_t ⊙ tanh(C_t)
        if mask is None:
            h[t + 1], c[t + 1] = h_new[t], c_new
        else:
            m = mask[t, :, None]
            h[t + 1] = np.where(m, h_new[t], h[t])
            c[t + 1] = np.where(m, c_new, c[t])
    y = h_new if mask is None else np.where(mask[:, :, None], h_new, 0)
    cache = dict(
        x=x,
        W=W,
        U=U,
        h=h,
        c=c,
        gates=gates,
        tanh_c=tanh_c,
        mask=mask,
        rdrop=rdrop,
        activation=activation,
        recurrent_activation=recurrent_activation,
    )
    return y, (h[T].copy(), c[T].copy()), cache


def infer(
    x, params, state, mask=None, go_backwards=False, sequences=True, activation="tanh", recurrent_activation="sigmoid"
):
    """forward() without a cache, batch first: x (B, T, D) -> (y (B, T, H) or None, (h_T, C_T)).

    mask is (B, T); see kernels/inference.py.
    """
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


def backward(dy, dstate, cache):
    """Exact BPTT. dy (T, B, H) or None; dstate: (dh_T, dC_T), None for zero.

    Returns (dx (T, B, D), (dh0, dC0), grads dict W, U, b).
    """
    x, W, U, c, gates, tanh_c = cache["x"], cache["W"], cache["U"], cache["c"], cache["gates"], cache["tanh_c"]
    mask, rdrop = cache["mask"], cache["rdrop"]
    _, dact = activations.get(cache["activation"])
    _, dsigma = activations.get(cache["recurrent_activation"])
    T, B, _ = x.shape
    H = U.shape[0]

    zeros = np.zeros((B, H), dtype=x.dtype)
    dh = zeros if dstate[0] is None else np.array(dstate[0], dtype=x.dtype)
    dc = zeros if dstate[1] is None else np.array(dstate[1], dtype=x.dtype)
    dz = np.empty((T, B, 4 * H), dtype=x.dtype)  # ∂L/∂(x_t W + h_{t-1} U + b)
    for t in reversed(range(T)):
        dh_t = dh if dy is None else dh + dy[t]  # everything that reaches h_t
        dc_t = dc
        if mask is not None:  # a masked step gets no gradient
            m = mask[t, :, None]
            dh_t, dc_t = np.where(m, dh_t, 0), np.where(m, dc_t, 0)
        i, f, c_tilde, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
        dC = dc_t + dh_t * o * dact(tanh_c[t])  # through h_t = o_t ⊙ tanh(C_t)
        dz[t, :, :H] = dC * c_tilde * dsigma(i)  # ∂C_t/∂i_t = C̃_t
        dz[t, :, H : 2 * H] = dC * c[t] * dsigma(f)  # ∂C_t/∂f_t = C_{t-1}
        dz[t, :, 2 * H : 3 * H] = dC * i * dact(c_tilde)  # ∂C_t/∂C̃_t = i_t
        dz[t, :, 3 * H :] = dh_t * tanh_c[t] * dsigma(o)  # ∂h_t/∂o_t = tanh(C_t)
        dh_rec = dz[t] @ U.T if rdrop is None else (dz[t] @ U.T) * rdrop
        if mask is None:
            dh, dc = dh_rec, dC * f  # ∂C_t/∂C_{t-1} = f_t
        else:  # at a masked step the carried gradients pass straight through
            dh = np.where(m, 0, dh) + dh_rec
            dc = np.where(m, 0, dc) + dC * f
    h_prev = cache["h"][:-1] if rdrop is None else cache["h"][:-1] * rdrop
    dz2 = dz.reshape(T * B, 4 * H)
    grads = {
        "W": x.reshape(T * B, -1).T @ dz2,  # ∂L/∂W = Σ_t x_tᵀ dz_t
        "U": h_prev.reshape(T * B, H).T @ dz2,  # ∂L/∂U = Σ_t h_{t-1}ᵀ dz_t
        "b": dz2.sum(axis=0),
    }
    dx = (dz2 @ W.T).reshape(T, B, -1)
    return dx, (dh, dc), grads
