"""The science half of `rnnlab demo`: why gradients vanish, gradient flow, and the adding race.

Each section prints its part of the story, writes its figures into the demo
folder and returns summary rows for the closing table.
"""

import os
import time

import numpy as np

from .. import lessons, plots
from ..experiments import race
from ..kernels import activations
from ..lessons import race as race_lessons

# the race's settings are the memory lesson's: full fits the 3-minute budget on 2 cores, quick is its tiny smoke run
SETTINGS = {"full": race_lessons.SETTINGS["full"], "quick": race_lessons.SETTINGS["tiny"]}


def activations_section(out_dir, say):
    """The article's hand-written sigmoid, its derivative ≤ 0.25, and what repeated factors do; returns the figure."""
    x = np.arange(-5.0, 5.0, 0.1)  # the article's grid
    y = 1 / (1 + np.exp(-x))  # the article's sigmoid, by hand
    sigmoid, d_sigmoid = activations.get("sigmoid")
    _, d_tanh = activations.get("tanh")
    ds = d_sigmoid(y)
    say("1. sigmoid and tanh, and why their slopes make gradients vanish")
    say(
        f"   σ(x) = 1/(1 + e^-x) on x = -5, -4.9, …, 4.9 (the article's grid): σ(-5) = {y[0]:.4f}, "
        f"σ(0) = {y[50]:.1f}, σ(4.9) = {y[-1]:.4f}; the kernels' σ differs by at most "
        f"{np.abs(y - sigmoid(x)).max():.0e}"
    )
    say(
        f"   σ'(x) = σ(x)(1 − σ(x)) peaks at x = {abs(x[ds.argmax()]):.0f} with {ds.max():.2f}; "
        f"tanh'(x) = 1 − tanh² peaks at 1 and is {d_tanh(np.tanh(2.0)):.3f} at x = 2"
    )
    say("   backpropagation multiplies one such slope per step back in time:")
    for k in (5, 10, 20, 50):
        say(f"     {k:2d} steps: 0.25^{k} = {0.25**k:.1e}   0.9^{k} = {0.9**k:.1e}")
    path = plots.save(plots.activations(x), os.path.join(out_dir, "activations.png"))
    say(f"   figure: {path}")
    return path


def race_section(out_dir, mode, say):
    """SimpleRNN against LSTM on the adding problem at two lengths; returns (records, rows, figure paths)."""
    s = SETTINGS[mode]
    say(
        "3. the adding problem: two marked numbers in U[0, 1] among T, answer their sum; "
        "always answering 1 scores MSE 1/6 = 0.167 (the baseline); solved means test MSE < 0.01"
    )
    say(
        f"   {s['hidden']}-unit SimpleRNN and LSTM, Adam {s['lr']:g}, batch 64, clip 1, T = "
        f"{' and '.join(map(str, s['lengths']))}; the LSTM stops once solved, up to {s['steps']['lstm']} steps; "
        f"the SimpleRNN gets {s['steps']['simplernn']} ({s['workers']} process{'es' if s['workers'] > 1 else ''})"
    )
    if s["lr"] != 1e-3:
        say(
            f"   (Adam {s['lr']:g} instead of the usual 1e-3 shortens the LSTM's plateau about 2×, so the race fits "
            "in minutes; docs/RESULTS.md has both)"
        )
    t0 = time.perf_counter()

    def done(path):
        name = os.path.basename(path).split("-seed")[0]
        say(f"   … {name} done after {time.perf_counter() - t0:.0f} s")

    records = race.adding_race(
        os.path.join(out_dir, "runs"),
        s["lengths"],
        s["steps"],
        workers=s["workers"],
        on_done=done,
        hidden=s["hidden"],
        lr=s["lr"],
        eval_every=s["eval_every"],
        test_size=s["test_size"],
        probe_size=s["probe_size"],
    )
    rows = race.race_rows(records)
    figures = []
    for length in s["lengths"]:
        fig = race_lessons.memory_figure(records, [length])  # test MSE and training loss
        figures.append(plots.save(fig, os.path.join(out_dir, f"race-T{length}.png")))
    for row in rows:
        say(
            f"   T = {row['length']:4d}  {row['model']:9s}  test MSE {race.number(row['mse'])} after {row['steps']} "
            f"steps: {race.verdict(row)}"
        )
    say("   figures: " + ", ".join(figures))
    return records, rows, figures


def gradient_flow_section(out_dir, records, mode, say):
    """‖∂L/∂h_t‖ by lag for both models at initialisation and after the race's training."""
    length = max(SETTINGS[mode]["lengths"])
    curves = race.gradient_flow_curves(records, length)
    say(
        f"4. gradient flow at T = {length}: ‖∂L/∂h_t‖ with the loss at the last step, by lag T − t "
        "(fitted decay per step; e^-rate is the factor per step)"
    )
    rates = []
    for label, flow in curves.items():
        ratio = flow["h"][-1] / flow["h"][0] if flow["h"][0] else float("nan")
        say(f"   {label:24s} decay {flow['rate_h']:+.4f} per step; ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ = {ratio:.1e}")
        rates.append((label, flow["rate_h"]))
    for label in race.left_out_probes(records, length):
        say(f"   {label:24s} not finite (the run diverged): left out")
    say("   an LSTM's cell passes the gradient on through f_t (∂C_t/∂C_{t-1} = f_t), which training can hold near 1;")
    say("   a SimpleRNN multiplies it by diag(tanh'(z_t)) Uᵀ at every step, so it shrinks geometrically")
    path = plots.save(
        plots.gradient_flow(curves, title=f"gradient flow, adding T = {length}"),
        os.path.join(out_dir, "gradient-flow.png"),
    )
    say(f"   figure: {path}")
    return rates, path


def lesson_sections(out_dir, mode, say):
    """The lessons the race does not cover (`rnnlab lesson NAME` runs each in full); returns the Lessons."""
    size = "tiny" if mode == "quick" else "short"
    done = []
    for number, name in enumerate(("exploding", "overfitting", "cost"), start=5):
        say(f"\n{number}. `rnnlab lesson {name}` ({size} settings)")
        done.append(lessons.run(name, out_dir, size, say=lambda text: say("   " + text.replace("\n", "\n   "))))
    return done


def summary(rows, rates, figures, elapsed, say):
    """The closing table."""
    say("")
    say("summary")
    say(f"   {'model':9s} {'T':>5s} {'steps':>6s} {'test MSE':>9s} {'best':>9s} {'baseline':>9s}  solved")
    for row in rows:
        if race.diverged(row):
            solved = f"diverged ({row['stopped'] or 'non-finite test MSE'})"
        else:
            solved = f"yes, at step {row['first_solved_step']}" if row["solved"] else "no"
        say(
            f"   {row['model']:9s} {row['length']:5d} {row['steps']:6d} {race.number(row['mse']):>9s} "
            f"{race.number(row['best_mse']):>9s} {row['test_baseline']:9.4f}  {solved}"
        )
    say("   (baseline: the test MSE of always answering 1 on the same test sequences, 1/6 in expectation)")
    say("   gradient decay per step (nats; larger = vanishes faster):")
    for label, rate in rates:
        say(f"     {label:24s} {rate:+.4f}")
    say(f"   figures: {len(figures)} in {os.path.dirname(figures[0]) if figures else '.'}; total time {elapsed:.0f} s")
