"""Experiment configs, runs and grids; `rnnlab run` and `rnnlab compare` end to end on tiny settings."""

import hashlib
import json
import os

import numpy as np
import pytest

import rnnlab.experiments as ex
from rnnlab.cli import main as cli
from rnnlab.experiments.protocols import problem
from rnnlab.probe import model_gradient_flow

TINY = dict(hidden=4, steps=10, batch=8, eval_every=5, probe_every=5, test_size=20, probe_size=4)
PNG = b"\x89PNG\r\n\x1a\n"


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


# ---- configs -------------------------------------------------------------------
def test_config_defaults_validation_and_hash():
    c = ex.make_config("adding", "lstm")
    assert (c["length"], c["hidden"], c["steps"], c["batch"], c["lr"], c["clip"]) == (100, 128, 5000, 64, 1e-3, 1.0)
    assert c["eval_every"] == 250 and c["probe_every"] == 1250  # derived, so they enter the hash
    assert ex.config_id(c) == ex.config_id(dict(c))
    assert ex.config_id(c) != ex.config_id({**c, "seed": 1})
    assert ex.config_id(c) != ex.config_id({**c, "lr": 2e-3})
    assert ex.record_name(c).startswith("adding-lstm-T100-h128-seed0-")
    with pytest.raises(ValueError, match="task"):
        ex.make_config("parity", "lstm")
    with pytest.raises(ValueError, match="length for digits"):
        ex.make_config("digits", "lstm", length=10)
    with pytest.raises(ValueError, match="chrono"):
        ex.make_config("adding", "simplernn", init="chrono")
    with pytest.raises(ValueError, match="steps"):
        ex.make_config("adding", "lstm", steps=0)
    with pytest.raises(ValueError, match="keys among"):
        ex.make_config("adding", "lstm", epochs=3)


# ---- runs ----------------------------------------------------------------------
def test_run_record_is_complete_and_reproducible():
    c = ex.make_config("adding", "lstm", length=6, **TINY)
    a, b = ex.run(c), ex.run(c)
    assert ex.comparable(a) == ex.comparable(b)  # same config, same record (wall times aside)
    assert "wall_s" in a["timing"] and "timing" not in ex.comparable(a)
    json.dumps(a, allow_nan=False)
    assert a["id"] == ex.config_id(c) and a["config"] == c
    assert a["task"]["baseline"] == pytest.approx(1 / 6) and a["task"]["metric"] == "mse"
    assert [r["step"] for r in a["evaluations"]] == [0, 5, 10]
    assert a["evaluations"][0]["train_loss"] is None and a["evaluations"][1]["train_loss"] > 0
    assert a["final"]["mse"] == a["evaluations"][-1]["test_mse"]
    assert a["final"]["solved"] is False  # 10 steps of 4 units cannot solve it
    assert [g["step"] for g in a["gradient_flow"]] == [0, 5, 10]
    assert len(a["gradient_flow"][0]["h"]) == 7 and len(a["gradient_flow"][0]["c"]) == 7
    assert a["model"]["params"] == 4 * (2 * 4 + 4 * 4 + 4) + 4 + 1
    assert {"rnnlab", "numpy", "python", "cpu", "kernel_backend"} <= set(a["env"])
    other = ex.run({**c, "seed": 1})
    assert other["evaluations"][-1] != a["evaluations"][-1]


def test_run_probe_at_step_0_is_the_initial_model():
    c = ex.make_config("adding", "simplernn", length=6, **TINY)
    record = ex.run(c)
    prob = problem(c)
    model = prob.build_model()  # the same seed builds the same initial weights
    X, y = prob.test_set()
    flow = model_gradient_flow(model, X[:4], y[:4])
    np.testing.assert_allclose(record["gradient_flow"][0]["h"], flow["h"], rtol=1e-6)
    assert "c" not in record["gradient_flow"][0]


@pytest.mark.parametrize("task, length, keys", [("copy", 3, {"loss", "recall"}), ("digits", 8, {"accuracy", "loss"})])
def test_other_tasks_run(task, length, keys):
    if task == "digits":
        pytest.importorskip("sklearn")
    record = ex.run(ex.make_config(task, "lstm", length=length, **TINY))
    scored = "val_" if task == "digits" else "test_"  # digits: evaluations on validation, test once at the end
    assert set(record["evaluations"][-1]) == {"step", "train_loss"} | {f"{scored}{k}" for k in keys}
    assert keys <= set(record["final"])
    if task == "copy":
        assert record["task"]["baseline"] == pytest.approx(10 * np.log(8) / 23)
        assert record["task"]["sequence_steps"] == 23
    else:
        assert 0.09 < record["task"]["baseline"] < 0.11 and record["task"]["goal"] == "max"


