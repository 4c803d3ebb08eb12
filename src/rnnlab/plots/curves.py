"""Line figures: activations, gradient flow, learning curves, the compare grid."""

import math
from collections.abc import Mapping

import numpy as np

from ..kernels import activations as act
from .figure import finish, new_figure


def activations(x=None):
    """σ and tanh with their derivatives; x defaults to the article's np.arange(-5, 5, 0.1).

    The derivatives come from the kernels' own functions (written in terms of
    the output): σ' = σ(1 − σ) ≤ 0.25, tanh' = 1 − tanh² ≤ 1.
    """
    x = np.arange(-5.0, 5.0, 0.1) if x is None else np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x expected a 1-D array of at least 2 points, got shape {x.shape}")
    sigmoid, d_sigmoid = act.get("sigmoid")
    tanh, d_tanh = act.get("tanh")
    s, t = sigmoid(x), tanh(x)
    fig, axes = new_figure(1, 2, figsize=(10, 4))
    left, right = axes[0]

    left.plot(x, s, label="σ(x) = 1 / (1 + e^(−x))")
    left.plot(x, d_sigmoid(s), label="σ'(x) = σ(x)(1 − σ(x))")
    left.axhline(0.25, color="grey", ls=":", lw=1)
    left.annotate(
        "max σ' = 0.25: 0.25¹⁰ ≈ 1e-6",
        xy=(0.0, 0.25),
        xytext=(-4.8, 0.4),
        arrowprops={"arrowstyle": "->", "color": "grey"},
    )
    left.set_title("sigmoid 与导数 (σ)")

    right.plot(x, t, label="tanh(x)")
    right.plot(x, d_tanh(t), label="tanh'(x) = 1 − tanh²(x)")
    right.axhline(1.0, color="grey", ls=":", lw=1)
    right.set_title("tanh 与导数")
    for ax in (left, right):
        ax.axhline(0.0, color="black", lw=0.5)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    return finish(fig)


def _norms_by_lag(curve, key):
    """A curve given as norms by lag, or as rnnlab.probe.gradient_flow's dict."""
    rate = None
    if isinstance(curve, Mapping):
        if key not in curve:
            raise ValueError(f"gradient_flow expected curves with key {key!r}, got keys {sorted(curve)}")
        rate = curve.get(f"rate_{key}")
        curve = curve[key]
    norms = np.asarray(curve, dtype=np.float64)
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"gradient_flow expected 1-D norms by lag, got shape {norms.shape}")
    return np.where(norms > 0, norms, np.nan), rate  # a log axis cannot show 0 (underflow)


def _axes_for(lines, name, what):
    """(figure, axes) for one line per entry of `lines`, a non-empty {label: what} mapping."""
    if not isinstance(lines, Mapping) or not lines:
        raise ValueError(f"{name} expected a non-empty {{label: {what}}} mapping")
    fig, axes = new_figure()
    return fig, axes[0, 0]


def gradient_flow(curves, key="h", title=None):
    """‖∂L/∂h_t‖ against the lag T − t on a log axis, one line per model.

    curves: {label: norms by lag (1-D)} or {label: rnnlab.probe.gradient_flow(...) dict};
    key picks "h" or "c" from such dicts. A straight line is an exponential
    decay; its fitted rate (nats per step) goes into the legend when known.
    """
    fig, ax = _axes_for(curves, "curves", "norms")
    for label, curve in curves.items():
        norms, rate = _norms_by_lag(curve, key)
        text = label if rate is None else f"{label} (decay {rate:.3g} per step)"
        ax.plot(np.arange(norms.size), norms, label=text)
    ax.set_yscale("log")
    ax.set_xlabel("lag T − t (steps back from the loss)")
    ax.set_ylabel(f"‖∂L/∂{'C' if key == 'c' else 'h'}_t‖")
    ax.set_title(title or "gradient flow 梯度随时间回传")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return finish(fig)


