"""Masking layer: padded steps of float sequences, marked by a value, as Keras' Masking."""

import math

import numpy as np

from ..checks import is_number
from .base import Layer, as_float_array, check_grad


class Masking(Layer):
    """x (B, T, D) -> x with its padded steps zeroed; a step is padding when all D features equal mask_value.

    As the first layer of a Sequential it hands the mask (B, T), True at real steps,
    to the recurrent layers and to a per-step loss, as Embedding(mask_zero=True)
    does for ids.
    """

    def __init__(self, mask_value=0.0, dtype="float32", name=None):
        super().__init__(dtype=dtype, name=name)
        if not is_number(mask_value) or not math.isfinite(mask_value):
            raise ValueError(f"Masking expected mask_value as a finite number, got {mask_value!r}")
        self.mask_value = float(mask_value)
        self.built = True
        self._keep = None  # (B, T, 1) of the last call
        self._shape = None

    makes_mask = True

    def compute_mask(self, x, mask=None):
        """(B, T) bool, True where some feature differs from mask_value; a mask given explicitly wins."""
        if mask is not None:
            return mask
        return np.any(np.asarray(x) != self.mask_value, axis=-1)

    def forward(self, x, training=False):
        x = as_float_array("input", x, self.dtype, "Masking")
        if x.ndim != 3:
            raise ValueError(f"Masking expected input (batch, time, features), got {x.shape}")
        self._keep = self.compute_mask(x)[:, :, None]
        self._shape = x.shape
        return x * self._keep

    def backward(self, dout):
        if self._keep is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        return check_grad("dout", dout, self._shape, self.dtype, self.name) * self._keep

    def get_config(self):
        return {"mask_value": self.mask_value, "dtype": np.dtype(self.dtype).name, "name": self.name}
