"""Figures of run records, drawn with rnnlab.plots (needs matplotlib: pip install rnnlab[plot])."""

import os

from .. import plots
from ..plots import lessons as lesson_plots


def learning_curve(record):
    """The headline metric (on validation where the task has a split, else on test) and the training loss
    against training step, with the memoryless baseline."""
    task = record["task"]
    first = record["evaluations"][0]
    key = next(k for k in (f"val_{task['metric']}", f"test_{task['metric']}") if k in first)
    rows = [r for r in record["evaluations"] if r[key] is not None]
    c = record["config"]
    label = f"{c['model']}{' (chrono)' if c['init'] == 'chrono' else ''}, {c['hidden']} units"
    name = f"{task['name']} T={c['length']}: {key} (success: {task['success']})"
    curves = {
        label: {
            key: [r[key] for r in rows],
            "train_loss": [r["train_loss"] for r in rows],
            "step": [r["step"] for r in rows],
        }
    }
    return lesson_plots.score_and_train_loss(
        {name: curves}, key, baseline={name: task["baseline"]}, logy=task["goal"] == "min"
    )


def gradient_flow(record, key="h"):
    """‖∂L/∂h_t‖ (or C_t) by lag at each recorded training step."""
    c = record["config"]
    curves = {f"step {g['step']}": g for g in record["gradient_flow"] if g.get(key) is not None}
    return plots.gradient_flow(curves, key=key, title=f"{c['model']} on {c['task']} T={c['length']}: gradient flow")


def run_figures(record, out_dir):
    """Write <name>-curve.png and <name>-gradflow.png (and -gradflow-c.png for an LSTM); returns the paths."""
    out_dir = os.fspath(out_dir)
    paths = [plots.save(learning_curve(record), os.path.join(out_dir, f"{record['name']}-curve.png"))]
    if record["gradient_flow"]:
        paths.append(plots.save(gradient_flow(record), os.path.join(out_dir, f"{record['name']}-gradflow.png")))
        if record["gradient_flow"][0].get("c") is not None:
            paths.append(
                plots.save(gradient_flow(record, "c"), os.path.join(out_dir, f"{record['name']}-gradflow-c.png"))
            )
    return paths
