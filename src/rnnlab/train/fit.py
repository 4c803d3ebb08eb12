"""The fit loop and the checks that run before it: nothing starts or is written on bad input.

Data come as arrays (X, y[, sample_weight, mask]) or as an iterable of batches
(rnnlab/data/batches.py); both reach the same training step.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import checks
from ..data.batches import WANT, RanOut, Stream, is_array, is_stream, unpack
from ..nn.base import as_float_array, check_mask
from ..nn.mode import inference_mode
from . import clipping
from .callbacks import Callback, History, NonFiniteError
from .gradient_check import check_loss_gradient
from .progress import Progress
from .saving import read_checkpoint


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
    if np.ndim(X) == 0 if is_array(X) else not isinstance(X, (list, tuple)):
        raise TypeError(f"{owner} expected {WANT}, got {type(X).__name__} {X!r:.40}")
    X = as_float_array_or_ids(X, owner)
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


def as_float_array_or_ids(X, owner):
    """np.asarray(X) with a TypeError in the user's terms for ragged or non-numeric data."""
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{owner} expected X as a regular array (pad ragged sequences with "
            f"rl.data.pad_sequences or rl.data.bucket), got {err}"
        ) from None
    if X.dtype == object:
        raise TypeError(
            f"{owner} expected X as a regular array of numbers (pad ragged sequences with "
            "rl.data.pad_sequences or rl.data.bucket), got an array of objects"
        )
    return X


def _output_shape(model, X, owner, shapes=None):
    """The output shape for X, from one sample (this also builds the model); cached in shapes by X.shape[1:]."""
    if shapes is not None and X.shape[1:] in shapes:
        return (len(X),) + shapes[X.shape[1:]]
    with model.keep_states():
        try:
            out = model.forward(X[:1]).shape[1:]
        except NonFiniteError as err:
            raise NonFiniteError(f"{owner}: {err} on the first sample of X, with the model's current weights") from None
    if shapes is not None:
        shapes[X.shape[1:]] = out
    return (len(X),) + out


def prepare(model, X, y, sample_weight, owner, mask=None, class_weight=None, shapes=None):
    """(X, y, weights, mask) checked against each other and the model.

    weights: (N,) or (N, T) (sample_weight times class_weight) or None; mask (N, T) bool or None.
    shapes: a dict caching output shapes by input shape (one probe per shape, for streams).
    """
    X = prepare_x(model, X, owner)
    if y is None:
        raise ValueError(
            f"{owner} expected y with the arrays X (or X as an iterable of (x, y) batches and no y), got y=None"
        )
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner} expected y as a regular array, got {err}") from None
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(
            f"{owner} expected X and y with the same number of samples, got {len(X)} and "
            f"{len(y) if y.ndim else 'a scalar'}"
        )
    out_shape = _output_shape(model, X, owner, shapes)
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
    if class_weight is not None:
        cw = class_weights(model.loss, y, class_weight, owner).astype(model.layers[-1].dtype)
        w = cw if w is None else w * cw
    if mask is not None:
        if X.ndim < 2:
            raise ValueError(f"{owner} expected X with a time axis (samples, time, ...) with a mask, got {X.shape}")
        mask = check_mask(mask, len(X), X.shape[1], owner)
    return X, y, w, mask


def check_class_weight(class_weight):
    """{class index: weight} with integer keys >= 0 and finite weights >= 0, or None."""
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict) or not class_weight:
        raise ValueError(f"class_weight expected a dict {{class index: weight}}, got {class_weight!r}")
    out = {}
    for k, v in class_weight.items():
        if not checks.is_int(k) or k < 0:
            raise ValueError(f"class_weight expected class indices (integers >= 0) as keys, got {k!r}")
        out[int(k)] = checks.non_negative_number(f"class_weight[{k}]", v)
    return out


def class_weights(loss, y, class_weight, owner):
    """The weight of each position's class: labels, a 0/1 target for one output unit, else argmax."""
    if loss.integer_targets:
        labels = y[..., 0]
    elif y.shape[-1] == 1:
        labels = (y[..., 0] > 0.5).astype(np.int64)
    else:
        labels = y.argmax(axis=-1)
    present = np.unique(labels)
    missing = sorted(int(c) for c in present if int(c) not in class_weight)
    if missing:
        raise ValueError(f"{owner} expected class_weight to give a weight for every class in y, missing {missing}")
    table = np.zeros(int(max(max(class_weight), present.max())) + 1)
    for c, v in class_weight.items():
        table[c] = v
    return table[labels]


