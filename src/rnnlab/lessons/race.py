"""The adding race of `rnnlab demo` as two lessons: short memory (the learning curves) and vanishing
gradients (‖∂L/∂h_t‖ by lag). Both read the same runs: the second lesson run into the same folder reuses
the records of the first (rnnlab.experiments.race.adding_race with reuse=True).

The adding problem (Hochreiter & Schmidhuber 1997): two marked numbers in U[0, 1] among T; the answer is
their sum. Always answering 1 scores MSE 1/6; solved means test MSE < 0.01.
"""

import os

from .. import plots
from ..experiments import race
from ..plots import lessons as figures
from .report import Lesson, check_size, table

# full fits about 80 s on 2 cores (two processes); tiny is a smoke run
SETTINGS = {
    "full": {
        "lengths": (100, 150),
        "steps": {"lstm": 3000, "simplernn": 3000},
        "hidden": 64,
        "lr": 3e-3,
        "eval_every": 250,
        "test_size": 1000,
        "probe_size": 32,
        "workers": 2,
    },
    "tiny": {
        "lengths": (10, 20),
        "steps": {"lstm": 40, "simplernn": 40},
        "hidden": 8,
        "lr": 3e-3,
        "eval_every": 20,
        "test_size": 100,
        "probe_size": 8,
        "workers": 1,
    },
}
SETTINGS["short"] = SETTINGS["full"]  # the demo runs the race in full


def records(out_dir, size):
    """The race's run records under out_dir/runs, run now or reused."""
    s = dict(SETTINGS[check_size(size)])
    lengths, steps, workers = s.pop("lengths"), s.pop("steps"), s.pop("workers")
    return race.adding_race(os.path.join(out_dir, "runs"), lengths, steps, workers=workers, reuse=True, **s)


def memory_figure(records, lengths):
    """Test MSE and training loss against step, one panel per length."""
    panels, baselines = {}, {}
    for length in lengths:
        name = f"adding, T = {length}"
        panels[name] = race.race_histories(records, length)
        baselines[name] = next(r["task"]["test_baseline"] for r in records if r["config"]["length"] == length)
    return figures.score_and_train_loss(
        panels, "test_mse", baseline=baselines, title="short memory: SimpleRNN against LSTM on the adding problem"
    )


def memory(out_dir, size="full", say=print):
    """Lesson `memory`: the race's table and learning curves (memory.png)."""
    s = SETTINGS[check_size(size)]
    say(
        f"short memory: {s['hidden']}-unit SimpleRNN and LSTM on the adding problem, T = "
        f"{' and '.join(map(str, s['lengths']))}, Adam {s['lr']:g}, batch 64, clip 1; the LSTM stops once solved"
    )
    recs = records(out_dir, size)
    rows = race.race_rows(recs)
    text = table(
        ["model", "T", "steps", "test MSE", "best", "always 1", "solved at"],
        [
            [
                r["model"],
                r["length"],
                r["steps"],
                race.number(r["mse"]),
                race.number(r["best_mse"]),
                f"{r['test_baseline']:.4f}",
                f"diverged ({r['stopped'] or 'non-finite'})" if race.diverged(r) else r["first_solved_step"] or "—",
            ]
            for r in rows
        ],
    )
    path = plots.save(memory_figure(recs, s["lengths"]), os.path.join(out_dir, "memory.png"))
    caption = (
        "One panel per length: the test MSE (solid, dots at each evaluation) and the training loss "
        "(dashed, mean over the steps since the evaluation before) of each model; the dotted line is "
        "always answering 1. A model that cannot carry the first marked number to the end of the "
        "sequence stays on that line: the SimpleRNN's memory is short. The LSTM's cell carries it."
    )
    numbers = {"rows": rows}
    return Lesson("memory", text, path, caption, numbers)


def vanishing(out_dir, size="full", say=print):
    """Lesson `vanishing`: ‖∂L/∂h_t‖ by lag at initialisation and after training (vanishing.png)."""
    s = SETTINGS[check_size(size)]
    length = max(s["lengths"])
    say(
        f"vanishing gradients: ‖∂L/∂h_t‖ by lag T − t at T = {length}, loss at the last step, for the race's "
        f"models at initialisation and after training"
    )
    recs = records(out_dir, size)
    curves = race.gradient_flow_curves(recs, length)
    rows = [
        [label, f"{flow['rate_h']:+.4f}", f"{flow['h'][-1] / flow['h'][0]:.1e}" if flow["h"][0] else "—"]
        for label, flow in curves.items()
    ]
    rows += [[label, "not finite: the run diverged", "—"] for label in race.left_out_probes(recs, length)]
    text = table(["model", "decay per step (nats)", "‖∂L/∂h_0‖ / ‖∂L/∂h_T‖"], rows)
    path = plots.save(
        plots.gradient_flow(curves, title=f"vanishing gradients, adding T = {length}"),
        os.path.join(out_dir, "vanishing.png"),
    )
    caption = (
        "The gradient reaching a state T − t steps back from the loss, on a log axis: a straight line "
        "is an exponential decay. A SimpleRNN multiplies it by diag(tanh'(z_t)) Uᵀ at every step back, "
        "so it shrinks geometrically; an LSTM's cell passes it on through the forget gate "
        "(∂C_t/∂C_{t-1} = f_t), which training can hold near 1."
    )
    return Lesson(
        "vanishing", text, path, caption, {"rates": {label: flow["rate_h"] for label, flow in curves.items()}}
    )
