"""Keras 3 layers and Sequential models to rnnlab and back.

Keras and rnnlab store the same arrays (Keras 3's `layers/rnn/` cells): kernel = W (D, G·H),
recurrent_kernel = U (H, G·H), bias = b (G·H,), LSTM gate blocks i, f, c, o in both, GRU
blocks z, r, h in both and the GRU's bias (2, 3H) under reset_after (input bias, recurrent bias)
in both, so conversion copies arrays and maps arguments. Two behaviours to know:

- unit_forget_bias is an initialisation rule only (Keras' code *sets* the forget block of the
  bias to 1, whatever its docstring says): converted weights are copied as they are, never reset.
- zero_output_for_mask has Keras' meaning on both sides (nn/recurrent.py) and is carried both
  ways; rnnlab's default None is Keras' Bidirectional rule (True with return_sequences, else
  False). Keras' Bidirectional forces that rule on its two layers: a rnnlab Bidirectional whose
  layers say otherwise is refused by to_keras.
- stateful layers: the state a layer carries (Keras' `states` variables, rnnlab's reset_state)
  is copied both ways; a stateful Keras layer needs its batch size, the carried state's.
- unroll is Keras' speed option; rnnlab ignores it.
- use_bias=False is carried both ways: neither side holds a bias array (a GRU then has neither
  b nor b', in both reset_after forms, as Keras' GRUCell), and unit_forget_bias sets nothing.
- activations: Keras' names that rnnlab has, with the same functions (kernels/activations.py:
  hard_sigmoid is Keras 3's relu6(z + 3) / 6); any other is refused by name.

Keras runs on any backend. When KERAS_BACKEND is unset and Keras is not imported yet, the
converters pick an installed backend (Keras' configured one if installed, else tensorflow, jax,
torch or numpy, in that order), set the variable and say which with a warning. Keras imported
with a backend that cannot run gives an error naming KERAS_BACKEND.
"""

import json
import os
import sys
import warnings

import numpy as np

from . import common

_RNN_ACTIVATIONS = ("tanh", "sigmoid", "hard_sigmoid", "softsign", "relu", "linear")
_DENSE_ACTIVATIONS = _RNN_ACTIVATIONS + ("softmax",)


_BACKENDS = ("tensorflow", "jax", "torch", "numpy")  # the order an unset KERAS_BACKEND is filled in


