"""Figures of recorded steps (rnnlab.probe.record): gate heatmaps and cell-state trajectories."""

import numpy as np

from .figure import finish, new_figure

# (key, panel title, colour range): gates live in (0, 1), C̃, h̃ and h in (−1, 1), C is unbounded
PANELS = {
    "i": ("i  input gate 输入门", (0.0, 1.0)),
    "f": ("f  forget gate 遗忘门", (0.0, 1.0)),
    "o": ("o  output gate 输出门", (0.0, 1.0)),
    "c_tilde": ("C̃  candidate memory 候选记忆", (-1.0, 1.0)),
    "c": ("C  cell state 细胞状态", None),
    "z": ("z  update gate 更新门", (0.0, 1.0)),
    "r": ("r  reset gate 重置门", (0.0, 1.0)),
    "h_tilde": ("h̃  candidate state 候选状态", (-1.0, 1.0)),
    "h": ("h  hidden state 隐藏状态", (-1.0, 1.0)),
}


def _pick(record, layer):
    """A LayerRecord from a Recording (by index or path) or the LayerRecord itself."""
    return record[layer] if hasattr(record, "layers") else record


def _check(rec, sample, units, tokens):
    B, T, H = rec.h.shape
    if not 0 <= sample < B:
        raise ValueError(f"sample expected an index in [0, {B}), got {sample}")
    units = min(H, 32) if units is None else units
    if not 0 < units <= H:
        raise ValueError(f"units expected a count in [1, {H}], got {units}")
    if tokens is not None and len(tokens) != T:
        raise ValueError(f"tokens expected {T} labels (one per step), got {len(tokens)}")
    labels = [str(t) for t in tokens] if tokens is not None else [str(int(s)) for s in rec.steps]
    if tokens is not None and rec.go_backwards:  # tokens come in time order, the record in reading order
        labels = [labels[s] for s in rec.steps]
    return units, labels


def gates(record, layer=0, sample=0, tokens=None, units=None, title=None):
    """Heatmaps (unit × step) of what the record holds: i, f, o, C̃, C and h for an LSTM; z, r, h̃ and h
    for a GRU; h for a SimpleRNN.

    record: rnnlab.probe.record(...) or one of its layer records; tokens: labels
    of the steps in time order (e.g. ["我", "爱", "祖国"]); units: how many
    units to show (default up to 32).
    """
    rec = _pick(record, layer)
    units, labels = _check(rec, sample, units, tokens)
    keys = list(rec.arrays())
    ncols = 3 if len(keys) > 1 else 1
    nrows = -(-len(keys) // ncols)
    T = rec.h.shape[1]
    fig, axes = new_figure(nrows, ncols, figsize=(max(4.0, 0.45 * T + 2.5) * ncols, 0.12 * units * nrows + 2.2 * nrows))
    for ax, key in zip(axes.flat, keys):
        values = rec[key][sample, :, :units].T  # (units, steps)
        name, vrange = PANELS.get(key, (key, None))  # a cell of one's own: its names, a range from the data
        if vrange is None:
            top = max(float(np.abs(values).max()), 1e-12)
            vrange = (-top, top)
        image = ax.imshow(
            values,
            aspect="auto",
            interpolation="nearest",
            origin="lower",
            cmap="viridis" if vrange[0] == 0.0 else "RdBu_r",
            vmin=vrange[0],
            vmax=vrange[1],
        )
        ax.set_title(name, fontsize="medium")
        ax.set_xticks(np.arange(T), labels, fontsize="small", rotation=90 if T > 12 else 0)
        ax.set_ylabel("unit")
        fig.colorbar(image, ax=ax, shrink=0.85)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    shown = f" (units 0–{units - 1} shown)" if units < rec.h.shape[2] else ""
    fig.suptitle((title or f"{rec.title}, sample {sample}, step by step") + shown)
    return finish(fig)


def cell_state(record, layer=0, sample=0, tokens=None, units=None, title=None):
    """Trajectories over the steps of C_t (LSTM) and h_t, one line per unit (default up to 8)."""
    rec = _pick(record, layer)
    units, labels = _check(rec, sample, min(rec.h.shape[2], 8) if units is None else units, tokens)
    keys = [key for key in rec.arrays() if key in rec.initial]  # the states, e.g. C and h
    T = rec.h.shape[1]
    fig, axes = new_figure(len(keys), 1, figsize=(max(6.0, 0.4 * T + 3), 2.8 * len(keys)), sharex=True)
    steps = np.arange(T + 1)
    for ax, key in zip(axes[:, 0], keys):
        start = rec.initial[key]
        values = np.concatenate([start[sample, None, :units], rec[key][sample, :, :units]])  # (T + 1, units)
        for u in range(units):
            ax.plot(steps, values[:, u], marker=".", lw=1.2, label=f"unit {u}")
        ax.axhline(0.0, color="black", lw=0.5)
        title = PANELS.get(key, (key, None))[0]
        ax.set_ylabel(title.split("  ")[0] + "_t")
        ax.set_title(title, fontsize="medium")
        ax.grid(alpha=0.3)
    ax = axes[-1, 0]
    ax.set_xticks(steps, ["start"] + labels, rotation=90 if T > 12 else 0)
    ax.set_xlabel("step (input read)")
    if units <= 8:
        axes[0, 0].legend(fontsize="x-small", ncol=min(units, 4))
    fig.suptitle(title or f"{rec.title}: states over time, sample {sample}")
    return finish(fig)
