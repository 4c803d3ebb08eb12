"""ONNX RNN, LSTM and GRU nodes back into rnnlab layers (used through rnnlab.interop.onnx)."""

import json

import numpy as np

from .. import nn
from . import common

# ONNX activation (name, alpha, beta) -> rnnlab name; alpha/beta None where the function takes none
_ACTIVATIONS = {
    ("Tanh", None, None): "tanh",
    ("Sigmoid", None, None): "sigmoid",
    ("Relu", None, None): "relu",
    ("HardSigmoid", 1.0 / 6.0, 0.5): "hard_sigmoid",
    ("Softsign", None, None): "softsign",
    ("Affine", 1.0, 0.0): "linear",
}
# ONNX defaults of the functions that take alpha and beta (operator specs)
_DEFAULT_ALPHA_BETA = {
    "Affine": (1.0, 0.0),
    "LeakyRelu": (0.01, None),
    "ThresholdedRelu": (1.0, None),
    "ScaledTanh": (1.0, 1.0),
    "HardSigmoid": (0.2, 0.5),
    "Elu": (1.0, None),
}
_DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # blocks of W, R and of each half of B


def read_model(path):
    """onnx.ModelProto from path, checked; a clear ValueError when the file is not a valid model."""
    onnx = common.require("onnx", "onnx")
    with open(path, "rb") as f:  # FileNotFoundError names the path
        data = f.read()
    try:
        model = onnx.load_model_from_string(data)
        onnx.checker.check_model(model)
    except Exception as err:  # protobuf DecodeError, ValidationError: both mean a malformed file
        raise ValueError(f"{path!s} is not a valid ONNX model: {type(err).__name__}: {err}") from err
    return model


def _constants(graph):
    """{name: array} of the initializers and Constant nodes; graph inputs are not constants (an
    initializer of the same name as a graph input is only its default, which the caller may override).

    Also {name: array} under "__expanded__" for Expand nodes of a constant whose batch axis (1) has
    length 1: a state broadcast to whatever batch comes.
    """
    onnx = common.require("onnx", "onnx")
    inputs = {i.name for i in graph.input}
    values = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer if t.name not in inputs}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = onnx.numpy_helper.to_array(node.attribute[0].t)
    expanded = {}
    for node in graph.node:
        if node.op_type == "Expand" and node.input[0] in values:
            a = values[node.input[0]]
            if a.ndim == 3 and a.shape[1] == 1:
                expanded[node.output[0]] = a
    values["__expanded__"] = expanded
    return values


def _sources(graph):
    """{tensor name: where it comes from} for a message: graph inputs and node outputs."""
    where = {i.name: "a graph input" for i in graph.input}
    for node in graph.node:
        for out in node.output:
            where[out] = f"computed in the graph by {node.op_type} node {node.name!r}"
    return where


def _time_length(graph, name):
    """The static time length (axis 0) of graph input `name`, or None."""
    for i in graph.input:
        if i.name == name:
            dims = i.type.tensor_type.shape.dim
            if dims and dims[0].HasField("dim_value"):
                return dims[0].dim_value
    return None


def _activation(node, name, alpha, beta):
    for (n, a, b), ours in _ACTIVATIONS.items():
        if n == name and (a is None or abs(a - alpha) < 1e-6) and (b is None or abs(b - beta) < 1e-6):
            return ours
    raise ValueError(
        f"{node.op_type} node {node.name!r}: activation {name}(alpha={alpha}, beta={beta}) has no "
        "rnnlab equivalent; expected Tanh, Sigmoid, Relu, Softsign, HardSigmoid(1/6, 0.5) or Affine(1, 0)"
    )


def _activations(node, attrs, dirs):
    """[rnnlab activation names] per direction, alpha and beta consumed by the functions that take them."""
    names = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    per = len(_DEFAULT_ACTIVATIONS[node.op_type])
    names = names or _DEFAULT_ACTIVATIONS[node.op_type] * dirs
    if len(names) != per * dirs:
        raise ValueError(f"{node.op_type} node {node.name!r}: expected {per * dirs} activations, got {names}")
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    out = []
    for name in names:
        if name in _DEFAULT_ALPHA_BETA:
            a, b = _DEFAULT_ALPHA_BETA[name]
            a = alphas.pop(0) if alphas else a
            b = (betas.pop(0) if betas else b) if b is not None else None
            out.append(_activation(node, name, a, b))
        else:
            out.append(_activation(node, name, None, None))
    return [out[d * per : (d + 1) * per] for d in range(dirs)]


