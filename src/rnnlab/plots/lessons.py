"""Figures of `rnnlab lesson`: training loss beside every score, and the costs of BPTT."""

from collections.abc import Mapping

import numpy as np

from .figure import finish, new_figure


def _curve(ax, x, y, **style):
    """A line on a log axis: non-positive and non-finite values left out (a log axis cannot show them)."""
    y = np.asarray(y, dtype=np.float64)
    return ax.plot(np.asarray(x), np.where(np.isfinite(y) & (y > 0), y, np.nan), **style)[0]


def score_and_train_loss(panels, metric, baseline=None, logy=True, title=None):
    """Per panel, each run's score (solid) and training loss (dashed, same colour) against step.

    panels: {panel title: {label: {"step": [...], metric: [...], "train_loss": [...]}}}, a training loss of
    None (no step trained yet) left out. baseline: {panel title: value} drawn as a dotted line, or None.
    """
    if not isinstance(panels, Mapping) or not panels:
        raise ValueError("panels expected a non-empty {title: {label: curves}} mapping")
    fig, axes = new_figure(1, len(panels), figsize=(6 * len(panels), 4.5))
    for ax, (name, runs) in zip(axes[0], panels.items()):
        for label, run in runs.items():
            line = _curve(ax, run["step"], run[metric], label=f"{label}: {metric.replace('_', ' ')}", marker="o", ms=3)
            train = [(x, v) for x, v in zip(run["step"], run["train_loss"]) if v is not None]
            _curve(
                ax,
                [x for x, _ in train],
                [v for _, v in train],
                ls="--",
                color=line.get_color(),
                label=f"{label}: training loss",
            )
        if baseline is not None and name in baseline:
            ax.axhline(float(baseline[name]), color="black", ls=":", lw=1, label=f"baseline {baseline[name]:.3g}")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(name)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return finish(fig)


def exploding(norms, flows, nan_steps, clip, title=None):
    """Left: the global gradient norm (before clipping) at every step of each run, a cross where a run hit
    a non-finite value. Right: ‖∂L/∂h_t‖ by lag at initialisation.

    norms: {label: [norm per step]}; flows: {label: rnnlab.probe.gradient_flow dict};
    nan_steps: {label: step or None}; clip: the clipping threshold, drawn as a dotted line.
    """
    fig, axes = new_figure(1, 2, figsize=(12, 4.5))
    left, right = axes[0]
    for label, values in norms.items():
        values = np.asarray(values, dtype=np.float64)
        line = _curve(left, np.arange(values.size), values, label=label, lw=1)
        step = nan_steps.get(label)
        if step is not None:
            finite = values[np.isfinite(values)]
            left.plot(
                [step],
                [finite.max() if finite.size else 1.0],
                "x",
                ms=12,
                mew=3,
                color=line.get_color(),
                label=f"{label}: non-finite at step {step}",
            )
    left.axhline(clip, color="black", ls=":", lw=1, label=f"clipping threshold {clip:g}")
    left.set_yscale("log")
    left.set_xscale("symlog", linthresh=10)  # linear over the first steps, where the unclipped run ends
    left.set_xlim(left=0)
    left.set_xlabel("training step")
    left.set_ylabel("global gradient norm ‖g‖ (before clipping)")
    left.set_title("gradient norm during training")
    for label, flow in flows.items():
        rate = flow.get("rate_h")
        text = label if rate is None else f"{label} (×{np.exp(-rate):.2f} per step back)"
        _curve(right, flow["lag"], flow["h"], label=text)
    right.set_yscale("log")
    right.set_xlabel("lag T − t (steps back from the loss)")
    right.set_ylabel("‖∂L/∂h_t‖")
    right.set_title("gradient by lag at initialisation: it grows")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return finish(fig)


def train_val_curves(curves, title=None):
    """Training loss (left) and validation loss (right) against epoch, one colour per setting.

    curves: {setting: [{"epoch": [...], "loss": [...], "val_loss": [...]}, ...]}, one dict per seed;
    each seed is a thin line, the mean over seeds (over the epochs all seeds reached) a thick one.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves expected a non-empty {setting: [histories]} mapping")
    fig, axes = new_figure(1, 2, figsize=(12, 4.5), sharex=True)
    left, right = axes[0]
    for setting, runs in curves.items():
        colour = None
        for ax, key in ((left, "loss"), (right, "val_loss")):
            n = min(len(r[key]) for r in runs)
            mean = np.mean([r[key][:n] for r in runs], axis=0)
            line = _curve(ax, np.arange(1, n + 1), mean, lw=2, color=colour, label=f"{setting} (mean of {len(runs)})")
            colour = line.get_color()
            for r in runs:
                _curve(ax, r["epoch"], r[key], lw=0.7, alpha=0.35, color=colour)
    left.set_title("training loss: keeps falling")
    right.set_title("validation loss: turns up when the model overfits")
    for ax, name in ((left, "training"), (right, "validation")):
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{name} cross-entropy (nats)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return finish(fig)


def cost(time_rows, memory_rows, batch_rows, title=None):
    """Three log–log panels: seconds per training step against T, peak memory against T (one line per
    cell and method, fitted slope in the legend), and seconds per sequence against batch size.

    time_rows / memory_rows: {label: (T values, values, slope)}; batch_rows: {label: (B values, seconds per
    sequence)}.
    """
    fig, axes = new_figure(1, 3, figsize=(17, 4.8))
    panels = (
        (axes[0][0], time_rows, "seconds per training step", "time against T"),
        (axes[0][1], memory_rows, "peak memory of a step (MiB)", "memory against T"),
    )
    for ax, rows, ylabel, name in panels:
        for label, (xs, ys, slope) in rows.items():
            _curve(ax, xs, ys, marker="o", ms=4, label=f"{label} (slope {slope:.2f})")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
    ax = axes[0][2]
    for label, (xs, ys) in batch_rows.items():
        _curve(ax, xs, ys, marker="o", ms=4, label=label)
    ax.set_xlabel("batch size B (sequences per step)")
    ax.set_ylabel("seconds per sequence (step time / B)")
    ax.set_title("the steps of a sequence run in order: only the batch spreads over cores")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return finish(fig)
