"""Activation functions with their derivatives written in terms of the output.

Backward passes keep only activated values, so each derivative is a function of
y = f(z): tanh' = 1 - y², σ' = y (1 - y), relu' = [y > 0], softsign' = (1 − |y|)².

hard_sigmoid is Keras 3's (keras.activations.hard_sigmoid, also PyTorch's Hardsigmoid):
clip(z/6 + 1/2, 0, 1) = relu6(z + 3) / 6. Keras 2 and ONNX's default HardSigmoid use slope
0.2 instead, clip(0.2 z + 0.5, 0, 1): a different function, which rnnlab does not have.
"""

import numpy as np


def sigmoid(z):
    # σ(z) = 1 / (1 + e^(−z)), written through tanh so that no exp overflows
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def hard_sigmoid(z):
    # Keras 3: relu6(z + 3) / 6
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


def softsign(z):
    # softsign(z) = z / (1 + |z|) (keras.activations.softsign)
    return z / (1.0 + np.abs(z))


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


def _d_softsign(y):
    # softsign'(z) = 1 / (1 + |z|)², and 1 − |y| = 1 / (1 + |z|)
    return (1.0 - np.abs(y)) ** 2


def _d_relu(y):
    return (y > 0.0).astype(y.dtype)


def _d_linear(y):
    return np.ones_like(y)


# name -> (f(z), f'(z) as a function of y = f(z))
ACTIVATIONS = {
    "tanh": (np.tanh, _d_tanh),
    "sigmoid": (sigmoid, _d_sigmoid),
    "hard_sigmoid": (hard_sigmoid, _d_hard_sigmoid),
    "softsign": (softsign, _d_softsign),
    "relu": (relu, _d_relu),
    "linear": (linear, _d_linear),
}


def get(name):
    """Return (f, df_from_output) for an activation name."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation expected one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
