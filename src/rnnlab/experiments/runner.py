"""One run: run(config) -> record, a pure function of the config (a JSON-able dict).

The record holds the config, the scores at every evaluation (on the
validation split where the task has one, then the test set is scored once,
for the evaluation chosen on validation; else on the test set), the
baseline and success criterion, the gradient flow at initialisation and
during training, and the environment. Wall-clock times sit apart under
"timing", so two runs of one config give equal records once `comparable()`
drops that key. Nothing here reads or writes global state, so a scheduler
(a process pool, a Dask cluster) can run records anywhere and gather them.
"""
import json
import math
import os
import platform
import time
from importlib import metadata

import numpy as np

from .. import kernels
from ..io import atomic
from ..probe.gradflow import GradientFlowCallback
from ..train.callbacks import Callback, TerminateOnNaN
from .config import check_config, config_id, record_name
from .protocols import problem

SCHEMA = "rnnlab.run/1"
CHUNK_STEPS = 50  # training data is drawn this many steps at a time


class _StepLosses(Callback):
    """The training loss of every completed step, across fit calls."""

    def __init__(self):
        self.losses = []
        self._pending = None

    def on_gradients(self, step, loss, grads):
        self._pending = loss

    def on_train_batch_end(self, step, logs=None):
        self.losses.append(self._pending)


