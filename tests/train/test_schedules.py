"""Learning-rate schedules (rnnlab.train.schedules): values at named steps, configs, bad arguments.

Every expected value is written out by hand from the formula in the class docstring.
"""

import math

import pytest

import rnnlab as rl

S = rl.schedules
REL = 1e-15  # the schedules are a few float operations: only the last bit may differ


def values(schedule, steps):
    return [schedule(k) for k in steps]


# ---- StepDecay: lr · γ^⌊step / step_size⌋ -------------------------------------------------


def test_step_decay_drops_by_gamma_every_step_size_steps():
    s = S.StepDecay(0.8, step_size=3, gamma=0.5)
    assert values(s, range(10)) == pytest.approx([0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1], rel=REL)


def test_step_decay_default_gamma_is_a_tenth():
    s = S.StepDecay(1.0, step_size=2)
    assert s.gamma == 0.1
    assert values(s, [0, 1, 2, 3, 4, 7]) == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.001], rel=1e-12)


def test_step_decay_step_size_one_decays_every_step():
    s = S.StepDecay(2.0, step_size=1, gamma=0.25)
    assert values(s, range(4)) == pytest.approx([2.0, 0.5, 0.125, 0.03125], rel=REL)


# ---- ExponentialDecay: lr · rate^(step / decay_steps) --------------------------------------


def test_exponential_decay_is_continuous_between_decay_steps():
    s = S.ExponentialDecay(1.0, decay_steps=4, decay_rate=0.25)
    # 0.25^(k/4) = 2^(-k/2): 1, 1/√2, 1/2, 1/(2√2), 1/4, 1/(4√2), 1/8
    expected = [1.0, 0.7071067811865476, 0.5, 0.3535533905932738, 0.25, 0.1767766952966369, 0.125]
    assert values(s, range(7)) == pytest.approx(expected, rel=1e-14)


def test_exponential_decay_staircase_holds_the_rate_within_each_period():
    s = S.ExponentialDecay(3.0, decay_steps=4, decay_rate=0.5, staircase=True)
    assert values(s, [0, 1, 3, 4, 7, 8, 11, 12]) == pytest.approx([3.0, 3.0, 3.0, 1.5, 1.5, 0.75, 0.75, 0.375], rel=REL)


def test_exponential_decay_float_decay_steps_and_growth_rate():
    s = S.ExponentialDecay(0.1, decay_steps=2.5, decay_rate=2.0)  # a rate above 1 grows
    assert s(5) == pytest.approx(0.4, rel=1e-14)  # 0.1 · 2^(5/2.5) = 0.1 · 4
    assert s(0) == 0.1


# ---- CosineDecay: lr · (α + (1 − α) · ½ (1 + cos(π · min(step, T) / T))) -------------------


def test_cosine_decay_without_floor():
    s = S.CosineDecay(1.0, decay_steps=4)
    # ½(1 + cos(πk/4)) for k = 0..4: 1, ½ + √2/4, ½, ½ − √2/4, 0
    r2 = 2**0.5 / 4
    assert values(s, range(5)) == pytest.approx([1.0, 0.5 + r2, 0.5, 0.5 - r2, 0.0], rel=1e-14, abs=1e-16)


def test_cosine_decay_with_floor_alpha():
    s = S.CosineDecay(2.0, decay_steps=4, alpha=0.1)
    assert s(0) == pytest.approx(2.0, rel=REL)
    assert s(1) == pytest.approx(1.7363961030678928, rel=1e-14)  # 2 (0.1 + 0.9 · 0.8535533905932737)
    assert s(2) == pytest.approx(1.1, rel=1e-14)  # 2 (0.1 + 0.9 · ½)
    assert s(4) == pytest.approx(0.2, rel=1e-14)  # the floor α · lr


def test_cosine_decay_stays_at_the_floor_after_decay_steps():
    s = S.CosineDecay(2.0, decay_steps=4, alpha=0.1)
    assert values(s, [4, 5, 40, 10**6]) == [s(4)] * 4


def test_cosine_decay_alpha_one_is_constant():
    s = S.CosineDecay(0.3, decay_steps=7, alpha=1.0)
    assert values(s, range(10)) == pytest.approx([0.3] * 10, rel=REL)


# ---- Warmup: after(0) · (step + 1) / W during warm-up, then after(step − W) ----------------


def test_warmup_to_a_constant():
    s = S.Warmup(0.4, warmup_steps=4)
    assert values(s, range(7)) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.4], rel=1e-15)


def test_warmup_restarts_the_following_schedule_at_zero():
    s = S.Warmup(S.StepDecay(1.0, step_size=2, gamma=0.5), warmup_steps=2)
    # warm-up: 1.0 · 1/2, 1.0 · 2/2; then StepDecay at 0, 1, 2, 3, 4
    assert values(s, range(7)) == pytest.approx([0.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25], rel=REL)


def test_warmup_of_one_step_is_the_following_schedule_shifted():
    inner = S.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    s = S.Warmup(inner, warmup_steps=1)
    assert values(s, range(4)) == pytest.approx([1.0, 1.0, 0.5, 0.25], rel=REL)


def test_nested_warmups():
    s = S.Warmup(S.Warmup(1.0, warmup_steps=2), warmup_steps=2)
    # the outer ramps to inner(0) = 0.5, then the inner ramp 0.5, 1.0, then 1.0
    assert values(s, range(6)) == pytest.approx([0.25, 0.5, 0.5, 1.0, 1.0, 1.0], rel=REL)


# ---- configs ---------------------------------------------------------------------------

