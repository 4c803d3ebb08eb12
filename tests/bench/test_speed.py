"""`rnnlab bench speed --quick` runs and reports every figure it promises (no timing assertions)."""

import json

import numpy as np
import pytest

from rnnlab.bench import contenders, speed
from rnnlab.cli import main


def test_bench_speed_quick_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert main(["bench", "speed", "--quick", "--cells", "lstm", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| lstm | 20, 1, 1, 8 | train |" in printed and "sgemm peak" in printed and "after the grid" in printed
    result = json.loads(out.read_text())
    assert result["peak_gflops"]["default_threads"] > 0 and result["peak_gflops_after"]["default_threads"] > 0
    assert result["first_call"]["first_call_s"] > 0
    rows = result["rows"]
    assert [(r["T"], r["B"], r["mode"]) for r in rows] == [
        (20, 1, "train"),
        (20, 1, "infer"),
        (20, 4, "train"),
        (20, 4, "infer"),
    ]
    for r in rows:
        assert len(r["runs_ms"]["rnnlab"]) == 3 and r["ms"]["rnnlab"] > 0 and r["gflops"]["rnnlab"] > 0
        if r["mode"] == "train":
            assert r["peak_bytes"]["rnnlab"]["rss_peak_bytes"] >= 0
            assert r["peak_bytes"]["rnnlab"]["tracemalloc_peak_bytes"] > 0
        else:  # the contenders compute the same function
            for name, diff in r["max_abs_diff_from_rnnlab"].items():
                assert diff < 1e-4, name


@pytest.mark.parametrize("cell", ["lstm", "simple_rnn", "gru"])
def test_contenders_compute_the_same_outputs(cell):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    p = contenders.problem(cell, 5, 3, 2, 4)
    runners, missing = contenders.contenders(cell, p, inference=True)
    assert missing == []
    diffs = contenders.check_same(runners)
    assert set(diffs) == {"torch", "onnxruntime"} and max(diffs.values()) < 1e-5
    assert runners[2].ir_version == 8  # opset 17's, which older ONNX Runtimes accept too
    ours, theirs = runners[0].train(), runners[1].train().detach().numpy()  # dx of rnnlab and of PyTorch
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="--cells expected lstm, simple_rnn and/or gru, got 'peephole'"):
        from rnnlab.cli import bench

        bench.run_speed(
            type("A", (), {"cells": "peephole", "quick": True, "repeats": None, "json": None, "no_memory": True})()
        )
    with pytest.raises(ValueError, match="repeats expected a positive integer"):
        speed.run(speed.QUICK_GRID, ("lstm",), repeats=0)


def test_ratios_pair_the_rounds():
    """×PyTorch is the median of per-round ratios: a slow round slows both sides of its ratio."""
    times = {"rnnlab": [0.002, 0.010, 0.004], "torch": [0.001, 0.005, 0.002]}  # 2× in every round
    row = speed._row("lstm", (20, 1, 1, 8), "infer", times, peak=None, missing=[])
    assert row["ratio_torch"] == pytest.approx(2.0) and row["ratio_torch_quartiles"] == pytest.approx([2.0, 2.0])
    times = {"rnnlab": [0.001, 0.002, 0.003, 0.004], "torch": [0.004, 0.003, 0.002, 0.001]}
    row = speed._row("lstm", (20, 1, 1, 8), "infer", times, peak=None, missing=[])
    assert row["ratio_torch"] == pytest.approx(np.median([0.25, 2 / 3, 1.5, 4.0]))
    assert speed._ratio(row, "torch") == f"{row['ratio_torch']:.2f} (0.56–2.12)"  # the quartiles 0.5625, 2.125
    assert speed._ratio(row, "onnxruntime") == "-"


def test_cores_that_did_not_add_up_are_named():
    """The table says so when the sgemm peak on all cores, before or after the grid, was little more than one's."""
    result = {
        "machine": {"cores": 2},
        "peak_gflops": {"default_threads": 200.0, "one_thread": 100.0},
        "peak_gflops_after": {"default_threads": 190.0, "one_thread": 100.0},
    }
    assert speed.cores_note(result) is None
    result["peak_gflops_after"] = {"default_threads": 130.0, "one_thread": 100.0}
    assert "1.30× the one-thread peak after the grid" in speed.cores_note(result)
    assert "before" not in speed.cores_note(result)
    result["peak_gflops"] = {"default_threads": 120.0, "one_thread": 100.0}
    both = "1.20× the one-thread peak before the grid and 1.30× the one-thread peak after the grid"
    assert both in speed.cores_note(result)
    result["machine"]["cores"] = 1  # one core: nothing to add up
    assert speed.cores_note(result) is None
    result["machine"]["cores"] = 2
    result["peak_gflops"] = {"default_threads": 120.0}  # no one-thread figure (no OpenBLAS to hold to one)
    del result["peak_gflops_after"]
    assert speed.cores_note(result) is None
