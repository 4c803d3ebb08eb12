"""Grids of runs on a Dask cluster: every run a task, resumable, and a failure never stops the grid.

    with connect("tcp://10.0.0.5:8786") as client:      # or connect(): a LocalCluster here
        result = run_grid_on(client, configs, "results/")

Workers only compute: a task is `run(config)` and sends the record back; this
process alone writes files, each atomically and named by the config hash
(`record_name`), so the workers need no shared disk and a record is never
written twice at once nor half-written. Before submitting, runs whose record is
already on disk are skipped, so a grid stopped in any way (Ctrl-C, a lost
machine) resumes where it stopped; `force=True` runs them again.

Faults. A run that raises is caught on the worker and sent back with its
traceback: it is deterministic (same config, same run), so it is not retried;
`<name>.failed.json` records it. A worker that dies mid-run (killed, out of
memory) has its run moved to another worker by the scheduler, up to its
`allowed-failures` setting (`retries` for a cluster started here); past that
the run is recorded as failed with Dask's reason. Either way the grid goes on.
Needs dask.distributed: pip install rnnlab[cluster].
"""

import contextlib
import dataclasses
import importlib.util
import logging
import os
import socket
import tempfile
import time
import traceback
import uuid

from .. import checks
from ..io import atomic
from .config import check_config, record_name
from .runner import FAILED_SCHEMA, failure_path, read_record, record_path, run, write_failure, write_json  # noqa: F401

# one thread per worker process for every library that spawns its own: the workers are the parallelism
THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "RNNLAB_NUM_THREADS": "1",
}
RETRIES = 2  # a run may lose this many workers and still finish
TASK_PREFIX = "rnnlab_run"  # one Dask task group for all runs, so the scheduler queues them as a batch


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("running grids on a cluster needs dask.distributed: pip install rnnlab[cluster]") from None
    return distributed


def local_cluster(workers=None, retries=RETRIES, port=0, host="127.0.0.1", dashboard=None, verbose=False):
    """A LocalCluster: `workers` processes (default: one per core) of one thread each.

    Listens on `host` only (loopback by default); port 0 picks a free one.
    dashboard: None for none, or an address such as "127.0.0.1:8787" (needs bokeh).
    """
    distributed = _distributed()
    import dask

    workers = (os.cpu_count() or 1) if workers is None else workers
    checks.positive_int("workers", workers)
    checks.non_negative_int("retries", retries)
    # read once, when the scheduler starts: worker deaths a task survives, and one task per thread at a
    # time so that "processing" means running and no run waits behind a long one on a busy worker
    settings = {"distributed.scheduler.allowed-failures": retries, "distributed.scheduler.worker-saturation": 1.0}
    # without a dashboard the scheduler still serves health and metrics pages: on a free loopback port
    quiet = None if dashboard else {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    with dask.config.set(settings):
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host=host,
            scheduler_port=port,
            dashboard_address=dashboard,
            scheduler_kwargs=quiet,
            env=dict(THREAD_ENV),
            silence_logs=logging.WARNING if verbose else logging.CRITICAL,
        )


CONNECT_TIMEOUT = 15.0  # seconds for a scheduler to complete Dask's handshake
_HANDSHAKE_MAX = 1 << 20  # a scheduler's first message (its handshake) is a few hundred bytes


class SchedulerError(ConnectionError):
    """The address does not answer as a Dask scheduler (an OSError: the CLI says it in one line)."""


def check_scheduler(address, timeout=CONNECT_TIMEOUT):
    """Raise SchedulerError unless a Dask scheduler at "tcp://host:port" sends its handshake within `timeout`.

    A scheduler speaks first: 8 bytes giving the message's length, then 8 giving its number of frames.
    Those numbers are only compared with bounds, never used to allocate. What was found instead is named:
    nothing listening, a listener that says nothing, an HTTP server (e.g. the dashboard's port), other bytes.
    """
    checks.positive_number("timeout", timeout)
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if scheme != "tcp":  # tls://, ucx://...: left to the Client's own timeout
        return
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"scheduler expected an address such as 'tcp://127.0.0.1:8786', got {address!r}")
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except TimeoutError:
        raise SchedulerError(f"{address}: no connection within {timeout:g} s") from None
    except OSError as err:
        raise SchedulerError(f"{address}: cannot connect ({err.strerror or err})") from None
    first = b""
    try:
        with sock:
            while len(first) < 16:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(16 - len(first))
                if not chunk:
                    break
                first += chunk
    except TimeoutError:
        pass
    except OSError as err:
        raise SchedulerError(f"{address}: the connection failed during Dask's handshake ({err})") from None
    if first.startswith(b"HTTP/") or first[:1] == b"<":
        line = first.split(b"\r\n", 1)[0].decode("ascii", "replace")
        raise SchedulerError(
            f"{address} is an HTTP server ({line!r}...), not a Dask scheduler (the dashboard's port? "
            f"a scheduler listens on 8786 by default)"
        )
    if len(first) < 16:
        what = "said nothing" if not first else f"sent {len(first)} bytes and stopped"
        raise SchedulerError(
            f"{address} accepted the connection but {what} within {timeout:g} s: not a Dask "
            f"scheduler (or an overloaded one)"
        )
    total, frames = int.from_bytes(first[:8], "little"), int.from_bytes(first[8:], "little")
    if not (16 <= total <= _HANDSHAKE_MAX and 1 <= frames <= 64):
        raise SchedulerError(f"{address} answered {first[:16]!r}, which is not Dask's protocol")


