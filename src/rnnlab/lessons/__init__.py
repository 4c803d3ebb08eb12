"""`rnnlab lesson NAME`: the tutorial's limits of the SimpleRNN, each a short experiment with one figure.

Each lesson is a function (out_dir, size="full", say=print) -> report.Lesson: it prints what it runs,
returns its table, figure path, caption and measured numbers. size: "full" (a minute or two on 2 cores),
"short" (the demo's), "tiny" (seconds, for the tests).
"""

import os

from . import cost, exploding, overfitting, race
from .report import SIZES, Lesson

# name -> (function, one line for --list)
LESSONS = {
    "memory": (race.memory, "short memory: SimpleRNN against LSTM on the adding problem"),
    "vanishing": (race.vanishing, "vanishing gradients: ‖∂L/∂h_t‖ shrinking with the lag"),
    "exploding": (exploding.run, "exploding gradients: a run that diverges without clipping and trains with it"),
    "overfitting": (overfitting.run, "overfitting: validation loss turning up; dropout, weight decay, early stopping"),
    "cost": (cost.run, "the cost of long sequences: time and memory against T, cores against batch size"),
}


def run(name, out_dir, size="full", say=print):
    """Run lesson `name`, print its table, caption and figure path; returns its report.Lesson."""
    if name not in LESSONS:
        raise ValueError(f"lesson expected one of {list(LESSONS)}, got {name!r}")
    os.makedirs(out_dir, exist_ok=True)
    lesson = LESSONS[name][0](out_dir, size, say)
    say(lesson.table)
    say(f"figure: {lesson.figure}")
    say(lesson.caption)
    return lesson


__all__ = ["LESSONS", "SIZES", "Lesson", "run"]
