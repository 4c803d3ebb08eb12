"""LSTM with peephole connections and/or a projection, forward and exact backward (BPTT).

    i_t = σ(x_t W_i + h_{t-1} U_i + p_i ⊙ C_{t-1} + b_i)    input gate
    f_t = σ(x_t W_f + h_{t-1} U_f + p_f ⊙ C_{t-1} + b_f)    forget gate
    C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)                 candidate memory
    C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t                         cell state
    o_t = σ(x_t W_o + h_{t-1} U_o + p_o ⊙ C_t + b_o)        output gate, peeping at the new C_t
    m_t = o_t ⊙ tanh(C_t)                                   the plain LSTM's h_t
    h_t = m_t W_hr                                          hidden state, projected to P units

Peepholes (Gers & Schmidhuber 2000, "Recurrent nets that time and count"; the
`P` input of ONNX's LSTM operator) are the diagonal weights p_i, p_f, p_o: params
"p" of shape (3, H), rows p_i, p_f, p_o. The projection (Sak et al. 2014,
arXiv:1402.1128, "LSTMP"; torch.nn.LSTM's proj_size) is params "W_hr" of shape
(H, P): h is then P wide while C stays H wide, and U acts on the P-wide h. Either
may be absent: without "p" the peephole terms are zero, without "W_hr" h_t = m_t.
With neither this is kernels/lstm.py, which stays the plain LSTM's readable spec.

Shapes are time-major: x (T, B, D), W (D, 4H), U (P, 4H), b (4H,), gate blocks in
the order i, f, C̃, o; h states (B, P), C states (B, H) (P = H without "W_hr").
σ is `recurrent_activation`, tanh is `activation`. A mask (T, B) marks real
steps: at a masked step h and C are carried over unchanged and the output is
zero. `rdrop` (B, P) multiplies h_{t-1} before the recurrent product.
"""

import numpy as np

from . import activations, inference


def forward(x, params, state, mask=None, activation="tanh", recurrent_activation="sigmoid", rdrop=None):
    """Run the sequence. params: dict W, U, b and "p" (3, H) and/or "W_hr" (H, P); state: (h0 (B, P), C0 (B, H)).

    Returns (y (T, B, P), (h_T, C_T), cache).
    """
    W, U, b = params["W"], params["U"], params["b"]
    p, W_hr = params.get("p"), params.get("W_hr")
    h0, c0 = state
    T, B, D = x.shape
    H = W.shape[1] // 4
    P = U.shape[0]  # the width of h: H without a projection
    act, _ = activations.get(activation)
    sigma, _ = activations.get(recurrent_activation)

    # the input projection of every step in one matrix product
    xW = (x.reshape(T * B, D) @ W + b).reshape(T, B, 4 * H)
    h = np.empty((T + 1, B, P), dtype=x.dtype)  # h[t+1] = h_t (carried state)
    c = np.empty((T + 1, B, H), dtype=x.dtype)  # c[t+1] = C_t (carried state)
    h[0], c[0] = h0, c0
    gates = np.empty((T, B, 4 * H), dtype=x.dtype)  # i, f, C̃, o of every step
    c_new = np.empty((T, B, H), dtype=x.dtype)  # C_t before masking (o_t peeps at it)
    tanh_c = np.empty((T, B, H), dtype=x.dtype)  # tanh(C_t)
    m = np.empty((T, B, H), dtype=x.dtype)  # m_t = o_t ⊙ tanh(C_t)
    h_new = np.empty((T, B, P), dtype=x.dtype)  # h_t before masking
    for t in range(T):
        h_prev = h[t] if rdrop is None else h[t] * rdrop
        z = xW[t] + h_prev @ U
        if p is not None:  # the input and forget gates peep at C_{t-1}
            z[:, :H] += p[0] * c[t]
            z[:, H : 2 * H] += p[1] * c[t]
        i = gates[t, :, :H] = sigma(z[:, :H])  # i_t = σ(x_t W_i + h_{t-1} U_i + p_i ⊙ C_{t-1} + b_i)
        f = gates[t, :, H : 2 * H] = sigma(z[:, H : 2 * H])  # f_t = σ(x_t W_f + h_{t-1} U_f + p_f ⊙ C_{t-1} + b_f)
        c_tilde = gates[t, :, 2 * H : 3 * H] = act(z[:, 2 * H : 3 * H])  # C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)
        c_new[t] = f * c[t] + i * c_tilde  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
        z_o = z[:, 3 * H :] if p is None else z[:, 3 * H :] + p[2] * c_new[t]
        o = gates[t, :, 3 * H :] = sigma(z_o)  # o_t = σ(x_t W_o + h_{t-1} U_o + p_o ⊙ C_t + b_o)
        tanh_c[t] = act(c_new[t])
        m[t] = o * tanh_c[t]  # m_t = o_t ⊙ tanh(C_t)
        h_new[t] = m[t] if W_hr is None else m[t] @ W_hr  # h_t = m_t W_hr
        if mask is None:
            h[t + 1], c[t + 1] = h_new[t], c_new[t]
        else:
            keep = mask[t, :, None]
            h[t + 1] = np.where(keep, h_new[t], h[t])
            c[t + 1] = np.where(keep, c_new[t], c[t])
    y = h_new if mask is None else np.where(mask[:, :, None], h_new, 0)
    cache = dict(
        x=x,
        W=W,
        U=U,
        p=p,
        W_hr=W_hr,
        h=h,
        c=c,
        c_new=c_new,
        gates=gates,
        tanh_c=tanh_c,
        m=m,
        mask=mask,
        rdrop=rdrop,
        activation=activation,
        recurrent_activation=recurrent_activation,
    )
    return y, (h[T].copy(), c[T].copy()), cache


