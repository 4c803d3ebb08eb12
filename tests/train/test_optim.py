"""Optimizers, schedules and clipping against torch.optim: 20 steps in float64, within 1e-6.

Both sides start from the same parameters; at every step each computes the
gradient g = c_t + 0.5 θ from its own parameters and the same c_t, so any
difference in an update also feeds back into the later gradients.
"""

import numpy as np
import pytest
import torch

import rnnlab as rl

torch.set_num_threads(1)
OPT, S = rl.optim, rl.schedules
STEPS = 20

CASES = [
    (lambda: OPT.SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda: OPT.SGD(lr=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (
        lambda: OPT.SGD(lr=0.05, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    (
        lambda: OPT.SGD(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01),
    ),
    (lambda: OPT.RMSprop(lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    (
        lambda: OPT.RMSprop(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.01),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.01),
    ),
    (lambda: OPT.Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (
        lambda: OPT.Adam(lr=0.01, beta_1=0.8, beta_2=0.99, eps=1e-7, weight_decay=0.02, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.02, amsgrad=True),
    ),
    (lambda: OPT.AdamW(lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    # a large ε makes its placement (outside the root, after bias correction) count
    (lambda: OPT.Adam(lr=0.01, eps=0.5), lambda p: torch.optim.Adam(p, lr=0.01, eps=0.5)),
    (lambda: OPT.RMSprop(lr=0.01, eps=0.5), lambda p: torch.optim.RMSprop(p, lr=0.01, eps=0.5)),
    (
        lambda: OPT.AdamW(lr=0.01, weight_decay=0.1, amsgrad=True),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    ),
]


def _start(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    pushes = [{k: 3 * rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(STEPS)]
    return params, pushes


def _run_ours(opt, clip=None, clip_value=None):
    params, pushes = _start()
    for c in pushes:
        grads = {k: c[k] + 0.5 * params[k] for k in params}
        if clip_value is not None:
            rl.train.clipping.clip_by_value(grads, clip_value)
        if clip is not None:
            rl.train.clipping.clip_by_global_norm(grads, clip)
        opt.step(params, grads)
    return params


def _run_torch(make, clip=None, clip_value=None, scheduler=None):
    params, pushes = _start()
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = make(list(tp.values()))
    sched = scheduler(opt) if scheduler else None
    for c in pushes:
        for k, p in tp.items():
            p.grad = torch.from_numpy(c[k]) + 0.5 * p.detach()
        if clip_value is not None:
            torch.nn.utils.clip_grad_value_(list(tp.values()), clip_value)
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(list(tp.values()), clip)
        opt.step()
        if sched:
            sched.step()
    return {k: p.detach().numpy() for k, p in tp.items()}


def _assert_close(ours, ref):
    for k in ref:
        assert np.max(np.abs(ours[k] - ref[k])) < 1e-6, k
    moved = max(np.max(np.abs(ref[k] - _start()[0][k])) for k in ref)
    assert moved > 1e-3  # the comparison is not between two unmoved copies


@pytest.mark.parametrize("ours,theirs", CASES)
def test_optimizer_equals_torch(ours, theirs):
    _assert_close(_run_ours(ours()), _run_torch(theirs))


@pytest.mark.parametrize("clip", [0.5, 50.0])
def test_clip_by_global_norm_equals_torch(clip):
    ours = _run_ours(OPT.SGD(lr=0.1, momentum=0.9), clip=clip)
    _assert_close(ours, _run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), clip=clip))


def test_clip_by_value_equals_torch():
    ours = _run_ours(OPT.Adam(lr=0.01), clip_value=0.7)
    _assert_close(ours, _run_torch(lambda p: torch.optim.Adam(p, lr=0.01), clip_value=0.7))


def test_clip_norm_returns_norm_and_rescales():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert rl.train.clipping.clip_by_global_norm(g, 1.0) == pytest.approx(5.0)
    assert rl.train.clipping.global_norm(g) == pytest.approx(1.0, abs=1e-6)


SCHEDULES = [
    (
        lambda: S.StepDecay(0.1, step_size=5, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5),
    ),
    (
        lambda: S.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    ),
    (
        lambda: S.CosineDecay(0.1, decay_steps=20, alpha=0.1),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.01),
    ),
    (
        lambda: S.Warmup(0.1, warmup_steps=5),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 5, end_factor=1.0, total_iters=4),
    ),
]


@pytest.mark.parametrize("ours,theirs", SCHEDULES)
def test_schedules_equal_torch_schedulers(ours, theirs):
    got = _run_ours(OPT.SGD(lr=ours(), momentum=0.9))
    ref = _run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), scheduler=theirs)
    _assert_close(got, ref)


def test_warmup_composes_with_cosine():
    s = S.Warmup(S.CosineDecay(1.0, decay_steps=10), warmup_steps=4)
    assert [s(k) for k in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert s(4) == pytest.approx(1.0) and s(9) == pytest.approx(0.5) and s(14) == pytest.approx(0.0)
    assert S.from_config(s.get_config())(9) == s(9)


def test_state_round_trip_continues_identically():
    a = OPT.Adam(lr=0.01, amsgrad=True)
    params, pushes = _start()
    for c in pushes[:10]:
        a.step(params, c)
    b = OPT.from_config(a.get_config())
    b.load_state_arrays(a.iterations, a.state_arrays(), params)
    p1, p2 = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
    for c in pushes[10:]:
        a.step(p1, c)
        b.step(p2, c)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        OPT.Adam(lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        OPT.SGD(nesterov=True)
    with pytest.raises(ValueError, match="optimizer expected"):
        OPT.get("adagrad")
