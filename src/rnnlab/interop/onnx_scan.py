"""One recurrent layer under a mask at any step, as an ONNX Scan over time (used by interop/onnx.py).

ONNX's RNN, LSTM and GRU operators take one length per sequence, so they compute right-padded
batches only. rnnlab honours a mask anywhere (left padding, holes): at a masked step the states are
carried over unchanged and the output is zero, or, under zero_output_for_mask=False, the previous
step's output (zero before the first real step). The graph here does the same. x_t W + b of every
step is one MatMul before the loop, as in the kernels; the Scan's body computes one step of the cell
from it and the carried states, then keeps per row the new state where m_t is true and the old one
where it is false (Where), the kernels' own rule (kernels/simple_rnn.py, lstm.py, gru.py).

Scan (ONNX operator specification, onnx.ai/onnx/operators/onnx__Scan.html): state variables carried
from step to step; scan inputs read one slice per step along axis 0, from the end under
scan_input_directions=1; scan outputs stacked along axis 0, filled from the end under
scan_output_directions=1. The body reads the weights from the enclosing graph by name.
"""

import numpy as np


def _sigmoid(s, z, base):
    return s.node("Sigmoid", [z], base)


def _tanh(s, z, base):
    return s.node("Tanh", [z], base)


def _relu(s, z, base):
    return s.node("Relu", [z], base)


def _hard_sigmoid(s, z, base):
    """clip(z / 6 + 1/2, 0, 1) in the graph's float type, as rnnlab computes it (ONNX's HardSigmoid
    takes α and β as float32 attributes, which would round 1/6 in a float64 graph)."""
    c = s.scalar
    scaled = s.node("Add", [s.node("Div", [z, c("six", 6.0)], f"{base}/z_6"), c("half", 0.5)], f"{base}/shifted")
    return s.node("Clip", [scaled, c("zero", 0.0), c("one", 1.0)], base)


def _softsign(s, z, base):
    """z / (1 + |z|), as rnnlab computes it."""
    return s.node(
        "Div", [z, s.node("Add", [s.scalar("one", 1.0), s.node("Abs", [z], f"{base}/abs")], f"{base}/1+|z|")], base
    )


def _linear(s, z, base):
    return z


ACTIVATIONS = {
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "hard_sigmoid": _hard_sigmoid,
    "softsign": _softsign,
    "linear": _linear,
}


def _check_activations(layer, names):
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(
                f"layer {layer.name!r}: activation {name!r} has no ONNX equivalent; "
                f"expected one of {sorted(ACTIVATIONS)}"
            )


class _Body:
    """The nodes of a Scan body; names unique with the enclosing graph's, constants held by it."""

    def __init__(self, g, dtype):
        self.g, self.dtype, self.nodes = g, dtype, []
        self.scalars = {}

    def node(self, op, inputs, base, **attrs):
        out = self.g.name(base)
        self.nodes.append(self.g.onnx.helper.make_node(op, inputs, [out], name=self.g.name(f"{base}/{op}"), **attrs))
        return out

    def add(self, a, b, base):
        return self.node("Add", [a, b], base)

    def sub(self, a, b, base):
        return self.node("Sub", [a, b], base)

    def mul(self, a, b, base):
        return self.node("Mul", [a, b], base)

    def matmul(self, a, b, base):
        return self.node("MatMul", [a, b], base)

    def split(self, z, blocks, units, base):
        """z (B, G·H) -> G blocks (B, H), in order; the sizes as an input, which every opset from 13 reads."""
        sizes = self.g.const(f"step/{base}_sizes", np.full(blocks, units, np.int64))
        outs = [self.g.name(f"{base}/{k}") for k in range(blocks)]
        node = self.g.onnx.helper.make_node("Split", [z, sizes], outs, name=self.g.name(f"{base}/Split"), axis=1)
        self.nodes.append(node)
        return outs

    def scalar(self, base, value):
        """A constant of the graph's float type, made once in the enclosing graph."""
        if base not in self.scalars:
            self.scalars[base] = self.g.const(f"step/{base}", np.array(value, self.dtype))
        return self.scalars[base]


