"""Record what every recurrent layer computed, step by step: gates, C̃, C and h.

`record(model, x)` runs one ordinary forward pass of the model with its
recurrent layers switched to the reference kernels (whatever backend they
use otherwise) and then reads each layer's kernel cache:
the numbers are the ones the kernel computed, not a second implementation.
For an LSTM the cache holds, per step t,

    gates = [i_t, f_t, C̃_t, o_t]   (the order of the weight blocks)
    c[t+1] = C_t,  h[t+1] = h_t    (c[0], h[0]: the initial state)

so that C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t and h_t = o_t ⊙ tanh(C_t) at every
real step. A GRU records z, r, h_tilde (h̃) and h; a SimpleRNN h only; each
cell's layer class says what it records (Recurrent.record_steps).
"""

import contextlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ..nn.cells import describe
from ..nn.recurrent import Recurrent

# how a table labels each recorded quantity (C̃ is two code points, C + combining tilde, but one column wide)
LABELS = {"c_tilde": "C\u0303", "c": "C", "h_tilde": "h\u0303"}


@dataclass
class LayerRecord:
    """One recurrent layer's steps, batch-first, in the order the layer read them.

    x (B, T, D) the layer's input; `values` {name: (B, T, H)} what the cell's layer
    class reports (Recurrent.record_steps), e.g. for an LSTM i, f, o, c_tilde (C̃),
    c (C) and h, the state after each step; `initial` {state: (B, H)} the states
    before the first step. Each is also an attribute: rec.h, rec.i, rec.c, and
    rec.h0, rec.c0 for the initial states. `steps[k]` is the time index read at
    step k (reversed for go_backwards); `mask` (B, T) in the same order, None when
    every step is real. At a masked step the layer carries its states over unchanged.
    """

    path: str
    name: str
    cell: str
    x: np.ndarray
    values: dict
    initial: dict
    steps: np.ndarray
    mask: np.ndarray = None
    layer: object = field(default=None, repr=False)

    def __getattr__(self, key):
        values, initial = self.__dict__.get("values", {}), self.__dict__.get("initial", {})
        if key in values:
            return values[key]
        if key.endswith("0") and key[:-1] in initial:
            return initial[key[:-1]]
        raise AttributeError(f"{self.cell} record has no {key!r}; it has {list(values)}")

    @property
    def title(self):
        """e.g. "layer 1 (lstm): lstm, 8 units"."""
        where = f"layer {self.path} ({self.name})" if self.path else self.name
        return f"{where}: {self.cell}, {self.h.shape[2]} units"

    @property
    def go_backwards(self):
        return bool(self.steps.size > 1 and self.steps[0] > self.steps[-1])

    def arrays(self):
        """{name: (B, T, H) array} of the recorded quantities, in the cell's order (gates first)."""
        return dict(self.values)

    def __getitem__(self, key):
        return self.arrays()[key]

    def table(self, tokens=None, sample=0, units=8, notes=None, digits=2):
        """A plain-text table, one block per step: the input, then each recorded quantity by unit.

        tokens: labels of the steps in time order; notes: one extra string per
        step (e.g. the prediction); units: how many units to show.
        """
        B, T, H = self.h.shape
        if not 0 <= sample < B:
            raise ValueError(f"sample expected an index in [0, {B}), got {sample}")
        if tokens is not None and len(tokens) != T:
            raise ValueError(f"tokens expected {T} labels (one per step), got {len(tokens)}")
        if notes is not None and len(notes) != T:
            raise ValueError(f"notes expected {T} strings (one per step), got {len(notes)}")
        shown = min(units, H)
        width = digits + 4
        rows = [(LABELS.get(key, key) + " ", key) for key in self.values]
        head = " " * 4 + "".join(f"{'u' + str(u):>{width}}" for u in range(shown))
        lines = [self.title + (f", first {shown} shown" if shown < H else "")]
        for k, t in enumerate(self.steps):
            label = str(t) if tokens is None else str(tokens[t])
            masked = self.mask is not None and not self.mask[sample, k]
            lines.append(
                f"step {k + 1}  input {label}"
                + ("  (masked: state carried)" if masked else "")
                + (f"  {notes[k]}" if notes is not None else "")
            )
            lines.append(head)
            for name, key in rows:
                values = getattr(self, key)[sample, k, :shown]
                lines.append(f"  {name}" + "".join(f"{v:>{width}.{digits}f}" for v in values))
        return "\n".join(lines)


