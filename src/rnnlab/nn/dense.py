"""Dense layer: y = φ(x W + b) on the last axis, so a 3-D input is transformed step by step."""

import numpy as np

from .. import initializers
from ..checks import positive_int
from ..kernels import activations
from .base import Layer, as_float_array, check_grad

# softmax is not elementwise, so it lives here rather than beside tanh and σ
_NAMES = sorted(activations.ACTIVATIONS) + ["softmax"]


def softmax(z):
    # softmax(z)_k = e^(z_k − max z) / Σ_j e^(z_j − max z); the shift keeps exp finite
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Dense(Layer):
    """Fully connected layer, Keras arguments. x (B, D) -> (B, units); x (B, T, D) -> (B, T, units).

        Arguments: units; activation (None: linear); use_bias; kernel_ and bias_initializer;
    dtype; seed; name. Weights W (D, units), b (units,).
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        dtype="float32",
        seed=None,
        name=None,
    ):
        super().__init__(dtype=dtype, name=name)
        self.units = positive_int("units", units)
        activation = "linear" if activation is None else activation
        if activation not in _NAMES:
            raise ValueError(f"activation expected one of {_NAMES} or None, got {activation!r}")
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.input_dim = None
        self._cache = None

    def build(self, input_dim):
        """Create W (D, units) and b (units,)."""
        self.input_dim = positive_int("input_dim", input_dim)
        shape = (input_dim, self.units)
        self.params = {"W": initializers.make(self.kernel_initializer, shape, self.rng, self.dtype, f"{self.name} W")}
        if self.use_bias:
            self.params["b"] = initializers.make(
                self.bias_initializer, (self.units,), self.rng, self.dtype, f"{self.name} b"
            )
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True
        return self

    def set_weights(self, W, b=None):
        """Load W (D, units) and, with use_bias, b (units,); builds the layer if needed. All or nothing."""
        W = np.asarray(W)
        if W.ndim != 2 or W.shape[1] != self.units:
            raise ValueError(f"{self.name} expected W of shape (input_dim, {self.units}), got {W.shape}")
        if (b is None) == self.use_bias:
            raise ValueError(f"{self.name} expected b {'(units,)' if self.use_bias else 'None (use_bias=False)'}")
        if b is not None and np.shape(b) != (self.units,):  # every shape before anything changes
            raise ValueError(f"{self.name} expected b of shape {(self.units,)}, got {np.shape(b)}")
        if not self.built or self.input_dim != W.shape[0]:
            self.build(W.shape[0])
        self.params["W"][...] = W
        if b is not None:
            self.params["b"][...] = b
        return self

    def forward(self, x, training=False):
        """x (..., D) with 2 or 3 axes -> (..., units)."""
        x = np.asarray(x)
        D = self.input_dim if self.built else "features"
        if x.ndim not in (2, 3) or (self.built and x.shape[-1] != self.input_dim):
            raise ValueError(f"Dense expected input (batch, {D}) or (batch, time, {D}), got {x.shape}")
        if x.size == 0:
            raise ValueError(f"Dense expected a non-empty input, got {x.shape}")
        x = as_float_array("input", x, self.dtype, "Dense")
        if not self.built:
            self.build(x.shape[-1])
        z = x @ self.params["W"]  # z = x W + b
        if self.use_bias:
            z += self.params["b"]
        y = softmax(z) if self.activation == "softmax" else activations.get(self.activation)[0](z)
        self._cache = (x, y)
        return y

    def backward(self, dout):
        """dout (..., units) -> dx (..., D); fills grads W, b."""
        if self._cache is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        x, y = self._cache
        dy = check_grad("dout", dout, y.shape, self.dtype, self.name)
        if self.activation == "softmax":
            dz = y * (dy - (dy * y).sum(axis=-1, keepdims=True))  # Jacobian diag(y) − y yᵀ applied to dy
        else:
            dz = dy * activations.get(self.activation)[1](y)
        x2, dz2 = x.reshape(-1, x.shape[-1]), dz.reshape(-1, self.units)
        self.grads = {"W": x2.T @ dz2}  # ∂L/∂W = Σ_n x_nᵀ dz_n over batch (and steps)
        if self.use_bias:
            self.grads["b"] = dz2.sum(axis=0)
        return dz @ self.params["W"].T

    def get_config(self):
        return {
            "units": self.units,
            "activation": None if self.activation == "linear" else self.activation,
            "use_bias": self.use_bias,
            "dtype": np.dtype(self.dtype).name,
            "name": self.name,
        }