def _simple_rnn_step(s, layer, xw, states, w):
    (h,) = states
    act = ACTIVATIONS[layer.activation]
    return [act(s, s.add(xw, s.matmul(h, w["U"], "hU"), "z"), "h")]  # h_t = φ(x_t W + h_{t-1} U + b)


def _lstm_step(s, layer, xw, states, w):
    h, c = states
    sigma, act = ACTIVATIONS[layer.recurrent_activation], ACTIVATIONS[layer.activation]
    z = s.add(xw, s.matmul(h, w["U"], "hU"), "z")  # x_t W + h_{t-1} U + b, all four blocks
    z_i, z_f, z_c, z_o = s.split(z, 4, layer.units, "z")
    if "p_i" in w:  # peepholes (kernels/lstm_variants.py): i and f peep at C_{t-1}
        z_i = s.add(z_i, s.mul(w["p_i"], c, "p_iC"), "z_i_peep")  # x_t W_i + h_{t-1} U_i + p_i ⊙ C_{t-1} + b_i
        z_f = s.add(z_f, s.mul(w["p_f"], c, "p_fC"), "z_f_peep")  # x_t W_f + h_{t-1} U_f + p_f ⊙ C_{t-1} + b_f
    i = sigma(s, z_i, "i")  # i_t = σ(x_t W_i + h_{t-1} U_i [+ p_i ⊙ C_{t-1}] + b_i)
    f = sigma(s, z_f, "f")  # f_t = σ(x_t W_f + h_{t-1} U_f [+ p_f ⊙ C_{t-1}] + b_f)
    c_tilde = act(s, z_c, "c_tilde")  # C̃_t = tanh(x_t W_c + h_{t-1} U_c + b_c)
    c_new = s.add(s.mul(f, c, "fC"), s.mul(i, c_tilde, "iC_tilde"), "C")  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
    if "p_o" in w:  # o peeps at the new C_t
        z_o = s.add(z_o, s.mul(w["p_o"], c_new, "p_oC"), "z_o_peep")  # x_t W_o + h_{t-1} U_o + p_o ⊙ C_t + b_o
    o = sigma(s, z_o, "o")  # o_t = σ(x_t W_o + h_{t-1} U_o [+ p_o ⊙ C_t] + b_o)
    h_new = s.mul(o, act(s, c_new, "tanh_C"), "h")  # h_t = o_t ⊙ tanh(C_t)
    return [h_new, c_new]


def _gru_step(s, layer, xw, states, w):
    (h,) = states
    sigma, act = ACTIVATIONS[layer.recurrent_activation], ACTIVATIONS[layer.activation]
    x_z, x_r, x_h = s.split(xw, 3, layer.units, "xW")  # x_t W + b, blocks z, r, h
    if layer.reset_after:
        hU = s.matmul(h, w["U"], "hU")  # h_{t-1} U, all three blocks
        if "b_rec" in w:
            hU = s.add(hU, w["b_rec"], "hU_b")  # h_{t-1} U + b'
        h_z, h_r, h_h = s.split(hU, 3, layer.units, "hU")
        z = sigma(s, s.add(x_z, h_z, "a_z"), "z")  # z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
        r = sigma(s, s.add(x_r, h_r, "a_r"), "r")  # r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
        a_h = s.add(x_h, s.mul(r, h_h, "r_hU"), "a_h")
        h_tilde = act(s, a_h, "h_tilde")  # h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))
    else:
        h_z, h_r = s.split(s.matmul(h, w["U_zr"], "hU_zr"), 2, layer.units, "hU")  # h_{t-1} U_z, h_{t-1} U_r
        z = sigma(s, s.add(x_z, h_z, "a_z"), "z")  # z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
        r = sigma(s, s.add(x_r, h_r, "a_r"), "r")  # r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
        rhU = s.matmul(s.mul(r, h, "rh"), w["U_h"], "rhU")  # (r_t ⊙ h_{t-1}) U_h
        h_tilde = act(s, s.add(x_h, rhU, "a_h"), "h_tilde")  # h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
    keep = s.sub(s.scalar("one", 1.0), z, "one_minus_z")  # 1 − z_t
    return [s.add(s.mul(z, h, "zh"), s.mul(keep, h_tilde, "new_part"), "h")]  # h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t


