"""`rnnlab cluster up | status`, and the cluster and grid-file options of `rnnlab compare`.

`rnnlab compare` runs its grid on Dask: on the scheduler named by --scheduler,
or else on a LocalCluster it starts for the grid and stops after. Without
dask installed it falls back to the process pool of rnnlab.experiments.grid.
"""

import importlib
import os
import signal
import sys
import time

from ..experiments.cluster import CONNECT_TIMEOUT, RETRIES
from ..experiments.grid import MAX_RUNS
from ..experiments.gridfile import read_grid
from . import argtypes as T
from .experiment_args import task_name, training_options

GRID_FLAGS = {"models": "simplernn,lstm", "lengths": "10,25,50,100,200", "seeds": 3}
DASHBOARD = "127.0.0.1:8787"


def add_compare_options(p):
    p.add_argument(
        "--grid",
        metavar="FILE",
        type=T.input_file,
        help="a TOML or YAML grid file (task, models, lengths, seeds, run options) in place of the "
        "grid arguments; run options given here override the file's",
    )
    p.add_argument(
        "--max-runs",
        type=T.count(1, 10**9),
        default=MAX_RUNS,
        metavar="N",
        help=f"refuse a grid of more than N runs, counted before any is built (default {MAX_RUNS:,}): each run "
        "writes its own record and the table reads them all back",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: a local cluster of "
        "--workers processes, started for this grid)",
    )
    p.add_argument(
        "--connect-timeout",
        type=T.positive_number(3600),
        default=CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds for --scheduler to complete Dask's handshake (default {CONNECT_TIMEOUT:g})",
    )
    p.add_argument(
        "--retries",
        type=T.count(0, 1000),
        default=RETRIES,
        help=f"worker deaths a run may survive on the local cluster (default {RETRIES}); a running "
        f"scheduler applies its own distributed.scheduler.allowed-failures",
    )
    p.add_argument(
        "--dashboard",
        nargs="?",
        const=DASHBOARD,
        metavar="ADDRESS",
        help=f"serve the local cluster's dashboard (default address {DASHBOARD}; needs bokeh)",
    )


def _ints(text):
    if isinstance(text, list):  # --lengths, already parsed (argtypes.IntList)
        return text
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--lengths expected comma-separated integers, got {text!r}") from None


def grid_arguments(args):
    """(task, models, lengths, seeds, run options) from --grid or from the arguments, checked."""
    given = [f"--{k}" for k in GRID_FLAGS if getattr(args, k) is not None]
    if args.grid is None:
        if args.task is None:
            raise ValueError("compare expected a TASK or --grid FILE, got neither")
        models, lengths, seeds = (GRID_FLAGS[k] if getattr(args, k) is None else getattr(args, k) for k in GRID_FLAGS)
        return (
            task_name(args.task),
            [m.strip() for m in models.split(",") if m.strip()],
            _ints(lengths),
            seeds,
            training_options(args),
        )
    if args.task is not None or given:
        raise ValueError(
            f"--grid expected no TASK, --models, --lengths or --seeds beside it, got "
            f"{', '.join(([args.task] if args.task else []) + given)}"
        )
    grid = read_grid(args.grid, args.max_runs)
    return grid["task"], grid["models"], grid["lengths"], grid["seeds"], {**grid["options"], **training_options(args)}


def on_cluster(args):
    """True when the grid goes to Dask; False (with a note) for the process pool when dask is missing."""
    try:
        importlib.import_module("distributed")
    except ImportError:
        if args.scheduler is not None:
            raise ValueError("--scheduler needs dask.distributed: pip install rnnlab[cluster]") from None
        print(
            "rnnlab compare: dask is not installed, running in a process pool (no retries or failure "
            "records; pip install rnnlab[cluster])",
            file=sys.stderr,
        )
        return False
    if args.retries < 0:
        raise ValueError(f"--retries expected a non-negative integer, got {args.retries}")
    return True


