"""`rnnlab run TASK`: one training run, its JSON record and figures."""

import os

from ..experiments import MODELS, make_config, read_record, run_to_file
from ..experiments.config import check_memory
from . import argtypes as T
from .experiment_args import TASK_NAMES, add_training_options, task_name, training_options


def register(sub):
    p = sub.add_parser(
        "run",
        help="train one model on a long-memory task (adding, copy, digits)",
        description="Train a SimpleRNN or LSTM on a task; writes a JSON record and figures.",
    )
    p.add_argument("task", choices=sorted(TASK_NAMES))
    p.add_argument("--model", choices=MODELS, default="lstm")
    p.add_argument(
        "--length",
        type=T.count(2, 10**6),
        help="adding: T; copy: delay T (T + 20 steps); digits: 64 pixels or 8 rows (default 100/100/64)",
    )
    p.add_argument("--seed", type=T.seed(), default=0)
    add_training_options(p)
    p.add_argument(
        "--time-limit",
        type=T.positive_number(),
        metavar="SECONDS",
        help="stop training after this many seconds and evaluate once more; the record says where it "
        "stopped, and a later run of the same config runs again instead of reusing it",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=main)


def main(args):
    try:
        config = make_config(
            task_name(args.task), args.model, length=args.length, seed=args.seed, **training_options(args)
        )
        check_memory(config)
    except ValueError as err:  # a combination of arguments: refused before any work
        raise T.UsageError(err) from None
    if not args.quiet:
        print(
            f"rnnlab run: {config['model']} on {config['task']} T={config['length']}, "
            f"{config['hidden']} units, {config['steps']} steps, seed {config['seed']}",
            flush=True,
        )
    path = run_to_file(
        config,
        args.out,
        figures=not args.no_figures,
        reuse=not args.force,
        verbose=not args.quiet,
        time_limit=args.time_limit,
    )
    record = read_record(path)
    final, task = record["final"], record["task"]
    metric = task["metric"]
    value = "—" if final[metric] is None else f"{final[metric]:.4g}"
    at = (
        f"of the weights chosen on validation (step {final['selected_step']} of {final['step']})"
        if "selected_step" in final
        else f"at step {final['step']}"
    )
    print(
        f"{record['name']}: test {metric} {value} {at} (baseline {task['baseline']:.4g}; "
        f"{'solved' if final['solved'] else 'not solved'}: {task['success']}), "
        f"{record['timing']['wall_s']:.1f} s"
    )
    if final["stopped"]:
        print(f"stopped early: {final['stopped']}")
    print(f"record: {path}")
    stem = os.path.join(args.out, record["name"])
    if not args.no_figures:
        print(f"figures: {stem}-curve.png, {stem}-gradflow.png")
    return 0
