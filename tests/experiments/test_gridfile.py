"""Grid files (TOML, YAML): read, checked whole, and rejected with a clear error before any run starts."""

import pytest

import rnnlab.experiments as ex
from rnnlab.cli import main as cli
from rnnlab.experiments import cluster, grid, gridfile

GOOD = """\
task = "adding"
models = ["simplernn", "lstm"]
lengths = [10, 25]
seeds = 2
hidden = 16
steps = 40
lr = 2e-3
"""


def write(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_toml_grid_gives_the_configs_of_the_same_flags(tmp_path):
    g = gridfile.read_grid(write(tmp_path, GOOD))
    assert g == {
        "task": "adding",
        "models": ["simplernn", "lstm"],
        "lengths": [10, 25],
        "seeds": 2,
        "options": {"hidden": 16, "steps": 40, "lr": 2e-3},
    }
    configs = gridfile.configs(g)
    assert configs == ex.grid_configs("adding", ["simplernn", "lstm"], [10, 25], 2, hidden=16, steps=40, lr=2e-3)
    assert len(configs) == 8 and {c["hidden"] for c in configs} == {16}
    assert {c["steps"] for c in gridfile.configs(g, steps=5)} == {5}  # command-line options win


def test_a_yaml_grid_reads_the_same(tmp_path):
    pytest.importorskip("yaml")
    text = "task: adding\nmodels: [simplernn, lstm]\nlengths: [10, 25]\nseeds: 2\nhidden: 16\nsteps: 40\nlr: 0.002\n"
    assert gridfile.read_grid(write(tmp_path, text, "grid.yaml")) == gridfile.read_grid(write(tmp_path, GOOD))


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ('task = "adding"', 'task = "addition"'),
            "task expected one of ['adding', 'copy', 'digits'], got 'addition' (did you mean 'adding'?)",
        ),
        (('task = "adding"', 'task = "parity"'), "task expected one of ['adding', 'copy', 'digits'], got 'parity'"),
        (("lengths = [10, 25]", "lengths = [10, -25]"), "lengths[1] expected a positive integer, got -25"),
        (("lengths = [10, 25]", "lengths = [10, 2.5]"), "lengths[1] expected a positive integer, got 2.5"),
        (("lengths = [10, 25]", "lengths = []"), "lengths expected a non-empty list"),
        (("hidden = 16", "hiden = 16"), "unknown key 'hiden' (did you mean 'hidden'?)"),
        (("seeds = 2", "seed = 2"), "unknown key 'seed' (did you mean 'seeds'?)"),
        (("steps = 40", "eval-every = 5"), "unknown key 'eval-every' (did you mean 'eval_every'?)"),
        (
            ('models = ["simplernn", "lstm"]', 'models = ["simplernn", "lstn"]'),
            "models[1] expected one of ['simplernn', 'lstm', 'gru', 'lstm-peephole'], got 'lstn' "
            "(did you mean 'lstm'?)",
        ),
        (("seeds = 2", "seeds = 0"), "seeds expected the number of seeds per combination (a positive integer), got 0"),
        (("seeds = 2\n", ""), "grid expected the keys ['task', 'models', 'lengths', 'seeds'], missing ['seeds']"),
        (("steps = 40", "steps = -40"), "steps expected a positive integer, got -40"),
        (("lr = 2e-3", 'lr = "fast"'), "lr expected a non-negative number, got 'fast'"),
        (("hidden = 16", 'init = "chrono"'), "init 'chrono' expected model 'lstm', got 'simplernn'"),
    ],
)
def test_bad_grids_are_rejected_naming_the_file_and_the_key(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ValueError) as err:
        gridfile.read_grid(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_unreadable_grid_files(tmp_path):
    with pytest.raises(ValueError, match="not valid TOML"):
        gridfile.read_grid(write(tmp_path, 'task = "adding'))
    with pytest.raises(ValueError, match=r"\.toml, \.yaml or \.yml, got 'grid.json'"):
        gridfile.read_grid(write(tmp_path, "{}", "grid.json"))
    with pytest.raises(FileNotFoundError, match="not found"):
        gridfile.read_grid(tmp_path / "absent.toml")
    with pytest.raises(ValueError, match="grid expected a table"):
        gridfile.check_grid(["adding"])
    with pytest.raises(ValueError, match="length for digits expected one of"):
        gridfile.check_grid({"task": "digits", "models": ["lstm"], "lengths": [10], "seeds": 1})


def _no_run(*args, **kwargs):
    pytest.fail("a run started")


@pytest.mark.parametrize(
    "change, message",
    [
        (('task = "adding"', 'task = "adding_problem"'), "task expected one of"),
        (("lengths = [10, 25]", "lengths = [10, -25]"), "lengths[1] expected a positive integer, got -25"),
        (("hidden = 16", "hiden = 16"), "unknown key 'hiden' (did you mean 'hidden'?)"),
    ],
)
def test_cli_rejects_a_bad_grid_before_any_run(tmp_path, capsys, monkeypatch, change, message):
    for module, name in ((cluster, "connect"), (cluster, "run_grid_on"), (grid, "run_grid"), (grid, "run_to_file")):
        monkeypatch.setattr(module, name, _no_run)
    out = tmp_path / "out"
    assert cli(["compare", "--grid", str(write(tmp_path, GOOD.replace(*change))), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rnnlab compare: error: ") and message in err
    assert not out.exists()


def test_cli_grid_file_excludes_the_grid_arguments(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    assert cli(["compare", "adding", "--grid", str(path)]) == 1
    assert "--grid expected no TASK, --models, --lengths or --seeds beside it, got adding" in capsys.readouterr().err
    assert cli(["compare", "--grid", str(path), "--seeds", "1"]) == 1
    assert "got --seeds" in capsys.readouterr().err
    assert cli(["compare"]) == 1
    assert "compare expected a TASK or --grid FILE, got neither" in capsys.readouterr().err


HUGE = 'task = "adding"\nmodels = ["simplernn", "lstm"]\nlengths = [10]\nseeds = 100000000\n'


def test_a_grid_of_1e8_seeds_is_counted_not_built(tmp_path):
    import time
    import tracemalloc

    path = write(tmp_path, HUGE)
    tracemalloc.start()
    t = time.perf_counter()
    with pytest.raises(ValueError, match=r"at most 100,000 runs, got 200,000,000 .*--max-runs raises the limit"):
        gridfile.read_grid(path)
    g = gridfile.read_grid(path, max_runs=None)  # without a limit it reads, checked, still unbuilt
    runs = ex.iter_grid_configs(g["task"], g["models"], g["lengths"], g["seeds"], max_runs=None, **g["options"])
    first = [next(runs) for _ in range(3)]
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 5 and peak < 5 * 2**20, (elapsed, peak)  # 2e8 configs would take minutes and tens of GB
    assert ex.grid_size(g["models"], g["lengths"], g["seeds"], max_runs=None) == 200_000_000
    assert [c["seed"] for c in first] == [0, 1, 2] and {c["model"] for c in first} == {"simplernn"}


def test_the_lazy_grid_is_the_grid_run_by_run():
    args = ("adding", ["simplernn", "lstm"], [5, 10], 3)
    lazy = list(ex.iter_grid_configs(*args, hidden=8, steps=4))
    built = [
        ex.make_config("adding", m, length=L, seed=s, hidden=8, steps=4)
        for m in args[1]
        for L in args[2]
        for s in range(3)
    ]
    assert lazy == built == ex.grid_configs(*args, hidden=8, steps=4)
    assert len(lazy) == ex.grid_size(args[1], args[2], args[3]) == 12
    with pytest.raises(ValueError, match="at most 11 runs, got 12"):
        ex.iter_grid_configs(*args, max_runs=11)  # refused when asked for, not when first iterated
    with pytest.raises(ValueError, match="init 'chrono' expected model 'lstm'"):
        ex.iter_grid_configs(*args, init="chrono")


def test_cli_max_runs_raises_the_limit_and_the_count_comes_first(tmp_path, capsys, monkeypatch):
    started = []

    def fake_compare(task, models, lengths, seeds, out_dir, max_runs, **kwargs):
        started.append(ex.grid_size(models, lengths, seeds, max_runs))
        raise KeyboardInterrupt  # stop where the runs would begin

    import rnnlab.cli.compare as compare_cli

    monkeypatch.setattr(compare_cli, "on_cluster", lambda args: False)
    monkeypatch.setattr(compare_cli, "compare", fake_compare)
    path = write(tmp_path, HUGE.replace("100000000", "60000"))  # 120,000 runs
    assert cli(["compare", "--grid", str(path), "--out", str(tmp_path / "out")]) == 1
    assert "at most 100,000 runs, got 120,000" in capsys.readouterr().err and not started
    code = cli(["compare", "--grid", str(path), "--max-runs", "200000", "--out", str(tmp_path / "out")])
    assert code == 130 and started == [120_000]
    assert "rnnlab compare: 120,000 runs of adding (simplernn, lstm × T = 10 × 60,000 seeds)" in capsys.readouterr().out
