"""`rnnlab lesson`: every lesson on tiny settings, its figure, and the claims each figure makes."""

import numpy as np
import pytest

from rnnlab import lessons, tasks
from rnnlab.cli import main as cli

pytest.importorskip("matplotlib")


def _not_blank(path):
    from matplotlib.image import imread

    pixels = imread(path)[..., :3]
    assert pixels.std() > 0.05, f"{path} is (nearly) one colour"


def test_lesson_list_names_every_lesson(capsys):
    assert cli(["lesson", "--list"]) == 0
    text = capsys.readouterr().out
    assert [line.split()[0] for line in text.splitlines()] == [
        "memory",
        "vanishing",
        "exploding",
        "overfitting",
        "cost",
    ]


def test_lesson_without_a_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as err:
        cli(["lesson"])
    assert err.value.code == 2
    assert "expected a lesson NAME or --list" in capsys.readouterr().err


def test_exploding_diverges_without_clipping_and_trains_with_it(tmp_path, capsys):
    assert cli(["lesson", "exploding", "--size", "tiny", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "without clipping: non-finite value at step" in text  # the guard's message, naming the step
    _not_blank(tmp_path / "exploding.png")
    lesson = lessons.exploding.run(str(tmp_path), "tiny", say=lambda *a: None)
    assert all(lesson.numbers["diverged"])
    first, last = lesson.numbers["clipped_first"], lesson.numbers["clipped_last"]
    assert all(b < a / 2 for a, b in zip(first, last)), (first, last)  # the clipped run's loss falls
    assert lesson.numbers["growth_per_step"] > 1.0  # ‖∂L/∂h_t‖ grows with the lag at initialisation


def test_overfitting_validation_loss_turns_up_without_regularisation(tmp_path):
    lesson = lessons.run("overfitting", str(tmp_path), "tiny", say=lambda *a: None)
    n = lesson.numbers
    assert all(up > 0.1 for up in n["turn_up"]), n["turn_up"]  # nats above its lowest point, at the last epoch
    assert all(best < n["epochs"] for best in n["best_epoch"])
    assert n["chosen"] in n["val_loss"] and n["val_loss"][n["chosen"]] == min(n["val_loss"].values())
    assert 0.0 <= n["test_accuracy"] <= 1.0
    _not_blank(lesson.figure)


def test_cost_measures_time_and_memory_against_length(tmp_path):
    lesson = lessons.run("cost", str(tmp_path), "tiny", say=lambda *a: None)
    assert set(lesson.numbers["time_slope"]) == set(lesson.numbers["memory_slope"])
    assert len(lesson.numbers["time_slope"]) == 6  # 2 cells × 3 methods
    assert all(np.isfinite(v) for v in lesson.numbers["time_slope"].values())
    _not_blank(lesson.figure)


def test_memory_and_vanishing_share_the_race(tmp_path):
    memory = lessons.run("memory", str(tmp_path), "tiny", say=lambda *a: None)
    vanishing = lessons.run("vanishing", str(tmp_path), "tiny", say=lambda *a: None)
    assert {r["model"] for r in memory.numbers["rows"]} == {"SimpleRNN", "LSTM"}
    assert any(k.startswith("SimpleRNN") for k in vanishing.numbers["rates"])
    for lesson in (memory, vanishing):
        _not_blank(lesson.figure)


def test_digits_validation_split_is_disjoint_and_fixed():
    from rnnlab.tasks import digits_task

    images, labels = digits_task._load()
    first, second = digits_task._split(labels), digits_task._split(labels)
    train, val, test = first["train"], first["val"], first["test"]
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert len(train) + len(val) + len(test) == labels.size
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])  # reproducible: fixed seeds
    # stratified: every class in the validation split, about VAL_FRACTION of it
    counts, totals = np.bincount(labels[val], minlength=10), np.bincount(labels, minlength=10)
    assert np.all(np.abs(counts - digits_task.VAL_FRACTION * totals) <= 0.5)
    X_val, y_val = tasks.digits("val", "rows")
    np.testing.assert_array_equal(y_val, labels[val])
    assert X_val.shape == (len(val), 8, 8)


def test_digits_split_depends_on_the_seed(monkeypatch):
    from rnnlab.tasks import digits_task

    _, labels = digits_task._load()
    before = digits_task._split(labels)
    monkeypatch.setattr(digits_task, "SPLIT_SEED", 1)
    after = digits_task._split(labels)
    assert not np.array_equal(before["val"], after["val"])


def test_digits_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="split expected one of"):
        tasks.digits("validation")


def test_text_train_with_dropout_plots_training_against_validation(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    figure = tmp_path / "bpc.png"
    assert (
        cli(
            [
                "text",
                "train",
                str(corpus),
                "--out",
                str(tmp_path / "m.rnnlab"),
                "--hidden",
                "8",
                "--epochs",
                "2",
                "--seq-len",
                "8",
                "--batch-size",
                "4",
                "--dropout",
                "0.1",
                "--recurrent-dropout",
                "0.2",
                "--plot",
                str(figure),
                "--sample",
                "0",
            ]
        )
        == 0
    )
    _not_blank(figure)
    from rnnlab import text

    lstm = text.CharModel.load(str(tmp_path / "m.rnnlab")).model.layers[1]
    assert (lstm.dropout, lstm.recurrent_dropout) == (0.1, 0.2)


def test_text_train_refuses_a_rate_of_one(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        cli(["text", "train", __file__, "--out", str(tmp_path / "m"), "--recurrent-dropout", "1"])
    assert err.value.code == 2 and "expected a rate in [0, 1)" in capsys.readouterr().err