class Recording:
    """The records of every recurrent layer of a model, in call order, and the model's output."""

    def __init__(self, layers, output):
        self.layers = list(layers)
        self.output = output

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, key):
        """By position, or by path ("0", "1.forward") or layer name."""
        if isinstance(key, (int, np.integer)):
            return self.layers[key]
        for rec in self.layers:
            if key in (rec.path, rec.name):
                return rec
        raise KeyError(f"record has no layer {key!r}; it has {[r.path or r.name for r in self.layers]}")

    def __repr__(self):
        return f"Recording({[r.path or r.name for r in self.layers]})"


def _recurrent_layers(obj, path=""):
    """(path, layer) for every recurrent layer inside obj, in order."""
    if isinstance(obj, Recurrent):
        yield path, obj
        return
    if hasattr(obj, "named_layers"):
        children = obj.named_layers()
    elif isinstance(getattr(obj, "layers", None), (list, tuple)):
        children = [(str(k), layer) for k, layer in enumerate(obj.layers)]
    else:
        return
    for prefix, child in children:
        yield from _recurrent_layers(child, f"{path}.{prefix}" if path else prefix)


@contextlib.contextmanager
def reference_kernels(layers):
    """Run `layers` on the reference kernels for the duration of the block (their caches are documented)."""
    saved = [(layer, layer.backend) for layer in layers]
    try:
        for layer in layers:
            layer.backend = "reference"
        yield
    finally:
        for layer, backend in saved:
            layer.backend = backend


def _batch_first(a):
    return np.ascontiguousarray(np.swapaxes(a, 0, 1))


def _layer_record(path, layer, cache):
    T = cache["x"].shape[0]
    steps = np.arange(T)[::-1].copy() if layer.go_backwards else np.arange(T)
    mask = None if cache["mask"] is None else _batch_first(cache["mask"])
    values, initial = layer.record_steps(cache)
    return LayerRecord(
        path=path,
        name=layer.name,
        cell=layer.cell,
        x=_batch_first(cache["x"]),
        values={k: _batch_first(v) for k, v in values.items()},
        initial={k: np.array(v) for k, v in initial.items()},
        steps=steps,
        mask=mask,
        layer=layer,
    )


def record(model, x: ArrayLike, mask: ArrayLike | None = None) -> Recording:
    """Run `model` on x once and return a Recording of each recurrent layer's steps.

    model: a recurrent layer, Bidirectional, Stack or Sequential; x and mask as
    the model takes them ((B, T, D) floats, or (B, T) ids for a model that starts
    with an Embedding). Inference mode, no dropout. A stateful layer starts from
    and advances its carried state as in any call; reset_state() first for a
    fresh start.
    """
    layers = list(_recurrent_layers(model))
    if not layers:
        raise TypeError(f"record expected a model with {describe()} layers, got {type(model).__name__}")
    before = {id(layer): layer.kernel_cache for _, layer in layers}
    with reference_kernels([layer for _, layer in layers]):
        output = model(x) if mask is None else model(x, mask=mask)
    records = []
    for path, layer in layers:
        cache = layer.kernel_cache
        if cache is None or cache is before[id(layer)]:
            raise ValueError(f"record: layer {path or layer.name!r} was not called by the model's forward pass")
        records.append(_layer_record(path, layer, cache))
    return Recording(records, output)
