"""A stack of layers applied in order, with the same call/backward contract as one layer."""
from .base import Container
from .bidirectional import Bidirectional
from .recurrent import Recurrent


def _takes_mask(layer):
    return isinstance(layer, (Recurrent, Bidirectional))


class Stack(Container):
    """layers[0] → layers[1] → ...; a mask reaches every recurrent layer.

    Parameters are named "<index>.<key>", e.g. "0.W", "1.forward.U".
    """

    def __init__(self, layers, name=None):
        layers = list(layers)
        if not layers:
            raise ValueError("Stack expected at least one layer, got none")
        for k, layer in enumerate(layers):
            if not hasattr(layer, "forward") or not hasattr(layer, "backward"):
                raise TypeError(f"Stack expected layers, got {type(layer).__name__} at position {k}")
        super().__init__(dtype=layers[0].dtype, name=name)
        self.layers = layers

    def named_layers(self):
        return [(str(k), layer) for k, layer in enumerate(self.layers)]

    def forward(self, x, mask=None, training=False):
        """x (B, T, D) -> the last layer's output."""
        for k, layer in enumerate(self.layers):
            if _takes_mask(layer):
                if getattr(layer, "return_state", False) and k < len(self.layers) - 1:
                    raise ValueError(f"Stack expected return_state only on the last layer, got it on layer {k}")
                x = layer(x, mask=mask, training=training)
            else:
                x = layer(x, training=training)
        return x

    def backward(self, dout):
        """dout matching the last output -> dx (B, T, D)."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def get_config(self):
        return {"name": self.name}