def test_chrono_run_uses_the_chrono_biases():
    c = ex.make_config("adding", "lstm", length=30, init="chrono", **TINY)
    model = problem(c).build_model()
    model.build((30, 2))
    b_i, b_f = model.params["0.b"].reshape(4, -1)[:2]
    assert np.all(b_f >= 0) and b_f.max() > 1.5 and np.allclose(b_i, -b_f)


def test_dropout_reaches_the_layer_and_keeps_earlier_record_names():
    c = ex.make_config("digits", "lstm", length=8, dropout=0.25, recurrent_dropout=0.5, **TINY)
    rnn = problem(c).build_model().layers[0]
    assert (rnn.dropout, rnn.recurrent_dropout) == (0.25, 0.5)
    assert ex.config_id(ex.make_config("digits", "lstm", length=8, **TINY)) != ex.config_id(c)
    # a config written before the dropout keys existed hashes to the same name
    plain = ex.make_config("adding", "lstm", length=8, **TINY)
    before = {k: v for k, v in plain.items() if k not in ("dropout", "recurrent_dropout")}
    text = json.dumps(before, sort_keys=True, separators=(",", ":"))
    assert ex.config_id(plain) == hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    for bad in (1.0, -0.1, "0.2", True):
        with pytest.raises(ValueError, match="dropout expected a rate"):
            ex.make_config("digits", "lstm", length=8, dropout=bad)


def _hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:16]


def test_a_digits_record_of_the_earlier_protocol_is_not_reused(tmp_path):
    c = ex.make_config("digits", "lstm", length=8, **TINY)
    # the name its record had before digits were scored on a validation split: the config's bare hash
    old = tmp_path / f"digits-lstm-T8-h4-seed0-{_hash(c)}.json"
    ex.write_json(old, {"schema": ex.runner.SCHEMA, "config": c, "final": {"accuracy": 0.99}, "evaluations": []})
    assert ex.record_name(c) != old.stem
    path = ex.run_to_file(c, tmp_path, figures=False, reuse=True)
    assert os.path.basename(path) != old.name  # run again, under the name of the current protocol
    record = ex.read_record(path)
    assert record["final"] != {"accuracy": 0.99} and record["evaluations"]
    assert any("val_accuracy" in e for e in record["evaluations"])  # scored on validation
    # the tasks whose protocol did not change keep their records' names
    adding = ex.make_config("adding", "lstm", length=8, **TINY)
    assert ex.config_id(adding) == _hash({k: v for k, v in adding.items() if "dropout" not in k})


def _strict_load(path):
    """json.load that refuses the NaN / Infinity tokens strict JSON has not."""

    def refuse(token):
        raise ValueError(f"non-compliant JSON token {token}")

    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=refuse)


def test_write_json_stores_non_finite_numbers_as_null_with_their_pointers(tmp_path):
    path = tmp_path / "r.json"
    ex.write_json(path, {"a": 1, "b": [1.5, float("nan"), {"c/d": float("inf")}], "e": np.float32("-inf")})
    assert _strict_load(path) == {
        "a": 1,
        "b": [1.5, None, {"c/d": None}],
        "e": None,
        "non_finite": {"/b/1": "nan", "/b/2/c~1d": "inf", "/e": "-inf"},
    }
    ex.write_json(path, {"a": 1})
    assert _strict_load(path) == {"a": 1}  # no "non_finite" key when all is finite
    with pytest.raises(ValueError, match="non_finite"):  # cannot be marked: refused, the old file whole
        ex.write_json(path, [float("nan")])
    assert _strict_load(path) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["r.json"]  # no temporary file left


