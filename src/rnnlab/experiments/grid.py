"""Grids of runs: every (model, length, seed) of a task, in parallel processes, then one table.

Each grid point is an independent `run_to_file(config, out_dir)` call, so the
same list of configs can go to a process pool here or to a cluster later.
Workers start with one BLAS / OpenMP / Numba / kernel thread each: on a small machine
one process per core beats threads fighting over the cores.
"""

import contextlib
import json
import math
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import numpy as np

from .. import checks
from .config import make_config, record_name
from .runner import failure_path, read_record, run_to_file, write_failure, write_json, write_text

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "RNNLAB_NUM_THREADS")


# Every run of a grid writes its own record file, and the runners and the comparison table hold one entry per
# run in memory: past this many runs a grid is more likely a typo than a plan. `max_runs` (`--max-runs`) raises it.
MAX_RUNS = 100_000


def grid_size(models, lengths, seeds, max_runs=MAX_RUNS):
    """The number of runs of models × lengths × seeds, counted without building any; refused past max_runs
    (None: no limit)."""
    checks.positive_int("seeds", seeds)
    if not models or not lengths:
        raise ValueError(f"models and lengths expected non-empty lists, got {models!r} and {lengths!r}")
    total = len(models) * len(lengths) * seeds
    if max_runs is not None and total > max_runs:
        raise ValueError(
            f"grid expected at most {max_runs:,} runs, got {total:,} ({len(models)} models × "
            f"{len(lengths)} lengths × {seeds:,} seeds); --max-runs raises the limit"
        )
    return total


def grid_points(task, models, lengths, **options):
    """The config of seed 0 for every (model, length), checked: the seed changes nothing else in a config, so
    these stand for the whole grid in every check (arguments, memory) made before a run starts."""
    return [make_config(task, m, length=L, seed=0, **options) for m in models for L in lengths]


def iter_grid_configs(task, models, lengths, seeds, max_runs=MAX_RUNS, **options):
    """The grid's configs, model × length × seed (seeds 0..seeds-1) in that order, built one at a time as they
    are taken. The count and every (model, length) are checked now, before anything is built."""
    grid_size(models, lengths, seeds, max_runs)
    grid_points(task, models, lengths, **options)

    def expand():
        for m in models:
            for L in lengths:
                for s in range(seeds):
                    yield make_config(task, m, length=L, seed=s, **options)

    return expand()


def grid_configs(task, models, lengths, seeds, max_runs=MAX_RUNS, **options):
    """Every config of the grid (see iter_grid_configs) in a list; at most max_runs of them, counted first."""
    return list(iter_grid_configs(task, models, lengths, seeds, max_runs, **options))


@contextlib.contextmanager
def _single_threaded_children():
    """Processes started inside inherit one-thread settings; the parent's are put back after."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _limit_threads():
    try:  # also covers BLAS libraries loaded before the variables were read
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def _cost(config):
    """Relative cost of a run: steps × sequence steps × the cell's matrix width."""
    gates = 4 if config["model"] == "lstm" else 1
    return config["steps"] * config["length"] * gates * config["hidden"]


def run_one(config, out_dir, figures=True, reuse=True):
    """run_to_file, or None after writing <name>.failed.json when the run raises (the grid goes on)."""
    try:
        return run_to_file(config, out_dir, figures=figures, reuse=reuse)
    except Exception as err:  # this run's own failure: recorded, never the grid's end
        error = f"{type(err).__name__}: {err}"
        with contextlib.suppress(Exception):
            write_failure(out_dir, config, "raised", error, traceback.format_exc())
        return None


def run_grid(configs, out_dir, workers=None, figures=True, reuse=True, on_done=None, on_failed=None):
    """Run every config (in `workers` processes; 1: in this process). Returns record paths in config order,
    None for a run that failed (its <name>.failed.json says why); every other run goes on.

    on_done(path) is called in this process as each run finishes, on_failed(name, error) as one fails.
    """
    configs = list(configs)
    workers = min(len(configs), workers or os.cpu_count() or 1)
    paths = [None] * len(configs)

    def finished(k, path, error=None):
        paths[k] = path
        if path is not None:
            if on_done:
                on_done(path)
            return
        name = record_name(configs[k])
        if error is not None:  # the worker process itself was lost
            with contextlib.suppress(Exception):
                write_failure(out_dir, configs[k], "worker-lost", error)
        if on_failed:
            on_failed(name, error or _failure_reason(out_dir, configs[k]))

    if workers <= 1:
        for k, c in enumerate(configs):
            finished(k, run_one(c, out_dir, figures, reuse))
        return paths
    with (
        _single_threaded_children(),
        ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_limit_threads) as pool,
    ):
        # the costliest runs first, so that no long run starts last while the other workers idle
        order = sorted(range(len(configs)), key=lambda k: -_cost(configs[k]))
        futures = {pool.submit(run_one, configs[k], out_dir, figures, reuse): k for k in order}
        for future in as_completed(futures):
            try:
                path, error = future.result(), None
            except Exception as err:  # e.g. BrokenProcessPool: a worker killed or out of memory
                path, error = None, f"{type(err).__name__}: {err}"
            finished(futures[future], path, error)
    return paths


