"""Keras 3 `.weights.h5` files read and written with h5py alone (no Keras, no TensorFlow).

Keras 3 (`model.save_weights("m.weights.h5")`) stores a Sequential model's arrays by layer
class, numbered in order of appearance, never by the layers' own names:

    vars                                   (attribute name: the model's name)
    layers/lstm/vars                       (attribute name: the layer's name)
    layers/lstm/cell/vars/0, 1, 2          kernel W (D, 4H), recurrent_kernel U (H, 4H), bias b (4H,)
    layers/simple_rnn_1/cell/vars/0, 1, 2  the second SimpleRNN
    layers/gru/cell/vars/0, 1, 2           W (D, 3H), U (H, 3H), b (2, 3H) under reset_after, else (3H,)
    layers/lstm_1/cell/vars/0, 1           W, U only: a layer with use_bias=False
    layers/bidirectional/forward_layer/cell/vars/0..2, layers/bidirectional/backward_layer/cell/vars/0..2
    layers/dense/vars/0, 1                 kernel W (D, units), bias b (units,)
    layers/embedding/vars/0                embeddings E (input_dim, output_dim)
    layers/dropout/vars                    (no arrays)

The arrays are rnnlab's own (Keras 3's `layers/rnn/` cells: kernel, recurrent_kernel, bias), so
loading copies them. The file holds no architecture: load_weights fills a model built the same way in rnnlab
(use_bias included: a layer without a bias takes two arrays, one with a bias three; a file without
b loaded into a layer with one sets its b to zero, which computes what Keras computes).
"""

import copy
import io

import numpy as np

from ..io import atomic
from . import common

# rnnlab kind -> Keras' snake_case class name that numbers the groups
_GROUP = {
    "SimpleRNN": "simple_rnn",
    "LSTM": "lstm",
    "GRU": "gru",
    "Bidirectional": "bidirectional",
    "Dense": "dense",
    "Embedding": "embedding",
    "Dropout": "dropout",
    "Masking": "masking",
}
_CELL = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


def _h5py():
    return common.require("h5py", "keras")


def _group_names(layers):
    """Keras' group name for each layer: its class in snake_case, then _1, _2, ... for repeats."""
    seen, names = {}, []
    for layer in layers:
        base = _GROUP[common.kind_of(layer)]
        names.append(base if base not in seen else f"{base}_{seen[base] + 1}")
        seen[base] = seen.get(base, -1) + 1
    return names


def _var_paths(layer, group):
    """[(path of the vars group, [param keys in Keras order], owning rnnlab layer)] for one layer."""
    kind = common.kind_of(layer)
    if kind in ("SimpleRNN", "LSTM", "GRU"):
        common.check_lstm_options(layer, "Keras")
        return [(f"{group}/cell/vars", list(layer.weight_names), layer)]
    if kind == "Bidirectional":
        for sub in (layer.forward_layer, layer.backward_layer):
            common.check_lstm_options(sub, "Keras")
        return [
            (f"{group}/{side}_layer/cell/vars", list(sub.weight_names), sub)
            for side, sub in (("forward", layer.forward_layer), ("backward", layer.backward_layer))
        ]
    if kind == "Dense":
        return [(f"{group}/vars", ["W", "b"] if layer.use_bias else ["W"], layer)]
    if kind == "Embedding":
        return [(f"{group}/vars", ["E"], layer)]
    return []


def _layers(model):
    layers = common.flatten(model)
    for layer in layers:
        common.kind_of(layer)  # unsupported layers fail here, by name
    return layers


def _open(path):
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise
    except OSError as err:
        raise ValueError(f"{path!s} is not a readable HDF5 file: {err}") from err
    if "layers" not in f or not isinstance(f["layers"], h5py.Group):
        f.close()
        raise ValueError(
            f"{path!s} is not a Keras 3 .weights.h5 file: it has no 'layers' group "
            "(Keras 2 / tf.keras HDF5 files are not supported)"
        )
    return f