class ArrayBatches:
    """Batches of checked arrays, shuffled each epoch by the fit RNG."""

    def __init__(self, X, y, w, m, batch_size, shuffle=False):
        self.X, self.y, self.w, self.m, self.batch_size, self.shuffle = X, y, w, m, batch_size, shuffle

    def length(self):
        return -(-len(self.X) // self.batch_size)

    def epoch(self, rng=None):
        n = len(self.X)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size] if self.shuffle else slice(start, start + self.batch_size)
            yield tuple(None if a is None else a[idx] for a in (self.X, self.y, self.w, self.m))


class StreamBatches:
    """Batches from an iterable (data/batches.py), each checked as arrays are, one probe per input shape."""

    def __init__(self, model, data, steps, owner, class_weight=None, steps_name="steps_per_epoch", need_y=True):
        self.model, self.owner, self.class_weight, self.need_y = model, owner, class_weight, need_y
        self.stream = Stream(data, steps, owner, steps_name)
        self.shapes = {}

    def length(self):
        return self.stream.length()

    def epoch(self, rng=None):
        for k, raw in enumerate(self.stream.epoch()):
            where = f"{self.owner} (batch {k + 1} of the data)"
            x, y, w, m = unpack(raw, where, need_y=self.need_y)
            if not self.need_y:
                x = prepare_x(self.model, x, where)
                yield x, None, None, None if m is None else check_mask(m, len(x), x.shape[1], where)
                continue
            yield prepare(self.model, x, y, w, where, mask=m, class_weight=self.class_weight, shapes=self.shapes)


def batches_for(
    model, X, y, sample_weight, mask, batch_size, steps, owner, class_weight=None, steps_name="steps", need_y=True
):
    """Arrays or an iterable of batches, checked, as ArrayBatches or StreamBatches."""
    if is_stream(X, y):
        for name, value in (("sample_weight", sample_weight), ("mask", mask)):
            if value is not None:
                raise ValueError(
                    f"{owner} expected {name} inside the batches when X is an iterable of batches "
                    f"(x, y, sample_weight, mask), got {name}= as well"
                )
        return StreamBatches(model, X, steps, owner, class_weight, steps_name, need_y)
    if steps is not None:
        raise ValueError(
            f"{steps_name} expected None with arrays (an epoch is one pass over them; "
            f"it is for an iterable of batches), got {steps!r}"
        )
    check_batch_size(batch_size)
    if not need_y:
        X = prepare_x(model, X, owner)
        m = None if mask is None else check_mask(mask, len(X), X.shape[1], owner)
        return ArrayBatches(X, None, None, m, batch_size)
    return ArrayBatches(*prepare(model, X, y, sample_weight, owner, mask, class_weight), batch_size)


def evaluate_batches(model, source):
    """{"loss": ..., metric: ...} over the batches of source, under inference_mode."""
    sums = {}
    with inference_mode():
        for xb, yb, wb, mb in source.epoch():
            out = model.forward(xb, mask=mb, training=False)
            weight = model.position_weights(out, wb)
            value, _ = model.loss(out, yb, weight)
            model.accumulate(sums, value, out, yb, weight)
    return {k: s / n if n else 0.0 for k, (s, n) in sums.items()}


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


def _validation(model, validation_data, validation_steps, batch_size):
    """validation_data as a batch source: a tuple of arrays, or an iterable of batches."""
    owner = "fit validation_data"
    first = validation_data[0] if isinstance(validation_data, (tuple, list)) and validation_data else None
    arrays = is_array(first) or (isinstance(validation_data, tuple) and not isinstance(first, (tuple, list)))
    if arrays and 2 <= len(validation_data) <= 4:  # a tuple of arrays; a list of batch tuples is an iterable
        parts = tuple(validation_data) + (None,) * (4 - len(validation_data))
        if validation_steps is not None:
            raise ValueError(f"validation_steps expected None with validation arrays, got {validation_steps!r}")
        return ArrayBatches(*prepare(model, parts[0], parts[1], parts[2], owner, parts[3]), batch_size)
    if is_array(validation_data) or not hasattr(validation_data, "__iter__"):
        raise ValueError(
            "validation_data expected a tuple (X_val, y_val), (X_val, y_val, sample_weight) or "
            "(X_val, y_val, sample_weight, mask), or an iterable of (x, y) batches, got "
            f"{type(validation_data).__name__}"
        )
    return StreamBatches(model, validation_data, validation_steps, owner, steps_name="validation_steps")