def test_a_truncated_record_is_named_with_the_way_out(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"schema": "rnnlab.run/1", "na')
    with pytest.raises(ValueError, match=r"r\.json is not a whole run record .*--force"):
        ex.read_record(path)


# a SimpleRNN (relu, no clipping) at lr 10 overflows at its second step, its gradient flow holding Inf
DIVERGING = dict(TINY, lr=10.0, clip=0.0, activation="relu", hidden=16)


def test_a_diverging_run_is_a_record_that_says_where_it_stopped(tmp_path):
    c = ex.make_config("adding", "simplernn", length=20, **DIVERGING)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        path = ex.run_to_file(c, tmp_path, figures=True)
    record = _strict_load(path)
    final = record["final"]
    assert final["stopped"] == f"non-finite at step {final['step']}" and final["step"] < c["steps"]
    assert final["stopped_detail"].startswith(f"non-finite value at step {final['step']}")
    assert final["mse"] is None and final["solved"] is False
    assert record["non_finite"]  # the gradient flow held Inf/NaN: listed, stored as null
    for pointer in record["non_finite"]:
        node = record
        for part in pointer.split("/")[1:]:
            node = node[int(part)] if isinstance(node, list) else node[part.replace("~1", "/").replace("~0", "~")]
        assert node is None


def test_rnnlab_run_of_a_diverging_config_writes_its_record(tmp_path, capsys):
    args = [
        "run",
        "adding",
        "--model",
        "simplernn",
        "--length",
        "20",
        "--activation",
        "relu",
        "--lr",
        "10",
        "--clip",
        "0",
        "--hidden",
        "16",
        "--steps",
        "10",
        "--batch",
        "8",
        "--test-size",
        "20",
        "--probe-size",
        "4",
        "--no-figures",
        "--quiet",
        "--out",
        str(tmp_path),
    ]
    with pytest.warns(RuntimeWarning, match="non-finite"):
        assert cli(args) == 0
    out = capsys.readouterr().out
    assert "stopped early: non-finite at step" in out
    (name,) = os.listdir(tmp_path)
    assert _strict_load(tmp_path / name)["final"]["stopped"].startswith("non-finite at step")


def test_a_grid_goes_on_past_a_diverging_run_and_a_raising_run(tmp_path, monkeypatch):
    good = ex.grid_configs("adding", ["simplernn", "lstm"], [5], 2, **TINY)
    diverging = ex.make_config("adding", "simplernn", length=20, **DIVERGING)
    raising = ex.make_config("adding", "lstm", length=7, **TINY)
    real_run = ex.runner.run

    def run(config, verbose=False, time_limit=None):
        if config == raising:
            raise MemoryError("injected")
        return real_run(config, verbose, time_limit)

    monkeypatch.setattr(ex.runner, "run", run)
    configs = [good[0], diverging, raising, *good[1:]]
    done, failed = [], {}
    with pytest.warns(RuntimeWarning, match="non-finite"):
        paths = ex.run_grid(
            configs, tmp_path, workers=1, figures=False, on_done=done.append, on_failed=failed.__setitem__
        )
    assert paths[2] is None and all(p is not None for k, p in enumerate(paths) if k != 2)
    assert sorted(done) == sorted(p for p in paths if p)
    assert _strict_load(paths[1])["final"]["stopped"].startswith("non-finite at step")
    assert failed == {ex.record_name(raising): "MemoryError: injected"}
    failure = _strict_load(tmp_path / f"{ex.record_name(raising)}.failed.json")
    assert failure["reason"] == "raised" and "MemoryError: injected" in failure["traceback"]


def test_a_grid_in_worker_processes_records_the_diverging_run(tmp_path):
    configs = [
        ex.make_config("adding", "simplernn", length=20, **DIVERGING),
        *ex.grid_configs("adding", ["simplernn"], [5], 2, **TINY),
    ]
    paths = ex.run_grid(configs, tmp_path, workers=2, figures=False)
    records = [_strict_load(p) for p in paths]
    assert records[0]["final"]["stopped"].startswith("non-finite at step")
    assert [r["final"]["stopped"] for r in records[1:]] == [None, None]


def test_run_to_file_reuses_a_record_of_the_same_config(tmp_path, monkeypatch):
    c = ex.make_config("adding", "simplernn", length=5, **TINY)
    path = ex.run_to_file(c, tmp_path, figures=False)
    monkeypatch.setattr(ex.runner, "run", lambda *a, **k: pytest.fail("ran again"))
    assert ex.run_to_file(c, tmp_path, figures=False) == path


def test_a_time_limit_stops_after_a_chunk_and_the_cut_record_is_not_reused(tmp_path, capsys):
    c = ex.make_config("adding", "simplernn", length=5, **{**TINY, "steps": 2 * ex.runner.CHUNK_STEPS})
    args = ["run", "adding", "--model", "simplernn", "--length", "5", "--steps", str(c["steps"]), "--quiet"]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items() if k != "steps"]
    assert cli([*args, "--no-figures", "--out", str(tmp_path), "--time-limit", "1e-9"]) == 0
    first = min(ex.runner.CHUNK_STEPS, TINY["eval_every"])  # training steps go in chunks, cut at evaluations
    assert f"stopped early: time limit at step {first}" in capsys.readouterr().out
    path = ex.runner.record_path(tmp_path, c)
    cut = _strict_load(path)
    assert cut["config"] == c  # the same config: the limit is not part of it
    assert cut["final"]["step"] == cut["evaluations"][-1]["step"] == first
    assert cut["final"]["stopped_detail"] == "the time limit of 1e-09 s was reached"
    assert ex.run_to_file(c, tmp_path, figures=False) == path  # run again, not reused
    assert _strict_load(path)["final"]["step"] == c["steps"] and _strict_load(path)["final"]["stopped"] is None
    with pytest.raises(SystemExit) as exc:
        cli([*args, "--time-limit", "0"])
    assert exc.value.code == 2