class ProgressPrinter:
    """Progress lines on stderr: one per finished or failed run; on a terminal, a live status line too."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def __call__(self, progress, event):
        if event is None:
            if self.live:
                self.stream.write("\r\033[K  " + progress.line())
                self.stream.flush()
            return
        what = f"{event['wall_s']:.1f} s" if event["status"] == "done" else f"FAILED: {event['error']}"
        self.stream.write(("\r\033[K" if self.live else "") + f"  [{progress.line()}] {event['name']}: {what}\n")
        self.stream.flush()


def compare_on_cluster(args, task, configs):
    """Run configs on Dask, write the comparison; returns (records, written, failed: name -> reason)."""
    from ..experiments.cluster import cluster_summary, connect, run_grid_on
    from ..experiments.grid import write_comparison

    workers = min(len(configs), args.workers or os.cpu_count() or 1)  # the local cluster's; no idle processes
    err = sys.stderr
    try:
        with connect(
            args.scheduler,
            workers=workers,
            retries=args.retries,
            dashboard=args.dashboard,
            timeout=args.connect_timeout,
        ) as client:
            info = cluster_summary(client)
            print(
                f"cluster {info['scheduler']}: {info['workers']} workers, {info['threads']} threads"
                + (f", dashboard {client.dashboard_link}" if args.dashboard else ""),
                file=err,
                flush=True,
            )
            result = run_grid_on(
                client,
                configs,
                args.out,
                figures=not args.no_figures,
                force=args.force,
                on_progress=ProgressPrinter(err),
            )
    except KeyboardInterrupt:
        print("\ninterrupted: the records written so far are kept; run the same command again to resume", file=err)
        raise SystemExit(130) from None
    except (OSError, RuntimeError) as error:  # the scheduler unreachable or lost, a disk full
        print(
            f"rnnlab compare: error: {error}; the records written so far are kept, the same command resumes", file=err
        )
        raise SystemExit(1) from None
    for name, reason in result.failed.items():
        print(f"failed: {name}: {reason} (see {name}.failed.json)", file=err)
    paths = [p for p in result.paths if p is not None]
    if not paths:
        raise ValueError(f"all {len(configs)} runs failed; nothing to compare")
    records, written = write_comparison(task, paths, args.out, figures=not args.no_figures)
    return records, written, result.failed


# ---- rnnlab cluster ---------------------------------------------------------------
def register(sub):
    p = sub.add_parser(
        "cluster",
        help="start a Dask cluster here for `rnnlab compare --scheduler`",
        description="A scheduler and worker processes on this machine (pip install rnnlab[cluster]).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start a scheduler and workers; they run until Ctrl-C")
    up.add_argument(
        "--workers", type=T.count(1, 4096), default=None, help="worker processes, one thread each (default: CPU count)"
    )
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1: this machine only; the protocol has no "
        "authentication, so open it only to a trusted network)",
    )
    up.add_argument("--port", type=T.port(), default=8786, help="scheduler port (default 8786; 0: any free port)")
    up.add_argument(
        "--retries", type=T.count(0, 1000), default=RETRIES, help=f"worker deaths a run may survive (default {RETRIES})"
    )
    up.add_argument(
        "--dashboard",
        nargs="?",
        const=DASHBOARD,
        metavar="ADDRESS",
        help=f"serve the dashboard (default address {DASHBOARD}; needs bokeh)",
    )
    up.set_defaults(func=up_main)
    status = actions.add_parser("status", help="workers, threads and running tasks of a scheduler")
    status.add_argument("scheduler", metavar="ADDRESS", help="e.g. tcp://127.0.0.1:8786")
    status.add_argument(
        "--connect-timeout",
        type=T.positive_number(3600),
        default=CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds for Dask's handshake (default {CONNECT_TIMEOUT:g})",
    )
    status.set_defaults(func=status_main)


def _stop(signum, frame):
    raise KeyboardInterrupt


def up_main(args):
    from ..experiments.cluster import local_cluster

    cluster = local_cluster(args.workers, args.retries, port=args.port, host=args.host, dashboard=args.dashboard)
    try:
        address = cluster.scheduler_address
        print(f"scheduler {address} with {len(cluster.workers)} workers (1 thread each)", flush=True)
        if args.dashboard:
            print(f"dashboard {cluster.dashboard_link}", flush=True)
        print(
            f"run a grid on it:  rnnlab compare adding --scheduler {address} ...\nCtrl-C stops the cluster.", flush=True
        )
        signal.signal(signal.SIGTERM, _stop)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the cluster", flush=True)
    finally:
        cluster.close()
    return 0


def status_main(args):
    from ..experiments.cluster import cluster_summary, connect

    with connect(args.scheduler, timeout=args.connect_timeout) as client:
        info = cluster_summary(client)
        running = sum(len(keys) for keys in client.processing().values())
    print(
        f"scheduler {info['scheduler']}: {info['workers']} workers, {info['threads']} threads, "
        f"{info['memory_gb']} GB memory, {running} tasks on workers"
    )
    return 0
