"""SimpleRNN layer: h_t = φ(x_t W + h_{t-1} U + b)."""

from ..kernels import activations
from .recurrent import Recurrent


class SimpleRNN(Recurrent):
    """Fully connected recurrent layer (Elman 1990), Keras arguments: h_t = φ(x_t W + h_{t-1} U + b).

    Arguments: units H; activation φ ("tanh" or "relu", ...); the rest as Recurrent.
    Inputs: x (B, T, D), mask (B, T), initial_state [h0] (B, H).
    Outputs: (B, T, H) or h_T (B, H); with return_state also h_T (B, H).
    Weights: W (D, H), U (H, H), b (H,) (none under use_bias=False).
    """

    cell = "simple_rnn"
    gate_names = ("h",)
    state_names = ("h",)

    def __init__(self, units, activation="tanh", **kwargs):
        activations.get(activation)
        super().__init__(units, activation=activation, **kwargs)
