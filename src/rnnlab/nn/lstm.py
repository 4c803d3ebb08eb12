"""LSTM layer: input, forget and output gates around a cell state C; optional peepholes and projection."""

import numpy as np

from .. import checks, initializers
from ..kernels import activations
from .base import aligned
from .recurrent import Recurrent


class LSTM(Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), Keras arguments.

        i_t = σ(x_t W_i + h_{t-1} U_i + b_i)    f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
        C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c) o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
        C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t         h_t = o_t ⊙ tanh(C_t)

    With peepholes=True (Gers & Schmidhuber 2000, "Recurrent nets that time and count";
    ONNX's LSTM input P) the gates also see the cell state through diagonal weights p:
    p_i ⊙ C_{t-1} and p_f ⊙ C_{t-1} join i_t and f_t, p_o ⊙ C_t joins o_t.
    With proj_size=P > 0 (Sak et al. 2014, arXiv:1402.1128; torch.nn.LSTM's proj_size)
    h_t = (o_t ⊙ tanh(C_t)) W_hr: h, the output and the input of U are P wide, C stays H wide.
    Equations in full: kernels/lstm_variants.py.

    Arguments: units H; activation (tanh); recurrent_activation (σ, "sigmoid");
    unit_forget_bias (the forget block of b starts at 1; nothing to set under use_bias=False,
    as in Keras); peepholes (False; p starts at zero, so the layer starts as the plain LSTM);
    proj_size (0: none; W_hr starts from kernel_initializer); the rest as Recurrent.
    Inputs: x (B, T, D), mask (B, T), initial_state [h0 (B, P), C0 (B, H)].
    Outputs: (B, T, P) or h_T (B, P); with return_state also h_T (B, P), C_T (B, H);
    P = H without proj_size.
    Weights: W (D, 4H), U (P, 4H), b (4H,) (none under use_bias=False), gate blocks in the order
    i, f, C̃, o; with peepholes p (3, H), rows p_i, p_f, p_o; with proj_size W_hr (H, P).
    """

    cell = "lstm"
    gate_names = ("i", "f", "c_tilde", "o")
    state_names = ("h", "c")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        unit_forget_bias=True,
        peepholes=False,
        proj_size=0,
        **kwargs,
    ):
        activations.get(activation)
        activations.get(recurrent_activation)
        checks.flag("peepholes", peepholes)
        proj_size = checks.non_negative_int("proj_size", 0 if proj_size is None else proj_size)
        super().__init__(units, activation=activation, **kwargs)
        if proj_size >= self.units:
            raise ValueError(f"proj_size expected 0 or a size below units ({self.units}), got {proj_size}")
        self.recurrent_activation = recurrent_activation
        self.unit_forget_bias = bool(unit_forget_bias)
        self.peepholes = peepholes
        self.proj_size = proj_size

    def state_widths(self):
        """h is proj_size wide under a projection, C is H wide."""
        return (self.proj_size or self.units, self.units)

    def kernel_name(self):
        """The kernel: "lstm_variants" with peepholes or a projection, else "lstm"."""
        return "lstm_variants" if self.peepholes or self.proj_size else "lstm"

    def param_shapes(self, input_dim):
        """W (D, 4H), U (P, 4H), b (4H,); with peepholes p (3, H); with proj_size W_hr (H, P)."""
        shapes = super().param_shapes(input_dim)
        if self.peepholes:
            shapes["p"] = (3, self.units)
        if self.proj_size:
            shapes["W_hr"] = (self.units, self.proj_size)
        return shapes

    def build(self, input_dim):
        super().build(input_dim)
        shapes = self.param_shapes(input_dim)
        if self.peepholes:
            self.params["p"] = aligned(np.zeros(shapes["p"], dtype=self.dtype))
        if self.proj_size:
            W_hr = initializers.make(self.kernel_initializer, shapes["W_hr"], self.rng, self.dtype, f"{self.name} W_hr")
            self.params["W_hr"] = aligned(W_hr)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        if self.unit_forget_bias and self.use_bias:
            H = self.units
            self.params["b"][H : 2 * H] = 1.0  # remember by default (Jozefowicz et al. 2015)
        return self

    def set_weights(self, W, U, b=None, p=None, W_hr=None):
        """Load W (D, 4H), U (P, 4H), b (4H,) (None under use_bias=False), and p (3, H) under peepholes,
        W_hr (H, P) under proj_size.

        All or nothing: every shape is checked before anything changes.
        """
        extra = {"p": p, "W_hr": W_hr}
        for key, needed in (("p", self.peepholes), ("W_hr", bool(self.proj_size))):
            if needed and extra[key] is None:
                raise ValueError(
                    f"{self.name} has {'peepholes' if key == 'p' else 'proj_size'}: set_weights needs {key}"
                )
            if not needed and extra[key] is not None:
                option = "peepholes=False" if key == "p" else "proj_size=0"
                raise ValueError(f"{self.name} has {option}: it holds no {key} to set")
            if needed:
                extra[key] = np.asarray(extra[key])
                shape = (3, self.units) if key == "p" else (self.units, self.proj_size)
                if extra[key].shape != shape:
                    raise ValueError(f"{self.name} expected {key} of shape {shape}, got {extra[key].shape}")
        super().set_weights(W, U, b)
        for key, value in extra.items():
            if value is not None:
                self.params[key][...] = value
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
        config = {
            **super().get_config(),
            "recurrent_activation": self.recurrent_activation,
            "unit_forget_bias": self.unit_forget_bias,
        }
        # only when set: the file of a plain LSTM stays the one earlier versions read
        variants = {"peepholes": self.peepholes, "proj_size": self.proj_size}
        return {**config, **{k: v for k, v in variants.items() if v}}
