"""Optimizers, updating parameters in place: SGD, RMSprop, Adam, AdamW.

The formulas and defaults are torch.optim's (tests hold them equal to it in
float64). Keras differs in places: its SGD momentum folds lr into the velocity,
its RMSprop defaults to rho=0.9, eps=1e-7, lr=1e-3, and its Adam eps is 1e-7.
`weight_decay` is L2 added to the gradient (g ← g + λ θ) except in AdamW,
where it is decoupled (θ ← θ − lr λ θ; Loshchilov & Hutter 2019).
`lr` is a number or a schedule from rnnlab.train.schedules.
"""

import math

import numpy as np

from ..checks import is_number, non_negative_number
from . import schedules

_nonnegative = non_negative_number


class Optimizer:
    """Base: step(params, grads) updates every array of params in place.

    Per-parameter state (momentum, moments) lives in `state[name][slot]`;
    `iterations` counts the updates done and drives schedules and bias correction.
    """

    slots = ()

    def __init__(self, lr, weight_decay=0.0):
        if not isinstance(lr, schedules.Schedule):
            if not is_number(lr) or not 0 < lr < math.inf:
                raise ValueError(f"lr expected a positive number or a schedule, got {lr!r}")
            lr = float(lr)
        self.lr = lr
        self.weight_decay = _nonnegative("weight_decay", weight_decay)
        self.iterations = 0
        self.state = {}

    def current_lr(self):
        """The rate the next update will use."""
        return self.lr(self.iterations) if isinstance(self.lr, schedules.Schedule) else self.lr

    def step(self, params, grads=None):
        """One update of every parameter from its gradient (same keys).

        params, grads: dicts {name: array}; or a model (anything with .params and .grads,
        e.g. a Sequential after model.backward(dy)) alone: optimizer.step(model).
        """
        if grads is None:
            if not (hasattr(params, "params") and hasattr(params, "grads")):
                raise TypeError(
                    f"step expected (params, grads) dicts or a model with .params and .grads, "
                    f"got {type(params).__name__}"
                )
            params, grads = params.params, params.grads
        lr = self.current_lr()
        self.iterations += 1
        for name, p in params.items():
            self.update(p, np.asarray(grads[name], dtype=p.dtype), self.state.setdefault(name, {}), lr)

    def update(self, p, g, state, lr):
        raise NotImplementedError

    # ---- files ------------------------------------------------------------------
    def get_config(self):
        lr = self.lr.get_config() if isinstance(self.lr, schedules.Schedule) else self.lr
        return {"class_name": type(self).__name__, "lr": lr, "weight_decay": self.weight_decay, **self._options()}

    def _options(self):
        return {}

    def state_arrays(self):
        """{"<param>/<slot>": array} for a checkpoint."""
        return {f"{name}/{slot}": a for name, slots in self.state.items() for slot, a in slots.items()}

    def load_state_arrays(self, iterations, arrays, params):
        """Restore `iterations` and the slots, checking names and shapes against params."""
        state = {}
        for key, a in arrays.items():
            name, _, slot = key.rpartition("/")
            if name not in params or slot not in self.slots or a.shape != params[name].shape:
                raise ValueError(
                    f"optimizer state {key!r} {a.shape} does not fit {type(self).__name__} and the model's parameters"
                )
            state.setdefault(name, {})[slot] = np.array(a, dtype=params[name].dtype)
        self.iterations, self.state = int(iterations), state