def run(
    model,
    X,
    y,
    epochs,
    batch_size,
    validation_data,
    validation_split,
    shuffle,
    callbacks,
    seed,
    verbose,
    sample_weight,
    resume_from,
    mask=None,
    class_weight=None,
    steps_per_epoch=None,
    validation_steps=None,
):
    """Model.fit: check everything, then train epoch by epoch; see Sequential.fit."""
    model._require_compiled("fit")
    callbacks = _check_args(epochs, validation_split, shuffle, callbacks)
    progress = Progress(verbose, epochs)  # checks verbose
    class_weight = check_class_weight(class_weight)
    stream = is_stream(X, y)
    if stream and validation_split:
        raise ValueError(
            "validation_split expected 0 when X is an iterable of batches (it cannot be split); pass validation_data"
        )
    if stream and resume_from is not None:
        raise ValueError(
            "resume_from expected arrays X, y: an iterable of batches cannot be rewound to where the checkpoint stopped"
        )
    train = batches_for(
        model, X, y, sample_weight, mask, batch_size, steps_per_epoch, "fit", class_weight, steps_name="steps_per_epoch"
    )
    if not stream:
        train.shuffle = shuffle
    val = None
    if validation_data is not None:
        val = _validation(model, validation_data, validation_steps, batch_size)
    elif validation_steps is not None:
        raise ValueError(f"validation_steps expected None without validation_data, got {validation_steps!r}")
    elif validation_split:
        n = len(train.X)
        n_val = int(n * validation_split)
        if n_val == 0 or n_val == n:
            raise ValueError(f"validation_split {validation_split} leaves an empty part of {n} samples")
        cut = n - n_val
        parts = [None if a is None else a[cut:] for a in (train.X, train.y, train.w, train.m)]
        val = ArrayBatches(*parts, batch_size)
        train.X, train.y, train.w, train.m = (
            None if a is None else a[:cut] for a in (train.X, train.y, train.w, train.m)
        )
    names = ["loss"] + [name for name, _ in model.metrics]
    state = TrainState(
        rng=np.random.default_rng(seed),
        callbacks=callbacks,
        log_names=names + ([f"val_{n}" for n in names] if val else []),
        fit_args={
            "batch_size": None if stream else int(batch_size),
            "shuffle": shuffle,
            "validation_split": float(validation_split),
        },
    )
    history = History()
    history.params = {"epochs": int(epochs), "steps": train.length(), "verbose": verbose}
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

    try:
        for epoch in range(state.epoch, epochs):
            state.epoch = epoch
            model.reset_state()  # stateful layers begin every epoch from zero
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            progress.epoch_begin(epoch, train.length())
            sums = {}
            ran_out = None
            try:
                for xb, yb, wb, mb in train.epoch(state.rng):
                    logs = _train_step(model, xb, yb, wb, mb, state, sums)
                    if model.skip_update:
                        break
                    for cb in callbacks:
                        cb.on_train_batch_end(state.step - 1, logs)
                    progress.batch_end(logs)
            except RanOut as err:
                ran_out = f"fit stopped: {err}"
            if model.skip_update or (ran_out and not sums):  # a stopped epoch without updates is not recorded
                if ran_out:
                    _stop(model, history, ran_out)
                break
            logs = {k: s / n if n else 0.0 for k, (s, n) in sums.items()}
            if val is not None:
                try:
                    logs.update({f"val_{k}": v for k, v in evaluate_batches(model, val).items()})
                except RanOut as err:
                    ran_out = f"fit stopped: validation: {err}"
                    logs.update({f"val_{k}": float("nan") for k in names})
            history.record(epoch, logs)
            state.epoch = epoch + 1
            for cb in sorted(callbacks, key=lambda c: c.writes_checkpoint):  # checkpoints see the final state
                cb.on_epoch_end(epoch, logs)
            progress.epoch_end(epoch, logs)
            if ran_out:
                _stop(model, history, ran_out)
            if model.stop_training:
                break
    finally:
        progress.close()
    for cb in callbacks:
        cb.on_train_end()
    return history


def _stop(model, history, message):
    """Stop training as Keras does when the data run out: a warning, and the reason in the history."""
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    history.stop_reason = message
    model.stop_training = True


def _train_step(model, xb, yb, wb, mb, state, sums):
    """Forward, loss, backward, guards, clipping, update; returns the running logs."""
    try:
        out = model.forward(xb, mask=mb, training=True)
    except NonFiniteError as err:
        for cb in state.callbacks:
            cb.on_non_finite_output(state.step, str(err))
        if not model.skip_update:
            raise NonFiniteError(f"step {state.step} (epoch {state.epoch + 1}): {err}") from None
        return {}
    weight = model.position_weights(out, wb)
    if not model.loss_checked:  # a loss written by the user: its gradient against finite differences, once
        check_loss_gradient(model.loss, out, yb, weight)
        model.loss_checked = True
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
