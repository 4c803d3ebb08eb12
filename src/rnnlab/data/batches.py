"""The batches fit, evaluate and predict read from an iterable, and the iteration over epochs.

A batch is a tuple or list (x, y), (x, y, sample_weight) or (x, y, sample_weight,
mask), or a `Batch`; each item an array or anything with `__array__` (PyTorch
tensors from a DataLoader, Keras' PyDataset items); sample_weight and mask may
be None. For predict a batch may also be x alone.
"""

from typing import Any, NamedTuple

import numpy as np

WANT = "arrays (X, y), or an iterable of (x, y) batches (a generator, a DataLoader, rl.data.bucket(...))"


class Batch(NamedTuple):
    """One batch: x (B, T, D) or ids (B, T); y; sample_weight (B,) or (B, T) or None; mask (B, T) bool or None."""

    x: Any
    y: Any = None
    sample_weight: Any = None
    mask: Any = None


def is_array(x):
    """True for what fit takes as a whole array (NumPy arrays, tensors, nested lists of numbers)."""
    return isinstance(x, np.ndarray) or hasattr(x, "__array__") or np.isscalar(x)


def is_stream(x, y):
    """True when x is an iterable of batches (and y is then None), as Keras tells datasets from arrays."""
    if y is not None or is_array(x) or isinstance(x, (str, bytes, dict)):
        return False
    return hasattr(x, "__iter__")


def _array(value, what, owner):
    if value is None:
        return None
    try:
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"{owner} expected {what} as an array or a tensor, got {type(value).__name__} ({err})"
        ) from None


def unpack(batch, owner, need_y=True):
    """(x, y, sample_weight, mask) as NumPy arrays (None where absent) from one batch."""
    if isinstance(batch, (tuple, list)) and not (batch and np.isscalar(batch[0])):
        items = tuple(batch)
    elif not need_y and is_array(batch):
        items = (batch,)
    else:
        raise TypeError(
            f"{owner} expected each batch as a tuple (x, y) or (x, y, sample_weight), got {type(batch).__name__}"
        )
    low = 2 if need_y else 1
    if not low <= len(items) <= 4:
        raise ValueError(
            f"{owner} expected each batch as (x, y), (x, y, sample_weight) or "
            f"(x, y, sample_weight, mask), got a {type(batch).__name__} of {len(items)} items"
        )
    items = items + (None,) * (4 - len(items))
    names = ("x", "y", "sample_weight", "mask")
    x, y, w, m = (_array(v, name, owner) for v, name in zip(items, names))
    if need_y and y is None:
        raise ValueError(f"{owner} expected each batch to hold targets y, got None")
    return x, y, w, m


class RanOut(Exception):
    """A one-shot iterable (a generator) ran out before the epochs or steps asked for."""


class Stream:
    """Epochs of raw batches from an iterable.

    Without `steps` an epoch is one pass (`iter(data)` each epoch: a list, a DataLoader
    or rl.data.bucket starts again; a generator, which runs once, raises RanOut when
    asked for a second epoch). With `steps` an epoch is that many batches taken
    from one running iterator, started again when it ends if the data allows it.
    """

    def __init__(self, data, steps, owner, steps_name="steps_per_epoch"):
        if not hasattr(data, "__iter__"):
            raise TypeError(f"{owner} expected {WANT}, got {type(data).__name__}")
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
                raise ValueError(f"{steps_name} expected a positive integer or None, got {steps!r}")
            steps = int(steps)
        self.data, self.steps, self.owner = data, steps, owner
        self.one_shot = iter(data) is data  # a generator or iterator: it runs once
        self._running = None
        self.epochs_started = 0

    def __len__(self):
        if self.steps is not None:
            return self.steps
        return len(self.data)  # TypeError for data without a length, as len() says

    def length(self):
        """Batches per epoch when known, else None."""
        try:
            return len(self)
        except TypeError:
            return None

    def epoch(self):
        """Yield the raw batches of one epoch; RanOut when a one-shot iterable has none left."""
        self.epochs_started += 1
        if self.steps is None:
            count = 0
            for batch in self.data if self.one_shot else iter(self.data):
                count += 1
                yield batch
            if count == 0:
                if self.epochs_started == 1:
                    raise ValueError(f"{self.owner} expected at least one batch in the data, got none")
                raise RanOut(
                    f"the data ran out at the start of epoch {self.epochs_started}: a generator runs "
                    "once; pass steps_per_epoch, or data that can be iterated again (a list, a "
                    "DataLoader, rl.data.bucket(...))"
                )
            return
        for k in range(self.steps):
            yield self._next(k)

    def _next(self, k):
        if self._running is None:
            self._running = iter(self.data)
        try:
            return next(self._running)
        except StopIteration:
            if self.one_shot:
                raise RanOut(
                    f"the data ran out after {k} of {self.steps} steps of epoch {self.epochs_started}: "
                    "the generator ended; make it endless or lower the steps"
                ) from None
            self._running = iter(self.data)
            try:
                return next(self._running)
            except StopIteration:
                raise ValueError(f"{self.owner} expected at least one batch in the data, got none") from None
