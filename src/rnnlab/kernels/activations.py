"""Activation functions with their derivatives written in terms of the output.

Backward passes keep only activated values, so each derivative is a function of
y = f(z): tanh' = 1 - y², σ' = y (1 - y), relu' = [y > 0].
"""

import numpy as np


def sigmoid(z):
    # σ(z) = 1 / (1 + e^(−z)), written through tanh so that no exp overflows
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def hard_sigmoid(z):
    # Keras 3: relu6(z + 3) / 6
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


def relu(z):
    return np.maximum(z, 0.0)


def linear(z):
    return z


def _d_tanh(y):
    return 1.0 - y * y


def _d_sigmoid(y):
    return y * (1.0 - y)


def _d_hard_sigmoid(y):
    return np.where((y > 0.0) & (y < 1.0), y.dtype.type(1.0 / 6.0), y.dtype.type(0.0))


def _d_relu(y):
    return (y > 0.0).astype(y.dtype)


def _d_linear(y):
    return np.ones_like(y)


# name -> (f(z), f'(z) as a function of y = f(z))
ACTIVATIONS = {
    "tanh": (np.tanh, _d_tanh),
    "sigmoid": (sigmoid, _d_sigmoid),
    "hard_sigmoid": (hard_sigmoid, _d_hard_sigmoid),
    "relu": (relu, _d_relu),
    "linear": (linear, _d_linear),
}


def get(name):
    """Return (f, df_from_output) for an activation name."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation expected one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
