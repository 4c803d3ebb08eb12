"""Grids on a Dask LocalCluster (2 worker processes, 1 thread each, loopback): the sequential runner's
records, a worker killed mid-run, a failing run, Ctrl-C and resume; `rnnlab cluster up` + `compare --scheduler`."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

import rnnlab.experiments as ex  # noqa: E402
from rnnlab.cli import main as cli  # noqa: E402
from rnnlab.experiments import cluster as cl  # noqa: E402
from rnnlab.experiments.grid import write_comparison  # noqa: E402

TINY = dict(hidden=4, steps=6, batch=8, eval_every=3, probe_every=0, test_size=16, probe_size=4)
GRID = ex.grid_configs("adding", ["simplernn", "lstm"], [5, 10], 2, **TINY)  # 8 runs
NAMES = sorted(ex.record_name(c) for c in GRID)


def slow(seed):
    """A run of a few seconds, long enough to lose its worker in the middle."""
    return ex.make_config(
        "adding",
        "lstm",
        length=50,
        hidden=32,
        steps=600,
        batch=32,
        eval_every=600,
        probe_every=0,
        test_size=64,
        probe_size=4,
        seed=seed,
    )


def records_on_disk(folder):
    """Record names in folder; fails on a temporary (half-written) file."""
    files = os.listdir(folder)
    assert not [f for f in files if f.startswith(".tmp-")], files
    return sorted(
        f[: -len(".json")] for f in files if f.endswith(".json") and not f.endswith((".failed.json", "-compare.json"))
    )


@pytest.fixture(scope="module")
def client():
    cluster = cl.local_cluster(workers=2, retries=1)  # a run survives one lost worker
    try:
        with distributed.Client(cluster) as c:
            yield c
    finally:
        cluster.close()


@pytest.fixture
def ready(client):
    client.wait_for_workers(2, timeout=60)  # a killed worker's nanny restarts it
    return client


def kill_while_running(client, name):
    """on_progress callback: SIGKILL the worker process running `name`, 0.3 s into the run; the pid killed."""
    state = {"killed": [], "seen": None}

    def watch(progress, event):
        if state["killed"]:
            return
        on = [w for w, keys in client.processing().items() if any(k.endswith(name) for k in keys)]
        if not on:
            state["seen"] = None
            return
        state["seen"] = state["seen"] or time.monotonic()
        if time.monotonic() - state["seen"] > 0.3:
            pid = client.run(os.getpid, workers=on)[on[0]]
            os.kill(pid, signal.SIGKILL)
            state["killed"].append(pid)

    return watch, state["killed"]


@pytest.mark.timeout(150)
def test_local_cluster_gives_the_sequential_records_table_and_figure(ready, tmp_path):
    result = cl.run_grid_on(ready, GRID, tmp_path / "cluster", figures=False)
    assert result.failed == {} and result.skipped == [] and sorted(result.ran) == NAMES
    assert records_on_disk(tmp_path / "cluster") == NAMES
    assert len({w for w in result.where.values()}) == 2  # both workers took runs
    local = ex.run_grid(GRID, tmp_path / "local", workers=1, figures=False)  # one after another, in this process
    assert [ex.comparable(ex.read_record(p)) for p in result.paths] == [ex.comparable(ex.read_record(p)) for p in local]
    # so the comparison drawn from the cluster's records is the local runner's
    _, a = write_comparison("adding", result.paths, tmp_path / "cluster")
    _, b = write_comparison("adding", local, tmp_path / "local")

    def table(path):  # all but the wall-time column
        with open(path, encoding="utf-8") as f:
            return [line.rsplit("|", 2)[0] for line in f]

    assert table(a[0]) == table(b[0])
    with open(a[2], "rb") as fa, open(b[2], "rb") as fb:
        assert fa.read() == fb.read()


@pytest.mark.timeout(150)
def test_a_killed_worker_has_its_run_retried_elsewhere(ready, tmp_path):
    grid = [slow(0)] + GRID[:4]
    name = ex.record_name(grid[0])
    watch, killed = kill_while_running(ready, name)
    result = cl.run_grid_on(ready, grid, tmp_path, figures=False, on_progress=watch, poll_s=0.2)
    assert len(killed) == 1
    assert result.failed == {} and sorted(result.ran) == sorted(ex.record_name(c) for c in grid)
    assert int(result.where[name].rsplit(":", 1)[1]) != killed[0]  # finished by another process
    assert records_on_disk(tmp_path) == sorted(ex.record_name(c) for c in grid)  # each once, whole
    assert ex.read_record(result.paths[0])["final"]["step"] == 600


@pytest.mark.timeout(150)
def test_a_run_that_loses_more_workers_than_allowed_is_recorded_as_failed(tmp_path):
    grid = [slow(1), GRID[0]]
    name = ex.record_name(grid[0])
    with cl.local_cluster(workers=2, retries=0) as cluster, distributed.Client(cluster) as client:
        watch, killed = kill_while_running(client, name)
        result = cl.run_grid_on(client, grid, tmp_path, figures=False, on_progress=watch, poll_s=0.2)
    assert len(killed) == 1
    assert list(result.failed) == [name] and "KilledWorker" in result.failed[name]
    assert result.paths[0] is None and result.ran == [ex.record_name(GRID[0])]
    with open(cl.failure_path(tmp_path, grid[0]), encoding="utf-8") as f:
        failure = json.load(f)
    assert failure["reason"] == "worker-lost" and failure["config"] == grid[0]
    assert records_on_disk(tmp_path) == [ex.record_name(GRID[0])]


def _overcommit_refuses_huge_arrays():
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            return f.read().strip() in ("0", "2")
    except OSError:
        return False


@pytest.mark.timeout(120)
@pytest.mark.skipif(not _overcommit_refuses_huge_arrays(), reason="needs Linux refusing a 29 TiB allocation")
def test_a_run_that_raises_records_its_traceback_and_the_grid_goes_on(ready, tmp_path):
    too_big = ex.make_config("adding", "lstm", length=5, **{**TINY, "hidden": 10**6})  # U: 29 TiB
    grid = [too_big, GRID[0]]
    result = cl.run_grid_on(ready, grid, tmp_path, figures=False)
    name = ex.record_name(too_big)
    assert list(result.failed) == [name] and result.failed[name].startswith("MemoryError")
    with open(cl.failure_path(tmp_path, too_big), encoding="utf-8") as f:
        failure = json.load(f)
    assert failure["reason"] == "raised" and "Traceback" in failure["traceback"] and "MemoryError" in failure["error"]
    assert records_on_disk(tmp_path) == [ex.record_name(GRID[0])]
    # a failed run is not finished: the next call tries it again, and skips the finished one
    again = cl.run_grid_on(ready, grid, tmp_path, figures=False)
    assert list(again.failed) == [name] and again.skipped == [ex.record_name(GRID[0])] and again.ran == []


@pytest.mark.timeout(150)
def test_an_interrupted_grid_resumes_with_only_the_missing_runs(ready, tmp_path):
    def interrupt_after(n):
        def on_progress(progress, event):
            if event is not None and progress.done >= n:
                raise KeyboardInterrupt

        return on_progress

    with pytest.raises(KeyboardInterrupt):
        cl.run_grid_on(ready, GRID, tmp_path, figures=False, on_progress=interrupt_after(3))
    first = records_on_disk(tmp_path)
    assert 3 <= len(first) < len(GRID)
    stamps = {n: os.stat(tmp_path / f"{n}.json").st_mtime_ns for n in first}
    seen = []
    result = cl.run_grid_on(ready, GRID, tmp_path, figures=False, on_progress=lambda p, e: seen.append(p.line()))
    assert sorted(result.skipped) == first and sorted(result.ran) == sorted(set(NAMES) - set(first))
    assert result.failed == {} and records_on_disk(tmp_path) == NAMES
    assert {n: os.stat(tmp_path / f"{n}.json").st_mtime_ns for n in first} == stamps  # untouched
    assert seen[0].startswith(f"{len(first)}/8 done ({len(first)} reused)") and seen[-1].startswith("8/8 done")
    # nothing left to do; --force runs everything again
    assert cl.run_grid_on(ready, GRID, tmp_path, figures=False).ran == []
    assert sorted(cl.run_grid_on(ready, GRID, tmp_path, figures=False, force=True).ran) == NAMES


def _first_line(stream, timeout):
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


@pytest.mark.timeout(180)
def test_cli_cluster_up_then_compare_on_its_scheduler_with_a_grid_file(tmp_path, capsys):
    up = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from rnnlab.cli import main; sys.exit(main())",
            "cluster",
            "up",
            "--workers",
            "2",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = _first_line(up.stdout, 90)
        assert line.startswith("scheduler tcp://127.0.0.1:") and "2 workers" in line, line
        address = line.split()[1]
        grid = tmp_path / "grid.toml"
        grid.write_text(
            'task = "adding"\nmodels = ["lstm"]\nlengths = [5]\nseeds = 2\n'
            "hidden = 4\nsteps = 6\nbatch = 8\neval_every = 3\ntest_size = 16\n"
        )
        out = tmp_path / "out"
        assert cli(["compare", "--grid", str(grid), "--scheduler", address, "--out", str(out)]) == 0
        captured = capsys.readouterr()
        assert "| lstm | 5 |" in captured.out
        assert f"cluster {address}: 2 workers, 2 threads" in captured.err and "2/2 done" in captured.err
        names = records_on_disk(out)
        assert len(names) == 2 and all(n.startswith("adding-lstm-T5-h4-seed") for n in names)
        for n in names:  # figures drawn on the workers, written here
            with open(out / f"{n}-curve.png", "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert cli(["cluster", "status", address]) == 0
        assert "2 workers, 2 threads" in capsys.readouterr().out
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


@pytest.mark.timeout(60)
def test_cli_without_dask_falls_back_to_the_process_pool(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    args = [
        "compare",
        "adding",
        "--models",
        "lstm",
        "--lengths",
        "5",
        "--seeds",
        "1",
        "--hidden",
        "4",
        "--steps",
        "6",
        "--batch",
        "8",
        "--test-size",
        "16",
        "--probe-every",
        "0",
        "--workers",
        "1",
        "--no-figures",
    ]
    assert cli(args + ["--out", str(tmp_path)]) == 0
    assert "dask is not installed, running in a process pool" in capsys.readouterr().err
    assert len(records_on_disk(tmp_path)) == 1
    assert cli(args + ["--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:8786"]) == 1
    assert "--scheduler needs dask.distributed: pip install rnnlab[cluster]" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_a_diverging_run_with_inf_in_its_record_does_not_stop_the_grid(ready, tmp_path):
    # a SimpleRNN (relu, no clipping) at lr 10 overflows at its second step, Inf in its gradient flow
    diverging = ex.make_config(
        "adding",
        "simplernn",
        length=20,
        **{**TINY, "lr": 10.0, "clip": 0.0, "activation": "relu", "hidden": 16, "probe_every": 1},
    )
    grid = [diverging, *GRID]
    result = cl.run_grid_on(ready, grid, tmp_path, figures=False)
    assert result.failed == {} and len(result.ran) == len(grid)
    assert records_on_disk(tmp_path) == sorted(ex.record_name(c) for c in grid)
    record = ex.read_record(result.paths[0])
    assert record["final"]["stopped"].startswith("non-finite at step") and record["non_finite"]


class FakeListener:
    """A loopback listener that accepts and then sends `reply` (None: says nothing) and keeps the connection."""

    def __init__(self, reply):
        import socket

        self.reply, self.conns = reply, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply is not None:
                conn.sendall(self.reply)

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "reply, says",
    [
        (None, "accepted the connection but said nothing within 1 s"),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "is an HTTP server ('HTTP/1.1 400"),
        (b"\xff" * 16, "which is not Dask's protocol"),  # a length of 2**64 - 1 bytes: compared, never allocated
    ],
)
def test_compare_with_a_scheduler_that_is_not_one_fails_within_the_timeout(reply, says, tmp_path, capsys):
    fake = FakeListener(reply)
    try:
        t = time.perf_counter()
        with pytest.raises(SystemExit) as exit_:
            cli(
                [
                    "compare",
                    "adding",
                    "--models",
                    "lstm",
                    "--lengths",
                    "5",
                    "--seeds",
                    "1",
                    "--steps",
                    "2",
                    "--hidden",
                    "2",
                    "--no-figures",
                    "--scheduler",
                    fake.address,
                    "--connect-timeout",
                    "1",
                    "--out",
                    str(tmp_path),
                ]
            )
        elapsed = time.perf_counter() - t
    finally:
        fake.close()
    assert exit_.value.code == 1 and elapsed < 10
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"rnnlab compare: error: {fake.address}") and says in line


@pytest.mark.timeout(30)
def test_cluster_status_of_a_silent_listener_is_one_line(capsys):
    fake = FakeListener(None)
    try:
        assert cli(["cluster", "status", fake.address, "--connect-timeout", "0.5"]) == 1
    finally:
        fake.close()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"rnnlab cluster: error: {fake.address} accepted the connection but said nothing")


def test_a_real_scheduler_passes_the_handshake_check(ready):
    cl.check_scheduler(ready.scheduler.address, timeout=5)  # raises if not
    with cl.connect(ready.scheduler.address, timeout=5) as client:
        assert cl.cluster_summary(client)["workers"] == 2