def _arrays(f, path, vars_path, limit=None):
    """The datasets 0, 1, ... under layers/<vars_path>, as arrays, in order.

    limit: the most values one dataset may hold, checked before anything is read.
    """
    h5py = _h5py()
    full = f"layers/{vars_path}"
    group = f.get(full)
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{path!s} has no group {full!r}; its layers are: {sorted(f['layers'].keys())}")
    keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if any(not k.isdigit() for k in keys) or keys != [str(k) for k in range(len(keys))]:
        raise ValueError(f"{path!s}: {full!r} expected datasets named 0, 1, ..., got {keys}")
    datasets = []
    for k in keys:
        ds = group[k]
        if not isinstance(ds, h5py.Dataset) or not np.issubdtype(ds.dtype, np.floating):
            raise ValueError(f"{path!s}: {full}/{k} expected a float dataset, got {ds!r}")
        if limit is not None and ds.size > limit:
            raise ValueError(
                f"{path!s}: {full}/{k} holds {ds.size} values {ds.shape}, more than the layer can take ({limit})"
            )
        datasets.append(ds)
    return [ds[()] for ds in datasets]


# the most values one dataset of an unbuilt layer may hold: 1 GiB of float32 (a built layer's own sizes bound it)
UNBUILT_LIMIT = 1 << 28


def read_weights(path):
    """{"lstm/cell": [arrays...], "dense": [...], ...}: every array group of a .weights.h5 file."""
    h5py = _h5py()
    found = {}
    with _open(path) as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and name.endswith("/vars") and len(obj):
                vars_path = name[len("layers/") :]
                found[vars_path[: -len("/vars")]] = _arrays(f, path, vars_path)

        f["layers"].visititems(lambda name, obj: visit(f"layers/{name}", obj))
    return found


def load_weights(model, path):
    """Copy the arrays of a Keras 3 .weights.h5 file into `model` (layer, Stack or Sequential); returns it.

    All or nothing: every array is read and tried on a copy of its layer first, so a file that
    does not fit leaves the model as it was.
    """
    layers = _layers(model)
    staged = []  # (owning layer, arrays) once every one of them has been tried
    used = set()
    with _open(path) as f:
        for layer, group in zip(layers, _group_names(layers)):
            for vars_path, keys, owner in _var_paths(layer, group):
                limit = max(p.size for p in owner.params.values()) if owner.built else UNBUILT_LIMIT
                arrays = _arrays(f, path, vars_path, limit)
                used.add(vars_path)
                recurrent = common.kind_of(owner) in ("SimpleRNN", "LSTM", "GRU")
                if recurrent and owner.use_bias and len(arrays) == 2:  # Keras' use_bias=False: b = 0
                    arrays.append(np.zeros(owner.bias_shape(), arrays[0].dtype))
                if len(arrays) != len(keys):
                    raise ValueError(
                        f"{path!s}: layers/{vars_path} holds {len(arrays)} arrays, layer "
                        f"{owner.name!r} expects {len(keys)} ({', '.join(keys)})"
                    )
                try:
                    copy.deepcopy(owner).set_weights(*arrays)  # its errors, without touching the model
                except ValueError as err:
                    raise ValueError(f"{path!s}: layers/{vars_path} does not fit layer {owner.name!r}: {err}") from err
                staged.append((owner, arrays))
    extra = sorted(set(read_weights(path)) - {p[: -len("/vars")] for p in used})
    if extra:
        raise ValueError(f"{path!s} holds weights the model has no layer for: {extra}")
    for owner, arrays in staged:
        owner.set_weights(*arrays)
    return model


def _write_group(f, path, name, arrays=()):
    group = f.create_group(path)
    group.attrs["name"] = name
    for k, a in enumerate(arrays):
        group[str(k)] = np.asarray(a)


def save_weights(model, path):
    """Write `model`'s weights as a Keras 3 .weights.h5 file (atomically); Keras' load_weights reads it."""
    h5py = _h5py()
    layers = _layers(model)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _write_group(f, "vars", getattr(model, "name", "sequential"))
        for layer, group in zip(layers, _group_names(layers)):
            kind = common.kind_of(layer)
            paths = _var_paths(layer, group)
            for _, _, owner in paths:
                common.check_built(owner)
                common.check_no_initial_state(owner, "Keras weights file")
            if kind in ("Dense", "Embedding"):  # arrays of the layer itself
                ((vars_path, keys, _),) = paths
                _write_group(f, f"layers/{vars_path}", layer.name, [layer.params[k] for k in keys])
                continue
            _write_group(f, f"layers/{group}/vars", layer.name)  # recurrent layers keep their arrays in the cell
            for vars_path, keys, owner in paths:
                if kind == "Bidirectional":
                    _write_group(f, f"layers/{vars_path[: -len('/cell/vars')]}/vars", owner.name)
                _write_group(f, f"layers/{vars_path}", _CELL[common.kind_of(owner)], [owner.params[k] for k in keys])
    atomic.write_bytes(path, buffer.getvalue())