def infer(
    x, params, state, mask=None, go_backwards=False, sequences=True, activation="tanh", recurrent_activation="sigmoid"
):
    """forward() without a cache, batch first: x (B, T, D) -> (y (B, T, P) or None, (h_T, C_T)).

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
    """Exact BPTT. dy (T, B, P) or None; dstate: (dh_T, dC_T), None for zero.

    Returns (dx (T, B, D), (dh0, dC0), grads dict W, U, b and p and/or W_hr as params has them).
    """
    x, W, U, p, W_hr = (cache[k] for k in ("x", "W", "U", "p", "W_hr"))
    c, c_new, gates, tanh_c, m = (cache[k] for k in ("c", "c_new", "gates", "tanh_c", "m"))
    mask, rdrop = cache["mask"], cache["rdrop"]
    _, dact = activations.get(cache["activation"])
    _, dsigma = activations.get(cache["recurrent_activation"])
    T, B, _ = x.shape
    H = W.shape[1] // 4
    P = U.shape[0]

    dh = np.zeros((B, P), dtype=x.dtype) if dstate[0] is None else np.array(dstate[0], dtype=x.dtype)
    dc = np.zeros((B, H), dtype=x.dtype) if dstate[1] is None else np.array(dstate[1], dtype=x.dtype)
    dz = np.empty((T, B, 4 * H), dtype=x.dtype)  # ∂L/∂(pre-activations of i, f, C̃, o)
    dh_all = np.empty((T, B, P), dtype=x.dtype)  # ∂L/∂h_t of the real steps, for ∂L/∂W_hr
    for t in reversed(range(T)):
        dh_t = dh if dy is None else dh + dy[t]  # everything that reaches h_t
        dc_t = dc
        if mask is not None:  # a masked step gets no gradient
            keep = mask[t, :, None]
            dh_t, dc_t = np.where(keep, dh_t, 0), np.where(keep, dc_t, 0)
        dh_all[t] = dh_t
        i, f, c_tilde, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
        dm = dh_t if W_hr is None else dh_t @ W_hr.T  # through h_t = m_t W_hr
        dz[t, :, 3 * H :] = dm * tanh_c[t] * dsigma(o)  # ∂m_t/∂o_t = tanh(C_t)
        dC = dc_t + dm * o * dact(tanh_c[t])  # through m_t = o_t ⊙ tanh(C_t)
        if p is not None:
            dC += dz[t, :, 3 * H :] * p[2]  # through o_t's peephole p_o ⊙ C_t
        dz[t, :, :H] = dC * c_tilde * dsigma(i)  # ∂C_t/∂i_t = C̃_t
        dz[t, :, H : 2 * H] = dC * c[t] * dsigma(f)  # ∂C_t/∂f_t = C_{t-1}
        dz[t, :, 2 * H : 3 * H] = dC * i * dact(c_tilde)  # ∂C_t/∂C̃_t = i_t
        dh_rec = dz[t] @ U.T if rdrop is None else (dz[t] @ U.T) * rdrop
        dc_rec = dC * f  # ∂C_t/∂C_{t-1} = f_t
        if p is not None:  # and through the peepholes p_i ⊙ C_{t-1}, p_f ⊙ C_{t-1}
            dc_rec += dz[t, :, :H] * p[0] + dz[t, :, H : 2 * H] * p[1]
        if mask is None:
            dh, dc = dh_rec, dc_rec
        else:  # at a masked step the carried gradients pass straight through
            dh = np.where(keep, 0, dh) + dh_rec
            dc = np.where(keep, 0, dc) + dc_rec
    h_prev = cache["h"][:-1] if rdrop is None else cache["h"][:-1] * rdrop
    dz2 = dz.reshape(T * B, 4 * H)
    grads = {
        "W": x.reshape(T * B, -1).T @ dz2,  # ∂L/∂W = Σ_t x_tᵀ dz_t
        "U": h_prev.reshape(T * B, P).T @ dz2,  # ∂L/∂U = Σ_t h_{t-1}ᵀ dz_t
        "b": dz2.sum(axis=0),
    }
    if p is not None:  # ∂L/∂p_i = Σ dz_i ⊙ C_{t-1}, ∂L/∂p_f = Σ dz_f ⊙ C_{t-1}, ∂L/∂p_o = Σ dz_o ⊙ C_t
        grads["p"] = np.stack(
            [
                (dz[:, :, :H] * c[:-1]).sum(axis=(0, 1)),
                (dz[:, :, H : 2 * H] * c[:-1]).sum(axis=(0, 1)),
                (dz[:, :, 3 * H :] * c_new).sum(axis=(0, 1)),
            ]
        )
    if W_hr is not None:
        grads["W_hr"] = m.reshape(T * B, H).T @ dh_all.reshape(T * B, P)  # ∂L/∂W_hr = Σ_t m_tᵀ ∂L/∂h_t
    dx = (dz2 @ W.T).reshape(T, B, -1)
    return dx, (dh, dc), grads
