"""Reference kernels: exact BPTT against central differences in float64."""

import numpy as np
from gradcheck_util import MARGIN, check, relu_margin, softsign_margin
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnlab.kernels import lstm, simple_rnn

CELLS = {
    "rnn-tanh": (simple_rnn, 1, {"activation": "tanh"}),
    "rnn-relu": (simple_rnn, 1, {"activation": "relu"}),
    "lstm": (lstm, 4, {}),
    "rnn-softsign": (simple_rnn, 1, {"activation": "softsign"}),
    "lstm-softsign": (lstm, 4, {"activation": "softsign", "recurrent_activation": "softsign"}),
}


def make_mask(kind, T, B, rng):
    """(T, B) bool: None, right padding (a length of 0 masks a whole row) or scattered."""
    if kind == "none":
        return None
    if kind == "padding":
        lengths = rng.integers(0, T + 1, size=B)
        return np.arange(T)[:, None] < lengths[None, :]
    return rng.random((T, B)) < 0.6


@settings(max_examples=25, deadline=None)
@given(
    cell=st.sampled_from(sorted(CELLS)),
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    D=st.integers(1, 3),
    H=st.integers(1, 3),
    mask=st.sampled_from(["none", "padding", "scattered"]),
    rdrop=st.booleans(),
    seq_grad=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernel_gradients(cell, B, T, D, H, mask, rdrop, seq_grad, seed):
    kernel, G, options = CELLS[cell]
    rng = np.random.default_rng(seed)
    n_states = 2 if kernel is lstm else 1
    x = rng.standard_normal((T, B, D))
    params = {
        "W": 0.6 * rng.standard_normal((D, G * H)),
        "U": 0.6 * rng.standard_normal((H, G * H)),
        "b": 0.3 * rng.standard_normal(G * H),
    }
    state = tuple(rng.standard_normal((B, H)) for _ in range(n_states))
    m = make_mask(mask, T, B, rng)
    drop = (rng.random((B, H)) < 0.7) / 0.7 if rdrop else None
    # dy None: only the final states carry gradient
    R = rng.standard_normal((T, B, H)) if seq_grad else None
    S = tuple(rng.standard_normal((B, H)) for _ in range(n_states))

    def f():
        y, final, _ = kernel.forward(x, params, state, mask=m, rdrop=drop, **options)
        total = sum(np.sum(s * r) for s, r in zip(final, S))
        return total + (np.sum(y * R) if seq_grad else 0.0)

    _, _, cache = kernel.forward(x, params, state, mask=m, rdrop=drop, **options)
    if cell == "rnn-relu":
        assume(relu_margin(cache, params["b"]) > MARGIN)
    if cell == "rnn-softsign":  # h_t = softsign(z_t): a kink of the second derivative at z_t = 0
        assume(softsign_margin(cache["h"][1:]) > MARGIN)
    if cell == "lstm-softsign":  # every gate, C̃_t and softsign(C_t)
        assume(min(softsign_margin(cache["gates"]), float(np.min(np.abs(cache["c"][1:])))) > MARGIN)
    dx, dstate0, grads = kernel.backward(R, S, cache)
    pairs = [("x", x, dx)] + [(k, params[k], grads[k]) for k in ("W", "U", "b")]
    pairs += [(f"state{k}", s, d) for k, (s, d) in enumerate(zip(state, dstate0))]
    check(f, pairs)


def test_masked_steps_get_no_gradient():
    rng = np.random.default_rng(0)
    T, B, D, H = 4, 3, 2, 3
    x = rng.standard_normal((T, B, D))
    mask = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=bool)
    for kernel, G in ((simple_rnn, 1), (lstm, 4)):
        params = {
            "W": rng.standard_normal((D, G * H)),
            "U": rng.standard_normal((H, G * H)),
            "b": rng.standard_normal(G * H),
        }
        state = tuple(rng.standard_normal((B, H)) for _ in range(2 if kernel is lstm else 1))
        y, final, cache = kernel.forward(x, params, state, mask=mask)
        assert np.all(y[~mask] == 0)
        # the all-masked row keeps its initial state and passes the gradient straight back
        for s0, sT in zip(state, final):
            np.testing.assert_array_equal(sT[2], s0[2])
        dstate = tuple(rng.standard_normal((B, H)) for _ in state)
        dx, dstate0, _ = kernel.backward(rng.standard_normal((T, B, H)), dstate, cache)
        assert np.all(dx[~mask] == 0)
        for d0, dT in zip(dstate0, dstate):
            np.testing.assert_array_equal(d0[2], dT[2])