_STEPS = {"SimpleRNN": _simple_rnn_step, "LSTM": _lstm_step, "GRU": _gru_step}


def _activation_names(kind, layer):
    return [layer.activation] + ([layer.recurrent_activation] if kind in ("LSTM", "GRU") else [])


def _weights(g, layer, kind, base, dtype):
    """The layer's parameters as initializers in rnnlab's layout, with the views the step reads.

    Returns ({name: tensor} for the step, the input bias or None, {param: initializer name} for load)."""
    names = {key: g.const(f"{base}/{key}", np.asarray(layer.params[key], dtype)) for key in layer.weight_names}
    w, b_in = {"U": names["U"]}, names.get("b")  # no b under use_bias=False
    if kind == "GRU" and layer.reset_after and b_in:  # b (2, 3H): b[0] beside x_t W, b[1] = b' beside h_{t-1} U
        b_in = g.node("Gather", [names["b"], g.const(f"{base}/b_input_row", np.array(0, np.int64))], f"{base}/b_in")
        w["b_rec"] = g.node(
            "Gather", [names["b"], g.const(f"{base}/b_rec_row", np.array(1, np.int64))], f"{base}/b_rec"
        )
    elif kind == "GRU" and not layer.reset_after:  # U_h multiplies r_t ⊙ h_{t-1}: the blocks z, r and h apart
        H = layer.units
        bounds = {"U_zr": (0, 2 * H), "U_h": (2 * H, 3 * H)}
        for key, (start, end) in bounds.items():
            w[key] = g.node(
                "Slice",
                [
                    names["U"],
                    g.const(f"{base}/{key}_start", np.array([start], np.int64)),
                    g.const(f"{base}/{key}_end", np.array([end], np.int64)),
                    g.const(f"{base}/{key}_axis", np.array([1], np.int64)),
                ],
                f"{base}/{key}",
            )
    if getattr(layer, "peepholes", False):  # p (3, H), rows p_i, p_f, p_o
        names["p"] = g.const(f"{base}/p", np.asarray(layer.params["p"], dtype))
        for row, key in enumerate(("p_i", "p_f", "p_o")):
            w[key] = g.node(
                "Gather", [names["p"], g.const(f"{base}/{key}_row", np.array(row, np.int64))], f"{base}/{key}"
            )
    for key in layer.initial_state_names:
        names[key] = g.const(f"{base}/{key}", np.asarray(layer.params[key], dtype))
    return w, b_in, names


def _state0(g, xt, layer, names, key, base, dtype):
    """An initial state (B, H): the layer's own (one row broadcast to the batch of xt), else zeros."""
    c = g.const
    batch = g.node(
        "Slice",
        [
            g.node("Shape", [xt], f"{base}/xt_shape"),
            c(f"{base}/batch_start", np.array([1], np.int64)),
            c(f"{base}/batch_end", np.array([2], np.int64)),
        ],
        f"{base}/batch",
    )
    shape = g.node(
        "Concat", [batch, c(f"{base}/units", np.array([layer.units], np.int64))], f"{base}/state_shape", axis=0
    )
    if key is None:
        zero = g.onnx.numpy_helper.from_array(np.zeros(1, dtype))
        return g.node("ConstantOfShape", [shape], f"{base}/zeros", value=zero)
    if layer.initial_state_rows != 1:  # one row per batch row: the batch is fixed
        return names[key]
    return g.node("Expand", [names[key], shape], f"{base}/{key}_rows")