def _initial_states(node, inputs, consts, sources, G):
    """The constant initial states of a node as [(rows, H) arrays per state] per direction, or None.

    A constant [dirs, B, H] (an initializer, a Constant node, or an Expand of a [dirs, 1, H]
    constant) becomes B rows, or one row when all B are equal; a state given as a graph input
    stays an input (pass it as initial_state); anything else is refused by name.
    """
    slots = [(5, "initial_h")] + ([(6, "initial_c")] if G == 4 else [])
    found = []
    for k, what in slots:
        name = inputs[k]
        if not name:
            found.append(None)
        elif name in consts:
            found.append(np.asarray(consts[name]))
        elif name in consts["__expanded__"]:
            found.append(np.asarray(consts["__expanded__"][name]))
        elif sources.get(name) == "a graph input":
            found.append("input")
        else:
            raise ValueError(
                f"{node.op_type} node {node.name!r}: {what} ({name!r}) is "
                f"{sources.get(name, 'not defined in the graph')}; rnnlab reads initial states that "
                "are constants (initializers, Constant nodes, Expand of a constant) or graph inputs "
                "(pass those as initial_state)"
            )
    if all(f is None or isinstance(f, str) for f in found):
        return None
    if any(isinstance(f, str) for f in found):
        raise ValueError(
            f"{node.op_type} node {node.name!r}: initial_h and initial_c are one a constant, the other "
            "a graph input; rnnlab holds constant initial states or takes them all as initial_state"
        )
    return found


