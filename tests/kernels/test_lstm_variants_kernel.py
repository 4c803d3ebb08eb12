"""Reference kernel of the LSTM with peepholes and/or a projection: exact BPTT against central
differences in float64, and the plain LSTM kernel as its special case."""

import numpy as np
from gradcheck_util import check
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.kernels import lstm, lstm_variants


def make_mask(kind, T, B, rng):
    """(T, B) bool: None, right padding (a length of 0 masks a whole row) or scattered."""
    if kind == "none":
        return None
    if kind == "padding":
        lengths = rng.integers(0, T + 1, size=B)
        return np.arange(T)[:, None] < lengths[None, :]
    return rng.random((T, B)) < 0.6


def make_params(D, H, P, peepholes, rng):
    """W, U, b and "p" (3, H) under peepholes, "W_hr" (H, P) when P is not None."""
    width = H if P is None else P
    params = {
        "W": 0.6 * rng.standard_normal((D, 4 * H)),
        "U": 0.6 * rng.standard_normal((width, 4 * H)),
        "b": 0.3 * rng.standard_normal(4 * H),
    }
    if peepholes:
        params["p"] = 0.6 * rng.standard_normal((3, H))
    if P is not None:
        params["W_hr"] = 0.6 * rng.standard_normal((H, P))
    return params


@settings(max_examples=30, deadline=None)
@given(
    variant=st.sampled_from(["peepholes", "projection", "both"]),
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    D=st.integers(1, 3),
    H=st.integers(1, 3),
    P=st.integers(1, 3),
    mask=st.sampled_from(["none", "padding", "scattered"]),
    rdrop=st.booleans(),
    seq_grad=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernel_gradients(variant, B, T, D, H, P, mask, rdrop, seq_grad, seed):
    rng = np.random.default_rng(seed)
    P = None if variant == "peepholes" else P
    width = H if P is None else P
    x = rng.standard_normal((T, B, D))
    params = make_params(D, H, P, variant != "projection", rng)
    state = (rng.standard_normal((B, width)), rng.standard_normal((B, H)))
    m = make_mask(mask, T, B, rng)
    drop = (rng.random((B, width)) < 0.7) / 0.7 if rdrop else None
    R = rng.standard_normal((T, B, width)) if seq_grad else None  # None: only the final states carry gradient
    S = (rng.standard_normal((B, width)), rng.standard_normal((B, H)))

    def f():
        y, final, _ = lstm_variants.forward(x, params, state, mask=m, rdrop=drop)
        return np.sum(final[0] * S[0]) + np.sum(final[1] * S[1]) + (np.sum(y * R) if seq_grad else 0.0)

    y, final, cache = lstm_variants.forward(x, params, state, mask=m, rdrop=drop)
    assert y.shape == (T, B, width) and final[0].shape == (B, width) and final[1].shape == (B, H)
    dx, dstate0, grads = lstm_variants.backward(R, S, cache)
    assert set(grads) == set(params) and all(grads[k].shape == params[k].shape for k in params)
    pairs = [("x", x, dx), ("h0", state[0], dstate0[0]), ("C0", state[1], dstate0[1])]
    check(f, pairs + [(k, params[k], grads[k]) for k in sorted(params)])


def test_zero_peepholes_and_an_identity_projection_are_the_plain_lstm():
    rng = np.random.default_rng(3)
    T, B, D, H = 5, 3, 2, 4
    x = rng.standard_normal((T, B, D))
    params = make_params(D, H, H, True, rng)
    params["p"][...] = 0
    params["W_hr"] = np.eye(H)
    state = (rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    mask = make_mask("scattered", T, B, rng)
    plain = {k: params[k] for k in ("W", "U", "b")}
    y, final, cache = lstm_variants.forward(x, params, state, mask=mask)
    y0, final0, cache0 = lstm.forward(x, plain, state, mask=mask)
    np.testing.assert_allclose(y, y0, rtol=0, atol=1e-15)
    dy = rng.standard_normal(y.shape)
    dx, ds, grads = lstm_variants.backward(dy, (None, None), cache)
    dx0, ds0, grads0 = lstm.backward(dy, (None, None), cache0)
    np.testing.assert_allclose(dx, dx0, rtol=0, atol=1e-14)
    for k in ("W", "U", "b"):
        np.testing.assert_allclose(grads[k], grads0[k], rtol=0, atol=1e-14)


def test_one_peephole_step_by_hand():
    """One step, one unit, peepholes and a projection, written out with scalars."""
    x, h0, c0 = 0.7, -0.4, 0.9
    W = np.array([[0.3, -0.2, 0.5, 0.1]])
    U = np.array([[0.1, 0.4, -0.6, 0.2]])
    b = np.array([0.05, -0.1, 0.2, 0.3])
    p = np.array([[0.5], [-0.3], [0.8]])
    W_hr = np.array([[1.5]])
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i = s(x * 0.3 + h0 * 0.1 + 0.5 * c0 + 0.05)
    f = s(x * -0.2 + h0 * 0.4 - 0.3 * c0 - 0.1)
    c_tilde = np.tanh(x * 0.5 + h0 * -0.6 + 0.2)
    c1 = f * c0 + i * c_tilde
    o = s(x * 0.1 + h0 * 0.2 + 0.8 * c1 + 0.3)
    params = {"W": W, "U": U, "b": b, "p": p, "W_hr": W_hr}
    _, (hT, cT), _ = lstm_variants.forward(np.array([[[x]]]), params, (np.array([[h0]]), np.array([[c0]])))
    np.testing.assert_allclose(cT[0, 0], c1, rtol=1e-14)
    np.testing.assert_allclose(hT[0, 0], 1.5 * o * np.tanh(c1), rtol=1e-14)