class SGD(Optimizer):
    """b ← μ b + (1 − d) g (b = g at the first step); θ ← θ − lr (g + μ b if nesterov else b)."""

    slots = ("momentum",)

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _nonnegative("momentum", momentum)
        self.dampening = _nonnegative("dampening", dampening)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov expected momentum > 0 and dampening 0")

    def update(self, p, g, state, lr):
        if self.weight_decay:
            g = g + self.weight_decay * p  # L2: g ← g + λ θ
        if self.momentum:
            if "momentum" not in state:
                b = state["momentum"] = g.copy()
            else:
                b = state["momentum"]
                b *= self.momentum
                b += (1.0 - self.dampening) * g  # b ← μ b + (1 − d) g
            g = g + self.momentum * b if self.nesterov else b
        p -= lr * g

    def _options(self):
        return {"momentum": self.momentum, "dampening": self.dampening, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """v ← α v + (1 − α) g²; θ ← θ − lr g / (√v + ε)  (Tieleman & Hinton 2012; torch's ε outside the root).

    centered subtracts the squared running mean of g under the root; momentum
    accumulates the scaled step: b ← μ b + g / (√v + ε), θ ← θ − lr b.
    """

    slots = ("square_avg", "grad_avg", "momentum")

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha expected a number in [0, 1), got {alpha!r}")
        self.alpha, self.eps = float(alpha), _nonnegative("eps", eps)
        self.momentum, self.centered = _nonnegative("momentum", momentum), bool(centered)

    def update(self, p, g, state, lr):
        if self.weight_decay:
            g = g + self.weight_decay * p
        v = state.setdefault("square_avg", np.zeros_like(p))
        v *= self.alpha
        v += (1.0 - self.alpha) * g * g  # v ← α v + (1 − α) g²
        if self.centered:
            m = state.setdefault("grad_avg", np.zeros_like(p))
            m *= self.alpha
            m += (1.0 - self.alpha) * g  # m ← α m + (1 − α) g
            denom = np.sqrt(v - m * m) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        if self.momentum:
            b = state.setdefault("momentum", np.zeros_like(p))
            b *= self.momentum
            b += g / denom
            p -= lr * b
        else:
            p -= lr * g / denom

    def _options(self):
        return {"alpha": self.alpha, "eps": self.eps, "momentum": self.momentum, "centered": self.centered}


class Adam(Optimizer):
    """m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g²;
    θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)  (Kingma & Ba 2015, torch's ε placement).

    amsgrad divides by the running maximum of v instead (Reddi et al. 2018).
    """

    slots = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled = False

    def __init__(self, lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(lr, weight_decay)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} expected a number in [0, 1), got {beta!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.eps, self.amsgrad = _nonnegative("eps", eps), bool(amsgrad)

    def update(self, p, g, state, lr):
        if self.weight_decay:
            if self.decoupled:
                p *= 1.0 - lr * self.weight_decay  # θ ← θ − lr λ θ, apart from the gradient
            else:
                g = g + self.weight_decay * p
        t = self.iterations
        m = state.setdefault("exp_avg", np.zeros_like(p))
        v = state.setdefault("exp_avg_sq", np.zeros_like(p))
        m *= self.beta_1
        m += (1.0 - self.beta_1) * g  # m ← β₁ m + (1 − β₁) g
        v *= self.beta_2
        v += (1.0 - self.beta_2) * g * g  # v ← β₂ v + (1 − β₂) g²
        if self.amsgrad:
            v = np.maximum(state.setdefault("max_exp_avg_sq", np.zeros_like(p)), v, out=state["max_exp_avg_sq"])
        bias1, bias2 = 1.0 - self.beta_1**t, 1.0 - self.beta_2**t  # the moments start at 0
        denom = np.sqrt(v) / math.sqrt(bias2) + self.eps
        p -= (lr / bias1) * m / denom

    def _options(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "eps": self.eps, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default λ = 0.01, as torch)."""

    decoupled = True

    def __init__(self, lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, beta_1, beta_2, eps, weight_decay, amsgrad)


_CLASSES = {cls.__name__: cls for cls in (SGD, RMSprop, Adam, AdamW)}


def get(optimizer):
    """An optimizer instance, or a class name ("adam", "sgd", ...) with default arguments."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    by_lower = {name.lower(): cls for name, cls in _CLASSES.items()}
    if not isinstance(optimizer, str) or optimizer.lower() not in by_lower:
        raise ValueError(f"optimizer expected one of {sorted(by_lower)} or a rnnlab.optim optimizer, got {optimizer!r}")
    return by_lower[optimizer.lower()]()


def from_config(config):
    """The optimizer get_config() describes; only the classes above, arguments checked."""
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"optimizer config expected class_name in {sorted(_CLASSES)}, got {config!r}")
    options = {k: v for k, v in config.items() if k != "class_name"}
    if isinstance(options.get("lr"), dict):
        options["lr"] = schedules.from_config(options["lr"])
    try:
        return _CLASSES[config["class_name"]](**options)
    except TypeError as err:
        raise ValueError(f"optimizer config {config!r} is invalid: {err}") from None
