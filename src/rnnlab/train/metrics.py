"""Metrics: per-position values averaged with the loss's weights (masks), like the loss.

A metric is a name, or a callable fn(y_pred, y_true) -> values per position (B[, T])
(prediction first, as the losses), named by its __name__, or a pair (name, fn).
"""

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


def _categorical_accuracy(y_pred, y):
    return (y_pred.argmax(axis=-1) == y.argmax(axis=-1)).astype(np.float64)


_SHAPED = {"mse": _squared_error, "mae": _absolute_error}
_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae", "acc": "accuracy"}
NAMES = ("accuracy", "categorical_accuracy", "mse", "mae")


def get(name, loss):
    """(name, function (y_pred, y) -> per-position values) for a metric and the compiled Loss.

    "accuracy" follows the loss, as in Keras: argmax against labels for
    sparse_categorical_crossentropy, argmax against argmax for
    categorical_crossentropy, a threshold (0.5 on probabilities, 0 on logits)
    for binary_crossentropy. A callable is taken as it is.
    """
    if isinstance(name, (tuple, list)) and len(name) == 2 and isinstance(name[0], str) and callable(name[1]):
        return name[0], name[1]
    if callable(name):
        label = getattr(name, "__name__", None)
        if not label or label == "<lambda>":
            raise ValueError("metrics expected a named function, or a pair (name, fn) for a lambda, got a lambda")
        return label, name
    name = _ALIASES.get(name, name) if isinstance(name, str) else name
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(
            f"metrics expected names among {list(NAMES)}, callables fn(y_pred, y_true) or pairs "
            f"(name, fn), got {name!r}"
        )
    if name == "categorical_accuracy" or (name == "accuracy" and loss.name == "categorical_crossentropy"):
        if loss.integer_targets:
            raise ValueError(f"metric {name!r} expected one-hot targets, but loss {loss.name!r} takes integer labels")
        return name, _categorical_accuracy
    if name == "accuracy":
        if loss.name == "sparse_categorical_crossentropy":
            return name, _sparse_accuracy
        if loss.name == "binary_crossentropy":
            return name, _binary_accuracy(0.0 if loss.from_logits else 0.5)
        raise ValueError(f"metric 'accuracy' expected a classification loss, got loss {loss.name!r}")
    if loss.integer_targets:
        raise ValueError(
            f"metric {name!r} expected targets shaped like the output, but loss {loss.name!r} takes integer labels"
        )
    return name, _SHAPED[name]


def weighted_mean(values, weight):
    """(Σ w v, Σ w): the pieces of a mean that can be accumulated over batches."""
    if weight is None:
        return float(values.sum()), float(values.size)
    return float((weight * values).sum()), float(weight.sum())
