"""rnnlab's LSTM(proj_size=P) equals torch.nn.LSTM(proj_size=P): outputs, final states and every
gradient; conversion both ways; peepholes, which PyTorch lacks, refused by name.

The rnnlab side is built with from_torch; variable lengths go through pack_padded_sequence on
the torch side and a (batch, time) mask on ours.
"""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab as rl
from rnnlab.interop.torch import from_torch, to_torch

TOL = {"float32": 1e-5, "float64": 1e-10}
B, T, D, H, P = 3, 5, 4, 3, 2

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def run_torch(module, x, lengths, h0, c0, R, S, Sc):
    """Forward and backward in torch; loss = Σ out ⊙ R + Σ (top layer's final h, C per direction) ⊙ (S, Sc)."""
    xt = torch.tensor(x, requires_grad=True)
    h0, c0 = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    inp = xt if module.batch_first else xt.transpose(0, 1)
    if lengths is not None:
        inp = pack_padded_sequence(inp, torch.tensor(lengths), batch_first=module.batch_first, enforce_sorted=False)
    out, (hT, cT) = module(inp, (h0, c0))
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=T)
    out = out if module.batch_first else out.transpose(0, 1)
    dirs = 2 if module.bidirectional else 1
    loss = (out * torch.tensor(R)).sum()
    loss = loss + sum((hT[-dirs + d] * torch.tensor(S[d])).sum() for d in range(dirs))
    loss = loss + sum((cT[-dirs + d] * torch.tensor(Sc[d])).sum() for d in range(dirs))
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    states = (hT.detach().numpy(), cT.detach().numpy())
    return out.detach().numpy(), states, xt.grad.numpy(), (h0.grad.numpy(), c0.grad.numpy()), grads


def torch_grad(key, grads_t, num_layers):
    """The gradient PyTorch has for rnnlab's parameter `key` ("1.backward.W_hr"), in rnnlab's layout."""
    parts = key.split(".")
    level = int(parts.pop(0)) if num_layers > 1 else 0
    suffix = f"_l{level}" + ("_reverse" if parts[0] == "backward" else "")
    name = parts[-1]
    if name == "b":  # b = bias_ih + bias_hh: each has the gradient of the sum
        return grads_t["bias_ih" + suffix]
    return grads_t[{"W": "weight_ih", "U": "weight_hh", "W_hr": "weight_hr"}[name] + suffix].T


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_parity(num_layers, bidirectional, dtype, packed, bias):
    seed = [num_layers, bidirectional, packed, bias, dtype == "float64"]
    torch.manual_seed(sum(v << (4 * k) for k, v in enumerate(seed)))
    rng = np.random.default_rng(seed)
    module = torch.nn.LSTM(
        D,
        H,
        proj_size=P,
        num_layers=num_layers,
        bidirectional=bidirectional,
        bias=bias,
        batch_first=bool(num_layers % 2),
        dtype=getattr(torch, dtype),
    )
    model = from_torch(module, return_state=True)
    dirs = 2 if bidirectional else 1

    x = rng.standard_normal((B, T, D)).astype(dtype)
    lengths = np.array([T, 1, 3]) if packed else None
    h0 = rng.standard_normal((num_layers * dirs, B, P)).astype(dtype)
    c0 = rng.standard_normal((num_layers * dirs, B, H)).astype(dtype)
    R = rng.standard_normal((B, T, dirs * P)).astype(dtype)
    S = [rng.standard_normal((B, P)).astype(dtype) for _ in range(dirs)]
    Sc = [rng.standard_normal((B, H)).astype(dtype) for _ in range(dirs)]
    out_t, (hT_t, cT_t), dx_t, (dh0_t, dc0_t), grads_t = run_torch(module, x, lengths, h0, c0, R, S, Sc)

    levels = [[s for d in range(dirs) for s in (h0[k * dirs + d], c0[k * dirs + d])] for k in range(num_layers)]
    mask = None if lengths is None else np.arange(T)[None, :] < lengths[:, None]
    out = model(x, mask=mask, initial_state=levels if num_layers > 1 else levels[0])
    dstates = [g for d in range(dirs) for g in (S[d], Sc[d])]
    dx = model.backward([R, *dstates])
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype])

    assert out[0].dtype == np.dtype(dtype) and out[0].shape == (B, T, dirs * P)
    np.testing.assert_allclose(out[0], out_t, **tol)
    if packed:
        assert np.all(out[0][~mask] == 0) and np.all(dx[~mask] == 0)
    finals = model.final_state if num_layers > 1 else [model.final_state]
    np.testing.assert_allclose(np.stack([level[k] for level in finals for k in range(0, 2 * dirs, 2)]), hT_t, **tol)
    np.testing.assert_allclose(np.stack([level[k] for level in finals for k in range(1, 2 * dirs, 2)]), cT_t, **tol)
    np.testing.assert_allclose(dx, dx_t, **tol)
    sg = model.state_grads if num_layers > 1 else [model.state_grads]
    np.testing.assert_allclose(np.stack([level[k] for level in sg for k in range(0, 2 * dirs, 2)]), dh0_t, **tol)
    np.testing.assert_allclose(np.stack([level[k] for level in sg for k in range(1, 2 * dirs, 2)]), dc0_t, **tol)
    grads = model.grads
    assert len(grads) == (4 if bias else 3) * num_layers * dirs  # W, U, W_hr and, with bias, b
    for key, g in grads.items():
        np.testing.assert_allclose(g, torch_grad(key, grads_t, num_layers), **tol, err_msg=key)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_round_trip_reproduces_every_weight(bidirectional, bias):
    torch.manual_seed(3)
    module = torch.nn.LSTM(D, H, proj_size=P, num_layers=2, bidirectional=bidirectional, bias=bias, dtype=torch.float64)
    if bias:
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name.startswith("bias_hh"):
                    p.zero_()  # rnnlab keeps one bias: only the sum comes back, as bias_ih
    back = to_torch(from_torch(module), bias=bias)
    assert isinstance(back, torch.nn.LSTM) and back.proj_size == P and back.bias == bias
    theirs = dict(module.named_parameters())
    for name, p in back.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), theirs[name].detach().numpy(), err_msg=name)


def test_rnnlab_projected_lstm_to_torch_computes_the_same():
    rng = np.random.default_rng(5)
    layer = rl.LSTM(H, proj_size=P, return_sequences=True, dtype="float64", seed=1)
    x = rng.standard_normal((B, T, D))
    y = layer(x)
    out_t, _ = to_torch(layer)(torch.tensor(x))
    np.testing.assert_allclose(y, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_peepholes_are_refused_by_name():
    layer = rl.LSTM(H, peepholes=True)
    layer.build(D)
    with pytest.raises(ValueError, match="peepholes"):
        to_torch(layer)


def test_a_stack_of_different_projections_is_refused():
    model = rl.Stack([rl.LSTM(H, proj_size=2, return_sequences=True), rl.LSTM(H, proj_size=1)])
    model(np.zeros((1, 2, D), np.float32))
    with pytest.raises(ValueError, match=r"LSTM\(3, proj_size=2\).*LSTM\(3, proj_size=1\)"):
        to_torch(model)
