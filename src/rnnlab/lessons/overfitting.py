"""Overfitting: an LSTM on 200 training digits, its validation loss turning up while its training loss
falls, and three cures side by side: recurrent dropout, weight decay, early stopping.

Every setting runs with 3 seeds on the same training subset and is judged on the validation split of
rl.tasks.digits; the setting with the lowest mean validation loss at the end of training is chosen, and
only that setting is scored on the test set, once.

Recurrent dropout is Gal & Ghahramani's (2016, "A theoretically grounded application of dropout in
recurrent neural networks"): one mask of h_{t-1} per sequence. Weight decay is L2, g ← g + λθ, in Adam.
Early stopping ends training once the validation loss has not improved for PATIENCE epochs and puts back
the weights of its best epoch.
"""

import os

import numpy as np

from .. import plots, tasks
from ..nn.dense import Dense
from ..nn.lstm import LSTM
from ..plots import lessons as figures
from ..train import optim
from ..train.callbacks import EarlyStopping
from ..train.model import Sequential
from .report import Lesson, check_size, table

SETTINGS = {
    "full": {"train_size": 200, "hidden": 64, "epochs": 120, "seeds": (0, 1, 2)},
    "short": {"train_size": 200, "hidden": 64, "epochs": 60, "seeds": (0, 1, 2)},
    "tiny": {"train_size": 100, "hidden": 32, "epochs": 40, "seeds": (0,)},
}
MODE = "rows"  # 8 row steps of 8 pixels
LR = 1e-2
BATCH = 32
CLIP = 1.0
RECURRENT_DROPOUT = 0.3
WEIGHT_DECAY = 1e-3
PATIENCE = 10
SUBSET_SEED = 7  # which training digits are kept: the same for every setting and seed
# setting -> (recurrent dropout, weight decay, early stopping)
CURES = {
    "no regularisation": (0.0, 0.0, False),
    f"recurrent dropout {RECURRENT_DROPOUT:g}": (RECURRENT_DROPOUT, 0.0, False),
    f"weight decay {WEIGHT_DECAY:g}": (0.0, WEIGHT_DECAY, False),
    f"early stopping (patience {PATIENCE})": (0.0, 0.0, True),
}


def training_subset(n):
    """The first n digits of a fixed permutation of the training split: (X (n, 8, 8), y (n,))."""
    X, y = tasks.digits("train", MODE)
    if not 0 < n <= len(X):
        raise ValueError(f"train_size expected 1 to {len(X)}, got {n}")
    idx = np.random.default_rng(SUBSET_SEED).permutation(len(X))[:n]
    return X[idx], y[idx]


def fit(X, y, val, hidden, epochs, seed, recurrent_dropout=0.0, weight_decay=0.0, early_stopping=False):
    """Train LSTM(hidden) → Dense(10) with Adam; returns (model, history dict with "loss", "val_loss", ...)."""
    model = Sequential([LSTM(hidden, recurrent_dropout=recurrent_dropout), Dense(tasks.digits_task.CLASSES)], seed=seed)
    model.compile(
        "sparse_categorical_crossentropy",
        optim.Adam(lr=LR, weight_decay=weight_decay),
        metrics=["accuracy"],
        clip_norm=CLIP,
    )
    callbacks = [EarlyStopping(patience=PATIENCE, restore_best_weights=True)] if early_stopping else []
    history = model.fit(
        X, y, epochs=epochs, batch_size=BATCH, validation_data=val, verbose=0, seed=seed, callbacks=callbacks
    )
    return model, {"epoch": [e + 1 for e in history.epoch], **history.history}


def run(out_dir, size="full", say=print):
    """Train every setting with every seed; print the table, write overfitting.png; returns a Lesson."""
    s = SETTINGS[check_size(size)]
    X, y = training_subset(s["train_size"])
    val = tasks.digits("val", MODE)
    say(
        f"overfitting: LSTM({s['hidden']}) on {len(X)} training digits (8 rows of 8 pixels), Adam {LR:g}, "
        f"batch {BATCH}, {s['epochs']} epochs, seeds {', '.join(map(str, s['seeds']))}; judged on the "
        f"{len(val[0])} validation digits"
    )
    curves, models, rows, numbers = {}, {}, [], {"turn_up": []}
    for name, (rd, wd, es) in CURES.items():
        curves[name], models[name] = [], []
        for seed in s["seeds"]:
            model, h = fit(X, y, val, s["hidden"], s["epochs"], seed, rd, wd, es)
            curves[name].append(h)
            models[name].append(model)
        end = [model.evaluate(*val, batch_size=500) for model in models[name]]  # the model kept at the end
        best = [int(np.argmin(h["val_loss"])) for h in curves[name]]
        if name == "no regularisation":  # how far the validation loss rose from its lowest point
            numbers["turn_up"] = [h["val_loss"][-1] - h["val_loss"][b] for h, b in zip(curves[name], best)]
            numbers["best_epoch"] = [b + 1 for b in best]
            numbers["epochs"] = s["epochs"]
        rows.append(
            [
                name,
                f"{np.mean([h['loss'][-1] for h in curves[name]]):.4f}",
                f"{np.mean([min(h['val_loss']) for h in curves[name]]):.3f}",
                f"{np.mean([b + 1 for b in best]):.0f}",
                f"{np.mean([len(h['loss']) for h in curves[name]]):.0f}",
                f"{np.mean([e['loss'] for e in end]):.3f}",
                f"{np.mean([e['accuracy'] for e in end]):.1%}",
            ]
        )
        numbers.setdefault("val_loss", {})[name] = float(np.mean([e["loss"] for e in end]))
    chosen = min(numbers["val_loss"], key=numbers["val_loss"].get)
    X_test, y_test = tasks.digits("test", MODE)
    test = [model.evaluate(X_test, y_test, batch_size=500) for model in models[chosen]]  # the one look at test
    numbers.update(
        chosen=chosen,
        test_accuracy=float(np.mean([t["accuracy"] for t in test])),
        test_loss=float(np.mean([t["loss"] for t in test])),
    )
    text = table(
        [
            "setting",
            "train loss, end",
            "lowest val loss",
            "at epoch",
            "epochs run",
            "val loss, kept model",
            "val accuracy",
        ],
        rows,
    )
    text += (
        f"\nchosen on validation: {chosen}; test set, scored once: accuracy {numbers['test_accuracy']:.1%}, "
        f"loss {numbers['test_loss']:.3f} (mean of {len(test)} seed{'s' if len(test) > 1 else ''}, "
        f"{len(y_test)} test digits)"
    )
    fig = figures.train_val_curves(curves, title=f"overfitting: LSTM({s['hidden']}) on {len(X)} digits")
    path = plots.save(fig, os.path.join(out_dir, "overfitting.png"))
    kept = "; ".join(f"{k} {v:.3f}" for k, v in numbers["val_loss"].items())
    caption = (
        f"Left: training loss; right: validation loss, each seed thin, the mean thick. Without "
        f"regularisation the validation loss is lowest around epoch {np.mean(numbers['best_epoch']):.0f} "
        f"and then turns up (by {np.mean(numbers['turn_up']):.3f} nats by epoch {s['epochs']}) while the "
        f"training loss keeps falling: the LSTM learns its {len(X)} training digits by heart. Validation "
        f"loss of the model each setting ends with (early stopping: its best epoch's weights): {kept}. "
        f"The setting with the lowest, {chosen}, was then scored on the test set, once."
    )
    return Lesson("overfitting", text, path, caption, numbers)
