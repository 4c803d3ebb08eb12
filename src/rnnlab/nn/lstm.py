"""LSTM layer: input, forget and output gates around a cell state C."""

import numpy as np

from ..kernels import activations
from .recurrent import Recurrent


class LSTM(Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), Keras arguments.

        i_t = σ(x_t W_i + h_{t-1} U_i + b_i)    f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
        C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c) o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
        C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t         h_t = o_t ⊙ tanh(C_t)

    Arguments: units H; activation (tanh); recurrent_activation (σ, "sigmoid");
    unit_forget_bias (the forget block of b starts at 1; nothing to set under use_bias=False,
    as in Keras); the rest as Recurrent.
    Inputs: x (B, T, D), mask (B, T), initial_state [h0, C0] each (B, H).
    Outputs: (B, T, H) or h_T (B, H); with return_state also h_T, C_T (B, H).
    Weights: W (D, 4H), U (H, 4H), b (4H,) (none under use_bias=False), gate blocks in the order i, f, C̃, o.
    """

    cell = "lstm"
    gate_names = ("i", "f", "c_tilde", "o")
    state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        activations.get(activation)
        activations.get(recurrent_activation)
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, input_dim):
        super().build(input_dim)
        if self.unit_forget_bias and self.use_bias:
            H = self.units
            self.params["b"][H : 2 * H] = 1.0  # remember by default (Jozefowicz et al. 2015)
        return self

    @classmethod
    def record_steps(cls, cache):
        """Gates i, f, o, C̃ (the blocks of the cache's gates), C and h, time-major; initial h and C."""
        gates = cache["gates"]  # (T, B, 4H): i, f, C̃, o
        i, f, c_tilde, o = np.split(gates, 4, axis=2)
        steps = {"i": i, "f": f, "o": o, "c_tilde": c_tilde, "c": cache["c"][1:], "h": cache["h"][1:]}
        return steps, {"h": cache["h"][0], "c": cache["c"][0]}

    def kernel_options(self):
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation}

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": self.recurrent_activation,
            "unit_forget_bias": self.unit_forget_bias,
        }
