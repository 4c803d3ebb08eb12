"""Sequential: a Stack of layers that can compile, fit, evaluate, predict, summarise and save."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..nn.base import Layer, leaf_layers
from ..nn.bidirectional import Bidirectional
from ..nn.mode import inference_mode
from ..nn.stack import Stack, forward_layers
from . import clipping, losses, optim
from .callbacks import Callback, History, NonFiniteError
from .fit import ArrayBatches, TrainState, _train_step, batches_for, check_class_weight, evaluate_batches, prepare, run
from .gradient_check import needs_check
from .metrics import get as get_metric
from .metrics import weighted_mean
from .saving import read_model, save_checkpoint, save_model


class Sequential(Stack):
    """Layers applied in order, Keras-style: compile, fit, evaluate, predict, summary, save.

    A Masking layer may stand anywhere, an Embedding wherever integer ids reach
    it (first, or after layers that pass ids on); the mask of padded steps they
    compute (Embedding with mask_zero=True), or the mask given to fit, reaches
    the recurrent layers by the mask protocol and, while the output keeps its
    time axis, the loss.
    `seed` seeds every layer built without a seed of its own (initial weights
    and dropout masks), so one number fixes a whole run with fit(seed=...).
    """

    def __init__(self, layers: Sequence[Layer], seed: int | None = None, name: str | None = None):
        super().__init__(layers, name=name or "sequential")
        for k, layer in enumerate(self.layers):
            if layer.takes_ids and k > 0 and not all(before.takes_ids for before in self.layers[:k]):
                j = next(j for j, before in enumerate(self.layers[:k]) if not before.takes_ids)
                raise ValueError(
                    f"Sequential expected {type(layer).__name__} (position {k}) to receive integer "
                    f"ids, but layer {j} ({type(self.layers[j]).__name__}) gives floats: put it first"
                )
            if getattr(layer, "return_state", False):
                raise ValueError(f"Sequential expected layers without return_state, got it on layer {k}")
            if isinstance(layer, Bidirectional) and layer.merge_mode is None:
                raise ValueError(f"Sequential expected a Bidirectional merge_mode, got None on layer {k}")
        self.seed = seed
        if seed is not None:
            for k, (_, layer) in enumerate(leaf_layers(self)):
                if getattr(layer, "seed", None) is None and hasattr(layer, "rng"):
                    layer.rng = np.random.default_rng([seed, k])
        self.loss = self.optimizer = None
        self.loss_checked = True  # False until a user loss's gradient passed the check on a first batch
        self._batch_state = None  # train_on_batch's step counter
        self.metrics = []
        self.clip_norm = self.clip_value = None
        self.history = None
        self.train_state = None
        self.stop_training = self.skip_update = False
        self.output_mask = None
        self.input_spec = None  # (ndim, features or None) seen at the first call
        self.output_shapes = [None] * len(self.layers)

    # ---- forward ------------------------------------------------------------------
    def forward(self, x, mask=None, training=False):
        """x (B, T, D), or ids (B, T) under an Embedding -> the last layer's output.

        Sets `output_mask`: the (B, T) mask that still applies to a 3-D output, else None.
        An inner layer's output holding NaN or Inf (exploding activations) raises
        NonFiniteError naming that layer.
        """
        first = self.layers[0]
        spec = (np.ndim(x), None if first.takes_ids else np.shape(x)[-1])
        last = len(self.layers) - 1

        def check(k, layer, out):
            self.output_shapes[k] = (None,) + out.shape[1:]
            if k < last:
                bad = out.size - int(np.count_nonzero(np.isfinite(out)))
                if bad:
                    raise NonFiniteError(f"layer {k} ({layer.name}) gave {bad} NaN or Inf value(s)")

        x, mask = forward_layers(self.layers, x, mask, training, after=check)
        self.output_mask = mask if x.ndim == 3 else None
        if self.input_spec is None:
            self.input_spec = spec
        return x

    def build(self, input_shape):
        """Create the weights for inputs of shape (time, features), or (time,) of ids, with one forward call."""
        shape = (1,) + tuple(input_shape)
        x = np.zeros(shape, dtype=np.int64 if self.layers[0].takes_ids else self.dtype)
        with self.keep_states():
            self.forward(x)
        return self

    @contextlib.contextmanager
    def keep_states(self):
        """Run with no carried states, then put back those of stateful layers (for calls that only probe)."""
        saved = [(layer, layer._carry) for _, layer in leaf_layers(self) if hasattr(layer, "_carry")]
        for layer, _ in saved:
            layer._carry = None
        try:
            yield
        finally:
            for layer, carry in saved:
                layer._carry = carry

    # ---- weights and RNGs -----------------------------------------------------------
    def get_weights(self):
        """{name: copy of the array}, e.g. {"0.W": ..., "1.b": ...}."""
        return {k: v.copy() for k, v in self.params.items()}

    def set_weights(self, weights):
        """Copy arrays into the parameters; names and shapes must match get_weights()."""
        params = self.params
        if set(weights) != set(params):
            raise ValueError(f"set_weights expected the keys {sorted(params)}, got {sorted(weights)}")
        weights = {k: np.asarray(v) for k, v in weights.items()}
        for k, v in weights.items():  # every shape first: a failed call changes nothing
            if v.shape != params[k].shape:
                raise ValueError(f"set_weights expected {k} of shape {params[k].shape}, got {v.shape}")
        for k, v in weights.items():
            params[k][...] = v

    def rngs(self):
        """{path: numpy Generator} of every layer that draws random numbers."""
        return {path: layer.rng for path, layer in leaf_layers(self) if hasattr(layer, "rng")}

    # ---- training -----------------------------------------------------------------
    def compile(
        self,
        loss: str | losses.Loss,
        optimizer: str | optim.Optimizer = "adam",
        metrics: Sequence | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> Sequential:
        """Choose the loss, optimizer, metrics and gradient clipping.

        loss: a name ("mse", "categorical_crossentropy", ...), a rnnlab.losses.Loss, or a pair
        (value, gradient) of callables (rnnlab has no autograd; the gradient is checked against
        finite differences on the first batch). metrics: names, callables fn(y_pred, y_true)
        -> values per position, or pairs (name, fn). Clipping by value comes first, then by
        global norm, when both are given.
        """
        loss = losses.get(loss)
        optimizer = optim.get(optimizer)
        names = [] if metrics is None else list(metrics)
        resolved = [get_metric(name, loss) for name in names]
        if len({n for n, _ in resolved}) != len(resolved):
            raise ValueError(f"metrics expected distinct names, got {names}")
        self.clip_norm = clipping.check_clip("clip_norm", clip_norm)
        self.clip_value = clipping.check_clip("clip_value", clip_value)
        self.loss, self.optimizer, self.metrics = loss, optimizer, resolved
        self.loss_checked = not needs_check(loss)
        self._batch_state = None
        return self

    def fit(
        self,
        X: ArrayLike | Iterable,
        y: ArrayLike | None = None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple | Iterable | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: Sequence[Callback] | None = None,
        seed: int | None = None,
        verbose: int = 1,
        sample_weight: ArrayLike | None = None,
        resume_from: str | os.PathLike | None = None,
        mask: ArrayLike | None = None,
        class_weight: dict | None = None,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
    ) -> History:
        """Train; returns the History (history.history["loss"], ["val_loss"], ...: a dict of lists).

        X, y: arrays, X (N, T, D) floats or (N, T) ids and y (N, ...); or X an iterable of
        batches and y None: tuples (x, y), (x, y, sample_weight) or (x, y, sample_weight,
        mask) of arrays or tensors (a generator, a torch DataLoader, a Keras PyDataset,
        rl.data.bucket(...)), read again each epoch, or `steps_per_epoch` batches at a
        time from one running iterator (endless generators). With an iterable, batch_size,
        shuffle and validation_split do not apply. A one-shot generator that runs out
        stops training with a RuntimeWarning, as Keras does.
        mask: (N, T) bool, True on real steps, for float sequences (padded steps count
        for nothing in the recurrent layers and a per-step loss).
        sample_weight: (N,) or (N, T); class_weight: {class index: weight}, multiplied in.
        validation_data: (X_val, y_val[, sample_weight[, mask]]) or an iterable of batches
        (validation_steps batches of it per epoch when given).
        Inputs are checked before anything runs or is written. `seed` fixes the
        shuffling; validation_split holds out the last fraction of X and y, as
        Keras does. `epochs` is the total: with resume_from=<checkpoint> training
        continues from the checkpoint's epoch, weights, optimizer, RNG states
        and history, exactly as if it had never stopped (arrays only).
        """
        return run(
            self,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            validation_split=validation_split,
            shuffle=shuffle,
            callbacks=callbacks,
            seed=seed,
            verbose=verbose,
            sample_weight=sample_weight,
            resume_from=resume_from,
            mask=mask,
            class_weight=class_weight,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
        )

    def evaluate(
        self,
        X: ArrayLike | Iterable,
        y: ArrayLike | None = None,
        batch_size: int = 32,
        sample_weight: ArrayLike | None = None,
        mask: ArrayLike | None = None,
        steps: int | None = None,
    ) -> dict[str, float]:
        """{"loss": ..., metric: ...} over the data, without dropout, under inference_mode.

        X, y as fit takes them: arrays, or an iterable of batches (y None), of which
        `steps` batches when given.
        """
        self._require_compiled("evaluate")
        source = batches_for(self, X, y, sample_weight, mask, batch_size, steps, "evaluate")
        return evaluate_batches(self, source)

    def evaluate_arrays(self, X, y, w, batch_size, mask=None):
        """evaluate() on arrays already checked by fit.prepare."""
        return evaluate_batches(self, ArrayBatches(X, y, w, mask, batch_size))

    def predict(
        self, X: ArrayLike | Iterable, batch_size: int = 32, mask: ArrayLike | None = None, steps: int | None = None
    ) -> np.ndarray | list:
        """Outputs for X, batch by batch, without dropout, under inference_mode (no caches kept).

        X: an array (N, T, D) or ids (N, T), with mask (N, T) bool; or an iterable of batches,
        each x alone or a tuple whose first item is x (its fourth, when present, the mask),
        of which `steps` batches when given. Returns the outputs concatenated along the batch,
        in the order the batches come; a list of one array per batch when batches padded to
        different lengths give per-step outputs of different lengths.
        """
        source = batches_for(self, X, None, None, mask, batch_size, steps, "predict", need_y=False)
        outs = []
        with inference_mode():
            for xb, _, _, mb in source.epoch():
                outs.append(self.forward(xb, mask=mb))
        widths = {o.shape[1:] for o in outs}
        if len(widths) > 1:  # batches padded to different lengths (bucketing): a list, one array per batch
            return outs
        return np.concatenate(outs)

    # ---- one batch at a time ---------------------------------------------------------
    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, mask=None, return_dict=False):
        """One update on one batch, as Keras: returns the loss (a float), or [loss, *metrics] with metrics.

        x (B, T, D) or ids (B, T); y (B, ...); sample_weight (B,) or (B, T); class_weight
        {class: weight}; mask (B, T) bool. The values are those of the batch before the
        update. return_dict=True: {"loss": ..., metric: ...}.
        """
        self._require_compiled("train_on_batch")
        X, y, w, m = prepare(self, x, y, sample_weight, "train_on_batch", mask, check_class_weight(class_weight))
        if self._batch_state is None:
            self._batch_state = TrainState(rng=np.random.default_rng())
        self.skip_update = False
        logs = _train_step(self, X, y, w, m, self._batch_state, {})
        return self._batch_result(logs, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, class_weight=None, mask=None, return_dict=False):
        """The loss (and metrics) on one batch, without an update, under inference_mode; as train_on_batch."""
        self._require_compiled("test_on_batch")
        batch = prepare(self, x, y, sample_weight, "test_on_batch", mask, check_class_weight(class_weight))
        logs = evaluate_batches(self, ArrayBatches(*batch, len(batch[0])))
        return self._batch_result(logs, return_dict)

    def _batch_result(self, logs, return_dict):
        if return_dict:
            return dict(logs)
        if not self.metrics:
            return float(logs["loss"])
        return [float(logs["loss"])] + [float(logs[name]) for name, _ in self.metrics]

    def position_weights(self, out, sample_weight):
        """Loss weights per position (B,) or (B, T): the output mask times the sample weights, or None."""
        w = self.output_mask.astype(out.dtype) if self.output_mask is not None else None
        if sample_weight is not None:
            w = sample_weight if w is None else w * sample_weight
        return w

    def accumulate(self, sums, loss, out, y, weight):
        """Add a batch's loss and metrics to running (Σ w v, Σ w) sums."""
        total = float(weight.sum()) if weight is not None else float(np.prod(out.shape[:-1]))
        s, n = sums.get("loss", (0.0, 0.0))
        sums["loss"] = (s + loss * total, n + total)
        for name, fn in self.metrics:
            s, n = sums.get(name, (0.0, 0.0))
            values = np.asarray(fn(out, y))
            if values.shape != out.shape[:-1]:
                raise ValueError(
                    f"metric {name!r} expected to return one value per position, shape "
                    f"{out.shape[:-1]} for outputs {out.shape}, got {values.shape}"
                )
            ds, dn = weighted_mean(values, weight)
            sums[name] = (s + ds, n + dn)

    def _require_compiled(self, owner):
        if self.loss is None:
            raise ValueError(f"{owner} expected a compiled model: call compile(loss, optimizer) first")

    # ---- description and files -----------------------------------------------------
    def summary(self, print_fn=print):
        """A table of layers, output shapes and parameter counts; printed, or returned with print_fn=None."""
        rows = [("Layer (type)", "Output shape", "Params")]
        for k, layer in enumerate(self.layers):
            shape = self.output_shapes[k]
            shape = "?" if shape is None else str(shape)
            rows.append((f"{k} {layer.name} ({type(layer).__name__})", shape, str(layer.count_params())))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
        rule = "-" * len(lines[0])
        text = "\n".join(
            [f'Model "{self.name}"', rule, lines[0], rule, *lines[1:], rule, f"Total params: {self.count_params()}"]
        )
        if not self.built:
            text += "\n(not built yet: call build(input_shape), predict or fit)"
        if print_fn is None:
            return text
        print_fn(text)

    def save(self, path: str | os.PathLike) -> None:
        """Write the model (architecture, weights, RNG states, compile settings) to one file, atomically."""
        save_model(self, path)

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write the model plus optimizer state, epoch, RNG states and history (during or after fit)."""
        save_checkpoint(self, path)

    def get_config(self):
        return {"name": self.name, "seed": self.seed}


def load(path: str | os.PathLike) -> Sequential:
    """The Sequential saved at path (a model file or a checkpoint), compiled as it was saved.

    Predictions equal the saved model's bit for bit. Raises ValueError for a
    file that is truncated, corrupted, of another format version or not one
    rnnlab writes; nothing in the file is ever executed or unpickled.
    """
    return read_model(path, Sequential)
