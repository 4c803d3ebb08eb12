"""The fit loop and the checks that run before it: nothing starts or is written on bad input."""
from dataclasses import dataclass, field

import numpy as np

from ..nn.base import as_float_array
from . import clipping
from .callbacks import Callback, History, NonFiniteError
from .progress import Progress
from .saving import read_checkpoint
from .. import checks


@dataclass
class TrainState:
    """What a checkpoint needs besides weights and optimizer: where the loop is and its RNG."""

    rng: np.random.Generator
    epoch: int = 0  # the epoch running; once it ends, the number of epochs done
    step: int = 0  # batches trained so far, over all epochs
    log_names: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    fit_args: dict = field(default_factory=dict)


def check_batch_size(batch_size):
    checks.positive_int("batch_size", batch_size)


def prepare_x(model, X, owner):
    """X as the first layer takes it: integer ids (N, T) under an Embedding, else floats (N, T, D)."""
    X = np.asarray(X)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"{owner} expected at least one sample in X, got shape {X.shape}")
    first = model.layers[0]
    if first.takes_ids:
        X = first.check_ids(X)
    else:
        if np.issubdtype(X.dtype, np.integer):
            X = X.astype(model.dtype)
        X = as_float_array("X", X, model.dtype, owner)
    if model.input_spec is not None:
        ndim, features = model.input_spec
        if X.ndim != ndim or (features is not None and X.shape[-1] != features):
            want = ("samples", "time") + (() if features is None else (str(features),))
            raise ValueError(f"{owner} expected X of shape ({', '.join(want[:ndim])}), got {X.shape}")
    return X


def _output_shape(model, X, owner):
    """The output shape for X, from one sample (this also builds the model)."""
    with model.keep_states():
        try:
            return (len(X),) + model.forward(X[:1]).shape[1:]
        except NonFiniteError as err:
            raise NonFiniteError(f"{owner}: {err} on the first sample of X, before any update") from None


def prepare(model, X, y, sample_weight, owner):
    """(X, y, weights) checked against each other and the model; weights (N,) or (N, T) or None."""
    X = prepare_x(model, X, owner)
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(f"{owner} expected X and y with the same number of samples, got {len(X)} and "
                         f"{len(y) if y.ndim else 'a scalar'}")
    out_shape = _output_shape(model, X, owner)
    y = model.loss.check_targets(y, out_shape, owner)
    if not model.loss.integer_targets:
        y = y.astype(model.layers[-1].dtype, copy=False)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        positions = out_shape[:-1]
        if w.shape not in ((len(X),), positions):
            raise ValueError(f"{owner} expected sample_weight of shape ({len(X)},) or {positions}, got {w.shape}")
        if not np.all(np.isfinite(w)) or w.min() < 0:
            raise ValueError(f"{owner} expected finite, non-negative sample_weight")
        w = np.broadcast_to(w.reshape(w.shape + (1,) * (len(positions) - w.ndim)), positions)
        w = w.astype(model.layers[-1].dtype)
    return X, y, w


def _check_args(epochs, validation_split, shuffle, callbacks):
    checks.positive_int("epochs", epochs)
    if not checks.is_number(validation_split) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split expected a fraction in [0, 1), got {validation_split!r}")
    checks.flag("shuffle", shuffle)
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks expected rnnlab.callbacks.Callback instances, got {type(cb).__name__}")
    return callbacks


def run(model, X, y, epochs, batch_size, validation_data, validation_split, shuffle, callbacks, seed,
        verbose, sample_weight, resume_from):
    """Model.fit: check everything, then train epoch by epoch; see Sequential.fit."""
    model._require_compiled("fit")
    check_batch_size(batch_size)
    callbacks = _check_args(epochs, validation_split, shuffle, callbacks)
    progress = Progress(verbose, epochs)  # checks verbose
    X, y, w = prepare(model, X, y, sample_weight, "fit")
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data expected a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
        val = prepare(model, *validation_data[:2], validation_data[2] if len(validation_data) == 3 else None,
                      "fit validation_data")
    elif validation_split:
        n_val = int(len(X) * validation_split)
        if n_val == 0 or n_val == len(X):
            raise ValueError(f"validation_split {validation_split} leaves an empty part of {len(X)} samples")
        cut = len(X) - n_val
        val = (X[cut:], y[cut:], None if w is None else w[cut:])
        X, y, w = X[:cut], y[:cut], (None if w is None else w[:cut])
    names = ["loss"] + [name for name, _ in model.metrics]
    state = TrainState(rng=np.random.default_rng(seed), callbacks=callbacks,
                       log_names=names + ([f"val_{n}" for n in names] if val else []),
                       fit_args={"batch_size": int(batch_size), "shuffle": shuffle,
                                 "validation_split": float(validation_split)})
    history = History()
    restore = None
    if resume_from is not None:
        restore = read_checkpoint(resume_from, model, state)  # checks everything before touching the model
    model.train_state, model.history = state, history
    if restore is not None:
        restore()
    model.stop_training = model.skip_update = False
    for cb in callbacks:
        cb.set_model(model)
    for cb in callbacks:
        cb.on_train_begin()

    steps = -(-len(X) // batch_size)
    try:
        for epoch in range(state.epoch, epochs):
            state.epoch = epoch
            model.reset_state()  # stateful layers begin every epoch from zero
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            progress.epoch_begin(epoch, steps)
            order = state.rng.permutation(len(X)) if shuffle else np.arange(len(X))
            sums = {}
            for start in range(0, len(X), batch_size):
                idx = order[start:start + batch_size]
                logs = _train_step(model, X[idx], y[idx], None if w is None else w[idx], state, sums)
                if model.skip_update:
                    break
                for cb in callbacks:
                    cb.on_train_batch_end(state.step - 1, logs)
                progress.batch_end(logs)
            if model.skip_update:  # a guard stopped the epoch half-way: it is not recorded
                break
            logs = {k: s / n if n else 0.0 for k, (s, n) in sums.items()}
            if val is not None:
                logs.update({f"val_{k}": v for k, v in model.evaluate_arrays(*val, batch_size).items()})
            history.record(epoch, logs)
            state.epoch = epoch + 1
            for cb in sorted(callbacks, key=lambda c: c.writes_checkpoint):  # checkpoints see the final state
                cb.on_epoch_end(epoch, logs)
            progress.epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        progress.close()
    for cb in callbacks:
        cb.on_train_end()
    return history


def _train_step(model, xb, yb, wb, state, sums):
    """Forward, loss, backward, guards, clipping, update; returns the running logs."""
    try:
        out = model.forward(xb, training=True)
    except NonFiniteError as err:
        for cb in state.callbacks:
            cb.on_non_finite_output(state.step, str(err))
        if not model.skip_update:
            raise NonFiniteError(f"step {state.step} (epoch {state.epoch + 1}): {err}") from None
        return {}
    weight = model.position_weights(out, wb)
    loss, dout = model.loss(out, yb, weight)
    model.backward(dout)
    grads = model.grads
    for cb in state.callbacks:
        cb.on_gradients(state.step, loss, grads)
    if model.skip_update:
        return {}
    if model.clip_value is not None:
        clipping.clip_by_value(grads, model.clip_value)
    if model.clip_norm is not None:
        clipping.clip_by_global_norm(grads, model.clip_norm)
    model.optimizer.step(model.params, grads)
    state.step += 1
    model.accumulate(sums, loss, out, yb, weight)
    return {k: s / n if n else 0.0 for k, (s, n) in sums.items()}
