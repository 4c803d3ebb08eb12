"""Embedding layer: integer ids -> rows of a table E; id 0 may mark padding."""

import numpy as np

from .. import initializers
from ..checks import positive_int
from .base import Layer, check_grad


class Embedding(Layer):
    """ids (B, T) of integers in [0, input_dim) -> E[ids] (B, T, output_dim), Keras arguments.

    Arguments: input_dim (vocabulary size), output_dim, mask_zero, dtype, seed, name.
    The table E has shape (input_dim, output_dim). With mask_zero=True id 0 is
    padding: `compute_mask(ids)` gives ids != 0, which Sequential hands to the
    recurrent layers and to a per-step loss.
    """

    makes_mask = True
    takes_ids = True

    def __init__(
        self,
        input_dim,
        output_dim,
        mask_zero=False,
        embeddings_initializer="uniform",
        dtype="float32",
        seed=None,
        name=None,
    ):
        super().__init__(dtype=dtype, name=name)
        self.input_dim = positive_int("input_dim", input_dim)
        self.output_dim = positive_int("output_dim", output_dim)
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.input_dim < 2:
            raise ValueError(f"Embedding with mask_zero=True expected input_dim >= 2, got {input_dim}")
        self.embeddings_initializer = embeddings_initializer
        initializers.get(embeddings_initializer)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._ids = None

    def build(self, input_dim=None):
        """Create E (input_dim, output_dim); the argument is accepted for a uniform build() call."""
        shape = (self.input_dim, self.output_dim)
        self.params = {
            "E": initializers.make(self.embeddings_initializer, shape, self.rng, self.dtype, f"{self.name} E")
        }
        self.grads = {"E": np.zeros_like(self.params["E"])}
        self.built = True
        return self

    def set_weights(self, E):
        E = np.asarray(E)
        if E.shape != (self.input_dim, self.output_dim):
            raise ValueError(f"{self.name} expected E of shape {(self.input_dim, self.output_dim)}, got {E.shape}")
        if not self.built:
            self.build()
        self.params["E"][...] = E
        return self

    def check_ids(self, ids):
        """Integer ids (B, T) within [0, input_dim)."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"Embedding expected integer ids, got dtype {ids.dtype}")
        if ids.ndim != 2 or ids.size == 0:
            raise ValueError(f"Embedding expected non-empty ids (batch, time), got {ids.shape}")
        low, high = ids.min(), ids.max()
        if low < 0 or high >= self.input_dim:
            raise ValueError(f"Embedding expected ids in [0, {self.input_dim}), got values in [{low}, {high}]")
        return ids

    def compute_mask(self, ids, mask=None):
        """(B, T) bool, True at real steps (ids != 0) under mask_zero; else the mask given (None by default).

        A mask given explicitly takes precedence over the one mask_zero would make.
        """
        if mask is not None or not self.mask_zero:
            return mask
        return np.asarray(ids) != 0

    def forward(self, ids, training=False):
        ids = self.check_ids(ids)
        if not self.built:
            self.build()
        self._ids = ids
        return self.params["E"][ids]  # x_t = E[id_t]

    def backward(self, dout):
        """dout (B, T, output_dim) -> None (ids have no gradient); grads E touch the used rows only."""
        if self._ids is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        dout = check_grad("dout", dout, self._ids.shape + (self.output_dim,), self.dtype, self.name)
        dE = np.zeros_like(self.params["E"])
        np.add.at(dE, self._ids, dout)  # a repeated id gathers the gradient of every position it fed
        self.grads = {"E": dE}
        return None

    def get_config(self):
        return {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
            "dtype": np.dtype(self.dtype).name,
            "name": self.name,
        }
