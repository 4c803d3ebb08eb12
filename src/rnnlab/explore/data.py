"""What the page embeds: the sequence, every recorded quantity quantised, predictions, gradient flow.

`text_payload` reads a text with a character model; `task_payload` reads a few
sequences of a benchmark task (adding, copy, digits). Both return
(meta, blob): meta is JSON-ready (the tokens, each layer's quantities with
their per-unit ranges, where each array sits in the blob), blob the bytes of
all arrays, one after another, as the page reads them.
"""

import numpy as np

from .. import checks, tasks
from ..nn.recurrent import Recurrent
from ..probe.gradflow import state_gradients
from ..probe.record import record
from ..train import losses
from . import quantize as Q

MAX_CHARS = 20_000
MAX_BYTES = 10_000_000  # the page's default size budget
TOP_K = 5
TASKS = ("adding", "copy", "digits")
# quantities shown first in the page's menus; any other name a cell records follows, in its own order
_ORDER = ("h", "c", "i", "f", "o", "c_tilde", "z", "r")
LABELS = {
    "h": "h",
    "c": "C",
    "i": "i (input gate)",
    "f": "f (forget gate)",
    "o": "o (output gate)",
    "c_tilde": "C\u0303 (candidate)",
    "z": "z (update gate)",
    "r": "r (reset gate)",
}


class Blob:
    """Arrays appended one after another; each gets its offset (aligned to its item size)."""

    def __init__(self):
        self.parts, self.size = [], 0

    def add(self, array):
        a = np.ascontiguousarray(array)
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))  # the page reads little-endian typed arrays
        pad = -self.size % a.dtype.itemsize
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        offset = self.size
        self.parts.append(a.tobytes())
        self.size += a.nbytes
        return {"offset": offset, "length": int(a.size), "dtype": a.dtype.name}

    def bytes(self):
        return b"".join(self.parts)


def _quantities(rec):
    """{name: (steps, units) array} of one layer record, flattened over the batch, in menu order."""
    arrays = {k: v for k, v in rec.arrays().items() if v is not None}
    names = [k for k in _ORDER if k in arrays] + [k for k in arrays if k not in _ORDER]
    return {k: arrays[k].reshape(-1, arrays[k].shape[-1]) for k in names}


def layers_payload(recording, blob, detail=None):
    """Per recurrent layer: title, cell, units and each quantity quantised into the blob, with its error.

    h is kept at every step; the other quantities (C, the gates, C̃) at the first
    `detail` steps (None: all), so that a long text fits the page's size budget.
    Each quantity's ranges are those of the steps kept.
    """
    out = []
    for rec in recording:
        layer = {
            "title": rec.title,
            "path": rec.path,
            "cell": rec.cell,
            "units": int(rec.h.shape[-1]),
            "quantities": {},
        }
        for name, values in _quantities(rec).items():
            if name != "h" and detail is not None:
                values = values[:detail]
            q, lo, step = Q.quantize(values)
            layer["quantities"][name] = {
                "label": LABELS.get(name, name),
                "steps": int(values.shape[0]),
                "data": blob.add(q),
                "lo": [float(v) for v in lo],
                "step": [float(v) for v in step],
                "error": Q.error(values, q, lo, step),
                "bound": float(step.max()) / 2,
            }
        out.append(layer)
    return out