def masked_layer(g, xt, mt, layer, kind, base, dtype, elem, time_order=False):
    """A recurrent layer over xt (T, B, D) time-major under the mask mt (T, B, 1) bool, True on real steps.

    g: the graph under construction (onnx.py's _Graph); kind: "SimpleRNN", "LSTM" or "GRU";
    dtype, elem: the graph's float type as NumPy and ONNX name it. time_order: a go_backwards
    layer's outputs in time order (as Bidirectional merges them) instead of processing order.
    Returns (y, states, meta): y the layer's output as rnnlab gives it, (T, B, H) time-major with
    return_sequences, else (B, H); states [h_T (, C_T)] each (B, H); meta {param: initializer name}.
    """
    _check_activations(layer, _activation_names(kind, layer))
    helper, T = g.onnx.helper, g.onnx.TensorProto
    w, b_in, names = _weights(g, layer, kind, base, dtype)
    xw = g.node("MatMul", [xt, names["W"]], f"{base}/xW")  # x_t W, every t
    if b_in:
        xw = g.node("Add", [xw, b_in], f"{base}/xW_b")  # x_t W + b
    keys = layer.initial_state_names or [None] * len(layer.state_names)
    states0 = [
        _state0(g, xt, layer, names, key, f"{base}/{state}0", dtype) for key, state in zip(keys, layer.state_names)
    ]
    held = layer.return_sequences and not layer.zeros_masked_output  # the previous output, carried
    if held:
        states0.append(_state0(g, xt, layer, names, None, f"{base}/y0", dtype))

    s = _Body(g, dtype)
    prev = [g.name(f"{base}/step/{state}_prev") for state in layer.state_names]
    y_prev = g.name(f"{base}/step/y_prev") if held else None
    xw_t, m_t = g.name(f"{base}/step/xW_t"), g.name(f"{base}/step/m_t")
    new = _STEPS[kind](s, layer, xw_t, prev, w)
    kept = [s.node("Where", [m_t, n, p], f"{base}/step/{state}") for n, p, state in zip(new, prev, layer.state_names)]
    body_outputs, scan_outputs = list(kept), []
    if layer.return_sequences:  # zero at a masked step, or the previous output (zero_output_for_mask=False)
        y_t = s.node("Where", [m_t, new[0], y_prev or s.scalar("zero", 0.0)], f"{base}/step/y")
        if held:
            body_outputs.append(s.node("Identity", [y_t], f"{base}/step/y_carried"))
        body_outputs.append(y_t)
        scan_outputs.append(g.name(f"{base}/Y"))

    def info(name, elem_type):
        return helper.make_tensor_value_info(name, elem_type, None)

    body = helper.make_graph(
        s.nodes,
        g.name(f"{base}/step"),
        [info(n, elem) for n in prev + ([y_prev] if held else [])] + [info(xw_t, elem), info(m_t, T.BOOL)],
        [info(n, elem) for n in body_outputs],
    )
    finals = [g.name(f"{base}/{state}_T") for state in layer.state_names] + ([g.name(f"{base}/y_T")] if held else [])
    reverse = int(layer.go_backwards)
    attrs = {"body": body, "num_scan_inputs": 2, "scan_input_directions": [reverse, reverse]}
    if scan_outputs:
        attrs["scan_output_directions"] = [int(layer.go_backwards and time_order)]
    g.nodes.append(
        helper.make_node("Scan", states0 + [xw, mt], finals + scan_outputs, name=g.name(f"{base}/Scan"), **attrs)
    )
    states = finals[: len(layer.state_names)]
    if layer.return_sequences:
        y = scan_outputs[0]
    elif layer.zeros_masked_output:  # zero where the last step processed is masked (Keras)
        last = g.const(f"{base}/last_step", np.array(0 if layer.go_backwards else -1, np.int64))
        m_last = g.node("Gather", [mt, last], f"{base}/m_last", axis=0)
        y = g.node("Where", [m_last, states[0], g.const(f"{base}/zero", np.array(0, dtype))], f"{base}/y_last")
    else:
        y = states[0]
    return y, states, names
