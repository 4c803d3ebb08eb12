"""rnnlab's GRU equals torch.nn.GRU: outputs, final states and every gradient; conversion both ways.

The rnnlab side is built with from_torch; variable lengths go through
pack_padded_sequence on the torch side and a (batch, time) mask on ours.
"""

import numpy as np
import pytest
import torch
from gradcheck_util import leaves
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab as rl
from rnnlab.interop.common import reorder_blocks
from rnnlab.interop.torch import GRU_FROM_TORCH, from_torch, to_torch

TOL = {"float32": 1e-5, "float64": 1e-10}
B, T, D, H = 3, 5, 4, 3

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def run_torch(module, x, lengths, h0, R, S):
    """Forward and backward in torch; loss = Σ out ⊙ R + Σ (top layer's final h per direction) ⊙ S."""
    xt = torch.tensor(x, requires_grad=True)
    h0 = torch.tensor(h0, requires_grad=True)
    inp = xt if module.batch_first else xt.transpose(0, 1)
    if lengths is not None:
        inp = pack_padded_sequence(inp, torch.tensor(lengths), batch_first=module.batch_first, enforce_sorted=False)
    out, hT = module(inp, h0)
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=T)
    out = out if module.batch_first else out.transpose(0, 1)
    dirs = 2 if module.bidirectional else 1
    loss = (out * torch.tensor(R)).sum() + sum((hT[-dirs + d] * torch.tensor(S[d])).sum() for d in range(dirs))
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return out.detach().numpy(), hT.detach().numpy(), xt.grad.numpy(), h0.grad.numpy(), grads


def ours_from_torch_grad(key, grads_t, num_layers):
    """The gradient PyTorch has for rnnlab's parameter `key` ("1.backward.b"), in rnnlab's layout."""
    parts = key.split(".")
    level = int(parts.pop(0)) if num_layers > 1 else 0
    suffix = f"_l{level}" + ("_reverse" if parts[0] == "backward" else "")
    name = parts[-1]
    if name == "b":
        return reorder_blocks(np.stack([grads_t["bias_ih" + suffix], grads_t["bias_hh" + suffix]]), GRU_FROM_TORCH)
    return reorder_blocks(grads_t[{"W": "weight_ih", "U": "weight_hh"}[name] + suffix].T, GRU_FROM_TORCH)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_parity(num_layers, bidirectional, dtype, packed, bias):
    seed = [num_layers, bidirectional, packed, bias, dtype == "float64"]
    torch.manual_seed(sum(v << (4 * k) for k, v in enumerate(seed)))
    rng = np.random.default_rng(seed)
    module = torch.nn.GRU(
        D,
        H,
        num_layers=num_layers,
        bidirectional=bidirectional,
        bias=bias,
        batch_first=bool(num_layers % 2),
        dtype=getattr(torch, dtype),
    )
    if bias:  # PyTorch's default biases are small; larger ones show a misplaced b_hn
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name.startswith("bias"):
                    p.uniform_(-1.0, 1.0)
    model = from_torch(module, return_state=True)
    dirs = 2 if bidirectional else 1

    x = rng.standard_normal((B, T, D)).astype(dtype)
    lengths = np.array([T, 1, 3]) if packed else None
    h0 = rng.standard_normal((num_layers * dirs, B, H)).astype(dtype)
    R = rng.standard_normal((B, T, dirs * H)).astype(dtype)
    S = [rng.standard_normal((B, H)).astype(dtype) for _ in range(dirs)]
    out_t, hT_t, dx_t, dh0_t, grads_t = run_torch(module, x, lengths, h0, R, S)

    levels = [[h0[k * dirs + d] for d in range(dirs)] for k in range(num_layers)]
    mask = None if lengths is None else np.arange(T)[None, :] < lengths[:, None]
    out = model(x, mask=mask, initial_state=levels if num_layers > 1 else levels[0])
    dx = model.backward([R, *S])
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype])

    assert out[0].dtype == np.dtype(dtype)
    np.testing.assert_allclose(out[0], out_t, **tol)
    if packed:
        assert np.all(out[0][~mask] == 0) and np.all(dx[~mask] == 0)
    finals = model.final_state if num_layers > 1 else [model.final_state]
    np.testing.assert_allclose(np.stack([h for level in finals for h in level]), hT_t, **tol)
    np.testing.assert_allclose(dx, dx_t, **tol)
    state_grads = model.state_grads if num_layers > 1 else [model.state_grads]
    np.testing.assert_allclose(np.stack([g for level in state_grads for g in level]), dh0_t, **tol)
    grads = model.grads
    assert sorted(grads) == sorted(model.params)
    assert len(grads) == (3 if bias else 2) * num_layers * dirs  # bias=False: no b at all (use_bias=False)
    for key, g in grads.items():
        np.testing.assert_allclose(g, ours_from_torch_grad(key, grads_t, num_layers), **tol, err_msg=key)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_round_trip_reproduces_every_weight(bidirectional, bias):
    torch.manual_seed(3)
    module = torch.nn.GRU(D, H, num_layers=2, bidirectional=bidirectional, bias=bias, dtype=torch.float64)
    ours = from_torch(module)
    assert [leaf.use_bias for leaf in leaves(ours)] == [bias] * (2 + 2 * bidirectional)
    back = to_torch(ours)  # bias follows the layers' use_bias
    assert isinstance(back, torch.nn.GRU) and back.bias == bias
    theirs = dict(module.named_parameters())
    for name, p in back.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), theirs[name].detach().numpy(), err_msg=name)


def test_rnnlab_gru_to_torch_computes_the_same():
    rng = np.random.default_rng(5)
    layer = rl.GRU(H, return_sequences=True, dtype="float64", seed=1)
    x = rng.standard_normal((B, T, D))
    layer(x)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    out_t, _ = to_torch(layer)(torch.tensor(x))
    np.testing.assert_allclose(layer(x), out_t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_layout_by_hand():
    """PyTorch's r block is rnnlab's second, its z block the first; b_hn is b[1]'s h̃ block."""
    module = torch.nn.GRU(2, 1, dtype=torch.float64)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))  # r, z, n
        module.bias_hh_l0.copy_(torch.tensor([7.0, 8.0, 9.0]))
    layer = from_torch(module)
    np.testing.assert_array_equal(layer.params["W"], [[3.0, 1.0, 5.0], [4.0, 2.0, 6.0]])
    np.testing.assert_array_equal(layer.params["b"][1], [8.0, 7.0, 9.0])
    assert layer.reset_after


@pytest.mark.parametrize(
    "layer, message",
    [
        (rl.GRU(H, reset_after=False), "reset_after=True"),
        (rl.GRU(H, recurrent_activation="hard_sigmoid"), "recurrent_activation='sigmoid'"),
        (rl.GRU(H, activation="relu"), "activation='tanh'"),
    ],
)
def test_to_torch_refuses_what_torch_cannot_hold(layer, message):
    layer(np.zeros((1, 2, D), np.float32))
    with pytest.raises(ValueError, match=message):
        to_torch(layer)


def test_to_torch_without_bias_needs_zero_biases():
    layer = rl.GRU(H)
    layer(np.zeros((1, 2, D), np.float32))
    layer.params["b"][1, 2 * H] = 0.5  # b'_h alone
    with pytest.raises(ValueError, match="bias=False"):
        to_torch(layer, bias=False)


def test_mixed_stack_is_refused_by_name():
    model = rl.Stack([rl.GRU(H, return_sequences=True), rl.LSTM(H)])
    model(np.zeros((1, 2, D), np.float32))
    with pytest.raises(ValueError, match="GRU"):
        to_torch(model)