def parse_node(node, consts, graph=None, lengths_from_layers=False):
    """RNN/LSTM/GRU node -> (layer class, direction, [{W, U, b, activations, ...} per direction]) in rnnlab layout.

    A GRU's blocks z, r, h are rnnlab's; linear_before_reset=1 gives reset_after=True with b = [Wb, Rb]
    (2, 3H), linear_before_reset=0 reset_after=False with b = Wb + Rb (both enter outside r ⊙ ·).
    A node without B (ONNX: a zero bias) gives b None: a layer with use_bias=False.
    """
    onnx = common.require("onnx", "onnx")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if "clip" in attrs:
        raise ValueError(
            f"{node.op_type} node {node.name!r}: attribute 'clip' (cell clipping) is not supported by rnnlab"
        )
    if attrs.get("input_forget", 0):
        raise ValueError(f"LSTM node {node.name!r}: input_forget=1 (coupled gates) is not supported by rnnlab")
    inputs = list(node.input) + [""] * 8
    sources = _sources(graph) if graph is not None else {}

    def const(k, what):
        if inputs[k] and inputs[k] not in consts:
            where = sources.get(inputs[k], "not a constant of the graph")
            raise ValueError(
                f"{node.op_type} node {node.name!r}: {what} ({inputs[k]!r}) is {where}; "
                "rnnlab reads weights from initializers or Constant nodes only"
            )
        return consts.get(inputs[k]) if inputs[k] else None

    W, R, B = const(1, "W"), const(2, "R"), const(3, "B")
    P = const(7, "P") if node.op_type == "LSTM" else None
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    dirs, G = (2 if direction == "bidirectional" else 1), _GATES[node.op_type]
    reset_after = bool(attrs.get("linear_before_reset", 0))
    H = R.shape[-1] if R is not None and R.ndim == 3 else -1
    if W is None or R is None or W.ndim != 3 or W.shape[:2] != (dirs, G * H) or R.shape != (dirs, G * H, H):
        shapes = [None if a is None else a.shape for a in (W, R)]
        raise ValueError(
            f"{node.op_type} node {node.name!r}: expected W [{dirs}, {G}·H, D] and "
            f"R [{dirs}, {G}·H, H], got {shapes[0]} and {shapes[1]}"
        )
    if attrs.get("hidden_size", H) != H:
        raise ValueError(f"{node.op_type} node {node.name!r}: hidden_size {attrs['hidden_size']} but R is {R.shape}")
    if B is not None and B.shape != (dirs, 2 * G * H):
        raise ValueError(f"{node.op_type} node {node.name!r}: expected B of shape {(dirs, 2 * G * H)}, got {B.shape}")
    if P is not None and P.shape != (dirs, 3 * H):
        raise ValueError(f"LSTM node {node.name!r}: expected P of shape {(dirs, 3 * H)}, got {P.shape}")
    # rnnlab's own export (load): lengths counted by a Masking or mask_zero layer that load rebuilds
    if inputs[4] and sources.get(inputs[4]) != "a graph input" and not lengths_from_layers:
        lens = consts.get(inputs[4])
        T = _time_length(graph, inputs[0]) if graph is not None else None
        if lens is None or T is None or np.any(np.asarray(lens) != T):
            if lens is None:
                where = sources.get(inputs[4], "not a graph input")
            elif T is None:
                where = "a constant, and the time axis of the input has no fixed length to check it against"
            else:
                short = [int(b) for b in np.flatnonzero(np.asarray(lens) != T)]
                where = f"a constant shorter than the time axis ({T} steps) in rows {short}"
            # a layer holds weights and initial states, not a mask: lengths of a fixed batch have no place in it
            raise ValueError(
                f"{node.op_type} node {node.name!r}: sequence_lens ({inputs[4]!r}) is {where}; "
                "rnnlab layers take their mask per call: only a graph input sequence_lens (pass "
                "mask = np.arange(T) < sequence_lens[:, None]) or a constant covering the whole time "
                "axis is supported"
            )
    states = _initial_states(node, inputs, consts, sources, G)
    if states is not None:
        for s in states:
            if s is not None and (s.ndim != 3 or s.shape[0] != dirs or s.shape[2] != H):
                raise ValueError(
                    f"{node.op_type} node {node.name!r}: expected initial states [{dirs}, batch, {H}], got {s.shape}"
                )
        batch = max(s.shape[1] for s in states if s is not None)
        states = [
            np.zeros((dirs, batch, H), W.dtype) if s is None else np.broadcast_to(s, (dirs, batch, H)) for s in states
        ]
    acts = _activations(node, attrs, dirs)
    parts = []
    for d in range(dirs):
        W_d, R_d, b_d = W[d], R[d], None if B is None else B[d, : G * H] + B[d, G * H :]  # b = Wb + Rb
        if G == 3 and reset_after and B is not None:  # Rb_h sits inside r ⊙ (·): the two halves stay apart
            b_d = B[d].reshape(2, G * H)
        if G == 4:  # blocks i, o, f, c -> i, f, C̃, o
            W_d, R_d = (common.reorder_blocks(a, common.RNNLAB_FROM_ONNX, axis=0) for a in (W_d, R_d))
            if b_d is not None:
                b_d = common.reorder_blocks(b_d, common.RNNLAB_FROM_ONNX, axis=0)
        part = {"W": W_d.T, "U": R_d.T, "b": b_d, "activation": acts[d][-1], "dtype": _dtype(node, W)}
        if P is not None and np.any(P[d]):  # P [dirs, 3H]: p_i, p_o, p_f -> rows p_i, p_f, p_o; zero: plain LSTM
            part["p"] = P[d].reshape(3, H)[[0, 2, 1]].astype(W.dtype)
        if states is not None:
            rows = [s[d] for s in states]
            same = all(np.all(r == r[:1]) for r in rows)  # one row for the whole batch: any batch works
            part["initial_state"] = [r[:1] if same else r for r in rows]
        if G == 4:
            if acts[d][1] != acts[d][2]:
                raise ValueError(
                    f"LSTM node {node.name!r}: different activations for the candidate ({acts[d][1]}) "
                    f"and the cell output ({acts[d][2]}) are not supported by rnnlab"
                )
            part["recurrent_activation"] = acts[d][0]
        if G == 3:
            part.update(recurrent_activation=acts[d][0], reset_after=reset_after)
        parts.append(part)
    return {1: nn.SimpleRNN, 3: nn.GRU, 4: nn.LSTM}[G], direction, parts


def _dtype(node, W):
    if W.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"{node.op_type} node {node.name!r}: weights of dtype {W.dtype} are not supported; "
            "expected float32 or float64"
        )
    return W.dtype.name


