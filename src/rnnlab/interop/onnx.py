"""ONNX export of rnnlab models with ONNX's own RNN, LSTM and GRU operators (or a Scan under a mask), and import back.

export(model, path) writes a graph that ONNX Runtime runs to rnnlab's outputs:

    x (batch, time, D) float32/64     or  ids (batch, time) int64 when the model starts with an Embedding
    sequence_lens (batch,) int32      with lengths=True: real steps per right-padded sequence (mask.sum(1))
    y                                 the model's output; with return_state also h (and c) per direction

Weights become initializers in ONNX's layout (common.py): W [dirs, G·H, D], R [dirs, G·H, H],
B [dirs, 2·G·H] = [Wb, Rb] with Rb = 0, LSTM gate blocks in the order i, o, f, c. The GRU's
blocks z, r, h are ONNX's order; reset_after=True is linear_before_reset=1 with [Wb, Rb] = b (2, 3H),
reset_after=False is linear_before_reset=0 with Rb = 0 (there b_h is added outside r ⊙ ·). A layer with
use_bias=False has no B input (ONNX then adds zero), and a Bidirectional whose other direction has a
bias gives it zeros in B. The recurrent
operators are time-major (Y is [time, dirs, batch, H]); the graph transposes once at each end.

Semantics kept: at a padded step rnnlab outputs zero and carries the state; ONNX Runtime zero-fills Y
past each length and returns the last real state as Y_h. go_backwards reads the real steps last to
first and, as Keras, returns outputs in that processing order: ONNX's reverse direction (which reverses
only the real part of each sequence) followed by a flip of the whole time axis.

Those operators know lengths, not masks. Under a mask made by a Masking or mask_zero layer, which
rnnlab honours at any step, each recurrent layer is a Scan over time (onnx_scan.py) whose weights
are initializers in rnnlab's own layout, unless the user declares right padding (export).
"""

import json

import numpy as np

from ..checks import is_int
from ..io import atomic
from . import common, onnx_scan
from .onnx_import import load, load_recurrent

__all__ = ["export", "load", "load_recurrent"]

DEFAULT_OPSET = 17
MIN_OPSET = 14  # the RNN/LSTM operators of opset 14; checked with ONNX Runtime from 14 to onnx's newest

# rnnlab activation -> (ONNX activation, alpha, beta); HardSigmoid(z) = max(0, min(1, αz + β))
_RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: relu6(z + 3) / 6
    "softsign": ("Softsign", None, None),  # z / (1 + |z|)
    "linear": ("Affine", 1.0, 0.0),
}
# Dense activation -> (ONNX operator or None, attributes)
_DENSE_ACTIVATIONS = {
    "linear": (None, {}),
    "tanh": ("Tanh", {}),
    "sigmoid": ("Sigmoid", {}),
    "relu": ("Relu", {}),
    "hard_sigmoid": ("HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),
    "softsign": ("Softsign", {}),
    "softmax": ("Softmax", {"axis": -1}),
}


def _rnn_activation(name, layer):
    if name not in _RNN_ACTIVATIONS:
        raise ValueError(
            f"layer {layer.name!r}: activation {name!r} has no ONNX RNN equivalent; "
            f"expected one of {sorted(_RNN_ACTIVATIONS)}"
        )
    return _RNN_ACTIVATIONS[name]


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes, self.initializers, self.used = [], [], set()

    def name(self, base):
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def const(self, base, array):
        name = self.name(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, base, outputs=None, **attrs):
        """Add a node; return its output name, or the names `base/<output>` of several outputs."""
        outs = [self.name(base)] if outputs is None else [self.name(f"{base}/{o}") for o in outputs]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outs, name=self.name(f"{base}/{op}"), **attrs))
        return outs[0] if outputs is None else outs


