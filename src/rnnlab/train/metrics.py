"""Metrics: per-position values averaged with the loss's weights (masks), like the loss."""
import numpy as np


def _squared_error(y_pred, y):
    return ((y_pred - y) ** 2).mean(axis=-1)


def _absolute_error(y_pred, y):
    return np.abs(y_pred - y).mean(axis=-1)


def _sparse_accuracy(y_pred, y):
    return (y_pred.argmax(axis=-1) == y[..., 0]).astype(np.float64)


def _binary_accuracy(threshold):
    def accuracy(y_pred, y):
        return ((y_pred > threshold) == (y > 0.5)).mean(axis=-1)
    return accuracy


_SHAPED = {"mse": _squared_error, "mae": _absolute_error}
_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae", "acc": "accuracy"}
NAMES = ("accuracy", "mse", "mae")


def get(name, loss):
    """A function (y_pred, y) -> per-position values for a metric name and the compiled Loss.

    "accuracy" follows the loss, as in Keras: argmax against labels for
    sparse_categorical_crossentropy, a threshold (0.5 on probabilities, 0 on
    logits) for binary_crossentropy.
    """
    name = _ALIASES.get(name, name)
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"metrics expected names among {list(NAMES)}, got {name!r}")
    if name == "accuracy":
        if loss.name == "sparse_categorical_crossentropy":
            return name, _sparse_accuracy
        if loss.name == "binary_crossentropy":
            return name, _binary_accuracy(0.0 if loss.from_logits else 0.5)
        raise ValueError(f"metric 'accuracy' expected a classification loss, got loss {loss.name!r}")
    if loss.integer_targets:
        raise ValueError(f"metric {name!r} expected targets shaped like the output, "
                         f"but loss {loss.name!r} takes integer labels")
    return name, _SHAPED[name]


def weighted_mean(values, weight):
    """(Σ w v, Σ w): the pieces of a mean that can be accumulated over batches."""
    if weight is None:
        return float(values.sum()), float(values.size)
    return float((weight * values).sum()), float(weight.sum())
