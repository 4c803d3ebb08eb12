"""GRU over a whole sequence, forward and exact backward (BPTT).

    z_t = σ(x_t W_z + h_{t-1} U_z + b_z)                          update gate
    r_t = σ(x_t W_r + h_{t-1} U_r + b_r)                          reset gate
    h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))       candidate (reset_after=True)
    h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)              candidate (reset_after=False)
    h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t                         hidden state

Shapes are time-major: x (T, B, D), W (D, 3H), U (H, 3H), gate blocks in the
order z, r, h̃ (Keras'). The bias b is (3H,) under reset_after=False and
(2, 3H) under reset_after=True, as Keras stores it: b[0] the input bias
(b_z, b_r, b_h), b[1] the recurrent bias b' added to h_{t-1} U (b'_z, b'_r, b'_h);
in the z and r gates only their sum matters. reset_after=True is Keras 3's
default, PyTorch's GRU and ONNX's linear_before_reset=1. σ is
`recurrent_activation`, tanh is `activation`.
A mask (T, B) marks real steps: at a masked step h is carried over unchanged and
the output is zero. `rdrop` (B, H) multiplies h_{t-1} where it enters a product
with U (recurrent dropout); the carried term z_t ⊙ h_{t-1} takes it undropped.
Names: `a` is a pre-activation (a_z, a_r, a_h), `da` its gradient; z is the gate.
"""

import numpy as np

from . import activations, inference


def split_bias(b, reset_after, H):
    """(b (3H,), b_rec (3H,) or None) from a layer's bias; ValueError for a shape that does not fit."""
    b = np.asarray(b)
    if reset_after:
        if b.shape != (2, 3 * H):
            raise ValueError(f"GRU with reset_after=True expected b of shape (2, {3 * H}), got {b.shape}")
        return b[0], b[1]
    if b.shape != (3 * H,):
        raise ValueError(f"GRU with reset_after=False expected b of shape ({3 * H},), got {b.shape}")
    return b, None


