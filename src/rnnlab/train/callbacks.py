"""Callbacks: hooks the fit loop calls at the start and end of training, epochs and batches.

A callback that must survive a resume keeps its state in `get_state()` ->
(JSON-able dict, {name: array}) and takes it back in `set_state`; checkpoints
store it. Callbacks that write checkpoints (`writes_checkpoint = True`) run
after the others at the end of an epoch, so what they save is final.
"""

import inspect
import math
import os
import warnings

from ..io import atomic
from .clipping import global_norm


class Callback:
    writes_checkpoint = False
    sets_lr = False  # the callback owns the optimizer's rate (its state holds it; resume does not compare it)

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_gradients(self, step, loss, grads):
        pass  # before clipping and the update

    def on_non_finite_output(self, step, message):
        pass  # an inner layer's output overflowed

    def on_train_batch_end(self, step, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def get_state(self):
        return {}, {}

    def set_state(self, state, arrays):
        pass


class History(Callback):
    """Per-epoch logs, as Keras: `history` is a plain dict {name: [one float per epoch]}.

    history.history["loss"][k] is the loss of epoch k (0-based, epoch[k] = k);
    history["loss"] reads the same; `params` holds fit's epochs, steps and verbose.
    """

    def __init__(self):
        self.epoch = []
        self.history = {}
        self.params = {}
        self.stop_reason = None  # set when a guard stopped training

    def record(self, epoch, logs):
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key):
        return self.history[key]

    def to_dict(self):
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, d):
        h = cls()
        try:
            h.epoch = [int(e) for e in d["epoch"]]
            h.history = {str(k): [float(x) for x in v] for k, v in d["history"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"history expected {{'epoch': [...], 'history': {{name: [...]}}}}, got {err}") from None
        if any(len(v) != len(h.epoch) for v in h.history.values()):
            raise ValueError("history expected one value per epoch for every metric")
        return h


def _resolve_mode(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode expected 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if monitor.endswith("accuracy") else "min"
    return mode


def _check_monitor(callback, monitor):
    names = callback.model.train_state.log_names
    if monitor not in names:
        raise ValueError(f"{type(callback).__name__} expected monitor among {names}, got {monitor!r}")


def _check_target(callback, pattern):
    """Fail before training, not after an epoch, on a path that cannot be formatted or has no folder."""
    try:
        path = pattern.format(epoch=1, **{name: 0.0 for name in callback.model.train_state.log_names})
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"{type(callback).__name__} expected a path with fields among epoch and the logs, got {pattern!r} ({err})"
        ) from None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{type(callback).__name__} expected an existing folder, got {folder!r}")


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by min_delta for `patience` epochs.

    With restore_best_weights the weights of the best epoch are put back at the
    end of training, whether it stopped early or ran all epochs.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        self.monitor, self.min_delta, self.patience = monitor, abs(float(min_delta)), int(patience)
        self.mode = _resolve_mode(mode, monitor)
        self.restore_best_weights = bool(restore_best_weights)
        self.best, self.wait, self.best_epoch, self.stopped_epoch = None, 0, None, None
        self.best_weights = None
        self._resumed = False  # set_state ran for the fit about to begin

    def on_train_begin(self, logs=None):
        _check_monitor(self, self.monitor)
        if not self._resumed:  # a new fit starts afresh (as in Keras); a resumed one keeps its state
            self.best, self.wait, self.best_epoch, self.stopped_epoch = None, 0, None, None
            self.best_weights = None
        self._resumed = False

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.wait, self.best_epoch = float(value), 0, int(epoch)
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = int(epoch)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def get_state(self):
        state = {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch}
        return state, dict(self.best_weights or {})

    def set_state(self, state, arrays):
        self.best, self.wait, self.best_epoch = state["best"], int(state["wait"]), state["best_epoch"]
        self.best_weights = dict(arrays) or None
        self._resumed = True


class ModelCheckpoint(Callback):
    """Write a checkpoint (model, optimizer, epoch, RNG states, history) at the end of each epoch.

    `filepath` may hold fields such as "ckpt-{epoch:02d}.rnnlab" (epoch counted
    from 1) or any log name. save_best_only writes only when `monitor` improves.
    Writes are atomic: a crash leaves the previous file whole.
    """

    writes_checkpoint = True

    def __init__(self, filepath, monitor="val_loss", mode="auto", save_best_only=False):
        self.filepath, self.monitor, self.save_best_only = os.fspath(filepath), monitor, bool(save_best_only)
        self.mode = _resolve_mode(mode, monitor)
        self.best = None

    def on_train_begin(self, logs=None):
        _check_target(self, self.filepath)
        if self.save_best_only:
            _check_monitor(self, self.monitor)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            value = logs[self.monitor]
            better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
            if not better:
                return
            self.best = float(value)
        self.model.save_checkpoint(self.filepath.format(epoch=epoch + 1, **logs))

    def get_state(self):
        return {"best": self.best}, {}

    def set_state(self, state, arrays):
        self.best = state["best"]


class CSVLogger(Callback):
    """A CSV file with one row per epoch ("epoch" from 0, then the logs), rewritten atomically.

    The file is rebuilt from the model's history at each epoch, so after a
    resume it holds exactly the epochs the checkpoint knew, then the new ones.
    """

    def __init__(self, filename, separator=","):
        self.filename, self.separator = os.fspath(filename), separator

    def on_train_begin(self, logs=None):
        _check_target(self, self.filename.replace("{", "{{").replace("}", "}}"))

    def on_epoch_end(self, epoch, logs=None):
        hist = self.model.history
        keys = list(hist.history)
        rows = [self.separator.join(["epoch", *keys])]
        for k, e in enumerate(hist.epoch):
            rows.append(self.separator.join([str(e)] + [repr(hist.history[key][k]) for key in keys]))
        atomic.write_text(self.filename, "\n".join(rows) + "\n")


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or Inf loss or gradient."""


class TerminateOnNaN(Callback):
    """Stop at the first NaN/Inf loss, gradient or inner activation, before it reaches the weights.

    The message names the step, the loss and the largest gradient norm with its
    parameter (that step's, or the step before's when the forward pass itself
    overflowed), e.g. exploding gradients in a SimpleRNN's U. The update of
    that step is skipped. By default training stops with a RuntimeWarning and
    the message in `history.stop_reason`; raise_error=True raises NonFiniteError.
    """

    def __init__(self, raise_error=False):
        self.raise_error = bool(raise_error)
        self.message = None
        self._last_norms = None  # per-parameter gradient norms of the latest step

    def on_gradients(self, step, loss, grads):
        norms = {k: global_norm({k: g}) for k, g in grads.items()}
        self._last_norms = norms
        if math.isfinite(loss) and all(math.isfinite(n) for n in norms.values()):
            return
        self._stop(step, f"loss {loss!r}, largest gradient norm {_largest(norms)}")

    def on_non_finite_output(self, step, message):
        before = "none yet" if self._last_norms is None else _largest(self._last_norms)
        self._stop(step, f"loss nan, {message}; largest gradient norm at the step before: {before}")

    def _stop(self, step, detail):
        epoch = self.model.train_state.epoch
        self.message = f"non-finite value at step {step} (epoch {epoch + 1}): {detail}"
        self.model.stop_training = True
        self.model.skip_update = True
        if self.raise_error:
            raise NonFiniteError(self.message)
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        self.model.history.stop_reason = self.message


def _largest(norms):
    """'<norm> in parameter <name>', NaN counted as the largest."""
    name = max(norms, key=lambda k: norms[k] if not math.isnan(norms[k]) else math.inf)
    return f"{norms[name]:.4g} in parameter {name!r}"


def _settable_lr(callback):
    """The optimizer's rate as a number; a schedule owns the rate, so a callback cannot change it."""
    opt = callback.model.optimizer
    if not isinstance(opt.lr, (int, float)):
        raise ValueError(
            f"{type(callback).__name__} expected an optimizer with a numeric lr, got a schedule "
            f"({type(opt.lr).__name__}): use one or the other"
        )
    return opt.lr


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved for `patience` epochs (Keras').

    An epoch improves when the value beats the best by more than min_delta (below it
    for "min", above for "max"; "auto": max for accuracies). After a reduction the
    count restarts and `cooldown` epochs pass before counting again; the rate never
    goes below min_lr. `lrs` lists the rate in force at the end of each epoch.
    """

    sets_lr = True

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 0 < factor < 1:
            raise ValueError(f"factor expected a number in (0, 1), got {factor!r}")
        self.monitor, self.factor = monitor, float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta, self.cooldown, self.min_lr = abs(float(min_delta)), int(cooldown), float(min_lr)
        self.best, self.wait, self.cooldown_counter = None, 0, 0
        self.lrs = []
        self._resumed_lr = None  # the rate a checkpoint held, set at the start of the resumed fit

    def on_train_begin(self, logs=None):
        _check_monitor(self, self.monitor)
        _settable_lr(self)
        if self._resumed_lr is not None:
            self.model.optimizer.lr, self._resumed_lr = self._resumed_lr, None

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _settable_lr(self)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.lr = new
                    if self.verbose:
                        print(f"epoch {epoch + 1}: ReduceLROnPlateau lowers the learning rate to {new:.4g}")
                    self.cooldown_counter, self.wait = self.cooldown, 0
        self.lrs.append(self.model.optimizer.lr)

    def get_state(self):
        return {
            "best": self.best,
            "wait": self.wait,
            "cooldown_counter": self.cooldown_counter,
            "lr": self.model.optimizer.lr,
        }, {}

    def set_state(self, state, arrays):
        self.best, self.wait = state["best"], int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self._resumed_lr = float(state["lr"])


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to schedule(epoch) or schedule(epoch, lr) (Keras').

    epoch counts from 0; lr is the rate in force. The value must be a positive number;
    it is used exactly as returned.
    """

    sets_lr = True

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler expected a callable schedule(epoch[, lr]), got {type(schedule).__name__}"
            )
        self.schedule, self.verbose = schedule, verbose
        self._resumed_lr = None
        try:
            positional = [
                p
                for p in inspect.signature(schedule).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            ]
            self._two = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)
        except (TypeError, ValueError):  # a builtin without a signature: one argument
            self._two = False

    def on_train_begin(self, logs=None):
        _settable_lr(self)
        if self._resumed_lr is not None:
            self.model.optimizer.lr, self._resumed_lr = self._resumed_lr, None

    def on_epoch_begin(self, epoch, logs=None):
        lr = _settable_lr(self)
        new = self.schedule(epoch, lr) if self._two else self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, (int, float)) or not 0 < new < math.inf:
            raise ValueError(
                f"LearningRateScheduler expected the schedule to return a positive number, got {new!r} at epoch {epoch}"
            )
        self.model.optimizer.lr = new
        if self.verbose:
            print(f"epoch {epoch + 1}: LearningRateScheduler sets the learning rate to {new}")

    def get_state(self):
        return {"lr": self.model.optimizer.lr}, {}

    def set_state(self, state, arrays):
        self._resumed_lr = float(state["lr"])


class LambdaCallback(Callback):
    """A callback from functions, as Keras': on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_train_batch_end(step, logs) (step counts over all epochs), on_train_begin(logs), on_train_end(logs).
    """

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_batch_end", "on_train_begin", "on_train_end")

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_batch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_batch_end=None,
    ):
        given = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_batch_end=on_train_batch_end or on_batch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
        )
        for name, fn in given.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback expected {name} to be callable, got {type(fn).__name__}")
        self._fns = given

    def on_epoch_begin(self, epoch, logs=None):
        if self._fns["on_epoch_begin"]:
            self._fns["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._fns["on_epoch_end"]:
            self._fns["on_epoch_end"](epoch, logs)

    def on_train_batch_end(self, step, logs=None):
        if self._fns["on_train_batch_end"]:
            self._fns["on_train_batch_end"](step, logs)

    def on_train_begin(self, logs=None):
        if self._fns["on_train_begin"]:
            self._fns["on_train_begin"](logs)

    def on_train_end(self, logs=None):
        if self._fns["on_train_end"]:
            self._fns["on_train_end"](logs)
