"""One run: run(config) -> record, a pure function of the config (a JSON-able dict).

The record holds the config, the scores at every evaluation (on the
validation split where the task has one, then the test set is scored once,
for the evaluation chosen on validation; else on the test set), the
baseline and success criterion, the gradient flow at initialisation and
during training, and the environment. Wall-clock times sit apart under
"timing", so two runs of one config give equal records once `comparable()`
drops that key. Nothing here reads or writes global state, so a scheduler
(a process pool, a Dask cluster) can run records anywhere and gather them.

A run that diverges is a record, not a crash: training stops at the first NaN or
Inf (loss, gradient or activation), `final["stopped"]` says "non-finite at step N"
(N: the updates made before it; that step's update is skipped) and
`final["stopped_detail"]` the guard's full message; an evaluation that overflows
scores null. A run given a time limit that it reaches stops the same way, with
"time limit at step N", and is then the run of its first N steps, not of its config.

Non-finite numbers in JSON files (`write_json`, schema of every file written here):
strict JSON has no NaN or Inf, so each is written as null and listed in a top-level
`"non_finite"` object mapping its JSON Pointer (RFC 6901, e.g.
"/gradient_flow/3/norms/U") to "nan", "inf" or "-inf". A file without non-finite
numbers has no such key. `read_record` gives the file as written (nulls).
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
from ..kernels import hardware
from ..probe.gradflow import GradientFlowCallback
from ..train.callbacks import Callback, NonFiniteError, TerminateOnNaN
from .config import check_config, config_id, record_name
from .protocols import problem

SCHEMA = "rnnlab.run/1"
FAILED_SCHEMA = "rnnlab.failed/1"
CHUNK_STEPS = 50  # training data is drawn this many steps at a time
TIME_LIMIT = "time limit"  # how final.stopped of a run cut short by run(time_limit=...) begins


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
    """Library versions and machine: fields that do not change between runs on one machine.

    Records of one config are equal to every digit only on the same CPU and BLAS kernels: the CPU
    model, its SIMD flags and the BLAS core type (e.g. OpenBLAS' "Haswell", "SkylakeX") are recorded.
    """
    cpu, simd = hardware.cpu()
    try:
        numba = metadata.version("numba")
    except metadata.PackageNotFoundError:  # the fast kernels are then off
        numba = None
    from ..version import __version__

    return {
        "rnnlab": __version__,
        "numpy": np.__version__,
        "numba": numba,
        "python": platform.python_version(),
        "kernel_backend": kernels.backend(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "simd": simd,
        "blas": hardware.blas_libraries(),
    }


def _finite(value):
    return value if value is None or math.isfinite(value) else None


def run(config, verbose=False, time_limit=None):
    """Train and evaluate one config; returns the record (a dict). verbose prints one line per evaluation.

    time_limit: seconds of wall time after which training stops at the end of the current chunk of
    CHUNK_STEPS steps, evaluates once more and records ``stopped: "time limit at step N"`` (None: no
    limit). It is not part of the config: such a record is not the finished run of its config, and
    run_to_file does not reuse it.
    """
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
    probe = GradientFlowCallback(X_test[: config["probe_size"]], y_test[: config["probe_size"]], every=probe_every)
    step_losses, guard = _StepLosses(), TerminateOnNaN()
    times = {"train_s": 0.0, "eval_s": 0.0}
    score_keys, overflow = [], {"message": None}

    def score(X, y):
        """prob.score, or every score None when the model's output overflows (a diverged run)."""
        try:
            scores = prob.score(model, X, y)
        except NonFiniteError as err:
            overflow["message"] = str(err)
            return dict.fromkeys(score_keys or [prob.metric])
        score_keys[:] = list(scores)
        return scores

    def evaluate(step, since):
        t = time.perf_counter()
        scores = score(X_eval, y_eval)
        times["eval_s"] += time.perf_counter() - t
        window = step_losses.losses[since:step]  # the training steps since the last evaluation
        row = {
            "step": step,
            "train_loss": _finite(float(np.mean(window))) if window else None,
            **{f"{prefix}{k}": _finite(v) for k, v in scores.items()},
        }
        value = _finite(scores[prob.metric])
        if (
            val is not None
            and value is not None
            and (
                chosen["value"] is None or (value < chosen["value"] if prob.goal == "min" else value > chosen["value"])
            )
        ):
            chosen.update(step=step, value=value, weights=model.get_weights())
        if verbose:
            print(
                f"  step {step:6d}  "
                + "  ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "step" and v is not None)
                + (f"  (evaluation overflowed: {overflow['message']})" if overflow["message"] else ""),
                flush=True,
            )
        return row, scores

    evaluations = [evaluate(0, 0)[0]]
    done, chunk, stopped, detail = 0, 0, None, None
    if overflow["message"]:  # the untrained model already overflows: nothing to train
        stopped, detail = "non-finite at step 0", f"evaluation at step 0: {overflow['message']}"
    while done < steps and stopped is None:
        window_end = min(steps, done + every)
        while done < window_end:
            n = min(CHUNK_STEPS, window_end - done)
            X, y = prob.train_chunk(chunk, n * batch)
            chunk += 1
            t = time.perf_counter()
            try:
                model.fit(
                    X, y, epochs=1, batch_size=batch, shuffle=False, verbose=0, callbacks=[step_losses, guard, probe]
                )
            except NonFiniteError as err:  # the probe's data overflowed after an update
                guard.message = guard.message or f"after step {len(step_losses.losses)}: {err}"
            times["train_s"] += time.perf_counter() - t
            done = len(step_losses.losses)
            if guard.message:  # the guard skipped the update of step `done`: the weights are those after `done`
                stopped, detail = f"non-finite at step {done}", guard.message
                break
            if time_limit is not None and time.perf_counter() - t0 >= time_limit and done < steps:
                stopped, detail = f"{TIME_LIMIT} at step {done}", f"the time limit of {time_limit:g} s was reached"
                break
        overflow["message"] = None
        row, scores = evaluate(done, evaluations[-1]["step"])
        evaluations.append(row)
        if overflow["message"] and stopped is None:
            stopped, detail = f"non-finite at step {done}", f"evaluation at step {done}: {overflow['message']}"
        if config["stop_on_success"] and prob.solved(scores):
            break

    if done and probe.records[-1]["step"] != done:
        try:
            probe.measure()  # the gradient flow of the trained model, whatever the probe interval
        except NonFiniteError:  # a diverged model has none; its earlier probes stay
            pass
    final = evaluations[-1]
    scores = {k[len(prefix) :]: v for k, v in final.items() if k.startswith(prefix)}
    solved_at = next(
        (
            r["step"]
            for r in evaluations
            if all(r[f"{prefix}{k}"] is not None for k in scores)
            and prob.solved({k: r[f"{prefix}{k}"] for k in scores})
        ),
        None,
    )
    selected = {}
    if val is not None:  # the test set, once: the weights of the evaluation chosen on validation
        if chosen["weights"] is not None:
            model.set_weights(chosen["weights"])
        scores = {k: _finite(v) for k, v in score(X_test, y_test).items()}
        selected = {"selected_step": chosen["step"], f"val_{prob.metric}": chosen["value"]}
    ok = all(v is not None for v in scores.values())
    test_baseline = prob.test_baseline(X_test, y_test)
    wall = time.perf_counter() - t0
    return {
        "schema": SCHEMA,
        "id": config_id(config),
        "name": record_name(config),
        "config": config,
        "task": {
            "name": prob.name,
            "metric": prob.metric,
            "goal": prob.goal,
            "baseline": prob.baseline(),
            "test_baseline": test_baseline,
            "success": prob.success,
            "sequence_steps": prob.steps_per_sequence(),
        },
        "model": {"params": model.count_params()},
        "evaluations": evaluations,
        "final": {
            "step": final["step"],
            prob.metric: scores[prob.metric],
            **scores,
            **selected,
            "solved": bool(ok and prob.solved(scores)),
            "beats_baseline": bool(ok and prob.beats_baseline(scores, test_baseline)),
            "first_solved_step": solved_at,
            "stopped": stopped,
            "stopped_detail": detail,
        },
        "gradient_flow": probe.records,
        "env": environment(),
        "timing": {
            "started_utc": started,
            "wall_s": round(wall, 3),
            "train_s": round(times["train_s"], 3),
            "eval_s": round(times["eval_s"], 3),
            "steps_per_s": round(final["step"] / times["train_s"], 3) if times["train_s"] else None,
        },
    }


def comparable(record):
    """The record without its wall-clock fields: equal for equal configs on one machine."""
    return {k: v for k, v in record.items() if k != "timing"}


def write_text(path, text):
    """Write text atomically: a temporary file beside path, then rename."""
    return atomic.write_text(path, text)


def json_compliant(obj):
    """(a copy of obj with every NaN/Inf float as None, {JSON Pointer: "nan" | "inf" | "-inf"})."""
    found = {}

    def walk(value, pointer):
        if isinstance(value, dict):
            return {k: walk(v, f"{pointer}/{_escape(k)}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, f"{pointer}/{k}") for k, v in enumerate(value)]
        if isinstance(value, (float, np.floating)):
            if math.isfinite(value):
                return float(value)
            found[pointer] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
            return None
        if isinstance(value, np.integer):
            return int(value)
        return value

    return walk(obj, ""), found


def _escape(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def write_json(path, obj):
    """Write obj as strict JSON atomically; NaN/Inf as null, listed under "non_finite" (see the module doc)."""
    clean, found = json_compliant(obj)
    if found:
        if not isinstance(clean, dict) or "non_finite" in clean:
            raise ValueError(
                f"{os.fspath(path)}: non-finite numbers expected in a dict without a 'non_finite' "
                f"key, got {type(obj).__name__} with {sorted(found)}"
            )
        clean = {**clean, "non_finite": found}
    return write_text(path, json.dumps(clean, indent=1, allow_nan=False, ensure_ascii=False) + "\n")


def read_record(path):
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{os.fspath(path)} is not a whole run record ({err}); delete it, or run again with "
            f"--force (force=True) to replace it"
        ) from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise ValueError(f"{path} expected a run record with schema {SCHEMA!r}, got {type(record).__name__}")
    return record


def record_path(out_dir, config):
    return os.path.join(os.fspath(out_dir), record_name(config) + ".json")


def run_to_file(config, out_dir, figures=True, reuse=True, verbose=False, time_limit=None):
    """Run config (or reuse a record of the same config under out_dir), write its JSON and figures.

    Returns the record's path. The file name carries the config hash, so a
    record found there is the record this config produces, unless a time limit
    cut it short: that one is run again. time_limit: seconds, see run().
    """
    path = record_path(out_dir, config)
    record = read_record(path) if reuse and os.path.exists(path) else None
    if record is None or cut_short(record):
        record = run(config, verbose=verbose, time_limit=time_limit)
        write_json(path, record)
    if figures:
        from .figures import run_figures

        run_figures(record, out_dir)
    return path


def cut_short(record):
    """Whether a time limit stopped the run before its last step (then it is not its config's record)."""
    return (record["final"].get("stopped") or "").startswith(TIME_LIMIT)


def failure_path(out_dir, config):
    return os.path.join(os.fspath(out_dir), record_name(config) + ".failed.json")


def write_failure(out_dir, config, reason, error, traceback_text=None, where=None):
    """Write <name>.failed.json: the config, why it failed ("raised"; on a cluster also "worker-lost", or
    "task-error": the task could not start on the worker, e.g. rnnlab missing there; "save-error": its
    record could not be written here), the error and the traceback."""
    return write_json(
        failure_path(out_dir, config),
        {
            "schema": FAILED_SCHEMA,
            "name": record_name(config),
            "config": config,
            "reason": reason,
            "error": error,
            "traceback": traceback_text,
            "where": where,
            "failed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