def _make(cls, part, **kwargs):
    """The layer of one direction, in the file's precision, holding its constant initial states if any;
    without a bias when the node has no B."""
    options = {k: part[k] for k in ("activation", "recurrent_activation", "reset_after", "dtype") if k in part}
    states = part.get("initial_state")
    if states is not None:
        options["initial_state_rows"] = states[0].shape[0]
    if "p" in part:
        options["peepholes"] = True
    layer = cls(part["U"].shape[0], use_bias=part["b"] is not None, **options, **kwargs)
    layer.set_weights(part["W"], part["U"], part["b"], **({"p": part["p"]} if "p" in part else {}))
    return layer if states is None else layer.set_initial_state(states)


def load_recurrent(path):
    """Every RNN, LSTM and GRU node of an ONNX file as an rnnlab layer: {node name: layer}.

    forward -> SimpleRNN/LSTM/GRU(return_sequences=True); reverse -> the same with go_backwards=True
    (outputs in processing order); bidirectional -> Bidirectional(merge_mode="concat").
    Layers have the precision of the file's weights (float32 or float64).
    Initial states: constants (initializers, Constant nodes, an Expand of a [dirs, 1, H] constant) are
    kept by the layer (initial_state_rows, its parameters h0/c0, saved with it); graph inputs are
    passed as initial_state. sequence_lens: a graph input is passed as mask (True on the first
    sequence_lens[b] steps of row b); a constant covering the whole time axis changes nothing; any
    other is refused by name.
    """
    model = read_model(path)
    graph = model.graph
    consts, layers = _constants(graph), {}
    for k, node in enumerate(graph.node):
        if node.op_type not in ("RNN", "LSTM", "GRU"):
            continue
        cls, direction, parts = parse_node(node, consts, graph)
        name = node.name if node.name and node.name not in layers else f"{node.op_type.lower()}_{k}"
        if direction == "bidirectional":
            fw = _make(cls, parts[0], return_sequences=True, name=name)
            bw = _make(cls, parts[1], return_sequences=True, go_backwards=True, name=name + "_backward")
            layers[name] = nn.Bidirectional(fw, backward_layer=bw, name=name)
        else:
            layers[name] = _make(cls, parts[0], return_sequences=True, go_backwards=direction == "reverse", name=name)
    if not layers:
        ops = sorted({node.op_type for node in graph.node})
        own = any(p.key == "rnnlab.layers" for p in model.metadata_props)  # an export under a mask: Scans
        hint = "; it was written by rnnlab.interop.onnx.export: rnnlab.interop.onnx.load(path) reads it" if own else ""
        raise ValueError(f"{path!s} has no RNN, LSTM or GRU node (operators found: {', '.join(ops) or 'none'}){hint}")
    return layers


def _layer_from_params(meta, consts):
    """A layer exported as a Scan (onnx_scan.py): its parameters are initializers in rnnlab's layout."""
    params = meta["params"]
    missing = [name for name in params.values() if name not in consts]
    if missing:
        raise ValueError(f"the graph has no initializer {missing[0]!r} named in its rnnlab metadata")
    layer = common.layer_class(meta["kind"])(**meta["config"])
    extra = {"p": consts[params["p"]]} if "p" in params else {}
    layer.set_weights(*(consts[params[key]] for key in layer.weight_names), **extra)
    if layer.initial_state_names:
        layer.set_initial_state([consts[params[key]] for key in layer.initial_state_names])
    return layer


