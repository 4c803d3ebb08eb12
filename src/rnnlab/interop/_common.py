"""What the converters share: a model seen as a flat list of layers, and weight re-layouts.

rnnlab keeps W (D, G·H), U (H, G·H), b (G·H,) with the LSTM gate blocks in the order
i, f, C̃, o (G = 4; G = 1 for SimpleRNN). ONNX keeps W [G·H, D], R [G·H, H] per direction
with the blocks in the order i, o, f, c (reference/weight-layouts.md).
"""
import importlib
import os
import tempfile

import numpy as np

from .. import nn

# position k of the ONNX order (i, o, f, c) holds rnnlab block ONNX_FROM_RNNLAB[k] of (i, f, C̃, o)
ONNX_FROM_RNNLAB = (0, 3, 1, 2)
# position k of the rnnlab order (i, f, C̃, o) holds ONNX block RNNLAB_FROM_ONNX[k] of (i, o, f, c)
RNNLAB_FROM_ONNX = (0, 2, 3, 1)


def reorder_blocks(a, order, axis=-1):
    """Split `a` into len(order) equal blocks along `axis` and put them in `order`."""
    blocks = np.split(a, len(order), axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


# the classes the converters know, by the module that defines each
_MODULES = {"SimpleRNN": "rnnlab.nn.simple_rnn", "LSTM": "rnnlab.nn.lstm", "Bidirectional": "rnnlab.nn.bidirectional",
            "Dense": "rnnlab.nn.dense", "Embedding": "rnnlab.nn.embedding", "Dropout": "rnnlab.nn.dropout",
            "Masking": "rnnlab.nn.masking", "Stack": "rnnlab.nn.stack", "Sequential": "rnnlab.train.model"}
LAYER_KINDS = ("SimpleRNN", "LSTM", "Bidirectional", "Dense", "Embedding", "Dropout", "Masking")


def layer_class(name):
    """The rnnlab class called `name` (see _MODULES)."""
    return getattr(importlib.import_module(_MODULES[name]), name)


def kind_of(layer):
    """The converter's name for a layer: one of LAYER_KINDS, or Stack."""
    if isinstance(layer, nn.Stack):  # Sequential too
        return "Stack"
    for name in LAYER_KINDS:
        if type(layer) is layer_class(name):
            return name
    raise ValueError(f"unsupported layer {type(layer).__name__} ({getattr(layer, 'name', '?')!r}): "
                     "expected SimpleRNN, LSTM, Bidirectional, Dense, Embedding, Dropout, Masking or a stack of them")


def flatten(model):
    """[layer, ...] in the order data flows; stacks (Sequential too) are opened, nested ones as well."""
    if isinstance(model, (list, tuple)):
        return [leaf for layer in model for leaf in flatten(layer)]
    if kind_of(model) == "Stack":
        return flatten(model.layers)
    return [model]


def check_built(layer):
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} is not built: call the model on an input (or build it) "
                         "before converting")


def require(module, extra):
    """Import an optional dependency, or fail with the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"this conversion needs the {module} package: pip install rnnlab[{extra}]") from err


def write_atomic(path, data):
    """Write bytes to path through a temporary file in the same folder, then rename."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