def forward(
    x, params, state, mask=None, activation="tanh", recurrent_activation="sigmoid", reset_after=True, rdrop=None
):
    """Run the sequence. params: dict W, U, b; state: (h0,).

    Returns (y (T, B, H), (h_T,), cache).
    """
    W, U = params["W"], params["U"]
    (h0,) = state
    T, B, D = x.shape
    H = U.shape[0]
    b, b_rec = split_bias(params["b"], reset_after, H)
    act, _ = activations.get(activation)
    sigma, _ = activations.get(recurrent_activation)

    # the input term of every step in one matrix product: x_t W + b
    xW = (x.reshape(T * B, D) @ W + b).reshape(T, B, 3 * H)
    h = np.empty((T + 1, B, H), dtype=x.dtype)  # h[0] = h0, h[t+1] = h_t (carried state)
    h[0] = h0
    gates = np.empty((T, B, 3 * H), dtype=x.dtype)  # z, r, h̃ of every step
    hU_h = np.empty((T, B, H), dtype=x.dtype) if reset_after else None  # h_{t-1} U_h + b'_h
    h_new = np.empty((T, B, H), dtype=x.dtype)  # h_t before masking
    for t in range(T):
        h_prev = h[t] if rdrop is None else h[t] * rdrop  # as the products with U see it
        if reset_after:
            hU = h_prev @ U + b_rec  # h_{t-1} U + b', all three blocks
            z = gates[t, :, :H] = sigma(xW[t, :, :H] + hU[:, :H])  # z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
            # r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
            r = gates[t, :, H : 2 * H] = sigma(xW[t, :, H : 2 * H] + hU[:, H : 2 * H])
            hU_h[t] = hU[:, 2 * H :]
            # h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))
            h_tilde = gates[t, :, 2 * H :] = act(xW[t, :, 2 * H :] + r * hU_h[t])
        else:
            hU = h_prev @ U[:, : 2 * H]  # h_{t-1} U_z, h_{t-1} U_r
            z = gates[t, :, :H] = sigma(xW[t, :, :H] + hU[:, :H])  # z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
            r = gates[t, :, H : 2 * H] = sigma(xW[t, :, H : 2 * H] + hU[:, H:])  # r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
            # h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
            h_tilde = gates[t, :, 2 * H :] = act(xW[t, :, 2 * H :] + (r * h_prev) @ U[:, 2 * H :])
        h_new[t] = z * h[t] + (1 - z) * h_tilde  # h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t
        h[t + 1] = h_new[t] if mask is None else np.where(mask[t, :, None], h_new[t], h[t])
    y = h_new if mask is None else np.where(mask[:, :, None], h_new, 0)
    cache = dict(
        x=x,
        W=W,
        U=U,
        h=h,
        gates=gates,
        hU_h=hU_h,
        mask=mask,
        rdrop=rdrop,
        activation=activation,
        recurrent_activation=recurrent_activation,
        reset_after=reset_after,
    )
    return y, (h[T].copy(),), cache


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
    """forward() without a cache, batch first: x (B, T, D) -> (y (B, T, H) or None, (h_T,)).

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
        reset_after=reset_after,
    )


def backward(dy, dstate, cache):
    """Exact BPTT. dy (T, B, H) or None; dstate: (dh_T,) with None for zero.

    Returns (dx (T, B, D), (dh0,), grads dict W, U, b), grads["b"] shaped as b.
    """
    x, W, U, h, gates, hU_h = (cache[k] for k in ("x", "W", "U", "h", "gates", "hU_h"))
    mask, rdrop, reset_after = cache["mask"], cache["rdrop"], cache["reset_after"]
    _, dact = activations.get(cache["activation"])
    _, dsigma = activations.get(cache["recurrent_activation"])
    T, B, _ = x.shape
    H = U.shape[0]

    dh = np.zeros((B, H), dtype=x.dtype) if dstate[0] is None else np.array(dstate[0], dtype=x.dtype)
    da = np.empty((T, B, 3 * H), dtype=x.dtype)  # ∂L/∂(x_t W + b): a_z, a_r, a_h as the input term enters them
    da_rec = np.empty((T, B, 3 * H), dtype=x.dtype) if reset_after else None  # ∂L/∂(h_{t-1} U + b')
    for t in reversed(range(T)):
        dh_t = dh if dy is None else dh + dy[t]  # everything that reaches h_t
        if mask is not None:
            dh_t = np.where(mask[t, :, None], dh_t, 0)  # a masked step gets no gradient
        z, r, h_tilde = gates[t, :, :H], gates[t, :, H : 2 * H], gates[t, :, 2 * H :]
        h_prev = h[t] if rdrop is None else h[t] * rdrop
        da[t, :, :H] = dh_t * (h[t] - h_tilde) * dsigma(z)  # ∂h_t/∂z_t = h_{t-1} − h̃_t
        da_h = da[t, :, 2 * H :] = dh_t * (1 - z) * dact(h_tilde)  # ∂h_t/∂h̃_t = 1 − z_t
        if reset_after:
            da[t, :, H : 2 * H] = da_h * hU_h[t] * dsigma(r)  # ∂a_h/∂r_t = h_{t-1} U_h + b'_h
            da_rec[t, :, : 2 * H] = da[t, :, : 2 * H]  # a_z, a_r take h_{t-1} U_z, h_{t-1} U_r as they are
            da_rec[t, :, 2 * H :] = da_h * r  # ∂a_h/∂(h_{t-1} U_h + b'_h) = r_t
            dh_prev = da_rec[t] @ U.T  # through the products h_{t-1} U
        else:
            drh = da_h @ U[:, 2 * H :].T  # ∂L/∂(r_t ⊙ h_{t-1})
            da[t, :, H : 2 * H] = drh * h_prev * dsigma(r)  # ∂(r_t ⊙ h_{t-1})/∂r_t = h_{t-1}
            # through h_{t-1} U_z, h_{t-1} U_r and r_t ⊙ h_{t-1}
            dh_prev = da[t, :, : 2 * H] @ U[:, : 2 * H].T + drh * r
        if rdrop is not None:
            dh_prev = dh_prev * rdrop
        dh_prev += dh_t * z  # ∂h_t/∂h_{t-1} through the carried term z_t ⊙ h_{t-1}
        # at a masked step h_t = h_{t-1}: the carried gradient passes straight through
        dh = dh_prev if mask is None else np.where(mask[t, :, None], 0, dh) + dh_prev
    h_prev = h[:-1] if rdrop is None else h[:-1] * rdrop
    hp2 = h_prev.reshape(T * B, H)
    da2 = da.reshape(T * B, 3 * H)
    if reset_after:
        da_rec2 = da_rec.reshape(T * B, 3 * H)
        gU = hp2.T @ da_rec2  # ∂L/∂U = Σ_t h_{t-1}ᵀ ∂L/∂(h_{t-1} U)
        gb = np.stack([da2.sum(axis=0), da_rec2.sum(axis=0)])  # ∂L/∂b, ∂L/∂b'
    else:
        rh = (gates[:, :, H : 2 * H] * h_prev).reshape(T * B, H)  # r_t ⊙ h_{t-1}
        gU_zr = hp2.T @ da2[:, : 2 * H]  # ∂L/∂U_z, ∂L/∂U_r = Σ_t h_{t-1}ᵀ da_{z,r}
        gU_h = rh.T @ da2[:, 2 * H :]  # ∂L/∂U_h = Σ_t (r_t ⊙ h_{t-1})ᵀ da_h
        gU = np.concatenate([gU_zr, gU_h], axis=1)
        gb = da2.sum(axis=0)
    grads = {
        "W": x.reshape(T * B, -1).T @ da2,  # ∂L/∂W = Σ_t x_tᵀ da_t
        "U": gU,
        "b": gb,
    }
    dx = (da2 @ W.T).reshape(T, B, -1)
    return dx, (dh,), grads