@contextlib.contextmanager
def connect(scheduler=None, workers=None, retries=RETRIES, dashboard=None, verbose=False, timeout=CONNECT_TIMEOUT):
    """A Client of the scheduler at `scheduler` ("tcp://host:port"), or of a new local_cluster(); closed on exit.

    A scheduler must complete Dask's handshake within `timeout` seconds, else SchedulerError (check_scheduler).
    """
    distributed = _distributed()
    if scheduler is None:
        with (
            local_cluster(workers, retries, dashboard=dashboard, verbose=verbose) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
    else:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise ValueError(f"scheduler expected an address such as 'tcp://127.0.0.1:8786', got {scheduler!r}")
        check_scheduler(scheduler, timeout)
        with distributed.Client(scheduler, timeout=f"{timeout}s") as client:
            yield client


def run_task(config, figures=True):
    """On a worker: {"record": run(config), "figures": {file name: PNG bytes}}, or {"error", "traceback"}
    when the run raises; with where it ran. Figures are drawn here, in parallel, and sent back as bytes."""
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        record = run(config)
    except Exception as err:  # the run's own failure: sent back, recorded, never retried
        return {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc(), **where}
    try:
        pictures = _draw(record) if figures else {}
    except Exception:  # e.g. no matplotlib on this worker: the record stands, the client draws them
        pictures = None
    return {"record": record, "figures": pictures, **where}


def _draw(record):
    from .figures import run_figures

    pictures = {}
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-") as folder:
        for path in run_figures(record, folder):
            with open(path, "rb") as f:
                pictures[os.path.basename(path)] = f.read()
    return pictures


def _write_bytes(path, data):
    """Write data atomically (io/atomic.py)."""
    atomic.write_bytes(path, data)


@dataclasses.dataclass
class Progress:
    """Counts of a grid: finished (records on disk, `skipped` of them from before), running, failed."""

    total: int
    done: int = 0
    skipped: int = 0
    running: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    eta_s: float | None = None  # from the rate of the runs finished so far in this call

    def line(self):
        eta = "—" if self.eta_s is None else _clock(self.eta_s)
        reused = f" ({self.skipped} reused)" if self.skipped else ""
        return (
            f"{self.done}/{self.total} done{reused}, {self.running} running, {self.failed} failed, "
            f"{_clock(self.elapsed_s)} elapsed, ETA {eta}"
        )


def _clock(seconds):
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


@dataclasses.dataclass
class GridResult:
    """paths: record path per config (None where the run failed); ran, skipped: record names;
    failed: record name -> reason; where: record name -> "host:pid" of the worker that returned it."""

    paths: list
    ran: list
    skipped: list
    failed: dict
    where: dict


def _finished(path):
    """The record at path, or None when absent or not a whole record (then the run is run again)."""
    try:
        return read_record(path)
    except (OSError, ValueError):
        return None


def _missing_figures(record, out_dir):
    """Draw a reused record's figures here when an earlier grid ran without them."""
    if not os.path.exists(os.path.join(out_dir, record["name"] + "-curve.png")):
        from .figures import run_figures

        run_figures(record, out_dir)


def run_grid_on(client, configs, out_dir, figures=True, force=False, on_progress=None, poll_s=1.0):
    """Run every config as a task on `client`'s cluster and save each record as it arrives.

    on_progress(progress, event) is called in this process at the start, after each run
    (event: {"name", "status": "done" | "failed", "wall_s" | "error", "where"}) and every poll_s
    seconds (event None). Returns a GridResult; the grid goes on past failed runs.
    """
    distributed = _distributed()
    configs = [check_config(c) for c in configs]
    if figures and importlib.util.find_spec("matplotlib") is None:  # fail before any run, not after the first
        raise ImportError("figures need matplotlib: pip install rnnlab[plot] (or figures=False, --no-figures)")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    names = [record_name(c) for c in configs]
    result = GridResult([None] * len(configs), [], [], {}, {})
    slots = {}  # record name -> indices of the configs it answers (a grid may list a config twice)
    for k, name in enumerate(names):
        slots.setdefault(name, []).append(k)
    todo, reused = [], []
    for name, ks in slots.items():
        path = record_path(out_dir, configs[ks[0]])
        record = None if force else _finished(path)
        if record is None:
            todo.append(name)
            continue
        reused.append(record)
        result.skipped.append(name)
        for k in ks:
            result.paths[k] = path
    progress = Progress(total=len(slots), done=len(result.skipped), skipped=len(result.skipped))
    # one call, one batch: the scheduler sees the whole group and queues what the workers cannot start yet
    submitted = client.map(
        run_task,
        [configs[slots[name][0]] for name in todo],
        figures=figures,
        key=[f"{TASK_PREFIX}-{uuid.uuid4().hex}-{name}" for name in todo],
        pure=False,
    )
    futures = dict(zip(submitted, todo))
    t0 = time.perf_counter()

    def report(event=None):
        if on_progress is None:
            return
        finished = progress.done - progress.skipped + progress.failed
        progress.elapsed_s = time.perf_counter() - t0
        progress.eta_s = (
            progress.elapsed_s / finished * len(futures) if finished and futures else (0.0 if not futures else None)
        )
        progress.running = _running(client, {f.key for f in futures}) if futures else 0
        on_progress(progress, event)

    try:
        for record in reused if figures else ():  # while the workers start
            _missing_figures(record, out_dir)
        report()
        while futures:
            try:
                done = distributed.wait(list(futures), timeout=poll_s, return_when="FIRST_COMPLETED").done
            except distributed.TimeoutError:
                report()
                continue
            except distributed.CancelledError as err:  # not by us: the scheduler went away, or another client
                why = sorted({g.reason for g in getattr(err, "error_groups", ())}) or [type(err).__name__]
                raise RuntimeError(f"the cluster cancelled the runs of this grid ({', '.join(why)})") from None
            for future in done:
                name = futures.pop(future)
                event = _collect(future, configs[slots[name][0]], out_dir)
                future.release()
                if "where" in event:
                    result.where[name] = event["where"]
                if event["status"] == "done":
                    progress.done += 1
                    result.ran.append(name)
                    for k in slots[name]:
                        result.paths[k] = record_path(out_dir, configs[k])
                else:
                    progress.failed += 1
                    result.failed[name] = event["error"]
                report({"name": name, **event})
    finally:
        if futures:  # interrupted: nothing is left running for this grid; records written so far stay
            client.cancel(list(futures))
    return result


def _running(client, keys):
    """Runs of `keys` that workers are executing: those handed to a worker, at most one per thread."""
    threads = client.nthreads()
    return sum(min(len(keys.intersection(ks)), threads.get(w, 1)) for w, ks in client.processing().items())


def _collect(future, config, out_dir):
    """Save what a finished task gave: its record and figures, or its failure."""
    if future.status == "error":  # the task never returned: its workers died, or it could not even start there
        err = future.exception()
        reason = "worker-lost" if isinstance(err, _distributed().KilledWorker) else "task-error"
        write_failure(
            out_dir,
            config,
            reason,
            f"{type(err).__name__}: {err}",
            "".join(traceback.format_tb(future.traceback())) or None,
        )
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    out = future.result()
    where = f"{out['host']}:{out['pid']}"
    if "error" in out:
        write_failure(out_dir, config, "raised", out["error"], out["traceback"], where)
        return {"status": "failed", "error": out["error"], "where": where}
    record = out["record"]
    try:
        if out["figures"] is None:
            from .figures import run_figures

            run_figures(record, out_dir)
        for file_name, data in (out["figures"] or {}).items():
            _write_bytes(os.path.join(out_dir, file_name), data)
        write_json(record_path(out_dir, config), record)  # last: a record on disk means the run is complete
    except Exception as err:  # this run's files could not be saved (a bad figure, a full disk): the grid goes on
        error = f"{type(err).__name__}: {err}"
        with contextlib.suppress(Exception):
            write_failure(out_dir, config, "save-error", error, traceback.format_exc(), where)
        return {"status": "failed", "error": error, "where": where}
    with contextlib.suppress(FileNotFoundError):  # an earlier failure of this config is history now
        os.unlink(failure_path(out_dir, config))
    return {"status": "done", "wall_s": record["timing"]["wall_s"], "where": where}


def cluster_summary(client):
    """Workers, threads and memory of the cluster `client` talks to (a dict)."""
    info = client.scheduler_info(n_workers=-1)
    workers = info.get("workers", {})
    return {
        "scheduler": info.get("address"),
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
        "memory_gb": round(sum(w.get("memory_limit") or 0 for w in workers.values()) / 1e9, 1),
    }
