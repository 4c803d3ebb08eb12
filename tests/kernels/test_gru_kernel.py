"""Reference GRU kernel: exact BPTT against central differences in float64, both reset_after forms."""

import numpy as np
import pytest
from gradcheck_util import MARGIN, check, softsign_margin
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnlab.kernels import gru


def make_mask(kind, T, B, rng):
    """(T, B) bool: None, right padding (a length of 0 masks a whole row) or scattered."""
    if kind == "none":
        return None
    if kind == "padding":
        lengths = rng.integers(0, T + 1, size=B)
        return np.arange(T)[:, None] < lengths[None, :]
    return rng.random((T, B)) < 0.6


def make_params(D, H, reset_after, rng):
    b_shape = (2, 3 * H) if reset_after else (3 * H,)
    return {
        "W": 0.6 * rng.standard_normal((D, 3 * H)),
        "U": 0.6 * rng.standard_normal((H, 3 * H)),
        "b": 0.3 * rng.standard_normal(b_shape),
    }


@settings(max_examples=30, deadline=None)
@given(
    reset_after=st.booleans(),
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    D=st.integers(1, 3),
    H=st.integers(1, 3),
    mask=st.sampled_from(["none", "padding", "scattered"]),
    rdrop=st.booleans(),
    seq_grad=st.booleans(),
    recurrent_activation=st.sampled_from(["sigmoid", "hard_sigmoid", "softsign"]),
    activation=st.sampled_from(["tanh", "softsign"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernel_gradients(reset_after, B, T, D, H, mask, rdrop, seq_grad, recurrent_activation, activation, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D))
    params = make_params(D, H, reset_after, rng)
    state = (rng.standard_normal((B, H)),)
    m = make_mask(mask, T, B, rng)
    drop = (rng.random((B, H)) < 0.7) / 0.7 if rdrop else None
    R = rng.standard_normal((T, B, H)) if seq_grad else None  # None: only h_T carries gradient
    S = (rng.standard_normal((B, H)),)
    options = dict(reset_after=reset_after, recurrent_activation=recurrent_activation, activation=activation)

    def f():
        y, final, _ = gru.forward(x, params, state, mask=m, rdrop=drop, **options)
        return np.sum(final[0] * S[0]) + (np.sum(y * R) if seq_grad else 0.0)

    _, _, cache = gru.forward(x, params, state, mask=m, rdrop=drop, **options)
    if recurrent_activation == "hard_sigmoid":  # a kink at ±3: keep away from it, as relu_margin does
        xW = x @ params["W"] + (params["b"][0] if reset_after else params["b"])
        hp = cache["h"][:-1] if drop is None else cache["h"][:-1] * drop
        a = xW[..., : 2 * H] + hp @ params["U"][:, : 2 * H] + (params["b"][1, : 2 * H] if reset_after else 0)
        assume(np.min(np.abs(np.abs(a) - 3.0)) > 0.01)
    if recurrent_activation == "softsign":  # z_t, r_t: a kink of the second derivative at 0
        assume(softsign_margin(cache["gates"][..., : 2 * H]) > MARGIN)
    if activation == "softsign":  # h̃_t
        assume(softsign_margin(cache["gates"][..., 2 * H :]) > MARGIN)
    dx, dstate0, grads = gru.backward(R, S, cache)
    assert grads["b"].shape == params["b"].shape
    pairs = [("x", x, dx), ("h0", state[0], dstate0[0])] + [(k, params[k], grads[k]) for k in ("W", "U", "b")]
    check(f, pairs)


@pytest.mark.parametrize("reset_after", [True, False])
def test_masked_steps_carry_the_state_and_the_gradient(reset_after):
    rng = np.random.default_rng(0)
    T, B, D, H = 4, 3, 2, 3
    x = rng.standard_normal((T, B, D))
    mask = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=bool)
    params = make_params(D, H, reset_after, rng)
    state = (rng.standard_normal((B, H)),)
    y, final, cache = gru.forward(x, params, state, mask=mask, reset_after=reset_after)
    assert np.all(y[~mask] == 0)
    np.testing.assert_array_equal(final[0][2], state[0][2])  # the all-masked row keeps its state
    dstate = (rng.standard_normal((B, H)),)
    dx, dstate0, _ = gru.backward(rng.standard_normal((T, B, H)), dstate, cache)
    assert np.all(dx[~mask] == 0)
    np.testing.assert_array_equal(dstate0[0][2], dstate[0][2])


def test_the_update_equation_by_hand():
    """One step, one unit, reset_after=True, written out with scalars."""
    x, h0 = 0.7, -0.4
    W = np.array([[0.3, -0.2, 0.5]])
    U = np.array([[0.1, 0.4, -0.6]])
    b = np.array([[0.05, -0.1, 0.2], [0.3, 0.0, -0.25]])
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    z = s(x * 0.3 + h0 * 0.1 + 0.05 + 0.3)
    r = s(x * -0.2 + h0 * 0.4 - 0.1 + 0.0)
    h_tilde = np.tanh(x * 0.5 + 0.2 + r * (h0 * -0.6 - 0.25))
    y, (hT,), _ = gru.forward(np.array([[[x]]]), {"W": W, "U": U, "b": b}, (np.array([[h0]]),))
    np.testing.assert_allclose(hT[0, 0], z * h0 + (1 - z) * h_tilde, rtol=1e-14)
    # reset_after=False: the reset gate acts before U_h, and there is one bias
    h_tilde = np.tanh(x * 0.5 + (r * h0) * -0.6 + 0.2)
    b1 = np.array([0.35, -0.1, 0.2])
    y, (hT,), _ = gru.forward(np.array([[[x]]]), {"W": W, "U": U, "b": b1}, (np.array([[h0]]),), reset_after=False)
    np.testing.assert_allclose(hT[0, 0], z * h0 + (1 - z) * h_tilde, rtol=1e-14)


@pytest.mark.parametrize("reset_after, shape", [(True, (6,)), (False, (2, 6))])
def test_a_bias_of_the_other_form_is_refused(reset_after, shape):
    params = {"W": np.zeros((1, 6)), "U": np.zeros((2, 6)), "b": np.zeros(shape)}
    with pytest.raises(ValueError, match="reset_after"):
        gru.forward(np.zeros((1, 1, 1)), params, (np.zeros((1, 2)),), reset_after=reset_after)
