"""A stack of layers applied in order, with the same call/backward contract as one layer."""

from .base import Container


def _recurrent(layer):
    """A layer with states (a recurrent layer, Bidirectional): it takes an initial_state."""
    return hasattr(layer, "final_state")


def forward_layers(layers, x, mask, training, initial_states=None, after=None):
    """Run `layers` in order by the mask protocol (nn/base.py); returns (output, mask of the output).

    initial_states: an iterator giving each stateful layer's initial_state; after(k, layer, out)
    is called with each layer's output.
    """
    for k, layer in enumerate(layers):
        kwargs = {"training": training}
        if layer.supports_masking:
            kwargs["mask"] = mask
        if initial_states is not None and _recurrent(layer):
            kwargs["initial_state"] = next(initial_states)
        out = layer(x, **kwargs)
        mask = layer.compute_mask(x, mask)
        if after is not None:
            after(k, layer, out)
        x = out
    return x, mask


class Stack(Container):
    """layers[0] → layers[1] → ...; a mask travels along by the mask protocol (nn/base.py).

    Parameters are named "<index>.<key>", e.g. "0.W", "1.forward.U". Only the
    last layer may have return_state; its output, states included, is the stack's.
    """

    def __init__(self, layers, name=None):
        layers = list(layers)
        if not layers:
            raise ValueError("Stack expected at least one layer, got none")
        for k, layer in enumerate(layers):
            if not hasattr(layer, "forward") or not hasattr(layer, "backward"):
                raise TypeError(f"Stack expected layers, got {type(layer).__name__} at position {k}")
            if k < len(layers) - 1 and getattr(layer, "return_state", False):
                raise ValueError(f"Stack expected return_state only on the last layer, got it on layer {k}")
        super().__init__(dtype=layers[0].dtype, name=name)
        self.layers = layers
        self._output_mask = None  # the mask of the last output (compute_mask)

    supports_masking = True

    def compute_mask(self, x, mask):
        """The mask of the last layer's output, as the last forward on x computed it."""
        return self._output_mask

    def named_layers(self):
        return [(str(k), layer) for k, layer in enumerate(self.layers)]

    @property
    def return_sequences(self):
        return getattr(self.layers[-1], "return_sequences", True)

    @property
    def return_state(self):
        return getattr(self.layers[-1], "return_state", False)

    @property
    def final_state(self):
        """Per recurrent layer, in order, the states after the last call."""
        return [layer.final_state for layer in self.layers if _recurrent(layer)]

    @property
    def state_grads(self):
        """Per recurrent layer, in order, ∂L/∂(its initial states) after the last backward."""
        return [layer.state_grads for layer in self.layers if _recurrent(layer)]

    def forward(self, x, mask=None, initial_state=None, training=False):
        """x (B, T, D) -> the last layer's output.

        initial_state: None, or one entry per recurrent layer, in order, each None
        or that layer's initial_state.
        """
        n = sum(map(_recurrent, self.layers))
        if initial_state is None:
            initial_state = [None] * n
        if not isinstance(initial_state, (list, tuple)) or len(initial_state) != n:
            raise ValueError(
                f"Stack expected initial_state as a list of {n} entries (one per recurrent layer), "
                f"got {type(initial_state).__name__}"
            )
        y, self._output_mask = forward_layers(self.layers, x, mask, training, iter(initial_state))
        return y

    def backward(self, dout):
        """dout matching the last output -> dx (B, T, D); None when the stack reads ids (nothing flows into them)."""
        for layer in reversed(self.layers):
            if dout is None:  # below an Embedding: ids carry no gradient
                break
            dout = layer.backward(dout)
        return dout

    def get_config(self):
        return {"name": self.name}
