"""GRU layer: an update gate z and a reset gate r around a candidate state h̃."""

import numpy as np

from .. import checks
from ..kernels import activations
from .recurrent import Recurrent


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al. 2014), Keras arguments and weight layout.

        z_t = σ(x_t W_z + h_{t-1} U_z + b_z)      r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
        h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))     (reset_after=True)
        h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)            (reset_after=False)
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t

    Arguments: units H; activation (tanh); recurrent_activation (σ, "sigmoid");
    reset_after (True: the reset gate multiplies h_{t-1} U_h + b'_h, as Keras 3,
    PyTorch and ONNX's linear_before_reset=1; False: it multiplies h_{t-1} before
    U_h, Cho et al.'s form); the rest as Recurrent.
    Inputs: x (B, T, D), mask (B, T), initial_state [h0] (B, H).
    Outputs: (B, T, H) or h_T (B, H); with return_state also h_T (B, H).
    Weights: W (D, 3H), U (H, 3H), gate blocks in the order z, r, h̃; b (2, 3H)
    under reset_after=True (b[0] added to x_t W, b[1] = b' to h_{t-1} U, as Keras
    stores it), b (3H,) under reset_after=False; no b under use_bias=False (then
    neither b nor b', as Keras: the equations with b = b' = 0).
    """

    cell = "gru"
    gate_names = ("z", "r", "h_tilde")
    state_names = ("h",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        activations.get(activation)
        activations.get(recurrent_activation)
        checks.flag("reset_after", reset_after)
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation
        self.reset_after = reset_after

    def bias_shape(self):
        """b (2, 3H) under reset_after, else (3H,)."""
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    @classmethod
    def record_steps(cls, cache):
        """Gates z, r, candidate h̃ (the blocks of the cache's gates) and h, time-major; initial h."""
        z, r, h_tilde = np.split(cache["gates"], 3, axis=2)
        return {"z": z, "r": r, "h_tilde": h_tilde, "h": cache["h"][1:]}, {"h": cache["h"][0]}

    def kernel_options(self):
        return {
            "activation": self.activation,
            "recurrent_activation": self.recurrent_activation,
            "reset_after": self.reset_after,
        }

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": self.recurrent_activation,
            "reset_after": self.reset_after,
        }