def _installed(module):
    try:
        return common.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _configured_backend():
    """The backend Keras' config file names (Keras reads it when KERAS_BACKEND is unset), else tensorflow."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def choose_backend():
    """Fill in an unset KERAS_BACKEND before Keras is imported: the configured backend when installed,
    else the first installed of tensorflow, jax, torch, numpy. Returns the backend chosen, or None
    when nothing was changed (the variable set, or Keras imported already)."""
    if os.environ.get("KERAS_BACKEND") or "keras" in sys.modules:
        return None
    configured = _configured_backend()
    for name in (configured,) + _BACKENDS:
        if name in _BACKENDS and _installed(name):
            if name != configured:
                os.environ["KERAS_BACKEND"] = name
                warnings.warn(
                    f"rnnlab: KERAS_BACKEND is unset and Keras' backend {configured!r} is not installed; "
                    f"using {name!r} (set KERAS_BACKEND to choose)",
                    stacklevel=3,
                )
            return name
    return None


def _keras():
    chosen = choose_backend()
    try:
        keras = common.require("keras", "keras")
    except ImportError as err:
        raise ImportError(
            f"Keras conversion needs keras 3 (pip install keras) and one of its backends "
            f"({', '.join(_BACKENDS)}) installed; KERAS_BACKEND names the one to use "
            f"(now {os.environ.get('KERAS_BACKEND')!r}{', chosen by rnnlab' if chosen else ''}): "
            f"{err}"
        ) from err
    try:
        backend = keras.backend.backend()
    except Exception as err:  # noqa: BLE001 - a half-imported Keras
        raise ImportError(
            f"Keras is imported but has no usable backend; set KERAS_BACKEND (one of "
            f"{', '.join(_BACKENDS)}) before Keras is first imported ({err})"
        ) from err
    if backend not in _BACKENDS or not _installed(backend):
        raise ImportError(
            f"Keras is imported with backend {backend!r}, which cannot run here; set KERAS_BACKEND "
            f"(one of the installed: {', '.join(b for b in _BACKENDS if _installed(b)) or 'none'}) "
            "before Keras is first imported"
        )
    return keras


# ---- Keras -> rnnlab -------------------------------------------------------------------------------
def _activation(layer, key, allowed):
    value = layer.get_config()[key]
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"Keras layer {layer.name!r}: {key} {value!r} has no rnnlab equivalent; expected one of {list(allowed)}"
        )
    return value


def _dtype(layer):
    name = layer.dtype
    if name not in ("float32", "float64"):
        raise ValueError(f"Keras layer {layer.name!r}: dtype {name!r} is not supported; expected float32 or float64")
    return name


def _weights(layer, expected):
    if not layer.built:
        raise ValueError(f"Keras layer {layer.name!r} is not built: call it on an input (or build it) first")
    weights = [np.asarray(w) for w in layer.get_weights()]
    if len(weights) not in expected:
        raise ValueError(
            f"Keras layer {layer.name!r}: expected {' or '.join(map(str, expected))} weight arrays, got {len(weights)}"
        )
    return weights


def _recurrent_from_keras(layer, cls_name):
    config = layer.get_config()
    kwargs = dict(
        activation=_activation(layer, "activation", _RNN_ACTIVATIONS),
        return_sequences=config["return_sequences"],
        return_state=config["return_state"],
        go_backwards=config["go_backwards"],
        stateful=config["stateful"],
        use_bias=bool(config.get("use_bias", True)),
        dropout=config["dropout"],
        recurrent_dropout=config["recurrent_dropout"],
        dtype=_dtype(layer),
        name=layer.name,
    )
    if cls_name in ("LSTM", "GRU"):
        kwargs.update(recurrent_activation=_activation(layer, "recurrent_activation", _RNN_ACTIVATIONS))
    if cls_name == "LSTM":
        kwargs.update(unit_forget_bias=config["unit_forget_bias"])
    if cls_name == "GRU":
        kwargs.update(reset_after=config["reset_after"])
    kwargs.update(zero_output_for_mask=bool(config.get("zero_output_for_mask", False)))  # unroll: speed only
    ours = common.layer_class(cls_name)(config["units"], **kwargs)
    weights = _weights(layer, (3,) if ours.use_bias else (2,))
    ours.set_weights(*weights)
    if config["stateful"] and getattr(layer, "states", None) is not None:  # the state it carries
        ours.reset_state([np.asarray(_value(v), dtype=ours.dtype) for v in layer.states])
    return ours


def _value(variable):
    value = getattr(variable, "value", variable)
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _layer_from_keras(layer, keras):
    L = keras.layers
    if type(layer) in (L.SimpleRNN, L.LSTM, L.GRU):
        return _recurrent_from_keras(layer, type(layer).__name__)
    if type(layer) is L.Bidirectional:
        fw, bw = (_layer_from_keras(sub, keras) for sub in (layer.forward_layer, layer.backward_layer))
        return common.layer_class("Bidirectional")(fw, merge_mode=layer.merge_mode, backward_layer=bw, name=layer.name)
    if type(layer) is L.Dense:
        weights = _weights(layer, (1, 2))
        activation = _activation(layer, "activation", _DENSE_ACTIVATIONS)
        ours = common.layer_class("Dense")(
            layer.units, activation=activation, use_bias=len(weights) == 2, dtype=_dtype(layer), name=layer.name
        )
        return ours.set_weights(*weights)
    if type(layer) is L.Embedding:
        (E,) = _weights(layer, (1,))
        ours = common.layer_class("Embedding")(
            layer.input_dim, layer.output_dim, mask_zero=layer.mask_zero, dtype=_dtype(layer), name=layer.name
        )
        return ours.set_weights(E)
    if type(layer) is L.Dropout:
        return common.layer_class("Dropout")(layer.rate, name=layer.name)
    if type(layer) is L.Masking:
        return common.layer_class("Masking")(float(layer.mask_value), dtype=_dtype(layer), name=layer.name)
    raise ValueError(
        f"Keras layer {layer.name!r} of type {type(layer).__name__} is not supported; expected "
        "SimpleRNN, LSTM, GRU, Bidirectional, Dense, Embedding, Dropout or Masking"
    )


def from_keras(obj):
    """A Keras 3 layer or Sequential model as the equivalent rnnlab layer or Sequential, weights copied."""
    keras = _keras()
    if isinstance(obj, keras.Sequential):
        layers = [_layer_from_keras(layer, keras) for layer in obj.layers]
        if not layers:
            raise ValueError(f"Keras model {obj.name!r} has no layers")
        return common.layer_class("Sequential")(layers, name=obj.name)
    if isinstance(obj, keras.Model):
        raise ValueError(
            f"Keras model {obj.name!r} of type {type(obj).__name__} is not supported; "
            "expected a Sequential model or a single layer"
        )
    return _layer_from_keras(obj, keras)


# ---- rnnlab -> Keras -------------------------------------------------------------------------------
def _recurrent_to_keras(layer, keras):
    common.check_built(layer)
    common.check_no_initial_state(layer, "Keras")
    common.check_lstm_options(layer, "Keras")
    kwargs = dict(
        activation=layer.activation,
        return_sequences=layer.return_sequences,
        return_state=layer.return_state,
        go_backwards=layer.go_backwards,
        stateful=layer.stateful,
        use_bias=layer.use_bias,
        dropout=layer.dropout,
        recurrent_dropout=layer.recurrent_dropout,
        zero_output_for_mask=layer.zeros_masked_output,
        dtype=np.dtype(layer.dtype).name,
        name=layer.name,
    )
    if common.kind_of(layer) == "LSTM":
        out = keras.layers.LSTM(
            layer.units,
            recurrent_activation=layer.recurrent_activation,
            unit_forget_bias=layer.unit_forget_bias,
            **kwargs,
        )
    elif common.kind_of(layer) == "GRU":
        out = keras.layers.GRU(
            layer.units, recurrent_activation=layer.recurrent_activation, reset_after=layer.reset_after, **kwargs
        )
    else:
        out = keras.layers.SimpleRNN(layer.units, **kwargs)
    batch = None
    if layer.stateful:  # Keras' stateful layers need their batch size: the carried state's
        if layer._carry is None:
            raise ValueError(
                f"layer {layer.name!r}: stateful=True holds no state yet, so its batch size is unknown; "
                "call it once (or reset_state(states)) before to_keras"
            )
        batch = layer._carry[0].shape[0]
    return out, (batch, None, layer.input_dim)


def _set_state(out, layer):
    """A stateful Keras layer carries rnnlab's state."""
    if layer.stateful and layer._carry is not None:
        for variable, value in zip(out.states, layer._carry):
            variable.assign(np.asarray(value))