def _series(history, metric):
    """(x, y) from a list of values, {metric: [...], "step": [...]}, or an object with .history."""
    history = getattr(history, "history", history)
    if isinstance(history, Mapping):
        if metric not in history:
            raise ValueError(f"learning_curves expected metric {metric!r} in the history, got keys {sorted(history)}")
        y = np.asarray(history[metric], dtype=np.float64)
        x = next((np.asarray(history[k]) for k in ("step", "steps", "epoch") if k in history), None)
    else:
        y, x = np.asarray(history, dtype=np.float64), None
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"learning_curves expected a 1-D series for {metric!r}, got shape {y.shape}")
    if x is None:
        x = np.arange(1, y.size + 1)
    if len(x) != y.size:
        raise ValueError(f"learning_curves expected as many steps as values, got {len(x)} and {y.size}")
    return x, y


def learning_curves(histories, metric="loss", baseline=None, xlabel="epoch", logy=False, title=None):
    """One line per run of `metric` against epoch or step, with the baseline as a dashed line.

    histories: {label: values | {metric: values, "step": steps} | History}.
    baseline: a number (e.g. 0.167, the adding task's mean predictor) or None.
    """
    fig, ax = _axes_for(histories, "histories", "history")
    for label, history in histories.items():
        x, y = _series(history, metric)
        ax.plot(x, y, label=label, marker="o" if y.size < 30 else None, ms=3)
    if baseline is not None:
        ax.axhline(float(baseline), color="black", ls="--", lw=1, label=f"baseline {float(baseline):.3g}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    ax.set_title(title or f"learning curves: {metric}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return finish(fig)


def _baseline_at(baseline, length):
    if callable(baseline):
        return float(baseline(length))
    if isinstance(baseline, Mapping):
        return float(baseline[length]) if length in baseline else math.nan
    return float(baseline)


def _by_length(ax, rows, key, models):
    """Mean over seeds of `key` against length per model, each seed a dot; rows without a value left out."""
    for model in models:
        mine = [row for row in rows if row["model"] == model and row.get(key) is not None]
        xs = sorted({row["length"] for row in mine})
        values = [[float(row[key]) for row in mine if row["length"] == L] for L in xs]
        (line,) = ax.plot(xs, [np.mean(v) for v in values], marker="o", label=model)
        for L, v in zip(xs, values):
            ax.scatter([L] * len(v), v, color=line.get_color(), alpha=0.35, s=12)


def compare_grid(results, metric, baseline=None, logx=False, logy=False, title=None, train=None):
    """Final `metric` against sequence length, one line per model (mean over seeds, every seed as a dot); with
    `train`, the final training loss beside it (right panel, same colours), so that a score is never shown
    without the loss the model was fitting.

    results: rows (mappings) with keys "model", "length" and `metric` (and `train`, None where a run has none).
    baseline: a number, {length: value} or a function of the length (copy
    memory's 10·ln 8 / (T + 20)); drawn as a dashed black line.
    """
    rows = list(results)
    if not rows:
        raise ValueError("results expected at least one row, got none")
    for k, row in enumerate(rows):
        missing = {"model", "length", metric, *([train] if train else [])} - set(row)
        if missing:
            raise ValueError(f"results row {k} expected keys model, length and {metric!r}, missing {sorted(missing)}")
    fig, axes = new_figure(1, 2 if train else 1, figsize=(14, 4.5) if train else (8, 4.5))
    models = list(dict.fromkeys(row["model"] for row in rows))
    lengths = sorted({row["length"] for row in rows})
    panels = [(axes[0, 0], metric, title or f"{metric} by sequence length")]
    if train:
        panels.append((axes[0, 1], train, "final training loss by sequence length"))
    for ax, key, name in panels:
        _by_length(ax, rows, key, models)
        if baseline is not None and key == metric:
            ax.plot(lengths, [_baseline_at(baseline, L) for L in lengths], "k--", lw=1, label="baseline")
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xticks(lengths, [str(L) for L in lengths])
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(key)
        ax.set_title(name)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    return finish(fig)
