"""The demo's race when a run diverges: reported plainly, the rest of the story goes on."""

import os

import pytest

from rnnlab.cli import demo_science as science
from rnnlab.experiments import make_config
from rnnlab.experiments import race as race_module
from rnnlab.lessons import race as race_lessons

pytest.importorskip("matplotlib")

TINY = dict(hidden=4, steps=10, batch=8, eval_every=5, probe_every=5, test_size=20, probe_size=4)
# relu with a large step and no clipping: the SimpleRNN's loss overflows within a few steps
DIVERGING = dict(TINY, lr=10.0, clip=0.0, activation="relu", hidden=16)


@pytest.fixture
def diverging_race(monkeypatch):
    configs = [
        make_config("adding", "lstm", length=20, stop_on_success=True, **TINY),
        make_config("adding", "simplernn", length=20, **DIVERGING),
    ]
    monkeypatch.setattr(race_module, "race_configs", lambda *args, **kwargs: configs)
    tiny = {**race_lessons.SETTINGS["tiny"], "lengths": (20,)}
    monkeypatch.setitem(science.SETTINGS, "quick", tiny)
    monkeypatch.setitem(race_lessons.SETTINGS, "tiny", tiny)


def test_a_diverged_race_run_is_reported_not_a_crash(diverging_race, tmp_path):
    lines = []
    with pytest.warns(RuntimeWarning, match="non-finite"):
        records, rows, figures = science.race_section(str(tmp_path), "quick", lines.append)
    diverged = next(row for row in rows if row["model"] == "SimpleRNN")
    assert diverged["mse"] is None and diverged["stopped"].startswith("non-finite at step")
    said = "\n".join(lines)
    says = f"SimpleRNN  test MSE — after {diverged['steps']} steps: diverged: {diverged['stopped']}, no finite test MSE"
    assert says in said
    rates, flow = science.gradient_flow_section(str(tmp_path), records, "quick", lines.append)
    science.summary(rows, rates, figures + [flow], 1.0, lines.append)
    table = "\n".join(lines[lines.index("summary") :])
    assert "SimpleRNN" in table and f"diverged ({diverged['stopped']})" in table
    assert all(os.path.getsize(path) > 0 for path in figures + [flow])


def test_the_memory_lesson_reports_a_diverged_run(diverging_race, tmp_path):
    with pytest.warns(RuntimeWarning, match="non-finite"):
        lesson = race_lessons.memory(str(tmp_path), "tiny", say=lambda text: None)
    assert "diverged (non-finite at step" in lesson.table and os.path.getsize(lesson.figure) > 0


def test_the_vanishing_lesson_leaves_out_a_non_finite_gradient_flow(diverging_race, tmp_path):
    with pytest.warns(RuntimeWarning, match="non-finite"):
        lesson = race_lessons.vanishing(str(tmp_path), "tiny", say=lambda text: None)
    assert "LSTM, step 0" in lesson.table and os.path.getsize(lesson.figure) > 0
    assert "not finite: the run diverged" in lesson.table
    assert all(rate is not None for rate in lesson.numbers["rates"].values())
