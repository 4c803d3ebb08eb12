"""`rnnlab demo --quick`: the whole story on tiny settings, figures in one folder."""

import json
import os
import re

from rnnlab.cli import main as cli

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_quick_writes_every_figure_and_the_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli(["demo", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    figures = [
        "activations.png",
        "trace-lstm-gates.png",
        "race-T10.png",
        "race-T20.png",
        "gradient-flow.png",
        "exploding.png",
        "overfitting.png",
        "cost.png",
    ]
    for name in figures:
        with open(out / name, "rb") as f:
            assert f.read(8) == PNG, name
    # the story's parts, in order: activations, the 我 爱 祖国 trace, the race, gradient flow, the summary
    marks = [
        "0.25^10 = 9.5e-07",
        "我 爱 祖国",
        "祖国",
        "the adding problem",
        "gradient flow at T = 20",
        "rnnlab lesson exploding",
        "rnnlab lesson overfitting",
        "rnnlab lesson cost",
        "summary",
    ]
    positions = [text.index(m) for m in marks]
    assert positions == sorted(positions)
    summary = text[text.index("\nsummary") :]
    rows = re.findall(r"^   (SimpleRNN|LSTM) +(\d+) +40 ", summary, flags=re.M)  # model, T, steps
    assert sorted(rows) == [("LSTM", "10"), ("LSTM", "20"), ("SimpleRNN", "10"), ("SimpleRNN", "20")]
    runs = [json.loads((out / "runs" / f).read_text()) for f in os.listdir(out / "runs") if f.endswith(".json")]
    assert sorted((r["config"]["model"], r["config"]["length"]) for r in runs) == [
        ("lstm", 10),
        ("lstm", 20),
        ("simplernn", 10),
        ("simplernn", 20),
    ]
    assert all(r["gradient_flow"][-1]["step"] == r["final"]["step"] for r in runs)  # probed after training