def _recurrent_from_meta(entry, nodes, consts, graph):
    if "node" not in entry:  # a Scan per layer, or per direction
        if entry["kind"] != "Bidirectional":
            return _layer_from_params(entry, consts)
        fw, bw = (_layer_from_params(entry[key], consts) for key in ("layer", "backward_layer"))
        return nn.Bidirectional(fw, backward_layer=bw, **entry["config"])
    node = nodes.get(entry["node"])
    if node is None:
        raise ValueError(f"the graph has no node {entry['node']!r} named in its rnnlab metadata")
    cls, direction, parts = parse_node(node, consts, graph, lengths_from_layers=True)
    if entry["kind"] == "Bidirectional":
        configs, expected = [entry["layer"], entry["backward_layer"]], "bidirectional"
    else:
        configs, expected = [entry], "reverse" if entry["config"].get("go_backwards") else "forward"
    if direction != expected:
        raise ValueError(f"node {node.name!r} runs direction {direction!r}, its rnnlab metadata expects {expected!r}")
    layers = []
    for meta, part in zip(configs, parts):
        if meta["kind"] != cls.__name__:
            raise ValueError(f"node {node.name!r} is {node.op_type} but its metadata says {meta['kind']}")
        layer = cls(**meta["config"])
        for key in ("activation", "recurrent_activation", "reset_after"):
            if key in part and getattr(layer, key) != part[key]:
                raise ValueError(
                    f"node {node.name!r}: {key} {part[key]!r} in the graph, {getattr(layer, key)!r} in its metadata"
                )
        extra = {}
        if getattr(layer, "peepholes", False):  # an all-zero P reads as no peepholes
            extra["p"] = part.get("p", np.zeros((3, layer.units), part["W"].dtype))
        elif "p" in part:
            raise ValueError(f"node {node.name!r} has peephole weights P but its metadata says peepholes=False")
        b = part["b"]
        if b is None and layer.use_bias:  # the graph has no B: a zero bias
            b = np.zeros(layer.bias_shape(), part["W"].dtype)
        elif b is not None and not layer.use_bias:  # B of the other direction; this one's must be zero
            if np.any(b):
                raise ValueError(f"node {node.name!r}: a nonzero B for layer {layer.name!r}, which has use_bias=False")
            b = None
        layer.set_weights(part["W"], part["U"], b, **extra)
        if "initial_state" in part:
            if layer.initial_state_rows != part["initial_state"][0].shape[0]:
                raise ValueError(
                    f"node {node.name!r}: initial states of {part['initial_state'][0].shape[0]} rows "
                    f"in the graph, initial_state_rows={layer.initial_state_rows} in its metadata"
                )
            layer.set_initial_state(part["initial_state"])
        elif layer.initial_state_rows:
            raise ValueError(
                f"node {node.name!r}: its metadata says initial_state_rows="
                f"{layer.initial_state_rows} but the graph holds no constant initial state"
            )
        layers.append(layer)
    if entry["kind"] == "Bidirectional":
        return nn.Bidirectional(layers[0], backward_layer=layers[1], **entry["config"])
    return layers[0]


def load(path):
    """A model written by rnnlab.interop.onnx.export, rebuilt with the weights held in the graph."""
    model = read_model(path)
    props = {p.key: p.value for p in model.metadata_props}
    if "rnnlab.layers" not in props:
        raise ValueError(
            f"{path!s} was not written by rnnlab.interop.onnx.export (no rnnlab.layers metadata); "
            "rnnlab.interop.onnx.load_recurrent(path) imports its RNN, LSTM and GRU nodes"
        )
    consts = _constants(model.graph)
    nodes = {node.name: node for node in model.graph.node}
    try:
        layers = [
            _layer_from_meta(entry, nodes, consts, path, model.graph) for entry in json.loads(props["rnnlab.layers"])
        ]
        container = json.loads(props.get("rnnlab.model", "null"))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{path!s}: its rnnlab metadata does not describe a model: {type(err).__name__}: {err}"
        ) from err
    if container is None and len(layers) == 1:
        return layers[0]
    if container is not None and container.get("kind") == "Sequential":
        return common.layer_class("Sequential")(layers, **container["config"])
    return nn.Stack(layers, name=(container or {}).get("config", {}).get("name"))


def _layer_from_meta(entry, nodes, consts, path, graph):
    kind = entry.get("kind")
    if kind in ("SimpleRNN", "LSTM", "GRU", "Bidirectional"):
        return _recurrent_from_meta(entry, nodes, consts, graph)
    if kind not in ("Dense", "Embedding", "Dropout", "Masking"):
        raise ValueError(f"{path!s}: layer kind {kind!r} in rnnlab metadata is not supported")
    layer = common.layer_class(kind)(**entry["config"])
    for key in ("W", "b", "E"):
        if key in entry and entry[key] not in consts:
            raise ValueError(f"{path!s}: initializer {entry[key]!r} of layer {layer.name!r} is missing")
    if kind == "Dense":
        return layer.set_weights(consts[entry["W"]], consts[entry["b"]] if "b" in entry else None)
    if kind == "Embedding":
        return layer.set_weights(consts[entry["E"]])
    return layer
