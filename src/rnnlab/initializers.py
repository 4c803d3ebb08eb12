"""Weight initializers, Keras names and formulas. Each takes (shape, rng, dtype).

A layer also takes what Keras takes (get): an initializer object of keras.initializers, or any
callable (shape, dtype) -> array, called with the dtype's name ("float32"); its randomness is its
own (its seed), not the layer's. Keras' serialized form {"class_name": ..., "config": {...}} is
read for the classes in _KERAS_CLASSES. Whatever a callable returns is checked (make): the shape
asked for, real numbers, all finite.
"""

import inspect

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


def constant(value):
    """Every element `value` (Keras' Constant)."""

    def init(shape, rng, dtype):
        return np.full(shape, value, dtype=dtype)

    init.__name__ = f"constant({value!r})"
    return init


def random_uniform(minval, maxval):
    """U(minval, maxval) from the layer's rng (Keras' RandomUniform)."""

    def init(shape, rng, dtype):
        return rng.uniform(minval, maxval, size=shape).astype(dtype)

    init.__name__ = f"random_uniform({minval!r}, {maxval!r})"
    return init


def random_normal(mean, stddev):
    """N(mean, stddev²) from the layer's rng (Keras' RandomNormal)."""

    def init(shape, rng, dtype):
        return (mean + stddev * rng.standard_normal(shape)).astype(dtype)

    init.__name__ = f"random_normal({mean!r}, {stddev!r})"
    return init


_BY_NAME = {f.__name__: f for f in (glorot_uniform, orthogonal, identity, zeros, ones, uniform, normal)}

# Keras class name -> (config keys with their Keras defaults, the rnnlab initializer they give); a
# seed other than None is refused: the layer's rng (its seed) draws the numbers here
_KERAS_CLASSES = {
    "Zeros": ({}, lambda: zeros),
    "Ones": ({}, lambda: ones),
    "Constant": ({"value": 0.0}, constant),
    "GlorotUniform": ({}, lambda: glorot_uniform),
    "Orthogonal": ({"gain": 1.0}, None),  # gain 1 only: rnnlab's orthogonal
    "RandomUniform": ({"minval": -0.05, "maxval": 0.05}, random_uniform),
    "RandomNormal": ({"mean": 0.0, "stddev": 0.05}, random_normal),
}


def _from_keras_config(entry):
    """The rnnlab initializer of Keras' serialized form {"class_name": ..., "config": {...}}."""
    name, config = entry.get("class_name"), entry.get("config") or {}
    if name not in _KERAS_CLASSES or not isinstance(config, dict):
        raise ValueError(f"initializer config expected a class_name among {sorted(_KERAS_CLASSES)}, got {name!r}")
    defaults, make_init = _KERAS_CLASSES[name]
    if config.get("seed") is not None:
        raise ValueError(
            f"initializer {name} with seed={config['seed']!r}: rnnlab draws it from the layer's rng; "
            "pass seed= to the layer instead"
        )
    unknown = set(config) - set(defaults) - {"seed"}
    if unknown:
        raise ValueError(f"initializer {name} has no rnnlab equivalent for {sorted(unknown)}")
    values = {key: config.get(key, default) for key, default in defaults.items()}
    if name == "Orthogonal":
        if values["gain"] != 1.0:
            raise ValueError(f"initializer Orthogonal with gain={values['gain']!r}: rnnlab's orthogonal has gain 1")
        return orthogonal
    return make_init(*values.values())


def _takes(f, *args):
    """Whether f can be called with these positional arguments (by its signature)."""
    try:
        inspect.signature(f).bind(*args)
    except TypeError:
        return False
    return True


def _keras_form(f):
    """A callable (shape, dtype) as rnnlab's (shape, rng, dtype): Keras' initializers are called so."""

    def init(shape, rng, dtype):
        return f(tuple(shape), dtype=np.dtype(dtype).name)

    init.__name__ = getattr(f, "__name__", type(f).__name__)
    return init


def get(init):
    """An initializer as a function (shape, rng, dtype) -> array.

    init: a name (_BY_NAME); a callable (shape, rng, dtype) (rnnlab's form, chrono); a callable
    (shape, dtype) (Keras' form: a keras.initializers object, any such function); or Keras'
    serialized {"class_name", "config"} of a class in _KERAS_CLASSES.
    """
    if isinstance(init, dict):
        return _from_keras_config(init)
    if callable(init):
        try:
            inspect.signature(init)
        except (TypeError, ValueError):
            raise ValueError(f"initializer {init!r}: its arguments cannot be read; pass a function") from None
        if _takes(init, (1,), None, None):
            return init
        if _takes(init, (1,), None):
            return _keras_form(init)
        raise ValueError(f"initializer {init!r} expected a callable taking (shape, dtype) or (shape, rng, dtype)")
    if not isinstance(init, str) or init not in _BY_NAME:
        raise ValueError(
            f"initializer expected one of {sorted(_BY_NAME)}, a Keras initializer or config, or a callable "
            f"(shape, dtype), got {init!r}"
        )
    return _BY_NAME[init]


def _as_numpy(value):
    """A NumPy array of what an initializer returned: a NumPy array, a PyTorch or TensorFlow tensor, a list."""
    if hasattr(value, "detach"):  # torch.Tensor (Keras' torch backend)
        value = value.detach().cpu().numpy()
    elif not isinstance(value, np.ndarray) and hasattr(value, "numpy"):  # tf.Tensor, Keras variables
        value = value.numpy()
    return np.asarray(value)


def make(init, shape, rng, dtype, what="weight"):
    """The array init (see get) gives for `shape`, in `dtype`; ValueError naming `what` when it
    is not of that shape, not real numbers or not all finite."""
    shape = tuple(int(n) for n in shape)
    f = get(init)
    try:
        value = _as_numpy(f(shape, rng, dtype))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what}: initializer {getattr(f, '__name__', f)!r} failed for shape {shape}: {err}") from err
    name = getattr(f, "__name__", repr(f))
    if value.shape != shape:
        raise ValueError(f"{what}: initializer {name!r} returned shape {value.shape}, expected {shape}")
    if value.dtype.kind not in "fiu":
        raise ValueError(f"{what}: initializer {name!r} returned {value.dtype} values, expected real numbers")
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, named below
        value = value.astype(dtype, copy=False)
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"{what}: initializer {name!r} returned non-finite values (NaN or ±inf in {np.dtype(dtype).name})"
        )
    return value
