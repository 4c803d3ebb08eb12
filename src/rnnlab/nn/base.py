"""The Layer contract: out = layer(x), dx = layer.backward(dout); params and grads."""

import numpy as np

from .. import kernels

_FLOATS = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype):
    """np.float32 or np.float64 from a name or dtype."""
    name = np.dtype(dtype).name if dtype is not None else "float32"
    if name not in _FLOATS:
        raise ValueError(f"dtype expected float32 or float64, got {dtype!r}")
    return _FLOATS[name]


def as_array(name, x, owner):
    """np.asarray(x), with a TypeError naming `name` for ragged input."""
    try:
        return np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise TypeError(f"{owner} expected {name} as a regular array, got {err}") from None


def as_float_array(name, x, dtype, owner):
    """Cast x to dtype once at the boundary; reject non-float, NaN and Inf (also Inf from the cast)."""
    x = as_array(name, x, owner)
    if x.dtype.type is not dtype:  # dtype: np.float32 or np.float64 (resolve_dtype)
        if x.dtype.kind != "f":
            raise TypeError(f"{owner} expected {name} of a float dtype, got {x.dtype}")
        with np.errstate(over="ignore"):  # a value beyond dtype's range becomes Inf, reported below
            x = x.astype(dtype)
    x = np.ascontiguousarray(x)
    if not kernels.all_finite(x):
        bad = x.size - int(np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{owner} expected finite {name}, got {bad} NaN or Inf value(s) in {x.dtype}")
    return x


def aligned(a):
    """A C-order copy of a whose data start on a cache line (64 bytes).

    The fast kernels read U whole at every step; from a line boundary no vector
    load straddles two lines (docs/PERFORMANCE.md, "Weights on cache lines").
    """
    out = kernels.aligned_empty(a.shape, a.dtype)
    out[...] = a
    return out


def check_mask(mask, batch, time, owner):
    """A boolean (batch, time) mask, or None."""
    if mask is None:
        return None
    mask = as_array("mask", mask, owner)
    if mask.dtype != np.bool_:
        raise TypeError(f"{owner} expected mask of dtype bool, got {mask.dtype}")
    if mask.shape != (batch, time):
        raise ValueError(f"{owner} expected mask of shape ({batch}, {time}), got {mask.shape}")
    return mask


def check_grad(name, g, shape, dtype, owner):
    """A gradient of the given shape and a float dtype, cast to dtype."""
    g = as_array(name, g, f"{owner}.backward")
    if g.shape != tuple(shape):
        raise ValueError(f"{owner}.backward expected {name} of shape {tuple(shape)}, got {g.shape}")
    if not np.issubdtype(g.dtype, np.floating):
        raise TypeError(f"{owner}.backward expected {name} of a float dtype, got {g.dtype}")
    return np.asarray(g, dtype=dtype)


class Layer:
    """Base class. Leaf layers fill `params` in build() and `grads` in backward().

    The mask protocol (as Keras'): a mask (B, T), True on real steps, travels
    along a stack of layers beside the data. `makes_mask`: the layer computes one
    from its input (Embedding with mask_zero, Masking); `supports_masking`: its
    forward takes `mask=` (the recurrent layers); `compute_mask(x, mask)`: the mask
    of its output, given its input and the mask that reached it. By default a
    layer works on each step alone (Dense, Dropout) and passes the mask on as it is.
    `takes_ids`: the layer reads integer ids, not floats (Embedding).
    """

    makes_mask = False
    supports_masking = False
    takes_ids = False

    def __init__(self, dtype="float32", name=None):
        self.dtype = resolve_dtype(dtype)
        self.name = name or type(self).__name__.lower()
        self.params = {}
        self.grads = {}
        self.built = False

    def __call__(self, x, *args, **kwargs):
        return self.forward(x, *args, **kwargs)

    def compute_mask(self, x, mask):
        """The mask of this layer's output: by default the one that reached it."""
        return mask

    def count_params(self):
        return int(sum(p.size for p in self.params.values()))

    def get_config(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class Container(Layer):
    """A layer made of named sub-layers; params and grads are their union, keys prefixed."""

    def __init__(self, dtype="float32", name=None):
        self.dtype = resolve_dtype(dtype)
        self.name = name or type(self).__name__.lower()

    def named_layers(self):
        """[(prefix, layer), ...]"""
        raise NotImplementedError

    def _gather(self, attr):
        return {f"{prefix}.{k}": v for prefix, layer in self.named_layers() for k, v in getattr(layer, attr).items()}

    @property
    def params(self):
        return self._gather("params")

    @property
    def grads(self):
        return self._gather("grads")

    @property
    def built(self):
        return all(layer.built for _, layer in self.named_layers())

    def reset_state(self):
        for _, layer in self.named_layers():
            if hasattr(layer, "reset_state"):
                layer.reset_state()


def leaf_layers(layer, prefix=""):
    """[(path, layer)] of the layers holding parameters or an rng, e.g. ("1.forward", LSTM)."""
    if hasattr(layer, "named_layers"):
        out = []
        for name, sub in layer.named_layers():
            out += leaf_layers(sub, f"{prefix}{name}.")
        return out
    return [(prefix[:-1], layer)]
