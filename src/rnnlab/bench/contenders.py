"""What the speed benchmark times: one training step or one inference pass, per library.

Every contender gets the same weights, the same input (batch-first for the layer
APIs, time-major for ONNX Runtime, whose operator is time-major) and, for
training, the same output gradient; a training step is forward plus backward
through the whole sequence, with gradients for the weights and the input.
PyTorch and ONNX Runtime are optional: pip install rnnlab[test] brings both.
"""

import numpy as np

from ..nn import inference_mode
from ..nn.cells import cell_class

CELLS = {"lstm": 4, "simple_rnn": 1, "gru": 3}  # cell -> gate blocks in W, U, b


def flops(cell, T, B, D, H):
    """Multiply-adds ×2 of the forward matrix products; a training step does 3× this
    (forward; dh, dx in backward; ∂W, ∂U after it). Elementwise work is not counted."""
    return 2 * T * B * (D + H) * CELLS[cell] * H


def problem(cell, T, B, D, H, seed=0):
    """Weights in rnnlab's layout (W (D, GH), U (H, GH), b (GH,), the GRU's (2, 3H)), x (B, T, D),
    dy (B, T, H); float32."""
    rng = np.random.default_rng(seed)
    shapes = cell_class(cell)(H).param_shapes(D)
    scale = 1.0 / np.sqrt(H)
    return {
        "W": rng.uniform(-scale, scale, shapes["W"]).astype(np.float32),
        "U": rng.uniform(-scale, scale, shapes["U"]).astype(np.float32),
        "b": rng.uniform(-scale, scale, shapes["b"]).astype(np.float32),
        "x": rng.standard_normal((B, T, D)).astype(np.float32),
        "dy": rng.standard_normal((B, T, H)).astype(np.float32),
    }


# the cells PyTorch and ONNX Runtime are measured against: cell -> (torch.nn class, ONNX operator)
COUNTERPARTS = {"lstm": ("LSTM", "LSTM"), "simple_rnn": ("RNN", "RNN"), "gru": ("GRU", "GRU")}


class Rnnlab:
    """rnnlab's public layer API on the active kernel backend (its threads: RNNLAB_NUM_THREADS)."""

    name = "rnnlab"

    def __init__(self, cell, p, threads=None):
        H = p["U"].shape[0]
        self.layer = cell_class(cell)(H, return_sequences=True).set_weights(p["W"], p["U"], p["b"])
        self.x, self.dy = p["x"], p["dy"]

    def train(self):
        self.layer(self.x)
        return self.layer.backward(self.dy)

    def infer(self):
        with inference_mode():  # as PyTorch under torch.inference_mode()
            return self.layer(self.x)


class Torch:
    """torch.nn.LSTM / torch.nn.RNN / torch.nn.GRU, batch_first, float32; threads: PyTorch's default, or
    torch.set_num_threads(threads) (for the whole process)."""

    name = "torch"

    def __init__(self, cell, p, threads=None):
        import torch

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        D, G = p["W"].shape
        H = p["U"].shape[0]
        kind = getattr(torch.nn, COUNTERPARTS[cell][0])
        self.m = kind(D, H, batch_first=True)
        W, U, b = p["W"], p["U"], p["b"]
        if cell == "gru":  # rnnlab's blocks z, r, h̃ -> PyTorch's r, z, n; b[0], b[1] -> bias_ih, bias_hh
            order = np.concatenate([np.arange(k * H, (k + 1) * H) for k in (1, 0, 2)])
            W, U, b = W[:, order], U[:, order], b[:, order]
        else:  # one bias: bias_ih = b, bias_hh = 0
            b = np.stack([b, np.zeros_like(b)])
        with torch.no_grad():  # same gate order i, f, g, o for the LSTM; PyTorch stores Wᵀ and two biases
            self.m.weight_ih_l0.copy_(torch.from_numpy(W.T.copy()))
            self.m.weight_hh_l0.copy_(torch.from_numpy(U.T.copy()))
            self.m.bias_ih_l0.copy_(torch.from_numpy(b[0].copy()))
            self.m.bias_hh_l0.copy_(torch.from_numpy(b[1].copy()))
        self.x = torch.from_numpy(p["x"].copy()).requires_grad_(True)
        self.dy = torch.from_numpy(p["dy"].copy())

    def train(self):
        self.m.zero_grad(set_to_none=True)
        self.x.grad = None
        y, _ = self.m(self.x)
        y.backward(self.dy)
        return self.x.grad

    def infer(self):
        with self.torch.inference_mode():
            return self.m(self.x)[0]


class OnnxRuntime:
    """ONNX's LSTM / RNN / GRU operator, built with onnx.helper, run by onnxruntime (inference only);
    threads: its default intra-op pool, or that many threads."""

    name = "onnxruntime"

    def __init__(self, cell, p, threads=None):
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        D, G = p["W"].shape
        H = p["U"].shape[0]
        W, U, b = p["W"].T, p["U"].T, p["b"]  # (GH, D), (GH, H)
        if cell == "lstm":  # rnnlab's blocks i, f, c, o -> ONNX's i, o, f, c
            order = np.concatenate([np.arange(k * H, (k + 1) * H) for k in (0, 3, 1, 2)])
            W, U, b = W[order], U[order], b[order]
        # ONNX's B is [Wb, Rb]; the GRU's blocks z, r, h are rnnlab's, its b (2, 3H) is [Wb, Rb] already
        B = b.reshape(-1) if cell == "gru" else np.concatenate([b, np.zeros_like(b)])
        inits = [
            numpy_helper.from_array(np.ascontiguousarray(W[None]), "W"),
            numpy_helper.from_array(np.ascontiguousarray(U[None]), "R"),
            numpy_helper.from_array(B[None], "B"),
        ]
        extra = {"linear_before_reset": 1} if cell == "gru" else {}
        node = helper.make_node(COUNTERPARTS[cell][1], ["X", "W", "R", "B"], ["Y"], hidden_size=H, **extra)
        graph = helper.make_graph(
            [node],
            "bench",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
            inits,
        )
        opsets = [helper.make_opsetid("", 17)]
        # the IR version of opset 17, not the newest onnx knows: ONNX Runtime 1.30 refuses onnx 1.23's default (14)
        model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
        self.ir_version = model.ir_version
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.x = np.ascontiguousarray(p["x"].transpose(1, 0, 2))  # ONNX's operator is time-major

    def infer(self):
        return self.session.run(None, {"X": self.x})[0]  # Y (T, 1, B, H)


def contenders(cell, p, inference, threads=None):
    """The contenders that import here, rnnlab first; names of the missing ones. threads: see each class."""
    out, missing = [Rnnlab(cell, p)], []
    kinds = (Torch, OnnxRuntime) if inference else (Torch,)
    for kind in kinds:
        try:
            out.append(kind(cell, p, threads))
        except ImportError:
            missing.append(kind.name)
    return out, missing


def check_same(runners):
    """Largest |difference| of each contender's output from rnnlab's (the graphs are the same model)."""
    ref = np.asarray(runners[0].infer())
    out = {}
    for r in runners[1:]:
        y = r.infer()
        y = y.detach().numpy() if hasattr(y, "detach") else np.asarray(y)
        if r.name == "onnxruntime":
            y = y[:, 0].transpose(1, 0, 2)
        out[r.name] = float(np.max(np.abs(y - ref)))
    return out
