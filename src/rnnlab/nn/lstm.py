"""LSTM layer: input, forget and output gates around a cell state C."""
from ..kernels import activations
from .recurrent import Recurrent


class LSTM(Recurrent):
    """Long short-term memory layer, Keras arguments. x (B, T, D) -> (B, T, H) or (B, H).

    Weights W (D, 4H), U (H, 4H), b (4H,) hold the gate blocks in the order
    i, f, C̃, o; with unit_forget_bias the forget block of b starts at 1.
    """

    cell = "lstm"
    gates = 4
    state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        activations.get(activation)
        activations.get(recurrent_activation)
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, input_dim):
        super().build(input_dim)
        if self.unit_forget_bias:
            H = self.units
            self.params["b"][H:2 * H] = 1.0  # remember by default (Jozefowicz et al. 2015)
        return self

    def kernel_options(self):
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation}

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}