class _Exporter:
    """Walks the layers, keeping the current tensor, its layout and its width."""

    def __init__(self, onnx, layers, lengths, dtype=np.float32, right_padded=False):
        self.g = _Graph(onnx)
        self.dtype = np.dtype(dtype)  # the graph's float type: the model's
        self.elem = onnx.TensorProto.DOUBLE if self.dtype == np.float64 else onnx.TensorProto.FLOAT
        self.masked = bool(lengths)  # the recurrent layers see a mask (sequence_lens or a mask source)
        self.right_padded = right_padded or bool(lengths)  # the lengths say all the mask says
        self.layers = layers
        self.lengths = "sequence_lens" if lengths else ""
        if lengths:
            self.g.used.add("sequence_lens")
        self.source_mask = None  # (batch, time, 1) bool, True on real steps, from a Masking or mask_zero layer
        self.step_mask = None  # the same, time-major (time, batch, 1), made once when a Scan needs it
        self.time_major = False  # current tensor is [time, batch, ·] rather than [batch, time, ·]
        self.rank = 3
        self.extra_outputs = []  # (name, width): states returned by the last layer
        self.meta = []  # per layer: kind, config and the ONNX names holding its weights

    # ---- layout -------------------------------------------------------------------------
    def to_time_major(self, x):
        if self.rank != 3:
            raise ValueError(
                "a recurrent layer expected a sequence (batch, time, ·), got the (batch, ·) "
                "output of a layer without return_sequences"
            )
        if self.time_major:
            return x
        self.time_major = True
        return self.g.node("Transpose", [x], "time_major", perm=[1, 0, 2])

    def to_batch_first(self, x):
        if self.rank == 3 and self.time_major:
            self.time_major = False
            return self.g.node("Transpose", [x], "batch_first", perm=[1, 0, 2])
        return x

    def squeeze(self, x, axis, base):
        return self.g.node("Squeeze", [x, self.g.const(f"{base}/axis", np.array([axis], np.int64))], base)

    def take(self, x, index, axis, base):
        """x with `axis` removed, at `index` (Gather with a scalar index)."""
        return self.g.node("Gather", [x, self.g.const(f"{base}/index", np.array(index, np.int64))], base, axis=axis)

    def flip_time(self, x, base):
        """Reverse the time axis (axis 0 of a time-major tensor)."""
        c = self.g.const
        return self.g.node(
            "Slice",
            [
                x,
                c(f"{base}/starts", np.array([-1], np.int64)),
                c(f"{base}/ends", np.array([np.iinfo(np.int64).min], np.int64)),
                c(f"{base}/axes", np.array([0], np.int64)),
                c(f"{base}/steps", np.array([-1], np.int64)),
            ],
            base,
        )

    # ---- layers ---------------------------------------------------------------------------
    def needs_scan(self, layers):
        """Whether `layers` (one per direction) run as a Scan under the mask: the operators take
        lengths, exact for right padding only, and give zero outputs past them without return_sequences."""
        if not self.masked:
            return False
        return not self.right_padded or any(lay.zeros_masked_output != lay.return_sequences for lay in layers)

    def time_mask(self, x):
        """The mask (time, batch, 1) bool of the time-major tensor x: the mask source's, or t < sequence_lens[b]."""
        if self.step_mask is not None:
            return self.step_mask
        g, c = self.g, self.g.const
        if self.source_mask is not None:
            self.step_mask = g.node("Transpose", [self.source_mask], "step_mask", perm=[1, 0, 2])
            return self.step_mask
        steps = g.node(
            "Range",
            [
                c("step_first", np.array(0, np.int32)),
                g.node(
                    "Cast",
                    [self.take(g.node("Shape", [x], "x_shape"), 0, 0, "time")],
                    "T",
                    to=self.g.onnx.TensorProto.INT32,
                ),
                c("step_stride", np.array(1, np.int32)),
            ],
            "steps",
        )
        t = g.node("Unsqueeze", [steps, c("step_axes", np.array([1, 2], np.int64))], "t")  # (time, 1, 1)
        lens = g.node("Unsqueeze", [self.lengths, c("lens_axes", np.array([0, 2], np.int64))], "lens")  # (1, batch, 1)
        self.step_mask = g.node("Less", [t, lens], "step_mask")  # m[t, b] = t < sequence_lens[b]
        return self.step_mask

    def recurrent(self, x, k, layer):
        """SimpleRNN, LSTM or GRU: one ONNX node, direction forward or reverse, or a Scan under a mask."""
        self.check_recurrent(layer)
        base = f"{k}_{layer.name}"
        x = self.to_time_major(x)
        if self.needs_scan([layer]):
            kind = common.kind_of(layer)
            y, states, names = onnx_scan.masked_layer(
                self.g, x, self.time_mask(x), layer, kind, base, self.dtype, self.elem
            )
            if not layer.return_sequences:
                self.rank = 2
            if layer.return_state:
                self.state_outputs(layer, [(states[0], states[1] if len(states) > 1 else None)], [""])
            self.meta.append({"kind": kind, "config": layer.get_config(), "params": names})
            return y, layer.units
        node_name, (Y, Y_h, Y_c) = self.recurrent_node(x, base, [layer], "reverse" if layer.go_backwards else "forward")
        if layer.return_sequences:
            y = self.squeeze(Y, 1, f"{base}/y")  # [T, 1, B, H] -> [T, B, H]
            if layer.go_backwards:  # processing order: the last step first
                y = self.flip_time(y, f"{base}/processing_order")
        else:
            y, self.rank = self.squeeze(Y_h, 0, f"{base}/y"), 2  # [1, B, H] -> [B, H]
        if layer.return_state:  # [1, B, H] -> [B, H]
            self.state_outputs(
                layer, [(self.squeeze(Y_h, 0, f"{base}/h"), Y_c and self.squeeze(Y_c, 0, f"{base}/c"))], [""]
            )
        self.meta.append({"kind": type(layer).__name__, "config": layer.get_config(), "node": node_name})
        return y, layer.units

    def bidirectional(self, x, k, layer):
        fw, bw = layer.forward_layer, layer.backward_layer
        for sub in (fw, bw):
            self.check_recurrent(sub)
        if type(fw) is not type(bw) or fw.go_backwards or not bw.go_backwards:
            raise ValueError(
                f"Bidirectional {layer.name!r}: export expects a forward layer and a go_backwards "
                f"layer of the same type, got {type(fw).__name__}(go_backwards={fw.go_backwards}) and "
                f"{type(bw).__name__}(go_backwards={bw.go_backwards})"
            )
        if layer.merge_mode is None:
            raise ValueError(
                f"Bidirectional {layer.name!r}: merge_mode=None (two outputs) is not supported by "
                "export; use 'concat', 'sum', 'mul' or 'ave'"
            )
        base = f"{k}_{layer.name}"
        x = self.to_time_major(x)
        if self.needs_scan([fw, bw]):
            return self.bidirectional_scan(x, base, layer)
        node_name, (Y, Y_h, Y_c) = self.recurrent_node(x, base, [fw, bw], "bidirectional")
        if layer.return_sequences:  # Y [T, 2, B, H]: the reverse half is already in time order
            y_f, y_b = self.take(Y, 0, 1, f"{base}/y_forward"), self.take(Y, 1, 1, f"{base}/y_backward")
        else:  # Y_h [2, B, H]
            y_f, y_b = self.take(Y_h, 0, 0, f"{base}/y_forward"), self.take(Y_h, 1, 0, f"{base}/y_backward")
            self.rank = 2
        y = self.merge(y_f, y_b, layer.merge_mode, f"{base}/merge")
        if layer.return_state:
            self.state_outputs(
                fw,
                [
                    (self.take(Y_h, d, 0, f"{base}/h_{d}"), Y_c and self.take(Y_c, d, 0, f"{base}/c_{d}"))
                    for d in (0, 1)
                ],
                ["_forward", "_backward"],
            )
        self.meta.append(
            {
                "kind": "Bidirectional",
                "config": layer.get_config(),
                "node": node_name,
                "layer": {"kind": type(fw).__name__, "config": fw.get_config()},
                "backward_layer": {"kind": type(bw).__name__, "config": bw.get_config()},
            }
        )
        return y, (2 if layer.merge_mode == "concat" else 1) * fw.units

    def bidirectional_scan(self, x, base, layer):
        """Bidirectional under a mask: a Scan per direction, the backward one's outputs in time order."""
        fw, bw = layer.forward_layer, layer.backward_layer
        kind, mask, outs, entries = common.kind_of(fw), self.time_mask(x), [], {}
        for sub, key, suffix in ((fw, "layer", "forward"), (bw, "backward_layer", "backward")):
            y, states, names = onnx_scan.masked_layer(
                self.g, x, mask, sub, kind, f"{base}/{suffix}", self.dtype, self.elem, time_order=True
            )
            outs.append((y, states))
            entries[key] = {"kind": kind, "config": sub.get_config(), "params": names}
        if not layer.return_sequences:
            self.rank = 2
        y = self.merge(outs[0][0], outs[1][0], layer.merge_mode, f"{base}/merge")
        if layer.return_state:
            pairs = [(states[0], states[1] if len(states) > 1 else None) for _, states in outs]
            self.state_outputs(fw, pairs, ["_forward", "_backward"])
        self.meta.append({"kind": "Bidirectional", "config": layer.get_config(), **entries})
        return y, (2 if layer.merge_mode == "concat" else 1) * fw.units

    def merge(self, y_f, y_b, mode, base):
        if mode == "concat":
            return self.g.node("Concat", [y_f, y_b], base, axis=-1)
        if mode == "sum":
            return self.g.node("Add", [y_f, y_b], base)
        if mode == "mul":
            return self.g.node("Mul", [y_f, y_b], base)
        total = self.g.node("Add", [y_f, y_b], f"{base}/sum")
        return self.g.node("Mul", [total, self.g.const(f"{base}/half", np.array(0.5, self.dtype))], base)

    def state_outputs(self, layer, states, suffixes):
        """Graph outputs h (and c), (batch, H) each, per direction; Stack allows them on its last layer only."""
        for (h, c), suffix in zip(states, suffixes):
            self.extra_outputs.append((self.g.node("Identity", [h], f"h{suffix}"), layer.units))
            if c:
                self.extra_outputs.append((self.g.node("Identity", [c], f"c{suffix}"), layer.units))

    def check_recurrent(self, layer):
        common.check_built(layer)
        common.check_lstm_options(layer, "ONNX", peepholes=True)
        if layer.stateful:
            raise ValueError(
                f"layer {layer.name!r}: stateful=True is not supported by export (the graph starts "
                "every call from zero states)"
            )

    def recurrent_node(self, x, base, layers, direction):
        """One RNN/LSTM node over `layers` (one per direction); returns (node name, [Y, Y_h, Y_c])."""
        is_lstm = common.kind_of(layers[0]) == "LSTM"
        is_gru = common.kind_of(layers[0]) == "GRU"
        Ws, Rs, Bs, acts = [], [], [], []
        for layer in layers:
            # a zero b for a layer without one: B is written when some direction has a bias
            W, U, b = (np.asarray(layer.kernel_params()[key], self.dtype) for key in ("W", "U", "b"))
            if is_lstm:  # blocks i, f, C̃, o -> i, o, f, c
                W, U, b = (common.reorder_blocks(a, common.ONNX_FROM_RNNLAB) for a in (W, U, b))
            Ws.append(W.T)  # (D, G·H) -> [G·H, D]
            Rs.append(U.T)  # (H, G·H) -> [G·H, H]
            if b.ndim == 2:  # a GRU's (2, 3H) under reset_after: [Wb, Rb] as they are
                Bs.append(b.reshape(-1))
            else:
                Bs.append(np.concatenate([b, np.zeros_like(b)]))  # [Wb, Rb]; only the sum matters
            if is_lstm:
                names = [layer.recurrent_activation, layer.activation, layer.activation]
            elif is_gru:  # f for z and r, g for h̃
                names = [layer.recurrent_activation, layer.activation]
            else:
                names = [layer.activation]
            acts += [_rnn_activation(name, layer) for name in names]
        c = self.g.const
        inputs = [
            x,
            c(f"{base}/W", np.stack(Ws)),
            c(f"{base}/R", np.stack(Rs)),
            c(f"{base}/B", np.stack(Bs)) if any(layer.use_bias for layer in layers) else "",
            self.lengths,
        ]
        if layers[0].initial_state_rows:  # the layer's own initial states: constants [dirs, rows, H]
            for k, key in enumerate(layers[0].initial_state_names):
                inputs += [""] * (5 + k - len(inputs))
                inputs.append(
                    self.initial_state(x, base, key, [np.asarray(lay.params[key], self.dtype) for lay in layers])
                )
        if is_lstm and any(lay.peepholes for lay in layers):  # input 7, P [dirs, 3H]: p_i, p_o, p_f
            H = layers[0].units
            P = [
                np.asarray(lay.params["p"], self.dtype)[[0, 2, 1]].reshape(-1)
                if lay.peepholes
                else np.zeros(3 * H, self.dtype)
                for lay in layers
            ]
            inputs += [""] * (7 - len(inputs))
            inputs.append(c(f"{base}/P", np.stack(P)))
        attrs = {"hidden_size": layers[0].units, "direction": direction, "activations": [a[0] for a in acts]}
        if is_gru:
            attrs["linear_before_reset"] = int(layers[0].reset_after)
        if any(a[1] is not None for a in acts):  # consumed in order by the activations that take them
            attrs["activation_alpha"] = [a[1] for a in acts if a[1] is not None]
            attrs["activation_beta"] = [a[2] for a in acts if a[2] is not None]
        outs = self.g.node(
            "LSTM" if is_lstm else ("GRU" if is_gru else "RNN"),
            inputs,
            base,
            outputs=("Y", "Y_h", "Y_c") if is_lstm else ("Y", "Y_h"),
            **attrs,
        )
        return self.g.nodes[-1].name, (outs if is_lstm else outs + [None])

    def initial_state(self, x, base, key, rows):
        """A layer's initial state [dirs, B, H]: the constant, expanded to the batch of x when it is one row."""
        if any(r.shape[0] != rows[0].shape[0] for r in rows):
            raise ValueError(f"{base}: the two directions hold initial states of different initial_state_rows")
        value = self.g.const(f"{base}/{key}", np.stack(rows))
        if rows[0].shape[0] != 1:
            return value
        c = self.g.const
        batch = self.g.node(
            "Slice",
            [
                self.g.node("Shape", [x], f"{base}/{key}_x_shape"),
                c(f"{base}/{key}_start", np.array([1], np.int64)),
                c(f"{base}/{key}_end", np.array([2], np.int64)),
            ],
            f"{base}/{key}_batch",
        )
        shape = self.g.node(
            "Concat",
            [
                c(f"{base}/{key}_dirs", np.array([len(rows)], np.int64)),
                batch,
                c(f"{base}/{key}_units", np.array([rows[0].shape[1]], np.int64)),
            ],
            f"{base}/{key}_shape",
            axis=0,
        )
        return self.g.node("Expand", [value, shape], f"{base}/{key}_expanded")

    def dense(self, x, k, layer):
        """y = φ(x W + b) on the last axis: MatMul, Add and the activation."""
        common.check_built(layer)
        base = f"{k}_{layer.name}"
        names = {"W": self.g.const(f"{base}/W", np.asarray(layer.params["W"], self.dtype))}
        z = self.g.node("MatMul", [x, names["W"]], f"{base}/xW")
        if layer.use_bias:
            names["b"] = self.g.const(f"{base}/b", np.asarray(layer.params["b"], self.dtype))
            z = self.g.node("Add", [z, names["b"]], f"{base}/z")
        op, attrs = _DENSE_ACTIVATIONS[layer.activation]
        y = self.g.node(op, [z], base, **attrs) if op else z
        self.meta.append({"kind": "Dense", "config": layer.get_config(), **names})
        return y, layer.units

    def embedding(self, x, k, layer):
        """x_t = E[id_t]: Gather rows of E; with mask_zero the lengths count the ids that are not 0."""
        if k != 0:
            raise ValueError(f"layer {layer.name!r}: Embedding is supported as the first layer only")
        common.check_built(layer)
        if layer.mask_zero:
            if self.lengths:
                raise ValueError(
                    f"layer {layer.name!r} has mask_zero=True: the graph counts the lengths from the "
                    "ids, so export expects lengths=False"
                )
            zero = self.g.const("zero_id", np.array(0, np.int64))
            real = self.g.node("Not", [self.g.node("Equal", [x, zero], "is_padding")], "is_real")  # id_t != 0
            self.mask_from(self.g.node("Unsqueeze", [real, self.g.const("step_axis", np.array([2], np.int64))], "real"))
        E = self.g.const(f"{k}_{layer.name}/E", np.asarray(layer.params["E"], self.dtype))
        self.meta.append({"kind": "Embedding", "config": layer.get_config(), "E": E})
        return self.g.node("Gather", [E, x], f"{k}_{layer.name}", axis=0), layer.output_dim

    def masking(self, x, k, layer):
        """x with padded steps zeroed; the lengths count the steps where some feature differs from mask_value."""
        if k != 0:
            raise ValueError(f"layer {layer.name!r}: Masking is supported as the first layer only")
        if self.lengths:
            raise ValueError(
                f"layer {layer.name!r} is a Masking layer: the graph counts the lengths from the "
                "input, so export expects lengths=False"
            )
        T = self.g.onnx.TensorProto
        base = f"{k}_{layer.name}"
        value = self.g.const(f"{base}/mask_value", np.array(layer.mask_value, self.dtype))
        differs = self.g.node("Not", [self.g.node("Equal", [x, value], f"{base}/equal")], f"{base}/differs")
        count = self.g.node(
            "ReduceSum",
            [
                self.g.node("Cast", [differs], f"{base}/differs_int", to=T.INT32),
                self.g.const(f"{base}/feature_axis", np.array([2], np.int64)),
            ],
            f"{base}/differing_features",
            keepdims=1,
        )
        real = self.g.node("Greater", [count, self.g.const(f"{base}/zero", np.array(0, np.int32))], f"{base}/real")
        self.mask_from(real)
        self.meta.append({"kind": "Masking", "config": layer.get_config()})
        y = self.g.node("Mul", [x, self.g.node("Cast", [real], f"{base}/keep", to=self.elem)], base)
        return y, None

    def mask_from(self, real):
        """Take the mask real (batch, time, 1) bool of a mask source; under declared right padding
        also the lengths, the real steps of each row, for the operators' sequence_lens."""
        self.source_mask, self.masked = real, True
        if self.right_padded:
            steps = self.g.node("Cast", [real], "real_steps", to=self.g.onnx.TensorProto.INT32)
            axes = self.g.const("time_axes", np.array([1, 2], np.int64))
            self.lengths = self.g.node("ReduceSum", [steps, axes], "lengths", keepdims=0)

    def run(self, x):
        width = None
        for k, layer in enumerate(self.layers):
            kind = common.kind_of(layer)
            if kind in ("SimpleRNN", "LSTM", "GRU"):
                x, width = self.recurrent(x, k, layer)
            elif kind == "Bidirectional":
                x, width = self.bidirectional(x, k, layer)
            elif kind == "Dense":
                x, width = self.dense(x, k, layer)
            elif kind == "Embedding":
                x, width = self.embedding(x, k, layer)
            elif kind == "Masking":
                x, width = self.masking(x, k, layer)
            else:  # Dropout: the identity at inference
                self.meta.append({"kind": "Dropout", "config": layer.get_config()})
        return self.to_batch_first(x), width


