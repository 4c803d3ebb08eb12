"""Bidirectional wrapper: one copy of a recurrent layer reads forward, one backward."""

import copy

import numpy as np

from .base import Container, check_grad
from .cells import describe
from .recurrent import Recurrent

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Container):
    """Run `layer` forward and a copy of it over the reversed sequence, then merge.

    Arguments: layer, a recurrent layer; merge_mode "concat", "sum", "mul", "ave" or None;
    backward_layer, the layer that reads backwards (default: a copy of `layer` with its own
    initial weights); name. Inputs: x (B, T, D), mask (B, T), initial_state (the forward
    layer's states, then the backward layer's, each (B, H)).

    x (B, T, D) -> (B, T, 2H) for "concat" (B, T, H) for "sum", "mul", "ave",
    a list [forward, backward] for None; (B, ·) without return_sequences.
    With return_state the states follow the output: forward's, then backward's.
    Parameters are named "forward.W", ..., "backward.b".
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None):
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional expected a {describe()} layer, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode expected one of {MERGE_MODES}, got {merge_mode!r}")
        super().__init__(dtype=layer.dtype, name=name or f"bidirectional_{layer.name}")
        self.forward_layer = layer
        if backward_layer is None:
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = not layer.go_backwards
            # a different stream, so the two directions do not start with the same weights
            backward_layer.rng = np.random.default_rng(None if layer.seed is None else [layer.seed, 1])
            backward_layer.name = layer.name + "_backward"
            if layer.built:
                backward_layer.build(layer.input_dim)
        if (
            type(backward_layer) is not type(layer)
            or backward_layer.state_widths() != layer.state_widths()
            or backward_layer.return_sequences != layer.return_sequences
            or backward_layer.return_state != layer.return_state
            or backward_layer.stateful != layer.stateful
        ):
            raise ValueError(
                f"Bidirectional expected backward_layer of the same kind, units, return_sequences, "
                f"return_state and stateful as layer, got {backward_layer!r}"
            )
        if backward_layer.go_backwards == layer.go_backwards:
            raise ValueError(
                f"Bidirectional expected backward_layer to read the other way (go_backwards="
                f"{not layer.go_backwards}), got go_backwards={backward_layer.go_backwards}"
            )
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._last = None

    @property
    def layers(self):
        return (self.forward_layer, self.backward_layer)

    def named_layers(self):
        return [("forward", self.forward_layer), ("backward", self.backward_layer)]

    @property
    def final_state(self):
        """States after the last call: forward's, then backward's; None before a call."""
        fw, bw = self.forward_layer.final_state, self.backward_layer.final_state
        return None if fw is None or bw is None else fw + bw

    @property
    def state_grads(self):
        """∂L/∂(initial states) after the last backward, in the order of final_state."""
        fw, bw = self.forward_layer.state_grads, self.backward_layer.state_grads
        return None if fw is None or bw is None else fw + bw

    supports_masking = True

    def compute_mask(self, x, mask):
        """The input's mask while the time axis stays (return_sequences), else None."""
        return mask if self.return_sequences else None

    def build(self, input_dim):
        for layer in self.layers:
            layer.build(input_dim)
        return self

    def forward(self, x, mask=None, initial_state=None, training=False):
        fw, bw = self.layers
        n = len(fw.state_names)
        init_fw = init_bw = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != 2 * n:
                raise ValueError(
                    f"{self.name} expected initial_state as a list of {2 * n} arrays "
                    f"(forward states, then backward states), got {type(initial_state).__name__}"
                )
            init_fw, init_bw = list(initial_state[:n]), list(initial_state[n:])
        out_f = fw(x, mask=mask, initial_state=init_fw, training=training)
        out_b = bw(x, mask=mask, initial_state=init_bw, training=training)
        y_f, states_f = (out_f[0], out_f[1:]) if self.return_state else (out_f, ())
        y_b, states_b = (out_b[0], out_b[1:]) if self.return_state else (out_b, ())
        if self.return_sequences:
            y_b = y_b[:, ::-1]  # the backward layer's outputs back in time order
        self._last = (y_f, y_b)
        y = self._merge(y_f, y_b)
        return [y, *states_f, *states_b] if self.return_state else y

    def _merge(self, y_f, y_b):
        if self.merge_mode == "concat":
            return np.concatenate([y_f, y_b], axis=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "mul":
            return y_f * y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) / 2
        return [y_f, y_b]

    def _unmerge(self, dy):
        y_f, y_b = self._last
        if self.merge_mode is None:
            if not isinstance(dy, (list, tuple)) or len(dy) != 2:
                raise ValueError(
                    f"{self.name}.backward expected dout as [d_forward, d_backward], got {type(dy).__name__}"
                )
            return (
                check_grad("dout[0]", dy[0], y_f.shape, self.dtype, self.name),
                check_grad("dout[1]", dy[1], y_b.shape, self.dtype, self.name),
            )
        H = self.forward_layer.output_units
        width = 2 * H if self.merge_mode == "concat" else H
        dy = check_grad("dout", dy, y_f.shape[:-1] + (width,), self.dtype, self.name)
        if self.merge_mode == "concat":
            return dy[..., :H], dy[..., H:]
        if self.merge_mode == "sum":
            return dy, dy
        if self.merge_mode == "mul":
            return dy * y_b, dy * y_f  # ∂(a⊙b)/∂a = b
        return dy / 2, dy / 2

    def backward(self, dout):
        """dout matching the last output -> dx (B, T, D), the sum of both directions."""
        if self._last is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        fw, bw = self.layers
        n = len(fw.state_names)
        if self.return_state:
            if not isinstance(dout, (list, tuple)) or len(dout) != 1 + 2 * n:
                raise ValueError(
                    f"{self.name}.backward expected dout as a list of {1 + 2 * n} arrays, got {type(dout).__name__}"
                )
            dy, ds_f, ds_b = dout[0], list(dout[1 : 1 + n]), list(dout[1 + n :])
        else:
            dy, ds_f, ds_b = dout, None, None
        dy_f, dy_b = (None, None) if dy is None and self.return_state else self._unmerge(dy)
        if self.return_sequences and dy_b is not None:
            dy_b = dy_b[:, ::-1]
        dx = fw.backward((dy_f, *ds_f) if self.return_state else dy_f)
        dx = dx + bw.backward((dy_b, *ds_b) if self.return_state else dy_b)
        return dx

    def get_config(self):
        return {"merge_mode": self.merge_mode, "name": self.name}
