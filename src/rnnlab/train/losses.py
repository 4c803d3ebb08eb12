"""Losses: a value per position, then a weighted mean; each returns the gradient with it.

A position is one sample (targets (B, K) against outputs (B, K)) or one step of
one sample (per-step targets (B, T, K)). With weights w (a mask, or sample
weights) the loss is L = Σ w_n ℓ_n / Σ w_n: masked steps count for nothing and
the mean runs over the real ones.

A loss of one's own: rnnlab has no autograd, so a loss gives its gradient by
hand. Subclass `Loss` and write `per_position(y_pred, y_true) -> (ℓ, ∂ℓ/∂y_pred)`,
or pass a pair of callables `(value, gradient)` (see `Custom`). Its gradient
is checked against finite differences on the first batch (train/gradient_check.py;
`check_gradient = False` turns that off). Arguments come in rnnlab's (and
PyTorch's) order, prediction first: `loss(y_pred, y_true)`, not Keras' order.
"""

import numpy as np

from .. import checks

EPSILON = 1e-7  # Keras' clip for probabilities in the cross-entropies


class Loss:
    """Base: subclasses give per-position values ℓ (B[, T]) and ∂ℓ/∂ŷ (B[, T], K).

    `per_position(y_pred (B[, T], K), y_true) -> (ℓ (B[, T]), ∂ℓ/∂y_pred (B[, T], K))`.
    """

    name = None
    integer_targets = False  # sparse labels rather than arrays shaped like the output
    check_gradient = True  # a loss from outside rnnlab: its gradient is checked on the first batch

    @property
    def trusted(self):
        """True for rnnlab's own losses (tested against PyTorch and Keras): no check on the first batch."""
        return type(self).per_position in _TRUSTED

    def per_position(self, y_pred, y_true):
        raise NotImplementedError(
            f"{type(self).__name__} expected a per_position(y_pred, y_true) method "
            "returning (values per position, gradient)"
        )

    def __call__(self, y_pred, y_true, weight=None):
        """(L, ∂L/∂y_pred) for outputs (B[, T], K), targets checked by `check_targets`."""
        y_pred = np.asarray(y_pred)
        ell, dell = self.per_position(y_pred, y_true)
        w = np.ones(ell.shape, dtype=y_pred.dtype) if weight is None else np.asarray(weight, dtype=y_pred.dtype)
        total = w.sum()
        if total == 0:  # every position masked: nothing to learn from this batch
            return 0.0, np.zeros_like(y_pred)
        value = float((w * ell).sum() / total)  # L = Σ w_n ℓ_n / Σ w_n
        return value, (dell * (w / total)[..., None]).astype(y_pred.dtype)

    def check_targets(self, y_true, out_shape, owner="fit"):
        """Targets as an array matching an output of shape out_shape (first axis any length)."""
        y = np.asarray(y_true)
        if not (np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.integer)):
            raise TypeError(f"{owner} expected numeric y, got dtype {y.dtype}")
        want = tuple(out_shape[1:])
        if y.shape[1:] != want:
            if want[-1:] == (1,) and y.shape[1:] == want[:-1]:
                y = y[..., None]  # y (N,) for an output (N, 1)
            else:
                raise ValueError(
                    f"{owner} expected y of shape (samples, {', '.join(map(str, want))}) "
                    f"for loss {self.name!r}, got {y.shape}"
                )
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{owner} expected finite y, got NaN or Inf")
        return y

    def get_config(self):
        return {"name": self.name}


class MeanSquaredError(Loss):
    """ℓ = mean_k (ŷ_k − y_k)²."""

    name = "mse"

    def per_position(self, y_pred, y):
        d = y_pred - y
        return (d * d).mean(axis=-1), 2.0 * d / d.shape[-1]


class MeanAbsoluteError(Loss):
    """ℓ = mean_k |ŷ_k − y_k| (subgradient 0 at ŷ = y)."""

    name = "mae"

    def per_position(self, y_pred, y):
        d = y_pred - y
        return np.abs(d).mean(axis=-1), np.sign(d) / d.shape[-1]


