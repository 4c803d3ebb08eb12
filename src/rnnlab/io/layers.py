"""Layers to and from JSON configs; only the registered cells and the classes listed here can be built from a file."""

import inspect

from ..nn.bidirectional import Bidirectional
from ..nn.cells import cell_classes
from ..nn.dense import Dense
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.masking import Masking
from ..nn.recurrent import Recurrent
from .archive import FormatError

OTHER_CLASSES = (Dense, Embedding, Dropout, Masking)  # besides the recurrent cells and Bidirectional
_SCALARS = (str, int, float, bool, type(None))


def classes():
    """{class name: class} of the layers a file may name: the registered cells, then the others."""
    return {cls.__name__: cls for cls in cell_classes() + OTHER_CLASSES}


def layer_config(layer):
    """{"class_name": ..., "config": {...}}; a Bidirectional also holds its two layers."""
    name = type(layer).__name__
    if isinstance(layer, Bidirectional):
        return {
            "class_name": "Bidirectional",
            "config": layer.get_config(),
            "layer": layer_config(layer.forward_layer),
            "backward_layer": layer_config(layer.backward_layer),
        }
    known = classes()
    if known.get(name) is not type(layer):
        raise TypeError(f"save expected layers among {sorted(known) + ['Bidirectional']}, got {name}")
    return {"class_name": name, "config": layer.get_config()}


def _arguments(cls):
    """Keyword names cls accepts, following **kwargs up the class chain."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def layer_from_config(entry):
    """The unbuilt layer an entry describes; FormatError for anything not listed or malformed."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise FormatError(f"layer entry expected {{'class_name', 'config'}}, got {entry!r}")
    name, config = entry.get("class_name"), entry["config"]
    bad = {k: v for k, v in config.items() if not isinstance(k, str) or not isinstance(v, _SCALARS)}
    if bad:
        raise FormatError(f"layer {name!r} config holds non-scalar values {bad!r}")
    try:
        if name == "Bidirectional":
            unknown = set(config) - (_arguments(Bidirectional) - {"layer", "backward_layer"})
            if unknown:
                raise FormatError(f"Bidirectional config has unexpected keys {sorted(unknown)}")
            layers = [layer_from_config(entry.get(key)) for key in ("layer", "backward_layer")]
            return Bidirectional(layers[0], backward_layer=layers[1], **config)
        known = classes()
        if name not in known:
            raise FormatError(f"layer class expected one of {sorted(known) + ['Bidirectional']}, got {name!r}")
        unknown = set(config) - _arguments(known[name])
        if unknown:
            raise FormatError(f"layer {name} config has unexpected keys {sorted(unknown)}")
        return known[name](**config)
    except (TypeError, ValueError) as err:
        if isinstance(err, FormatError):
            raise
        raise FormatError(f"layer {name} config {config!r} is invalid: {err}") from None


def _expected_shapes(layer, arrays):
    """Parameter shapes the layer's config implies, so nothing oversized is allocated for a bad file."""
    if isinstance(layer, Embedding):
        return {"E": (layer.input_dim, layer.output_dim)}
    W = arrays.get("W")
    if W is None or W.ndim != 2:
        return None
    if isinstance(layer, Recurrent):
        return layer.param_shapes(W.shape[0])
    if isinstance(layer, Dense):
        return {"W": (W.shape[0], layer.units), **({"b": (layer.units,)} if layer.use_bias else {})}
    return None


def build_from_arrays(layer, arrays, where):
    """Create layer's weights from arrays {"W": ..., ...} (same keys, shapes and dtype), then copy them in."""
    if not arrays:
        return
    expected = _expected_shapes(layer, arrays)
    got = {k: a.shape for k, a in arrays.items()}
    if expected != got:
        raise FormatError(f"layer {where} ({type(layer).__name__}) expected arrays {expected}, got {got}")
    if "W" in arrays:
        layer.build(arrays["W"].shape[0])
    else:
        layer.build()
    params = layer.params
    for key, a in arrays.items():
        if a.dtype != params[key].dtype:
            raise FormatError(f"layer {where} expected {key} of dtype {params[key].dtype}, got {a.dtype}")
        params[key][...] = a