def _graph_input(onnx, layers, elem):
    """The ValueInfo of the model's input: ids for an Embedding, else float features (batch, time, D)."""
    helper = onnx.helper
    first = next((layer for layer in layers if common.kind_of(layer) not in ("Dropout", "Masking")), None)
    if first is None:
        raise ValueError("export expected at least one layer besides Dropout and Masking")
    if common.kind_of(first) == "Embedding":
        return helper.make_tensor_value_info("ids", onnx.TensorProto.INT64, ["batch", "time"])
    first = first.forward_layer if common.kind_of(first) == "Bidirectional" else first
    common.check_built(first)
    return helper.make_tensor_value_info("x", elem, ["batch", "time", first.input_dim])


def _dtype(layers):
    """The model's float type, the graph's: one for every layer that holds one."""
    dtypes = {np.dtype(layer.dtype) for layer in layers if common.kind_of(layer) != "Dropout"}
    if len(dtypes) != 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise ValueError(
            f"export expected every layer in float32 or every layer in float64, got {sorted(d.name for d in dtypes)}"
        )
    return dtypes.pop()


def export(model, path, opset=None, lengths=False, padding=None, dtype=None):
    """Write `model` (a layer, Stack or Sequential) to `path` as an ONNX model; returns the ModelProto.

    Inputs: x (batch, time, D) float32, or ids (batch, time) int64 under a first Embedding; with
    lengths=True also sequence_lens (batch,) int32, the real length of each right-padded sequence:
    the outputs then equal rnnlab's with mask[b, t] = t < sequence_lens[b]. An Embedding with
    mask_zero makes the mask from the ids instead, and a first Masking layer from the input.

    A mask travels as in rnnlab: at a masked step the states are carried and the output is zero (or
    the previous step's output under zero_output_for_mask=False). padding: None (default) or "right".
    A model with a Masking or mask_zero layer makes its mask from the input, at any step (left
    padding, as Keras' pad_sequences gives by default, or holes): by default each recurrent layer then
    runs as a Scan over time with a per-row select of the new or the old state (onnx_scan.py), exact
    for every mask. padding="right" declares that every batch the graph will see is padded at the
    right end only (no masked step before a real one); the layers then run as ONNX's operators with
    sequence_lens, faster (docs/PERFORMANCE.md) and exact under that promise, except those whose
    masked outputs the operators cannot give (zero_output_for_mask differing from return_sequences),
    which stay Scans. lengths=True means right padding by its definition.
    dtype: the graph's floats, by default the model's (float32 or float64), so that load() gives the
    model back bit for bit. ONNX Runtime's CPU RNN/LSTM/GRU kernels run float32 only: export a
    float64 model with dtype="float32" to run it there (its weights rounded); a Scan graph (under
    a mask) runs in float64 too. Inference only
    (dropout is the identity). A layer's own initial states (initial_state_rows) are constants of the graph.
    """
    onnx = common.require("onnx", "onnx")
    opset = DEFAULT_OPSET if opset is None else opset
    newest = onnx.defs.onnx_opset_version()
    if not is_int(opset) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset expected an integer in [{MIN_OPSET}, {newest}], got {opset!r}")
    if padding not in (None, "right"):
        raise ValueError(f"padding expected None or 'right', got {padding!r}")
    layers = common.flatten(model)
    if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype expected None, 'float32' or 'float64', got {dtype!r}")
    dtype = _dtype(layers) if dtype is None else np.dtype(dtype)
    ex = _Exporter(onnx, layers, lengths, dtype, right_padded=padding == "right")
    helper, F = onnx.helper, ex.elem
    inputs = [_graph_input(onnx, layers, F)]
    if lengths:
        inputs.append(helper.make_tensor_value_info("sequence_lens", onnx.TensorProto.INT32, ["batch"]))
    ex.g.used.add(inputs[0].name)
    y, width = ex.run(inputs[0].name)
    y = ex.g.node("Identity", [y], "y")
    outputs = [helper.make_tensor_value_info(y, F, ["batch", "time", width] if ex.rank == 3 else ["batch", width])]
    outputs += [helper.make_tensor_value_info(name, F, ["batch", w]) for name, w in ex.extra_outputs]
    graph = helper.make_graph(ex.g.nodes, getattr(model, "name", "rnnlab"), inputs, outputs, ex.g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets), producer_name="rnnlab"
    )
    container = (
        {"kind": type(model).__name__, "config": model.get_config()} if common.kind_of(model) == "Stack" else None
    )
    helper.set_model_props(proto, {"rnnlab.layers": json.dumps(ex.meta), "rnnlab.model": json.dumps(container)})
    onnx.checker.check_model(proto, full_check=True)
    atomic.write_bytes(path, proto.SerializeToString())
    return proto
