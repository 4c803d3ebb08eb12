"""Learning-rate schedules: lr as a function of the optimizer step (updates done so far, from 0).

They count optimizer updates, as Keras does, not epochs (torch's schedulers
step per epoch by default). Any schedule, or a constant, can follow a linear
warm-up: `Warmup(CosineDecay(1e-3, 1000), warmup_steps=100)`.
"""

import math

from ..checks import is_number, positive_number


class Schedule:
    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return {"class_name": type(self).__name__, **self._config()}


def _count(name, value):
    """A positive whole number of steps (3 or 3.0), as an int."""
    positive_number(name, value)
    if not float(value).is_integer():
        raise ValueError(f"{name} expected a whole number of steps, got {value!r}")
    return int(value)


def _positive(name, value):
    positive_number(name, value)
    return value  # as given: an int stays an int in the config


class StepDecay(Schedule):
    """lr · γ^⌊step / step_size⌋."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr, self.step_size, self.gamma = _positive("lr", lr), _count("step_size", step_size), gamma
        _positive("gamma", gamma)

    def __call__(self, step):
        return self.lr * self.gamma ** (step // self.step_size)

    def _config(self):
        return {"lr": self.lr, "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """lr · rate^(step / decay_steps), or rate^⌊step / decay_steps⌋ with staircase."""

    def __init__(self, lr, decay_steps, decay_rate, staircase=False):
        self.lr, self.decay_steps = _positive("lr", lr), _positive("decay_steps", decay_steps)
        self.decay_rate, self.staircase = _positive("decay_rate", decay_rate), bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        return self.lr * self.decay_rate ** (math.floor(p) if self.staircase else p)

    def _config(self):
        return {
            "lr": self.lr,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class CosineDecay(Schedule):
    """lr · (α + (1 − α) · ½ (1 + cos(π · min(step, decay_steps) / decay_steps)))  (Loshchilov & Hutter 2017)."""

    def __init__(self, lr, decay_steps, alpha=0.0):
        self.lr, self.decay_steps = _positive("lr", lr), _positive("decay_steps", decay_steps)
        if not is_number(alpha) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha expected a fraction in [0, 1], got {alpha!r}")
        self.alpha = alpha

    def __call__(self, step):
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return self.lr * (self.alpha + (1.0 - self.alpha) * cosine)

    def _config(self):
        return {"lr": self.lr, "decay_steps": self.decay_steps, "alpha": self.alpha}


class Warmup(Schedule):
    """Linear warm-up to `after`'s first value over warmup_steps, then `after` (restarted at 0).

    During warm-up lr = after(0) · (step + 1) / warmup_steps, so the first
    update is not wasted on a zero rate. `after` is a schedule or a constant.
    """

    def __init__(self, after, warmup_steps):
        if not isinstance(after, Schedule):
            after = _positive("after", after)
        self.after, self.warmup_steps = after, _count("warmup_steps", warmup_steps)

    def _after(self, step):
        return self.after(step) if isinstance(self.after, Schedule) else self.after

    def __call__(self, step):
        if step < self.warmup_steps:
            return self._after(0) * (step + 1) / self.warmup_steps
        return self._after(step - self.warmup_steps)

    def _config(self):
        after = self.after.get_config() if isinstance(self.after, Schedule) else self.after
        return {"after": after, "warmup_steps": self.warmup_steps}


_CLASSES = {cls.__name__: cls for cls in (StepDecay, ExponentialDecay, CosineDecay, Warmup)}


def from_config(config):
    """A schedule from get_config() output; only the classes above, arguments checked."""
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"schedule config expected class_name in {sorted(_CLASSES)}, got {config!r}")
    options = {k: v for k, v in config.items() if k != "class_name"}
    if isinstance(options.get("after"), dict):
        options["after"] = from_config(options["after"])
    try:
        return _CLASSES[config["class_name"]](**options)
    except TypeError as err:
        raise ValueError(f"schedule config {config!r} is invalid: {err}") from None