def _failure_reason(out_dir, config):
    try:
        with open(failure_path(out_dir, config), encoding="utf-8") as f:
            return json.load(f)["error"]
    except (OSError, ValueError, KeyError, TypeError):
        return "failed (no failure record could be written)"


def summarize(records):
    """One row per (model, init, length, hidden, steps): the final metric over seeds, solved count, baseline."""
    groups = {}
    for r in records:
        c = r["config"]
        groups.setdefault((c["model"], c["init"], c["length"], c["hidden"], c["steps"]), []).append(r)
    rows = []
    for (model, init, length, hidden, steps), rs in sorted(groups.items()):
        metric = rs[0]["task"]["metric"]
        values = [r["final"][metric] for r in rs]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        rows.append(
            {
                "model": model if init == "default" else f"{model} ({init})",
                "length": length,
                "hidden": hidden,
                "steps": steps,
                "metric": metric,
                "mean": float(np.mean(finite)) if finite else None,
                "std": float(np.std(finite)) if len(finite) > 1 else None,
                "values": values,
                "train_losses": [_final_train_loss(r) for r in rs],
                "solved": sum(r["final"]["solved"] for r in rs),
                "runs": len(rs),
                "solved_at": [r["final"]["first_solved_step"] for r in rs],
                "baseline": rs[0]["task"]["baseline"],
                "wall_s": float(np.mean([r["timing"]["wall_s"] for r in rs])),
            }
        )
    return rows


def _final_train_loss(record):
    """The training loss at the run's last evaluation that has one (None when it has none, e.g. diverged)."""
    return next((e["train_loss"] for e in reversed(record["evaluations"]) if e.get("train_loss") is not None), None)


def _fmt(v):
    return "—" if v is None else f"{v:.4g}"


def markdown_table(records):
    """A markdown table of summarize(records)."""
    rows = summarize(records)
    if not rows:
        raise ValueError("records expected at least one run record, got none")
    r0 = records[0]
    head = (
        f"Task `{r0['task']['name']}`, test {r0['task']['metric']} at the end of training "
        f"(success: {r0['task']['success']}; {r0['config']['optimizer']} lr {r0['config']['lr']:g}, "
        f"batch {r0['config']['batch']}, clip {r0['config']['clip']:g}).\n\n"
    )
    lines = [
        "| model | T | hidden | steps | test metric (mean ± std) | per seed "
        "| solved at the end (first at step) | baseline | wall s / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        spread = f" ± {row['std']:.2g}" if row["std"] is not None else ""
        at = ", ".join(str(s) for s in row["solved_at"] if s is not None)
        lines.append(
            f"| {row['model']} | {row['length']} | {row['hidden']} | {row['steps']} "
            f"| {_fmt(row['mean'])}{spread} | {', '.join(_fmt(v) for v in row['values'])} "
            f"| {row['solved']}/{row['runs']}{f' ({at})' if at else ''} | {row['baseline']:.4g} "
            f"| {row['wall_s']:.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def compare_figure(records):
    """Final metric against length per model, with the baseline, and the final training loss beside it
    (rnnlab.plots.compare_grid)."""
    from .. import plots

    rows = summarize(records)
    metric = rows[0]["metric"]
    points = []
    for row in rows:
        points += [
            {"model": row["model"], "length": row["length"], metric: v, "train_loss": loss}
            for v, loss in zip(row["values"], row["train_losses"])
            if v is not None and math.isfinite(v)
        ]
    baseline = {row["length"]: row["baseline"] for row in rows}
    goal = records[0]["task"]["goal"]
    return plots.compare_grid(
        points,
        metric,
        baseline=baseline,
        logy=goal == "min",
        title=f"{records[0]['task']['name']}: final test {metric} by length",
        train="train_loss",
    )


def compare(
    task,
    models,
    lengths,
    seeds,
    out_dir,
    workers=None,
    figures=True,
    reuse=True,
    on_done=None,
    on_failed=None,
    max_runs=MAX_RUNS,
    **options,
):
    """Run the grid, then write <task>-compare.md, <task>-compare.json and <task>-compare.png under out_dir
    from the runs that finished (a failed run has <name>.failed.json instead).

    Returns (records, paths written); raises ValueError when every run failed.
    """
    configs = grid_configs(task, models, lengths, seeds, max_runs, **options)
    paths = run_grid(
        configs, out_dir, workers=workers, figures=figures, reuse=reuse, on_done=on_done, on_failed=on_failed
    )
    finished = [p for p in paths if p is not None]
    if not finished:
        raise ValueError(f"all {len(paths)} runs failed; nothing to compare (see the .failed.json files)")
    return write_comparison(task, finished, out_dir, figures=figures)


def write_comparison(task, paths, out_dir, figures=True):
    """The table, summary and figure of the records at `paths` (whoever ran them). Returns (records, written)."""
    records = [read_record(p) for p in paths]
    stem = os.path.join(os.fspath(out_dir), f"{task}-compare")
    written = [
        write_text(stem + ".md", markdown_table(records)),
        write_json(
            stem + ".json", {"task": task, "rows": summarize(records), "records": [os.path.basename(p) for p in paths]}
        ),
    ]
    if figures:
        from ..plots import save

        written.append(save(compare_figure(records), stem + ".png"))
    return records, written