def _softmax_rows(z):
    z = np.asarray(z, dtype=np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def top_predictions(logits, k=TOP_K, chunk=2048):
    """The k most likely classes per row of logits (T, V) and their probabilities, best first.

    Returns ids (T, k) uint16 and p (T, k) float64; chunked so that a large
    vocabulary (thousands of Chinese characters) never needs a (T, V) float64 array.
    """
    logits = np.asarray(logits)
    k = min(k, logits.shape[-1])
    ids, probs = [], []
    for a in range(0, logits.shape[0], chunk):
        p = _softmax_rows(logits[a : a + chunk])
        best = np.argsort(-p, axis=-1, kind="stable")[:, :k]
        ids.append(best)
        probs.append(np.take_along_axis(p, best, axis=-1))
    return np.concatenate(ids).astype(np.uint16), np.concatenate(probs)


def _sequential_layers(model):
    layers = getattr(model, "layers", None)
    return list(layers) if isinstance(layers, (list, tuple)) else None


def gradient_flow(model, X, y, loss):
    """‖∂L/∂h_t‖ (and ‖∂L/∂C_t‖) by lag for the loss at the last step, through the model's last recurrent layer.

    model: a Sequential whose last recurrent layer is a direct child followed by
    non-recurrent layers only (Dense, Dropout); X its input (B, T[, D]); y the
    targets of the last step (B,) or (B, K); loss a Loss. The layers before the
    recurrent one run forward to give its input; the ones after carry the
    loss's gradient back to h_T; `state_gradients` runs the layer's own kernel
    back through time. Returns {"lag", "h"[, "c"], "layer", "samples", "steps"}
    or {"unavailable": reason}.
    """
    layers = _sequential_layers(model)
    if not layers:
        return {"unavailable": "the model is not a Sequential"}
    where = [k for k, layer in enumerate(layers) if isinstance(layer, Recurrent)]
    if not where:
        return {"unavailable": "the model's recurrent layers sit inside a wrapper (Bidirectional or Stack)"}
    k = where[-1]
    rnn, head = layers[k], layers[k + 1 :]
    if any(hasattr(layer, "units") and hasattr(layer, "state_names") for layer in head):
        return {"unavailable": "a wrapped recurrent layer follows the last plain one"}
    if hasattr(model, "reset_state"):
        model.reset_state()
    try:
        x = X
        for layer in layers[:k]:
            x = layer(x)
        h = rnn(x)
        out = h[:, -1] if h.ndim == 3 else h
        for layer in head:
            out = layer(out)
        y = loss.check_targets(y, out.shape, "gradient flow")
        _, dout = loss(out, y)
        for layer in reversed(head):
            dout = layer.backward(dout)
        grads = state_gradients(rnn, x, dout)
    finally:
        if hasattr(model, "reset_state"):
            model.reset_state()
    flow = {"layer": rnn.name, "samples": int(x.shape[0]), "steps": int(x.shape[1])}
    for name, g in grads.items():
        norms = np.sqrt(np.einsum("tbh,tbh->t", g, g, dtype=np.float64))[::-1]  # index = lag T − t
        flow[name] = [float(v) for v in norms]
    flow["lag"] = list(range(len(flow["h"])))
    return flow


def _check_max_chars(max_chars):
    return checks.int_at_least("max_chars", max_chars, 2)


def text_payload(model, vocab, text, max_chars=MAX_CHARS, max_bytes=MAX_BYTES, flow_window=100, flow_samples=16):
    """Read `text` with a character model; (meta, blob).

    model: a Sequential taking (B, T) character ids, giving logits (B, T, V)
    (as rnnlab.text.CharModel builds); vocab: its Vocabulary; text: str whose
    characters are all in the vocabulary; max_chars: the cap (the page says
    when the text was cut); max_bytes: the page's size budget (None: no cap) —
    h is kept at every character, C and the gates at as many first characters
    as fit (meta["detail"]; the page says so). Gradient flow: `flow_samples` windows of
    `flow_window` characters spread over the text, loss = cross-entropy of the
    character after each window.
    """
    max_chars = _check_max_chars(max_chars)
    if not isinstance(text, str) or len(text) < 2:
        raise ValueError("text expected a string of at least 2 characters")
    total = len(text)
    text = text[:max_chars]
    ids = vocab.encode(text)
    T = ids.size
    model.reset_state()
    try:
        recording = record(model, ids[None, :])
    finally:
        model.reset_state()
    logits = np.asarray(recording.output)[0]
    top = top_predictions(logits) if logits.ndim == 2 and logits.shape[-1] == len(vocab) else None
    L = min(flow_window, T - 1)
    starts = np.unique(np.linspace(0, T - 1 - L, num=min(flow_samples, T - L)).astype(int))
    X = np.stack([ids[s : s + L] for s in starts])
    flow = gradient_flow(model, X, ids[starts + L], losses.get("sparse_categorical_crossentropy"))

    def build(detail):
        blob = Blob()
        meta = {
            "kind": "text",
            "text": text,
            "total": total,
            "shown": T,
            "cut": T < total,
            "segments": [[0, T]],
            "detail": detail,
            "layers": layers_payload(recording, blob, detail),
            "gradflow": flow,
        }
        if top is not None:
            meta["vocab"] = "".join(vocab.chars)
            meta["top"] = {
                "k": int(top[0].shape[1]),
                "ids": blob.add(top[0]),
                "p": blob.add(np.rint(top[1] * 255).astype(np.uint8)),
            }  # probabilities to 1/255
        return meta, blob.bytes()

    return fit_budget(build, T, max_bytes)


def fit_budget(build, T, max_bytes):
    """build(detail) -> (meta, blob) with the most detail steps whose page stays within max_bytes.

    The page's size grows linearly with the steps at which C and the gates are
    kept: measure it with all and with one, interpolate, then shrink by 5% until
    it fits. Raises ValueError when even h alone does not fit.
    """
    from .page import html  # the page's size is what the budget is about

    meta, blob = build(T)
    if max_bytes is None:
        return meta, blob
    size = len(html(meta, blob, "").encode("utf-8"))
    if size <= max_bytes:
        return meta, blob
    small = len(html(*build(1), "").encode("utf-8"))
    if small > max_bytes:
        raise ValueError(
            f"the page would take {small / 1e6:.1f} MB with h alone, over the {max_bytes / 1e6:g} MB "
            f"budget: read fewer characters (max_chars)"
        )
    per_step = (size - small) / (T - 1)
    detail = max(1, int((max_bytes - small) / per_step))
    while True:
        meta, blob = build(detail)
        if detail == 1 or len(html(meta, blob, "").encode("utf-8")) <= max_bytes:
            return meta, blob
        detail = max(1, int(detail * 0.95))


def task_data(task, input_dim, samples=8, length=None, seed=0):
    """A few sequences of a task for a model with `input_dim` input features.

    Returns X (N, T, D), y, the loss of the task, per-step token labels and the
    input description the page draws. length: steps for adding, the delay for
    copy (defaults 50 and 20); digits reads 64 pixels (D = 1) or 8 rows (D = 8).
    """
    if task not in TASKS:
        raise ValueError(f"task expected one of {', '.join(TASKS)}, got {task!r}")
    want = {"adding": (2,), "copy": (tasks.copy_task.CLASSES,), "digits": (1, 8)}[task]
    if input_dim not in want:
        raise ValueError(
            f"the {task} task feeds {' or '.join(map(str, want))} input features; the model reads {input_dim}"
        )
    if task == "adding":
        X, y = tasks.adding(samples, length or 50, seed=[seed, 7])
        labels = [[f"{v:.2f}" + ("*" if m else "") for v, m in row] for row in X]
        return X, y, "mse", labels, {"draw": "adding"}
    if task == "copy":
        X, y = tasks.copy_memory(samples, length or 20, seed=[seed, 7])
        sym = {tasks.copy_task.BLANK: "\u00b7", tasks.copy_task.DELIMITER: "|"}
        labels = [[sym.get(int(k), str(int(k))) for k in row.argmax(-1)] for row in X]
        return X, y[:, -1], "sparse_categorical_crossentropy", labels, {"draw": "copy"}
    mode = "pixels" if input_dim == 1 else "rows"
    X, y = tasks.digits("test", mode)
    X, y = X[:samples], y[:samples]
    labels = [[f"{v:.1f}" for v in row.mean(-1)] for row in X]  # the pixel, or a row's mean
    return X, y, "sparse_categorical_crossentropy", labels, {"draw": "digits", "mode": mode}


def task_payload(model, task, samples=8, length=None, seed=0):
    """Read `samples` sequences of `task` with a model for it; (meta, blob)."""
    layers = _sequential_layers(model)
    first = next((layer for layer in layers or [] if isinstance(layer, Recurrent)), None)
    spec = getattr(model, "input_spec", None)
    dim = spec[-1] if spec else getattr(first, "input_dim", None)
    if dim is None and first is not None and "W" in getattr(first, "params", {}):
        dim = first.params["W"].shape[0]
    if dim is None:
        raise ValueError("the model has not been built: its input size is unknown")
    X, y, loss, labels, draw = task_data(task, int(dim), samples, length, seed)
    N, T, D = X.shape
    if hasattr(model, "reset_state"):
        model.reset_state()
    recording = record(model, X.astype(np.float32))
    blob = Blob()
    out = np.asarray(recording.output)
    meta = {
        "kind": "task",
        "task": task,
        "tokens": [t for row in labels for t in row],
        "total": N * T,
        "shown": N * T,
        "cut": False,
        "detail": N * T,
        "segments": [[n * T, (n + 1) * T] for n in range(N)],
        "layers": layers_payload(recording, blob),
        "draw": draw,
        "inputs": [[[round(float(v), 4) for v in step] for step in seq] for seq in X],
        "targets": np.asarray(y, dtype=np.float64).round(4).tolist(),
        "outputs": out.astype(np.float64).round(4).tolist(),
    }
    meta["gradflow"] = gradient_flow(model, X.astype(np.float32), y, losses.get(loss))
    return meta, blob.bytes()
