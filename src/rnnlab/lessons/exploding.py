"""Exploding gradients: a relu SimpleRNN whose recurrent matrix has spectral radius 1.8, trained by plain SGD
on the adding problem, with and without clipping by global norm.

At initialisation BPTT multiplies ∂L/∂h_t by diag(relu'(z_t)) Uᵀ at every step back; with ρ(U) = 1.8 the
norm grows with the lag instead of shrinking (the mirror of the vanishing figure). Without clipping one SGD
step of such a gradient throws the weights so far that the next forward pass overflows: the loss turns
non-finite and TerminateOnNaN stops the run, naming the step. Clipping by global norm (Pascanu, Mikolov &
Bengio 2013, "On the difficulty of training recurrent neural networks") rescales g to ‖g‖ ≤ c, so every
step moves the weights by at most lr · c, and the very same run (same weights, same batches) trains.
"""

import os
import warnings

import numpy as np

from .. import plots, tasks
from ..initializers import orthogonal
from ..nn.dense import Dense
from ..nn.simple_rnn import SimpleRNN
from ..plots import lessons as figures
from ..probe.gradflow import model_gradient_flow
from ..train import optim
from ..train.callbacks import Callback, TerminateOnNaN
from ..train.clipping import global_norm
from ..train.model import Sequential
from .report import Lesson, check_size, table

SETTINGS = {
    "full": {"steps": 3000, "seeds": (0, 1, 2), "hidden": 32},
    "short": {"steps": 1000, "seeds": (0,), "hidden": 32},
    "tiny": {"steps": 200, "seeds": (0,), "hidden": 32},
}
LENGTH = 20  # adding problem, T = 20
RADIUS = 1.8  # spectral radius of U at initialisation
LR = 0.05  # plain SGD
BATCH = 32
CLIP = 1.0
CHUNK = 100  # batches drawn per chunk of data, seeded [seed, 1, chunk]: the same batches with and without clipping
PROBE = 64  # sequences for ‖∂L/∂h_t‖ at initialisation


def scaled_orthogonal(radius):
    """An initializer: `radius` times a random orthogonal matrix, so every eigenvalue has modulus `radius`."""

    def init(shape, rng, dtype):
        return (radius * orthogonal(shape, rng, dtype)).astype(dtype)

    return init


def build(seed, hidden, clip):
    """relu SimpleRNN(hidden) with ρ(U) = RADIUS, a Dense(1) head, MSE, SGD(LR); clip: a norm or None."""
    model = Sequential(
        [SimpleRNN(hidden, activation="relu", recurrent_initializer=scaled_orthogonal(RADIUS)), Dense(1)], seed=seed
    )
    model.compile("mse", optim.SGD(lr=LR), clip_norm=clip)
    return model


class _Norms(Callback):
    """The loss and the global gradient norm (before clipping) at every step; NaN for a step whose forward
    pass overflowed (it has no gradient)."""

    def __init__(self):
        self.losses, self.norms = [], []

    def on_gradients(self, step, loss, grads):
        self.losses.append(float(loss))
        self.norms.append(global_norm(grads))

    def on_non_finite_output(self, step, message):
        self.losses.append(float("nan"))
        self.norms.append(float("nan"))


