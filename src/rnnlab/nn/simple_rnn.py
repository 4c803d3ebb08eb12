"""SimpleRNN layer: h_t = φ(x_t W + h_{t-1} U + b)."""
from ..kernels import activations
from .recurrent import Recurrent


class SimpleRNN(Recurrent):
    """Fully connected recurrent layer, Keras arguments. x (B, T, D) -> (B, T, H) or (B, H)."""

    cell = "simple_rnn"
    gates = 1
    state_names = ("h",)

    def __init__(self, units, activation="tanh", **kwargs):
        activations.get(activation)
        super().__init__(units, activation=activation, **kwargs)
