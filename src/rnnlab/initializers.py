"""Weight initializers, Keras names and formulas. Each takes (shape, rng, dtype)."""

import numpy as np

from .checks import is_int


def glorot_uniform(shape, rng, dtype):
    # U(−l, l), l = √(6 / (fan_in + fan_out))
    fan_in, fan_out = shape[0], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype):
    # orthonormal rows or columns from the QR decomposition of a Gaussian matrix
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform (Haar)
    q = q if rows >= cols else q.T
    return q.astype(dtype)


def identity(shape, rng, dtype):
    # IRNN (Le et al. 2015): the recurrent matrix starts as I, one block per gate
    rows, cols = shape
    if cols % rows:
        raise ValueError(f"identity initializer expected a (n, k·n) shape, got {shape}")
    return np.tile(np.eye(rows), (1, cols // rows)).astype(dtype)


def zeros(shape, rng, dtype):
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng, dtype):
    return np.ones(shape, dtype=dtype)


def uniform(shape, rng, dtype):
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


def normal(shape, rng, dtype):
    return (0.05 * rng.standard_normal(shape)).astype(dtype)


def chrono(max_lag):
    """LSTM bias initializer for dependencies up to `max_lag` steps (Tallec & Ollivier 2018).

    b_f = ln(u), u ~ U[1, max_lag − 1], and b_i = −b_f; the C̃ and o blocks are 0.
    A forget gate σ(b_f) ≈ 1 − 1/u keeps C for about u steps, so the units' memory
    spans spread over 1..max_lag. Use with unit_forget_bias=False, which would
    otherwise overwrite b_f with 1.
    """
    if not is_int(max_lag) or max_lag < 3:
        raise ValueError(f"chrono expected max_lag an integer >= 3, got {max_lag!r}")

    def init(shape, rng, dtype):
        if len(shape) != 1 or shape[0] % 4:
            raise ValueError(f"chrono expected an LSTM bias shape (4·units,), got {shape}")
        H = shape[0] // 4
        b = np.zeros(shape, dtype=np.float64)
        b[H : 2 * H] = np.log(rng.uniform(1.0, max_lag - 1.0, size=H))  # b_f = ln U[1, max_lag − 1]
        b[:H] = -b[H : 2 * H]  # b_i = −b_f
        return b.astype(dtype)

    init.__name__ = f"chrono({int(max_lag)})"
    return init


_BY_NAME = {f.__name__: f for f in (glorot_uniform, orthogonal, identity, zeros, ones, uniform, normal)}


def get(init):
    """An initializer from its name, or a callable (shape, rng, dtype) -> array."""
    if callable(init):
        return init
    if init not in _BY_NAME:
        raise ValueError(f"initializer expected one of {sorted(_BY_NAME)} or a callable, got {init!r}")
    return _BY_NAME[init]