class BinaryCrossentropy(Loss):
    """ℓ = −mean_k [y log p + (1 − y) log(1 − p)], targets in [0, 1].

    from_logits=False (Keras' default, and what the name "binary_crossentropy"
    means): the outputs are probabilities, e.g. Dense(1, activation="sigmoid"),
    clipped to [1e-7, 1 − 1e-7]. from_logits=True: the outputs are z with
    p = σ(z), and ℓ = max(z, 0) − z y + log(1 + e^(−|z|)) never overflows.
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def per_position(self, y_pred, y):
        K = y_pred.shape[-1]
        if self.from_logits:
            z = y_pred
            ell = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
            p = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z)
            return ell.mean(axis=-1), (p - y) / K  # ∂ℓ/∂z = σ(z) − y
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        ell = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
        inside = (y_pred > EPSILON) & (y_pred < 1.0 - EPSILON)  # the clip passes no gradient
        return ell.mean(axis=-1), np.where(inside, (p - y) / (p * (1.0 - p)), 0.0) / K

    def check_targets(self, y_true, out_shape, owner="fit"):
        y = super().check_targets(y_true, out_shape, owner)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{owner} expected y in [0, 1] for binary_crossentropy, got values in [{y.min()}, {y.max()}]"
            )
        return y

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """ℓ = −log softmax(z)_y for integer labels y in [0, C).

    from_logits=True (the default here, unlike Keras): the outputs are logits
    from a Dense without activation; softmax and cross-entropy are fused,
    ℓ = logsumexp(z) − z_y with ∂ℓ/∂z = softmax(z) − onehot(y).
    from_logits=False: the outputs are probabilities (Dense(..., "softmax")).
    """

    name = "sparse_categorical_crossentropy"
    integer_targets = True

    def __init__(self, from_logits=True):
        self.from_logits = bool(from_logits)

    def per_position(self, y_pred, y):
        labels = y[..., 0].astype(np.intp)
        onehot = np.zeros_like(y_pred)
        np.put_along_axis(onehot, labels[..., None], 1.0, axis=-1)
        if self.from_logits:
            shifted = y_pred - y_pred.max(axis=-1, keepdims=True)  # logsumexp without overflow
            lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            log_p = shifted - lse  # log softmax(z)
            return -(log_p * onehot).sum(axis=-1), np.exp(log_p) - onehot
        p_y = np.clip((y_pred * onehot).sum(axis=-1, keepdims=True), EPSILON, 1.0 - EPSILON)
        inside = (p_y > EPSILON) & (p_y < 1.0 - EPSILON)
        return -np.log(p_y[..., 0]), np.where(inside, -onehot / p_y, 0.0)

    def check_targets(self, y_true, out_shape, owner="fit"):
        y = np.asarray(y_true)
        classes = out_shape[-1]
        want = tuple(out_shape[1:-1])
        if y.shape[1:] == want + (1,):
            y = y[..., 0]
        if y.shape[1:] != want:
            raise ValueError(
                f"{owner} expected integer labels y of shape (samples{''.join(f', {n}' for n in want)}) "
                f"for an output {tuple(out_shape)}, got {y.shape}"
            )
        if np.issubdtype(y.dtype, np.floating):
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"{owner} expected integer labels y, got non-integer values")
        elif not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{owner} expected integer labels y, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ValueError(
                f"{owner} expected labels y in [0, {classes}) for {classes} output units, "
                f"got values in [{y.min()}, {y.max()}]"
            )
        return y.astype(np.int64)[..., None]  # a trailing axis, so batches slice like other targets

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """ℓ = −Σ_k y_k log p_k for one-hot or soft targets y (B[, T], K), values in [0, 1].

    from_logits=True (the default, as sparse_categorical_crossentropy here and
    torch.nn.CrossEntropyLoss with probability targets): the outputs are logits z,
    log p = z − logsumexp(z), ∂ℓ/∂z = (Σ_k y_k) softmax(z) − y.
    from_logits=False (Keras' default): the outputs are probabilities, e.g.
    Dense(K, activation="softmax"); as Keras they are divided by their sum and
    clipped to [1e-7, 1 − 1e-7].
    """

    name = "categorical_crossentropy"

    def __init__(self, from_logits=True):
        self.from_logits = bool(from_logits)

    def per_position(self, y_pred, y):
        if self.from_logits:
            shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            return -(y * log_p).sum(axis=-1), np.exp(log_p) * y.sum(axis=-1, keepdims=True) - y
        total = y_pred.sum(axis=-1, keepdims=True)
        p = y_pred / total  # Keras normalises the probabilities first
        q = np.clip(p, EPSILON, 1.0 - EPSILON)
        inside = (p > EPSILON) & (p < 1.0 - EPSILON)  # the clip passes no gradient
        a = np.where(inside, -y / q, 0.0)  # ∂ℓ/∂p
        return -(y * np.log(q)).sum(axis=-1), (a - (a * p).sum(axis=-1, keepdims=True)) / total

    def check_targets(self, y_true, out_shape, owner="fit"):
        y = np.asarray(y_true)
        if y.shape[1:] == tuple(out_shape[1:-1]) and out_shape[-1] > 1 and y.shape[1:] != tuple(out_shape[1:]):
            raise ValueError(
                f"{owner} expected one-hot y of shape (samples, {', '.join(map(str, out_shape[1:]))}) "
                f"for categorical_crossentropy, got {y.shape}: integer labels go with "
                "sparse_categorical_crossentropy"
            )
        y = super().check_targets(y, out_shape, owner)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{owner} expected y in [0, 1] (one-hot or class probabilities) for "
                f"categorical_crossentropy, got values in [{y.min()}, {y.max()}]"
            )
        return y

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class Huber(Loss):
    """ℓ = mean_k h(ŷ_k − y_k), h(d) = ½ d² for |d| ≤ δ, δ (|d| − ½ δ) beyond (Keras' Huber, torch's HuberLoss)."""

    name = "huber"

    def __init__(self, delta=1.0):
        if not checks.is_number(delta) or not 0 < delta < np.inf:
            raise ValueError(f"delta expected a positive number, got {delta!r}")
        self.delta = float(delta)

    def per_position(self, y_pred, y):
        d = y_pred - y
        a = np.abs(d)
        small = a <= self.delta
        ell = np.where(small, 0.5 * d * d, self.delta * (a - 0.5 * self.delta))
        grad = np.where(small, d, self.delta * np.sign(d))
        return ell.mean(axis=-1), grad / d.shape[-1]

    def get_config(self):
        return {"name": self.name, "delta": self.delta}


class Custom(Loss):
    """A loss from two callables: value(y_pred, y_true) -> ℓ (B[, T]) and gradient(y_pred, y_true) -> ∂ℓ/∂y_pred.

    Both take outputs y_pred (B[, T], K) and targets y_true shaped like them (prediction
    first, as PyTorch). There is no autograd: `gradient` is the derivative of `value`
    written by hand; fit checks it against finite differences on the first batch and
    raises a ValueError naming the loss when it is wrong (check_gradient=False: no check).
    name: the loss's name in messages; by default value.__name__.
    """

    def __init__(self, value, gradient, name=None, check_gradient=True):
        if not callable(value) or not callable(gradient):
            raise TypeError(
                f"Custom loss expected two callables (value, gradient), got "
                f"{type(value).__name__} and {type(gradient).__name__}"
            )
        self.value, self.gradient = value, gradient
        self.name = name or getattr(value, "__name__", "custom")
        self.check_gradient = checks.flag("check_gradient", check_gradient)

    def per_position(self, y_pred, y):
        return self.value(y_pred, y), self.gradient(y_pred, y)


_TRUSTED = {
    cls.per_position
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        BinaryCrossentropy,
        SparseCategoricalCrossentropy,
        CategoricalCrossentropy,
        Huber,
    )
}
_BY_NAME = {
    cls.name: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        BinaryCrossentropy,
        SparseCategoricalCrossentropy,
        CategoricalCrossentropy,
        Huber,
    )
}
_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae", "huber_loss": "huber"}
_WANT = (
    "a name, a rnnlab.losses.Loss, or a pair (value, gradient) of callables (rnnlab has no autograd: "
    "a loss gives its gradient)"
)


def get(loss):
    """A Loss from a name, a Loss instance or subclass, or a pair of callables (value, gradient) (see Custom)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if isinstance(loss, (tuple, list)) and len(loss) == 2 and all(callable(f) for f in loss):
        return Custom(*loss)
    if callable(loss):
        raise ValueError(
            f"loss expected {_WANT}, got the single callable "
            f"{getattr(loss, '__name__', type(loss).__name__)}: pass (value, gradient)"
        )
    name = _ALIASES.get(loss, loss) if isinstance(loss, str) else loss
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValueError(f"loss expected one of {sorted(_BY_NAME)}, or {_WANT}, got {loss!r}")
    return _BY_NAME[name]()


def from_config(config):
    """The Loss a get_config() dict describes (used when loading files)."""
    if not isinstance(config, dict) or config.get("name") not in _BY_NAME:
        raise ValueError(
            f"loss config expected a name in {sorted(_BY_NAME)} (a loss defined outside rnnlab is "
            f"not restored from a file), got {config!r}"
        )
    options = {k: v for k, v in config.items() if k != "name"}
    allowed = {"from_logits": bool, "delta": float}
    if any(k not in allowed or type(v) is not allowed[k] for k, v in options.items()):
        raise ValueError(f"loss config has unexpected entries: {options!r}")
    return _BY_NAME[config["name"]](**options)