# ---- command line ----------------------------------------------------------------
def test_cli_run_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "results"
    code = cli(
        [
            "run",
            "adding",
            "--model",
            "lstm",
            "--length",
            "6",
            "--hidden",
            "4",
            "--steps",
            "10",
            "--batch",
            "8",
            "--eval-every",
            "5",
            "--test-size",
            "20",
            "--seed",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    files = sorted(os.listdir(out))
    [record_file] = [f for f in files if f.endswith(".json")]
    record = json.loads((out / record_file).read_text())
    assert record["config"]["seed"] == 3 and record["config"]["length"] == 6
    pngs = [f for f in files if f.endswith(".png")]
    assert {p.rsplit("-", 1)[-1] for p in pngs} == {"curve.png", "gradflow.png", "c.png"}
    assert all(_png(out / p) for p in pngs)
    assert "test mse" in capsys.readouterr().out


def test_cli_run_reports_bad_arguments(capsys):
    assert (
        cli(["run", "digits", "--length", "10", "--steps", "1"]) == 2
    )  # a mistake in the arguments, found before any work
    assert "length for digits expected one of [8, 64], got 10" in capsys.readouterr().err


def test_compare_runs_the_grid_in_a_process_pool(tmp_path):
    out = tmp_path / "pool"
    records, written = ex.compare(
        "adding",
        ["lstm"],
        [4, 6],
        1,
        out,
        workers=2,
        hidden=3,
        steps=4,
        batch=4,
        eval_every=2,
        test_size=8,
        probe_every=0,
    )
    assert [(r["config"]["model"], r["config"]["length"]) for r in records] == [("lstm", 4), ("lstm", 6)]
    # the pool's single-threaded workers give the records this process gives
    assert ex.comparable(ex.run(records[1]["config"])) == ex.comparable(records[1])
    assert [os.path.basename(p) for p in written] == ["adding-compare.md", "adding-compare.json", "adding-compare.png"]
    assert _png(out / "adding-compare.png")


def test_cli_compare_writes_records_table_and_figure(tmp_path, capsys):
    out = tmp_path / "grid"
    code = cli(
        [
            "compare",
            "adding",
            "--models",
            "simplernn,lstm",
            "--lengths",
            "4,6",
            "--seeds",
            "1",
            "--hidden",
            "3",
            "--steps",
            "4",
            "--batch",
            "4",
            "--eval-every",
            "2",
            "--test-size",
            "8",
            "--probe-every",
            "0",
            "--workers",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    records = [
        json.loads((out / f).read_text()) for f in os.listdir(out) if f.endswith(".json") and f != "adding-compare.json"
    ]
    assert {(r["config"]["model"], r["config"]["length"], r["config"]["seed"]) for r in records} == {
        (m, L, 0) for m in ("simplernn", "lstm") for L in (4, 6)
    }
    table = (out / "adding-compare.md").read_text()
    assert table.count("\n| lstm |") == 2 and table.count("\n| simplernn |") == 2
    summary = json.loads((out / "adding-compare.json").read_text())
    assert len(summary["rows"]) == 4 and all(row["runs"] == 1 for row in summary["rows"])
    assert _png(out / "adding-compare.png")
    assert "| model | T |" in capsys.readouterr().out


def test_digits_run_chooses_on_validation_and_scores_test_once():
    pytest.importorskip("sklearn")
    record = ex.run(
        ex.make_config("digits", "simplernn", length=8, hidden=8, steps=30, eval_every=10, batch=16, probe_size=4)
    )
    evaluations = record["evaluations"][1:]
    best = max(evaluations, key=lambda r: r["val_accuracy"])
    final = record["final"]
    assert final["selected_step"] == best["step"] and final["val_accuracy"] == best["val_accuracy"]
    assert not any(k.startswith("test_") for r in record["evaluations"] for k in r)
    # the test scores are those of the chosen weights: retrain to that step and score the test set
    c = ex.make_config(
        "digits", "simplernn", length=8, hidden=8, steps=best["step"], eval_every=10, batch=16, probe_size=4
    )
    again = ex.run(c)
    assert again["final"]["selected_step"] == best["step"]
    assert final["accuracy"] == again["final"]["accuracy"]
