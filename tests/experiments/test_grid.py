"""The grid's comparison figure: the final test score by length, and the final training loss beside it."""

import numpy as np
import pytest

import rnnlab.experiments as ex
from rnnlab.experiments import grid

pytest.importorskip("matplotlib")

TINY = dict(hidden=3, steps=4, batch=4, eval_every=2, test_size=8, probe_every=0)


def test_the_compare_figure_shows_the_training_loss_beside_the_test_score():
    records = [ex.run(c) for c in ex.grid_configs("adding", ["simplernn", "lstm"], [4, 6], 1, **TINY)]
    fig = grid.compare_figure(records)
    score, train = fig.axes
    assert "test mse" in score.get_title() and score.get_ylabel() == "mse"
    assert train.get_ylabel() == "train_loss" and "training loss" in train.get_title()
    drawn = {line.get_label(): list(line.get_ydata()) for line in train.get_lines()}
    for model in ("simplernn", "lstm"):
        mine = [r for r in records if r["config"]["model"] == model]
        expected = [r["evaluations"][-1]["train_loss"] for r in sorted(mine, key=lambda r: r["config"]["length"])]
        np.testing.assert_allclose(drawn[model], expected)
