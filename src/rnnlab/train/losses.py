"""Losses: a value per position, then a weighted mean; each returns the gradient with it.

A position is one sample (targets (B, K) against outputs (B, K)) or one step of
one sample (per-step targets (B, T, K)). With weights w (a mask, or sample
weights) the loss is L = Σ w_n ℓ_n / Σ w_n: masked steps count for nothing and
the mean runs over the real ones.
"""
import numpy as np

EPSILON = 1e-7  # Keras' clip for probabilities in the cross-entropies


class Loss:
    """Base: subclasses give per-position values ℓ (B[, T]) and ∂ℓ/∂ŷ (B[, T], K)."""

    name = None
    integer_targets = False  # sparse labels rather than arrays shaped like the output

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
                raise ValueError(f"{owner} expected y of shape (samples, {', '.join(map(str, want))}) "
                                 f"for loss {self.name!r}, got {y.shape}")
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
            raise ValueError(f"{owner} expected y in [0, 1] for binary_crossentropy, got values in "
                             f"[{y.min()}, {y.max()}]")
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
            raise ValueError(f"{owner} expected integer labels y of shape (samples{''.join(f', {n}' for n in want)}) "
                             f"for an output {tuple(out_shape)}, got {y.shape}")
        if np.issubdtype(y.dtype, np.floating):
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"{owner} expected integer labels y, got non-integer values")
        elif not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{owner} expected integer labels y, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ValueError(f"{owner} expected labels y in [0, {classes}) for {classes} output units, "
                             f"got values in [{y.min()}, {y.max()}]")
        return y.astype(np.int64)[..., None]  # a trailing axis, so batches slice like other targets

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


_BY_NAME = {cls.name: cls for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                      SparseCategoricalCrossentropy)}
_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get(loss):
    """A Loss from a name or a Loss instance."""
    if isinstance(loss, Loss):
        return loss
    name = _ALIASES.get(loss, loss)
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValueError(f"loss expected one of {sorted(_BY_NAME)} or a rnnlab.losses.Loss, got {loss!r}")
    return _BY_NAME[name]()


def from_config(config):
    """The Loss a get_config() dict describes (used when loading files)."""
    if not isinstance(config, dict) or config.get("name") not in _BY_NAME:
        raise ValueError(f"loss config expected a name in {sorted(_BY_NAME)}, got {config!r}")
    options = {k: v for k, v in config.items() if k != "name"}
    if set(options) - {"from_logits"} or not all(isinstance(v, bool) for v in options.values()):
        raise ValueError(f"loss config has unexpected entries: {options!r}")
    return _BY_NAME[config["name"]](**options)
