"""Long sequences: recomputation gives full BPTT's gradients; truncated BPTT the gradients it promises."""

import tracemalloc

import numpy as np
import pytest

import rnnlab as rl
from rnnlab import kernels
from rnnlab.kernels import lstm as ref_lstm
from rnnlab.kernels import simple_rnn as ref_rnn
from rnnlab.kernels.segmented import Segmented, memory_bound

CELLS = {"lstm": (ref_lstm, 2, 4), "simple_rnn": (ref_rnn, 1, 1)}  # kernel, states, gate blocks
BACKENDS = [
    "reference",
    pytest.param("fast", marks=pytest.mark.skipif(not kernels.fast_available(), reason="needs numba")),
]


def problem(cell, T, B=2, D=2, H=3, seed=0, masked=True):
    _, n, g = CELLS[cell]
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(0, 0.8, (D, g * H)), "U": rng.normal(0, 0.8, (H, g * H)), "b": rng.normal(0, 0.3, g * H)}
    state = tuple(rng.normal(0, 0.5, (B, H)) for _ in range(n))
    mask = None
    if masked:
        mask = rng.random((T, B)) < 0.8
    x = rng.normal(size=(T, B, D))
    dy = rng.normal(size=(T, B, H))
    dstate = tuple(rng.normal(size=(B, H)) for _ in range(n))
    return x, params, state, mask, dy, dstate


def run(kernel, x, params, state, mask, dy, dstate, rdrop=None):
    y, s_T, cache = kernel.forward(x, params, state, mask=mask, rdrop=rdrop)
    return (y, s_T) + kernel.backward(dy, dstate, cache)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("k", [1, 3, 4, 7, 20])