def environment():
    """Library versions and machine: fields that do not change between runs on one machine."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        numba = metadata.version("numba")
    except metadata.PackageNotFoundError:  # the fast kernels are then off
        numba = None
    from ..version import __version__
    return {
        "rnnlab": __version__, "numpy": np.__version__, "numba": numba, "python": platform.python_version(),
        "kernel_backend": kernels.backend(), "platform": platform.platform(), "machine": platform.machine(),
        "cpu": cpu, "cpu_count": os.cpu_count(),
    }


def _finite(value):
    return value if value is None or math.isfinite(value) else None


def run(config, verbose=False):
    """Train and evaluate one config; returns the record (a dict). verbose prints one line per evaluation."""
    config = check_config(config)
    started, t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.perf_counter()
    prob = problem(config)
    model = prob.build_model()
    X_test, y_test = prob.test_set()
    val = prob.validation_set()
    X_eval, y_eval = val if val is not None else (X_test, y_test)  # what the evaluations score
    prefix = "val_" if val is not None else "test_"
    chosen = {"step": None, "value": None, "weights": None}  # the best evaluation on validation
    steps, batch, every = config["steps"], config["batch"], config["eval_every"]
    probe_every = config["probe_every"] or steps + 1  # 0: at the start and the end only
    probe = GradientFlowCallback(X_test[:config["probe_size"]], y_test[:config["probe_size"]], every=probe_every)
    step_losses, guard = _StepLosses(), TerminateOnNaN()
    times = {"train_s": 0.0, "eval_s": 0.0}

    def evaluate(step, since):
        t = time.perf_counter()
        scores = prob.score(model, X_eval, y_eval)
        times["eval_s"] += time.perf_counter() - t
        window = step_losses.losses[since:step]  # the training steps since the last evaluation
        row = {"step": step, "train_loss": _finite(float(np.mean(window))) if window else None,
               **{f"{prefix}{k}": _finite(v) for k, v in scores.items()}}
        value = _finite(scores[prob.metric])
        if val is not None and value is not None and (chosen["value"] is None or (
                value < chosen["value"] if prob.goal == "min" else value > chosen["value"])):
            chosen.update(step=step, value=value, weights=model.get_weights())
        if verbose:
            print(f"  step {step:6d}  " + "  ".join(f"{k}={v:.4g}" for k, v in row.items()
                                                    if k != "step" and v is not None), flush=True)
        return row, scores

    evaluations = [evaluate(0, 0)[0]]
    done, chunk, stopped = 0, 0, None
    while done < steps and stopped is None:
        window_end = min(steps, done + every)
        while done < window_end:
            n = min(CHUNK_STEPS, window_end - done)
            X, y = prob.train_chunk(chunk, n * batch)
            chunk += 1
            t = time.perf_counter()
            model.fit(X, y, epochs=1, batch_size=batch, shuffle=False, verbose=0, callbacks=[step_losses, guard, probe])
            times["train_s"] += time.perf_counter() - t
            done = len(step_losses.losses)
            if guard.message:
                stopped = guard.message
                break
        row, scores = evaluate(done, evaluations[-1]["step"])
        evaluations.append(row)
        if config["stop_on_success"] and prob.solved(scores):
            break

    if done and probe.records[-1]["step"] != done:
        probe.measure()  # the gradient flow of the trained model, whatever the probe interval
    final = evaluations[-1]
    scores = {k[len(prefix):]: v for k, v in final.items() if k.startswith(prefix)}
    solved_at = next((r["step"] for r in evaluations
                      if all(r[f"{prefix}{k}"] is not None for k in scores)
                      and prob.solved({k: r[f"{prefix}{k}"] for k in scores})), None)
    selected = {}
    if val is not None:  # the test set, once: the weights of the evaluation chosen on validation
        if chosen["weights"] is not None:
            model.set_weights(chosen["weights"])
        scores = {k: _finite(v) for k, v in prob.score(model, X_test, y_test).items()}
        selected = {"selected_step": chosen["step"], f"val_{prob.metric}": chosen["value"]}
    ok = all(v is not None for v in scores.values())
    test_baseline = prob.test_baseline(X_test, y_test)
    wall = time.perf_counter() - t0
    return {
        "schema": SCHEMA,
        "id": config_id(config),
        "name": record_name(config),
        "config": config,
        "task": {"name": prob.name, "metric": prob.metric, "goal": prob.goal, "baseline": prob.baseline(),
                 "test_baseline": test_baseline, "success": prob.success,
                 "sequence_steps": prob.steps_per_sequence()},
        "model": {"params": model.count_params()},
        "evaluations": evaluations,
        "final": {"step": final["step"], prob.metric: scores[prob.metric], **scores, **selected,
                  "solved": bool(ok and prob.solved(scores)),
                  "beats_baseline": bool(ok and prob.beats_baseline(scores, test_baseline)),
                  "first_solved_step": solved_at, "stopped": stopped},
        "gradient_flow": probe.records,
        "env": environment(),
        "timing": {"started_utc": started, "wall_s": round(wall, 3), "train_s": round(times["train_s"], 3),
                   "eval_s": round(times["eval_s"], 3),
                   "steps_per_s": round(final["step"] / times["train_s"], 3) if times["train_s"] else None},
    }


def comparable(record):
    """The record without its wall-clock fields: equal for equal configs on one machine."""
    return {k: v for k, v in record.items() if k != "timing"}


def write_text(path, text):
    """Write text atomically: a temporary file beside path, then rename."""
    return atomic.write_text(path, text)


def write_json(path, obj):
    """Write obj as JSON (strict: no NaN) atomically."""
    return write_text(path, json.dumps(obj, indent=1, allow_nan=False, ensure_ascii=False) + "\n")


def read_record(path):
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise ValueError(f"{path} expected a run record with schema {SCHEMA!r}, got {type(record).__name__}")
    return record


def record_path(out_dir, config):
    return os.path.join(os.fspath(out_dir), record_name(config) + ".json")


def run_to_file(config, out_dir, figures=True, reuse=True, verbose=False):
    """Run config (or reuse a record of the same config under out_dir), write its JSON and figures.

    Returns the record's path. The file name carries the config hash, so a
    record found there is the record this config produces.
    """
    path = record_path(out_dir, config)
    if reuse and os.path.exists(path):
        record = read_record(path)
    else:
        record = run(config, verbose=verbose)
        write_json(path, record)
    if figures:
        from .figures import run_figures
        run_figures(record, out_dir)
    return path
