"""Keras 3 layers and Sequential models to rnnlab and back.

Keras and rnnlab store the same arrays (Keras 3's `layers/rnn/` cells): kernel = W (D, G·H),
recurrent_kernel = U (H, G·H), bias = b (G·H,), LSTM gate blocks i, f, c, o in both, GRU
blocks z, r, h in both and the GRU's bias (2, 3H) under reset_after (input bias, recurrent bias)
in both, so conversion copies arrays and maps arguments. Two behaviours to know:

- unit_forget_bias is an initialisation rule only (Keras' code *sets* the forget block of the
  bias to 1, whatever its docstring says): converted weights are copied as they are, never reset.
- at a masked step rnnlab outputs zero; Keras does that with zero_output_for_mask=True (the
  default inside Bidirectional with return_sequences), otherwise it repeats the last output.
  to_keras sets zero_output_for_mask=True with return_sequences, so both agree under masks. Without
  return_sequences it is left False: with it Keras' last output of a right-padded sequence is that
  zero, where rnnlab's (and Keras' default) is h of the last real step.

Keras runs on any backend; without TensorFlow set KERAS_BACKEND (e.g. "torch") before import.
"""
import numpy as np

from . import common

_RNN_ACTIVATIONS = ("tanh", "sigmoid", "hard_sigmoid", "relu", "linear")
_DENSE_ACTIVATIONS = _RNN_ACTIVATIONS + ("softmax",)


def _keras():
    try:
        import keras
    except ImportError as err:
        raise ImportError("Keras conversion needs keras 3 (pip install keras) and a backend; without TensorFlow "
                          f"set KERAS_BACKEND, e.g. to 'torch' ({err})") from err
    return keras


# ---- Keras -> rnnlab -------------------------------------------------------------------------------
def _activation(layer, key, allowed):
    value = layer.get_config()[key]
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"Keras layer {layer.name!r}: {key} {value!r} has no rnnlab equivalent; "
                         f"expected one of {list(allowed)}")
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
        raise ValueError(f"Keras layer {layer.name!r}: expected {' or '.join(map(str, expected))} weight arrays, "
                         f"got {len(weights)}")
    return weights


def _recurrent_from_keras(layer, cls_name):
    config = layer.get_config()
    kwargs = dict(activation=_activation(layer, "activation", _RNN_ACTIVATIONS),
                  return_sequences=config["return_sequences"], return_state=config["return_state"],
                  go_backwards=config["go_backwards"], stateful=config["stateful"], dropout=config["dropout"],
                  recurrent_dropout=config["recurrent_dropout"], dtype=_dtype(layer), name=layer.name)
    if cls_name in ("LSTM", "GRU"):
        kwargs.update(recurrent_activation=_activation(layer, "recurrent_activation", _RNN_ACTIVATIONS))
    if cls_name == "LSTM":
        kwargs.update(unit_forget_bias=config["unit_forget_bias"])
    if cls_name == "GRU":
        kwargs.update(reset_after=config["reset_after"])
    ours = common.layer_class(cls_name)(config["units"], **kwargs)
    weights = _weights(layer, (2, 3))
    W, U = weights[:2]
    # use_bias=False: b = 0, of the shape the layer keeps ((2, 3H) for a GRU with reset_after)
    b = weights[2] if len(weights) == 3 else np.zeros(ours.param_shapes(W.shape[0])["b"], W.dtype)
    return ours.set_weights(W, U, b)


