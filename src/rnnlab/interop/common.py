"""What the converters share: a model seen as a flat list of layers, and weight re-layouts.

rnnlab keeps W (D, G·H), U (H, G·H), b (G·H,) with the LSTM gate blocks in the order
i, f, C̃, o (G = 4; G = 1 for SimpleRNN); the GRU's blocks are z, r, h̃ (G = 3) and its b
is (2, 3H) under reset_after (nn/gru.py). ONNX keeps W [G·H, D], R [G·H, H] per direction
with the blocks in the order i, o, f, c (the ONNX operator specification, onnx.ai/onnx/operators).
"""

import importlib
import importlib.util

import numpy as np

from .. import nn
from ..train.model import Sequential

# position k of the ONNX order (i, o, f, c) holds rnnlab block ONNX_FROM_RNNLAB[k] of (i, f, C̃, o)
ONNX_FROM_RNNLAB = (0, 3, 1, 2)
# position k of the rnnlab order (i, f, C̃, o) holds ONNX block RNNLAB_FROM_ONNX[k] of (i, o, f, c)
RNNLAB_FROM_ONNX = (0, 2, 3, 1)


def reorder_blocks(a, order, axis=-1):
    """Split `a` into len(order) equal blocks along `axis` and put them in `order`."""
    blocks = np.split(a, len(order), axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


# the recurrent cells the converters have layouts for (PyTorch, Keras, ONNX), by cell name; another
# registered cell is refused by name (nn/cells.py)
CONVERTIBLE_CELLS = ("simple_rnn", "lstm", "gru")
OTHER_KINDS = {
    "Bidirectional": nn.Bidirectional,
    "Dense": nn.Dense,
    "Embedding": nn.Embedding,
    "Dropout": nn.Dropout,
    "Masking": nn.Masking,
}
LAYER_KINDS = ("SimpleRNN", "LSTM", "GRU") + tuple(OTHER_KINDS)


def layer_class(name):
    """The rnnlab class a converter calls `name`: a recurrent cell's class name, one of OTHER_KINDS, or Sequential."""
    if name == "Sequential":
        return Sequential
    if name in OTHER_KINDS:
        return OTHER_KINDS[name]
    return nn.cell_class(name)


def kind_of(layer):
    """The converter's name for a layer: one of LAYER_KINDS, or Stack."""
    if isinstance(layer, nn.Stack):  # Sequential too
        return "Stack"
    if isinstance(layer, nn.Recurrent):
        if layer.cell not in CONVERTIBLE_CELLS or type(layer) is not nn.cell_class(layer.cell):
            raise ValueError(
                f"unsupported layer {type(layer).__name__} ({layer.name!r}): the converters have no "
                f"PyTorch, Keras or ONNX layout for the cell {layer.cell!r}"
            )
        return type(layer).__name__
    for name, cls in OTHER_KINDS.items():
        if type(layer) is cls:
            return name
    raise ValueError(
        f"unsupported layer {type(layer).__name__} ({getattr(layer, 'name', '?')!r}): "
        "expected SimpleRNN, LSTM, GRU, Bidirectional, Dense, Embedding, Dropout, Masking or a stack of them"
    )


def flatten(model):
    """[layer, ...] in the order data flows; stacks (Sequential too) are opened, nested ones as well."""
    if isinstance(model, (list, tuple)):
        return [leaf for layer in model for leaf in flatten(layer)]
    if kind_of(model) == "Stack":
        return flatten(model.layers)
    return [model]


def check_built(layer):
    if not layer.built:
        raise ValueError(
            f"layer {layer.name!r} is not built: call the model on an input (or build it) before converting"
        )


def check_no_initial_state(layer, target):
    """Refuse a layer holding its own initial states (initial_state_rows) for a target without them."""
    if getattr(layer, "initial_state_rows", 0):
        raise ValueError(
            f"layer {layer.name!r}: initial_state_rows={layer.initial_state_rows} (initial states held "
            f"by the layer) has no {target} equivalent; ONNX export keeps them"
        )


def check_lstm_options(layer, target, peepholes=False):
    """Refuse an LSTM option `target` has no form for: proj_size (PyTorch alone has it), and
    peepholes unless `peepholes` (ONNX's input P has them; PyTorch and Keras do not)."""
    if getattr(layer, "proj_size", 0):
        raise ValueError(
            f"layer {layer.name!r}: proj_size={layer.proj_size} (a projected LSTM) has no {target} "
            "equivalent; to_torch keeps it"
        )
    if getattr(layer, "peepholes", False) and not peepholes:
        raise ValueError(f"layer {layer.name!r}: peepholes=True has no {target} equivalent; ONNX export keeps them")


def find_spec(module):
    """The import spec of a third-party module, or None when it is not installed (nothing imported)."""
    return importlib.util.find_spec(module)


def require(module, extra):
    """Import an optional dependency, or fail with the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"this conversion needs the {module} package: pip install rnnlab[{extra}]") from err
