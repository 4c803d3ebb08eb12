"""Dropout layer (inverted): zero each unit with probability `rate` while training."""

import numpy as np

from ..checks import is_number
from .base import Layer, check_grad


class Dropout(Layer):
    """x (...) -> x ⊙ keep / (1 − rate) during training, x unchanged at inference.

    Dividing by the keep probability at training time keeps the expected
    activation equal, so inference needs no rescaling (inverted dropout).
    """

    def __init__(self, rate, seed=None, dtype="float32", name=None):
        super().__init__(dtype=dtype, name=name)
        if not is_number(rate) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout expected rate in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.built = True
        self._scale = None
        self._shape = None

    def forward(self, x, training=False):
        x = np.asarray(x)
        self._shape = x.shape
        if not training or self.rate == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.rate
        self._scale = (keep / (1.0 - self.rate)).astype(x.dtype)
        return x * self._scale

    def backward(self, dout):
        if self._shape is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        dout = check_grad("dout", dout, self._shape, np.asarray(dout).dtype, self.name)
        return dout if self._scale is None else dout * self._scale

    def get_config(self):
        return {"rate": self.rate, "dtype": np.dtype(self.dtype).name, "name": self.name}