def train(seed, steps, hidden, clip):
    """One run; returns {"losses", "norms" (per step), "stopped" (the guard's message or None),
    "nan_step", "flow" (gradient flow at initialisation)}."""
    model = build(seed, hidden, clip)
    X_probe, y_probe = tasks.adding(PROBE, LENGTH, seed=[seed, 2])
    model.predict(X_probe[:1])  # builds the weights
    flow = model_gradient_flow(model, X_probe, y_probe)
    record, guard = _Norms(), TerminateOnNaN()
    for chunk in range(-(-steps // CHUNK)):
        n = min(CHUNK, steps - chunk * CHUNK)
        X, y = tasks.adding(n * BATCH, LENGTH, seed=[seed, 1, chunk])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the guard warns; its message is reported below
            model.fit(X, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[record, guard])
        if guard.message:
            break
    nan_step = len(record.losses) - 1 if guard.message else None  # the guard stops at the step it names
    return {
        "losses": record.losses,
        "norms": record.norms,
        "stopped": guard.message,
        "nan_step": nan_step,
        "flow": flow,
    }


def _mean(values):
    return float(np.mean(values)) if len(values) else float("nan")


def run(out_dir, size="full", say=print):
    """Train each seed without and with clipping; print the table, write exploding.png; returns a Lesson."""
    s = SETTINGS[check_size(size)]
    say(
        f"exploding gradients: relu SimpleRNN({s['hidden']}), ρ(U) = {RADIUS} at initialisation, adding T = "
        f"{LENGTH}, SGD lr {LR}, batch {BATCH}, up to {s['steps']} steps; the same weights and batches without "
        f"clipping and with clipping by global norm {CLIP:g}"
    )
    rows, runs, numbers = [], {}, {"diverged": [], "clipped_first": [], "clipped_last": []}
    window = max(1, min(50, s["steps"] // 10))  # steps averaged at the start and the end of a run
    for seed in s["seeds"]:
        for clip in (None, CLIP):
            r = train(seed, s["steps"], s["hidden"], clip)
            label = "no clipping" if clip is None else f"clip ‖g‖ ≤ {clip:g}"
            runs.setdefault(label, r)  # the first seed's runs are drawn
            finite = [v for v in r["norms"] if np.isfinite(v)]
            end = "non-finite at step {}".format(r["nan_step"]) if r["stopped"] else f"{len(r['losses'])} steps"
            rows.append(
                [
                    f"seed {seed}, {label}",
                    f"{r['norms'][0]:.3g}",
                    f"{max(finite):.3g}",
                    f"{_mean(r['losses'][:window]):.4g}",
                    "—" if r["stopped"] else f"{_mean(r['losses'][-window:]):.4f}",
                    end,
                ]
            )
            if clip is None:
                numbers["diverged"].append(r["stopped"] is not None)
                if r["stopped"]:
                    say(f"   seed {seed} without clipping: {r['stopped']}")
            else:
                numbers["clipped_first"].append(_mean(r["losses"][:window]))
                numbers["clipped_last"].append(_mean(r["losses"][-window:]))
    numbers["growth_per_step"] = float(np.exp(-runs["no clipping"]["flow"]["rate_h"]))
    numbers["baseline"] = tasks.adding_task.baseline(LENGTH)
    text = table(
        ["run", "‖g‖ at step 0", "largest ‖g‖", f"loss, first {window}", f"loss, last {window}", "ended"], rows
    )
    flows = {f"ρ(U) = {RADIUS}, seed {s['seeds'][0]}": runs["no clipping"]["flow"]}
    fig = figures.exploding(
        {k: v["norms"] for k, v in runs.items()},
        flows,
        {k: v["nan_step"] for k, v in runs.items()},
        CLIP,
        title=f"exploding gradients: relu SimpleRNN, ρ(U) = {RADIUS}, adding T = {LENGTH}",
    )
    path = plots.save(fig, os.path.join(out_dir, "exploding.png"))
    caption = (
        f"Left: the gradient norm at every training step, before clipping. Without clipping it climbs "
        f"within a few steps until the loss is no longer a number and the run stops (the cross); with "
        f"clipping each update is cut to length at most lr · {CLIP:g}, and the loss "
        f"falls (here from {_mean(numbers['clipped_first']):.3g} to {_mean(numbers['clipped_last']):.3g} "
        f"on average; always answering 1 scores {numbers['baseline']:.3g}). Right: at initialisation "
        f"‖∂L/∂h_t‖ grows by ×{numbers['growth_per_step']:.2f} per step back in time, because relu' is 0 "
        f"or 1 and U stretches vectors by up to {RADIUS}: the mirror image of the vanishing figure."
    )
    return Lesson("exploding", text, path, caption, numbers)