def _layer_from_keras(layer, keras):
    L = keras.layers
    if type(layer) in (L.SimpleRNN, L.LSTM, L.GRU):
        return _recurrent_from_keras(layer, type(layer).__name__)
    if type(layer) is L.Bidirectional:
        fw, bw = (_layer_from_keras(sub, keras) for sub in (layer.forward_layer, layer.backward_layer))
        return common.layer_class("Bidirectional")(fw, merge_mode=layer.merge_mode, backward_layer=bw,
                                                    name=layer.name)
    if type(layer) is L.Dense:
        weights = _weights(layer, (1, 2))
        activation = _activation(layer, "activation", _DENSE_ACTIVATIONS)
        ours = common.layer_class("Dense")(layer.units, activation=activation, use_bias=len(weights) == 2,
                                            dtype=_dtype(layer), name=layer.name)
        return ours.set_weights(*weights)
    if type(layer) is L.Embedding:
        (E,) = _weights(layer, (1,))
        ours = common.layer_class("Embedding")(layer.input_dim, layer.output_dim, mask_zero=layer.mask_zero,
                                                dtype=_dtype(layer), name=layer.name)
        return ours.set_weights(E)
    if type(layer) is L.Dropout:
        return common.layer_class("Dropout")(layer.rate, name=layer.name)
    if type(layer) is L.Masking:
        return common.layer_class("Masking")(float(layer.mask_value), dtype=_dtype(layer), name=layer.name)
    raise ValueError(f"Keras layer {layer.name!r} of type {type(layer).__name__} is not supported; expected "
                     "SimpleRNN, LSTM, GRU, Bidirectional, Dense, Embedding, Dropout or Masking")


def from_keras(obj):
    """A Keras 3 layer or Sequential model as the equivalent rnnlab layer or Sequential, weights copied."""
    keras = _keras()
    if isinstance(obj, keras.Sequential):
        layers = [_layer_from_keras(layer, keras) for layer in obj.layers]
        if not layers:
            raise ValueError(f"Keras model {obj.name!r} has no layers")
        return common.layer_class("Sequential")(layers, name=obj.name)
    if isinstance(obj, keras.Model):
        raise ValueError(f"Keras model {obj.name!r} of type {type(obj).__name__} is not supported; "
                         "expected a Sequential model or a single layer")
    return _layer_from_keras(obj, keras)


# ---- rnnlab -> Keras -------------------------------------------------------------------------------
def _recurrent_to_keras(layer, keras):
    common.check_built(layer)
    kwargs = dict(activation=layer.activation, return_sequences=layer.return_sequences,
                  return_state=layer.return_state, go_backwards=layer.go_backwards, stateful=layer.stateful,
                  dropout=layer.dropout, recurrent_dropout=layer.recurrent_dropout,
                  zero_output_for_mask=layer.return_sequences,
                  dtype=np.dtype(layer.dtype).name, name=layer.name)
    if common.kind_of(layer) == "LSTM":
        out = keras.layers.LSTM(layer.units, recurrent_activation=layer.recurrent_activation,
                                unit_forget_bias=layer.unit_forget_bias, **kwargs)
    elif common.kind_of(layer) == "GRU":
        out = keras.layers.GRU(layer.units, recurrent_activation=layer.recurrent_activation,
                               reset_after=layer.reset_after, **kwargs)
    else:
        out = keras.layers.SimpleRNN(layer.units, **kwargs)
    return out, (None, None, layer.input_dim)


def _layer_to_keras(layer, keras):
    """(Keras layer, its input shape) with rnnlab's weights set."""
    kind = common.kind_of(layer)
    if kind in ("SimpleRNN", "LSTM", "GRU"):
        out, shape = _recurrent_to_keras(layer, keras)
        out.build(shape)
        out.set_weights([layer.params[k] for k in ("W", "U", "b")])
        return out, shape
    if kind == "Bidirectional":
        (fw, shape), (bw, _) = (_recurrent_to_keras(sub, keras) for sub in (layer.forward_layer, layer.backward_layer))
        out = keras.layers.Bidirectional(fw, merge_mode=layer.merge_mode, backward_layer=bw, name=layer.name)
        out.build(shape)
        for sub, ours in ((out.forward_layer, layer.forward_layer), (out.backward_layer, layer.backward_layer)):
            sub.set_weights([ours.params[k] for k in ("W", "U", "b")])
        return out, shape
    if kind == "Dense":
        common.check_built(layer)
        out = keras.layers.Dense(layer.units, activation=layer.activation, use_bias=layer.use_bias,
                                 dtype=np.dtype(layer.dtype).name, name=layer.name)
        out.build((None, layer.input_dim))
        out.set_weights([layer.params[k] for k in ("W", "b") if k in layer.params])
        return out, (None, None, layer.input_dim)
    if kind == "Embedding":
        common.check_built(layer)
        out = keras.layers.Embedding(layer.input_dim, layer.output_dim, mask_zero=layer.mask_zero,
                                     dtype=np.dtype(layer.dtype).name, name=layer.name)
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
