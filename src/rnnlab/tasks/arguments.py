"""What the task generators share besides the package's argument checks: the dtype and the seed."""

import numpy as np


def check_dtype(dtype):
    name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype expected float32 or float64, got {dtype!r}")
    return np.dtype(name)


def rng_from(seed):
    """A Generator from an integer seed (or a sequence of them); None is refused so runs repeat."""
    if seed is None:
        raise ValueError("seed expected an integer or a sequence of integers, got None")
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
