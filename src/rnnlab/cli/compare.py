"""`rnnlab compare TASK`: a grid of runs (models × lengths × seeds) in parallel, one table and figure.

The runs go to Dask (cli/cluster.py); without dask installed, to a local process pool.
"""

import os

from ..experiments import compare, grid_configs, grid_points, grid_size
from ..experiments.config import check_memory
from . import argtypes as T
from .cluster import add_compare_options, compare_on_cluster, grid_arguments, on_cluster
from .experiment_args import TASK_NAMES, add_training_options


def register(sub):
    p = sub.add_parser(
        "compare",
        help="run models × lengths × seeds in parallel; markdown table and figure",
        description="Every combination runs as a task on a Dask cluster (one started here unless "
        "--scheduler names one); records of finished runs are reused.",
    )
    p.add_argument("task", nargs="?", choices=sorted(TASK_NAMES), help="the task (omit with --grid)")
    p.add_argument("--models", help="comma-separated (default simplernn,lstm)")
    p.add_argument("--lengths", type=T.IntList(T.count(2, 10**6)), help="comma-separated (default 10,25,50,100,200)")
    p.add_argument("--seeds", type=T.count(1, 10**6), help="seeds 0..N-1 per combination (default 3)")
    p.add_argument("--workers", type=T.count(1, 4096), default=None, help="parallel processes (default: CPU count)")
    add_training_options(p)
    add_compare_options(p)
    p.set_defaults(func=main)


def main(args):
    task, models, lengths, seeds, options = grid_arguments(args)
    if args.workers is not None and args.workers <= 0:
        raise ValueError(f"--workers expected a positive integer, got {args.workers}")
    try:  # counted, and each (model, length) checked, before any run is built or started
        total = grid_size(models, lengths, seeds, args.max_runs)
        for point in grid_points(task, models, lengths, **options):
            check_memory(point)
    except ValueError as err:  # a combination of arguments: refused before any work
        raise T.UsageError(err) from None
    print(
        f"rnnlab compare: {total:,} runs of {task} ({', '.join(models)} × T = "
        f"{', '.join(map(str, lengths))} × {seeds:,} seeds)",
        flush=True,
    )
    failed = {}
    if on_cluster(args):
        configs = grid_configs(task, models, lengths, seeds, args.max_runs, **options)
        records, written, failed = compare_on_cluster(args, task, configs)
    else:
        records, written, failed = _compare_in_pool(args, task, models, lengths, seeds, options, total)
    with open(written[0], encoding="utf-8") as f:
        print(f.read())
    print("written: " + ", ".join(written))
    return 1 if failed else 0


def _compare_in_pool(args, task, models, lengths, seeds, options, total):
    done, failed = [], {}

    def report(path):
        done.append(path)
        print(f"  [{len(done) + len(failed)}/{total}] {os.path.basename(path)}", flush=True)

    def report_failure(name, error):
        failed[name] = error
        print(f"  [{len(done) + len(failed)}/{total}] {name}: FAILED: {error} (see {name}.failed.json)", flush=True)

    records, written = compare(
        task,
        models,
        lengths,
        seeds,
        args.out,
        workers=args.workers,
        figures=not args.no_figures,
        reuse=not args.force,
        on_done=report,
        on_failed=report_failure,
        max_runs=args.max_runs,
        **options,
    )
    return records, written, failed
