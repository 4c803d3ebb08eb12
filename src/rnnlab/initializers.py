"""Weight initializers, Keras names and formulas. Each takes (shape, rng, dtype)."""
import numpy as np


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


_BY_NAME = {f.__name__: f for f in (glorot_uniform, orthogonal, identity, zeros, ones, uniform, normal)}


def get(init):
    """An initializer from its name, or a callable (shape, rng, dtype) -> array."""
    if callable(init):
        return init
    if init not in _BY_NAME:
        raise ValueError(f"initializer expected one of {sorted(_BY_NAME)} or a callable, got {init!r}")
    return _BY_NAME[init]
