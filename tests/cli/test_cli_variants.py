"""The LSTM variants in the CLI: `--model lstm-peephole` for run, `--cell lstm-peephole` for trace."""

import json

import numpy as np

import rnnlab as rl
from rnnlab.cli import main


def test_run_trains_an_lstm_with_peepholes(tmp_path, capsys):
    args = ["run", "adding", "--model", "lstm-peephole", "--length", "6", "--steps", "4", "--hidden", "3"]
    args += ["--eval-every", "2", "--test-size", "20", "--out", str(tmp_path), "--no-figures", "--quiet"]
    assert main(args) == 0
    (path,) = tmp_path.glob("adding-lstm-peephole-T6-h3-*.json")
    assert json.loads(path.read_text())["config"]["model"] == "lstm-peephole"


def test_the_variant_names_a_peephole_lstm():
    layer = rl.nn.cell_maker("lstm-peephole")(4)
    assert type(layer) is rl.LSTM and layer.peepholes and rl.nn.cell_class("lstm-peephole") is rl.LSTM
    assert "lstm-peephole" in rl.nn.cells.model_names()


def test_trace_a_peephole_lstm(tmp_path, capsys):
    assert main(["trace", "我 爱 祖国", "--cell", "lstm-peephole", "--units", "5", "--epochs", "60"]) == 0
    out = capsys.readouterr().out
    assert "next: '爱'" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("o ", "C ", "h "))]
    values = {r[0]: np.array(r[1:], dtype=float) for r in rows[:3]}
    assert set(values) == {"o", "C", "h"} and all(len(v) == 5 for v in values.values())
    np.testing.assert_allclose(values["o"] * np.tanh(values["C"]), values["h"], atol=0.011)