def _layer_to_keras(layer, keras):
    """(Keras layer, its input shape) with rnnlab's weights set."""
    kind = common.kind_of(layer)
    if kind in ("SimpleRNN", "LSTM", "GRU"):
        out, shape = _recurrent_to_keras(layer, keras)
        out.build(shape)
        out.set_weights([layer.params[k] for k in layer.weight_names])
        _set_state(out, layer)
        return out, shape
    if kind == "Bidirectional":
        for sub in (layer.forward_layer, layer.backward_layer):
            if sub.zeros_masked_output != sub.return_sequences:
                raise ValueError(
                    f"layer {sub.name!r}: zero_output_for_mask={sub.zero_output_for_mask} inside "
                    f"Bidirectional {layer.name!r}; Keras' Bidirectional forces it to return_sequences "
                    f"({sub.return_sequences})"
                )
        (fw, shape), (bw, _) = (_recurrent_to_keras(sub, keras) for sub in (layer.forward_layer, layer.backward_layer))
        out = keras.layers.Bidirectional(fw, merge_mode=layer.merge_mode, backward_layer=bw, name=layer.name)
        out.build(shape)
        for sub, ours in ((out.forward_layer, layer.forward_layer), (out.backward_layer, layer.backward_layer)):
            sub.set_weights([ours.params[k] for k in ours.weight_names])
            _set_state(sub, ours)
        return out, shape
    if kind == "Dense":
        common.check_built(layer)
        out = keras.layers.Dense(
            layer.units,
            activation=layer.activation,
            use_bias=layer.use_bias,
            dtype=np.dtype(layer.dtype).name,
            name=layer.name,
        )
        out.build((None, layer.input_dim))
        out.set_weights([layer.params[k] for k in ("W", "b") if k in layer.params])
        return out, (None, None, layer.input_dim)
    if kind == "Embedding":
        common.check_built(layer)
        out = keras.layers.Embedding(
            layer.input_dim,
            layer.output_dim,
            mask_zero=layer.mask_zero,
            dtype=np.dtype(layer.dtype).name,
            name=layer.name,
        )
        out.build((None, None))
        out.set_weights([layer.params["E"]])
        return out, (None, None)
    if kind == "Dropout":
        return keras.layers.Dropout(layer.rate, name=layer.name), None
    if kind == "Masking":  # the shape of its input is not known here: it comes from the next layer
        return keras.layers.Masking(layer.mask_value, dtype=np.dtype(layer.dtype).name, name=layer.name), None
    raise ValueError(f"layer {layer.name!r}: {kind} is not supported by to_keras")


def to_keras(obj):
    """An rnnlab layer, Stack or Sequential as a Keras 3 layer or Sequential model, weights copied."""
    keras = _keras()
    if common.kind_of(obj) != "Stack":
        return _layer_to_keras(obj, keras)[0]
    layers = common.flatten(obj)
    for layer in layers:
        if getattr(layer, "return_state", False):
            raise ValueError(f"layer {layer.name!r}: return_state is not supported inside a Keras Sequential")
    converted = [_layer_to_keras(layer, keras) for layer in layers]
    seen = {}
    for layer, _ in converted:  # Keras wants distinct names within a model: lstm, lstm_1, ...
        n = seen.get(layer.name, 0)
        seen[layer.name] = n + 1
        if n:
            layer.name = f"{layer.name}_{n}"
    shape = next((shape for _, shape in converted if shape is not None), None)  # Dropout, Masking: the next one's
    if shape is None:
        raise ValueError("to_keras expected a model with a layer besides Dropout and Masking")
    inputs = keras.Input(batch_shape=shape, dtype="int64" if len(shape) == 2 else np.dtype(obj.dtype).name)
    return keras.Sequential([inputs] + [layer for layer, _ in converted], name=obj.name)