def test_recompute_equals_full_bptt(cell, k, backend):
    kernel = kernels.get(cell, backend)
    args = problem(cell, T=7)
    rdrop = (np.random.default_rng(k).random((2, 3)) < 0.7) / 0.7 if k == 3 else None  # recurrent dropout once
    full = run(kernel, *args, rdrop=rdrop)
    seg = run(Segmented(kernel, checkpoint_every=k), *args, rdrop=rdrop)
    y, s_T, dx, ds0, grads = seg
    np.testing.assert_allclose(y, full[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(s_T + ds0, full[1] + full[3]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, full[2], rtol=1e-12, atol=1e-12)
    for key in grads:
        np.testing.assert_allclose(grads[key], full[4][key], rtol=1e-12, atol=1e-12)


def segment_losses(cell, x, params, state, mask, dy, dstate, k):
    """f(x, params, state) = Σ_j L_j: segment j runs from the state that entered it in an
    unperturbed forward pass, held fixed (segment 0 from `state` itself); reference kernel."""
    kernel = CELLS[cell][0]
    T = x.shape[0]
    bounds = [(a, min(a + k, T)) for a in range(0, T, k)]
    cut = [None if mask is None else mask[a:e] for a, e in bounds]
    starts, s = [], state
    for (a, e), m in zip(bounds, cut):
        starts.append(s)
        _, s, _ = kernel.forward(x[a:e], params, s, mask=m)

    def total(x, params, state):
        out = 0.0
        for j, ((a, e), m) in enumerate(zip(bounds, cut)):
            y, s_T, _ = kernel.forward(x[a:e], params, state if j == 0 else starts[j], mask=m)
            out += np.sum(dy[a:e] * y)
            if e == T:  # ∂L/∂(final state) enters the last segment
                out += sum(np.sum(d * v) for d, v in zip(dstate, s_T))
        return out

    return total


def _numeric_grad(f, arr, eps=1e-6):
    g = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = f()
        arr[idx] = old - eps
        down = f()
        arr[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_truncated_bptt_is_the_gradient_of_the_segment_losses(cell, backend):
    """Explicit construction: each segment's loss from a fixed entering state, differentiated numerically."""
    k = 3
    x, params, state, mask, dy, dstate = problem(cell, T=8, seed=1)
    y, s_T, dx, ds0, grads = run(
        Segmented(kernels.get(cell, backend), bptt_steps=k), x, params, state, mask, dy, dstate
    )
    total = segment_losses(cell, x, params, state, mask, dy, dstate, k)
    f = lambda: total(x, params, state)  # noqa: E731
    for key in ("W", "U", "b"):
        np.testing.assert_allclose(grads[key], _numeric_grad(f, params[key]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dx, _numeric_grad(f, x), rtol=1e-6, atol=1e-8)
    for d, s in zip(ds0, state):
        np.testing.assert_allclose(d, _numeric_grad(f, s), rtol=1e-6, atol=1e-8)
    # and it is not full BPTT: the cut gradient is missing
    full = run(kernels.get(cell, backend), x, params, state, mask, dy, dstate)
    assert not np.allclose(grads["U"], full[4]["U"], rtol=1e-6)


@pytest.mark.parametrize("cell", list(CELLS))
def test_truncated_gradient_reaches_back_at_most_k_steps(cell):
    T, k = 10, 4
    x, params, state, _, dy, _ = problem(cell, T=T, masked=False, seed=2)
    dy[:-1] = 0.0  # only the last output has a loss: t = 9, its segment starts at 8
    _, _, dx, ds0, _ = run(Segmented(kernels.get(cell), bptt_steps=k), x, params, state, None, dy, (None,) * len(state))
    assert np.all(dx[:8] == 0) and np.all(np.abs(dx[8:]).sum(axis=(1, 2)) > 0)
    assert all(np.all(d == 0) for d in ds0)


@pytest.mark.parametrize("cell", list(CELLS))
def test_truncation_longer_than_the_sequence_is_full_bptt(cell):
    args = problem(cell, T=6, seed=3)
    full = run(kernels.get(cell), *args)
    cut = run(Segmented(kernels.get(cell), bptt_steps=6, checkpoint_every=2), *args)
    for key in full[4]:
        np.testing.assert_allclose(cut[4][key], full[4][key], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", [rl.LSTM, rl.SimpleRNN], ids=["lstm", "simple_rnn"])
def test_layer_options(make):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 9, 2))
    mask = np.arange(9)[None, :] < np.array([[9], [5], [7]])
    plain = make(4, return_sequences=True, dtype="float64", seed=5)
    ckpt = make(4, return_sequences=True, dtype="float64", seed=5, checkpoint_every=2)
    cut = make(4, return_sequences=True, dtype="float64", seed=5, bptt_steps=3, go_backwards=True)
    dy = rng.normal(size=(3, 9, 4))
    outs = {}
    for name, layer in (("plain", plain), ("ckpt", ckpt)):
        y = layer(x, mask=mask)
        outs[name] = (y, layer.backward(dy), dict(layer.grads))
    np.testing.assert_allclose(outs["ckpt"][0], outs["plain"][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outs["ckpt"][1], outs["plain"][1], rtol=1e-12, atol=1e-12)
    for key in outs["plain"][2]:
        np.testing.assert_allclose(outs["ckpt"][2][key], outs["plain"][2][key], rtol=1e-12, atol=1e-12)
    assert ckpt.get_config()["checkpoint_every"] == 2 and cut.get_config()["bptt_steps"] == 3
    cut(x, mask=mask)
    assert cut.backward(dy).shape == x.shape
    with pytest.raises(ValueError, match="bptt_steps expected a positive integer"):
        make(4, bptt_steps=0)
    with pytest.raises(ValueError, match="bptt_steps expected a multiple of checkpoint_every"):
        make(4, bptt_steps=5, checkpoint_every=2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make, gates, states", [(rl.LSTM, 4, 2), (rl.SimpleRNN, 1, 1)], ids=["lstm", "simple_rnn"])
def test_ten_thousand_steps_train_within_the_stated_budget(make, gates, states, backend):
    # the reference pays NumPy's overhead per step (10,000 LSTM steps, three passes: ~15 s)
    T, B, D, H, k = (10_000 if backend == "fast" else 2_000), 4, 3, 32, 100
    layer = make(H, return_sequences=True, checkpoint_every=k, seed=0)
    layer.backend = backend
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype(np.float32)
    dy = np.ones((B, T, H), np.float32)
    layer(x[:, :3])  # build the weights and load compiled code outside the measurement
    tracemalloc.start()
    try:
        y = layer(x)
        dx = layer.backward(dy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert y.shape == (B, T, H) and dx.shape == x.shape and np.isfinite(dx).all()
    bound = memory_bound(T, B, D, H, k, gates, states)
    full_cache = 4 * T * B * (3 * gates + 2) * H  # what full BPTT keeps from forward to backward, at most
    assert peak <= bound, (peak, bound)
    assert peak < full_cache / 2
