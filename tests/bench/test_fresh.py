"""`rnnlab bench speed --fresh-processes`: each contender in a process of its own (no timing assertions)."""

import json
import os

import pytest

from rnnlab.bench import contenders, fresh, memory, speed
from rnnlab.cli import main

LIBS = ("numba", "torch", "onnxruntime")


def test_each_contender_is_timed_in_its_own_process_holding_only_its_library():
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    session = fresh.Session()
    try:
        pids = {lib: c.proc.pid for lib, c in session.children.items()}
        assert len(set(pids.values())) == 3 and os.getpid() not in pids.values()
        ready, missing = session.setup("lstm", contenders.problem("lstm", 3, 2, 1, 4))
        assert missing == [] and set(ready) == {"rnnlab", "torch", "onnxruntime"}
        train = session.time(ready, "train", repeats=2, warm=0.0)
        infer = session.time(ready, "infer", repeats=2, warm=0.0)
        assert set(train) == {"rnnlab", "torch"} and set(infer) == {"rnnlab", "torch", "onnxruntime"}
        assert all(len(t) == 2 and min(t) > 0 for t in [*train.values(), *infer.values()])
        held = session.modules()
    finally:
        session.close()
    assert all(c.proc.poll() is not None for c in session.children.values())  # all ended
    for lib, mods in held.items():
        own = "numba" if lib == "rnnlab" else lib
        assert [m for m in LIBS if m != own and m in mods] == [], f"the {lib} process holds {mods}"
    assert "torch" in held["torch"] and "onnxruntime" in held["onnxruntime"]


def test_a_failing_child_is_named():
    child = fresh.Child("rnnlab")
    try:
        with pytest.raises(RuntimeError, match="rnnlab process of the benchmark failed"):
            child.ask(do="time", mode="train", warm=0.0)  # nothing set up yet
    finally:
        child.close()


@pytest.mark.parametrize("fresh_processes, threads", [(False, None), (True, 1)])
def test_the_table_says_which_method_made_it(fresh_processes, threads, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(speed, "sgemm_peak", lambda: {"default_threads": 100.0, "one_thread": 50.0})  # seconds saved
    monkeypatch.setattr(
        memory, "first_call", lambda hide_scipy=False: {"import_s": 0, "first_call_s": 0, "backend": "-"}
    )
    out = tmp_path / "speed.json"
    args = ["bench", "speed", "--quick", "--cells", "gru", "--no-memory", "--repeats", "1", "--json", str(out)]
    args += ["--fresh-processes"] if fresh_processes else []
    args += ["--threads", str(threads)] if threads else []
    before = os.environ.get("RNNLAB_NUM_THREADS")
    assert main(args) == 0
    assert os.environ.get("RNNLAB_NUM_THREADS") == before  # put back after the run
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["method"] == speed.METHODS[fresh_processes] and result["threads"] == threads
    each = "each library's default threads" if threads is None else "1 thread(s) for every library"
    assert f"Method: {speed.METHODS[fresh_processes]}, 1 rounds, {each}." in printed
    assert "SIMD:" in printed and result["machine"]["simd"] is not None
    for r in result["rows"]:
        assert r["ms"]["rnnlab"] > 0 and ("kernel" in r["ms"]) != fresh_processes
    assert ("modules_of_each_process" in result) == fresh_processes


def test_threads_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="threads expected a positive integer, got 0"):
        speed.run(speed.QUICK_GRID, ("lstm",), repeats=1, threads=0)