CONFIGS = [
    (
        lambda: S.StepDecay(0.1, step_size=5, gamma=0.3),
        {"class_name": "StepDecay", "lr": 0.1, "step_size": 5, "gamma": 0.3},
    ),
    (
        lambda: S.ExponentialDecay(0.2, decay_steps=3, decay_rate=0.9, staircase=True),
        {"class_name": "ExponentialDecay", "lr": 0.2, "decay_steps": 3, "decay_rate": 0.9, "staircase": True},
    ),
    (
        lambda: S.CosineDecay(0.5, decay_steps=10, alpha=0.2),
        {"class_name": "CosineDecay", "lr": 0.5, "decay_steps": 10, "alpha": 0.2},
    ),
    (lambda: S.Warmup(0.01, warmup_steps=3), {"class_name": "Warmup", "after": 0.01, "warmup_steps": 3}),
    (
        lambda: S.Warmup(S.CosineDecay(1.0, decay_steps=8), warmup_steps=2),
        {
            "class_name": "Warmup",
            "after": {"class_name": "CosineDecay", "lr": 1.0, "decay_steps": 8, "alpha": 0.0},
            "warmup_steps": 2,
        },
    ),
]


@pytest.mark.parametrize("make,config", CONFIGS, ids=lambda v: v["class_name"] if isinstance(v, dict) else "")
def test_get_config_and_from_config_round_trip(make, config):
    s = make()
    assert s.get_config() == config
    again = S.from_config(config)
    assert type(again) is type(s) and again.get_config() == config
    assert values(again, range(15)) == values(s, range(15))


@pytest.mark.parametrize(
    "config,message",
    [
        ("StepDecay", "class_name"),
        ({"lr": 0.1}, "class_name"),
        ({"class_name": "LambdaLR", "lr": 0.1}, "class_name"),
        ({"class_name": "Schedule"}, "class_name"),
        ({"class_name": "StepDecay", "lr": 0.1}, "invalid"),  # step_size missing
        ({"class_name": "StepDecay", "lr": 0.1, "step_size": 2, "momentum": 0.9}, "invalid"),
        ({"class_name": "StepDecay", "lr": -0.1, "step_size": 2}, "lr expected a positive number"),
        ({"class_name": "Warmup", "after": {"class_name": "Nope"}, "warmup_steps": 2}, "class_name"),
        ({"class_name": "Warmup", "after": {"class_name": "CosineDecay", "lr": 1.0}, "warmup_steps": 2}, "invalid"),
    ],
)
def test_from_config_rejects_bad_configs(config, message):
    with pytest.raises(ValueError, match=message):
        S.from_config(config)


def test_the_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        S.Schedule()(0)


# ---- bad arguments -----------------------------------------------------------------------

NOT_POSITIVE = [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, True, None, "0.1", [0.1]]


@pytest.mark.parametrize("bad", NOT_POSITIVE, ids=repr)
@pytest.mark.parametrize(
    "make,name",
    [
        (lambda v: S.StepDecay(v, step_size=2), "lr"),
        (lambda v: S.StepDecay(0.1, step_size=v), "step_size"),
        (lambda v: S.StepDecay(0.1, step_size=2, gamma=v), "gamma"),
        (lambda v: S.ExponentialDecay(v, decay_steps=2, decay_rate=0.5), "lr"),
        (lambda v: S.ExponentialDecay(0.1, decay_steps=v, decay_rate=0.5), "decay_steps"),
        (lambda v: S.ExponentialDecay(0.1, decay_steps=2, decay_rate=v), "decay_rate"),
        (lambda v: S.CosineDecay(v, decay_steps=2), "lr"),
        (lambda v: S.CosineDecay(0.1, decay_steps=v), "decay_steps"),
        (lambda v: S.Warmup(v, warmup_steps=2), "after"),
        (lambda v: S.Warmup(0.1, warmup_steps=v), "warmup_steps"),
    ],
    ids=[
        "StepDecay.lr",
        "StepDecay.step_size",
        "StepDecay.gamma",
        "ExponentialDecay.lr",
        "ExponentialDecay.decay_steps",
        "ExponentialDecay.decay_rate",
        "CosineDecay.lr",
        "CosineDecay.decay_steps",
        "Warmup.after",
        "Warmup.warmup_steps",
    ],
)
def test_non_positive_arguments_raise_naming_the_argument(make, name, bad):
    with pytest.raises(ValueError, match=rf"^{name} expected a positive number, got "):
        make(bad)


@pytest.mark.parametrize("alpha", [-0.1, 1.01, math.nan, math.inf])
def test_cosine_alpha_must_be_a_fraction(alpha):
    with pytest.raises(ValueError, match=r"alpha expected a fraction in \[0, 1\]"):
        S.CosineDecay(1.0, decay_steps=5, alpha=alpha)


def test_cosine_alpha_of_the_wrong_type_raises_a_clear_error():
    with pytest.raises(ValueError, match="alpha"):
        S.CosineDecay(1.0, decay_steps=5, alpha="0.1")


@pytest.mark.parametrize(
    "make",
    [lambda v: S.StepDecay(0.1, step_size=v), lambda v: S.Warmup(0.1, warmup_steps=v)],
    ids=["StepDecay.step_size", "Warmup.warmup_steps"],
)
@pytest.mark.parametrize("count", [0.5, 2.5])
def test_non_integer_step_counts_are_rejected(make, count):
    with pytest.raises(ValueError):
        make(count)


def test_integer_like_step_counts_are_taken_as_ints():
    assert S.StepDecay(0.1, step_size=3.0).step_size == 3
    assert S.Warmup(0.1, warmup_steps=4.0).warmup_steps == 4
