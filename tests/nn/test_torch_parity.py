"""rnnlab equals torch.nn.RNN / torch.nn.LSTM: outputs, final states and every gradient.

The rnnlab side is built with from_torch; variable lengths go through
pack_padded_sequence on the torch side and a (batch, time) mask on ours.
"""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.interop.torch import from_torch

TOL = {"float32": 1e-5, "float64": 1e-10}
B, T, D, H = 3, 5, 4, 3


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def make_module(cell, num_layers, bidirectional, dtype, batch_first, bias=True):
    options = dict(
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
        dtype=getattr(torch, dtype),
    )
    if cell == "lstm":
        return torch.nn.LSTM(D, H, **options)
    return torch.nn.RNN(D, H, nonlinearity=cell, **options)


def per_level(states_of_model, num_layers):
    """Final states or state gradients of a from_torch model, one tuple per layer."""
    return list(states_of_model) if num_layers > 1 else [states_of_model]


def to_torch_layout(levels, n, dirs):
    """[(h_f, c_f, h_b, c_b) per layer] -> h (L·dirs, B, H)[, c]: PyTorch's layout."""
    return [np.stack([level[d * n + s] for level in levels for d in range(dirs)]) for s in range(n)]


def run_torch(module, x, lengths, init, R, S):
    """Forward and backward in torch; loss = Σ out ⊙ R + Σ (top layer's final states) ⊙ S."""
    xt = torch.tensor(x, requires_grad=True)
    init = [torch.tensor(s, requires_grad=True) for s in init]
    inp = xt if module.batch_first else xt.transpose(0, 1)
    if lengths is not None:
        inp = pack_padded_sequence(inp, torch.tensor(lengths), batch_first=module.batch_first, enforce_sorted=False)
    out, final = module(inp, tuple(init) if isinstance(module, torch.nn.LSTM) else init[0])
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=T)
    out = out if module.batch_first else out.transpose(0, 1)
    final = list(final) if isinstance(module, torch.nn.LSTM) else [final]
    dirs = 2 if module.bidirectional else 1
    loss = (out * torch.tensor(R)).sum()
    # the top layer's states, in rnnlab's order: per direction h (and c)
    top = [final[s][-dirs + d] for d in range(dirs) for s in range(len(final))]
    loss = loss + sum((a * torch.tensor(w)).sum() for a, w in zip(top, S))
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return (
        out.detach().numpy(),
        [f.detach().numpy() for f in final],
        xt.grad.numpy(),
        [s.grad.numpy() for s in init],
        grads,
    )


def torch_name(key, num_layers):
    """rnnlab parameter key ("1.backward.U") -> (PyTorch name stem, suffix): ("weight_hh", "_l1_reverse")."""
    parts = key.split(".")
    level = int(parts.pop(0)) if num_layers > 1 else 0
    suffix = f"_l{level}" + ("_reverse" if parts[0] == "backward" else "")
    return {"W": "weight_ih", "U": "weight_hh", "b": "bias_ih"}[parts[-1]], suffix


@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("cell", ["tanh", "relu", "lstm"])
def test_parity(cell, num_layers, bidirectional, dtype, packed):
    check_parity(cell, num_layers, bidirectional, dtype, packed, bias=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("cell", ["tanh", "relu", "lstm"])
def test_parity_without_bias(cell, num_layers, bidirectional, dtype):
    """bias=False: layers with use_bias=False, no b at all, the same numbers and gradients."""
    check_parity(cell, num_layers, bidirectional, dtype, packed=True, bias=False)


def check_parity(cell, num_layers, bidirectional, dtype, packed, bias):
    seed = [("tanh", "relu", "lstm").index(cell), num_layers, bidirectional, packed, bias]
    torch.manual_seed(sum(v << (4 * k) for k, v in enumerate(seed)))
    rng = np.random.default_rng(seed)
    module = make_module(cell, num_layers, bidirectional, dtype, batch_first=bool(num_layers % 2), bias=bias)
    model = from_torch(module, return_state=True)
    n, dirs = (2 if cell == "lstm" else 1), (2 if bidirectional else 1)

    x = rng.standard_normal((B, T, D)).astype(dtype)
    lengths = np.array([T, 1, 3]) if packed else None
    init = [rng.standard_normal((num_layers * dirs, B, H)).astype(dtype) for _ in range(n)]
    R = rng.standard_normal((B, T, dirs * H)).astype(dtype)
    S = [rng.standard_normal((B, H)).astype(dtype) for _ in range(n * dirs)]
    out_t, final_t, dx_t, dinit_t, grads_t = run_torch(module, x, lengths, init, R, S)

    # PyTorch's (L·dirs, B, H) states, regrouped per layer as (h_f, c_f, h_b, c_b)
    levels = [[init[s][k * dirs + d] for d in range(dirs) for s in range(n)] for k in range(num_layers)]
    mask = None if lengths is None else np.arange(T)[None, :] < lengths[:, None]
    out = model(x, mask=mask, initial_state=levels if num_layers > 1 else levels[0])
    dx = model.backward([R, *S])
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype])

    assert out[0].dtype == np.dtype(dtype)
    np.testing.assert_allclose(out[0], out_t, **tol)
    if packed:  # padded positions are zero on both sides
        assert np.all(out[0][~mask] == 0) and np.all(out_t[~mask] == 0)
        assert np.all(dx[~mask] == 0)
    for ours, theirs in zip(to_torch_layout(per_level(model.final_state, num_layers), n, dirs), final_t):
        np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(dx, dx_t, **tol)
    for ours, theirs in zip(to_torch_layout(per_level(model.state_grads, num_layers), n, dirs), dinit_t):
        np.testing.assert_allclose(ours, theirs, **tol)
    grads = model.grads
    assert sorted(grads) == sorted(model.params)
    assert len(grads) == (3 if bias else 2) * num_layers * dirs  # W, U (and b) per layer and direction
    for key, g in grads.items():
        stem, suffix = torch_name(key, num_layers)
        np.testing.assert_allclose(g, grads_t[stem + suffix].T, **tol, err_msg=key)
        if stem == "bias_ih":  # both biases enter as a sum: the same gradient
            np.testing.assert_allclose(g, grads_t["bias_hh" + suffix], **tol, err_msg=key)
