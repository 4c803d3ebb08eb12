"""Length bucketing: batches of sequences of similar length, each padded only to its longest member."""

import numpy as np

from .. import checks
from .batches import Batch
from .pad import pad_sequences


class Buckets:
    """The batches of `bucket(...)`: iterate it once per epoch (fit does); len() is the number of batches.

    Each iteration yields `Batch(x, y, sample_weight=None, mask)` with x (B, T_b) or (B, T_b, D)
    padded to T_b, the longest length in the batch, and mask (B, T_b) bool, True on real steps.
    `padded_steps`: the padding steps of one epoch here; `full_padding_steps`: those that
    padding every sequence to the longest of all would cost.
    """

    def __init__(self, sequences, labels, batch_size, padding, value, dtype, shuffle, seed, drop_remainder):
        self.sequences, self.labels = sequences, labels
        self.batch_size, self.padding, self.value, self.dtype = batch_size, padding, value, dtype
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self.drop_remainder = drop_remainder
        groups = self._groups(np.arange(len(sequences)))
        self.padded_steps = int(sum(self.lengths[g].max() * len(g) - self.lengths[g].sum() for g in groups))
        kept = np.concatenate(groups) if groups else np.zeros(0, np.int64)
        self.full_padding_steps = int(self.lengths.max() * len(kept) - self.lengths[kept].sum())

    def _groups(self, order):
        """Split indices into batches of consecutive lengths: sort stably by length, then cut."""
        order = order[np.argsort(self.lengths[order], kind="stable")]
        groups = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        if self.drop_remainder and groups and len(groups[-1]) < self.batch_size:
            groups = groups[:-1]
        return groups

    def __len__(self):
        n = len(self.sequences)
        return n // self.batch_size if self.drop_remainder else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.sequences)
        if self.shuffle:  # a new split among sequences of one length, and a new order of batches
            groups = self._groups(self.rng.permutation(n))
            groups = [groups[k] for k in self.rng.permutation(len(groups))]
        else:
            groups = self._groups(np.arange(n))
        for g in groups:
            seqs = [self.sequences[k] for k in g]
            x = pad_sequences(seqs, dtype=self.dtype, padding=self.padding, value=self.value)
            width = x.shape[1]
            steps = np.arange(width)
            lengths = self.lengths[g][:, None]
            mask = steps >= width - lengths if self.padding == "pre" else steps < lengths
            y = None if self.labels is None else self.labels[g]
            yield Batch(x, y, None, mask)


def bucket(
    sequences, labels, batch_size, padding="pre", value=0, dtype=None, shuffle=True, seed=None, drop_remainder=False
):
    """Batches of sequences of similar length, padded per batch, with their masks: pass to fit.

    Sequences are sorted by length and cut into batches of `batch_size`, so a batch
    is padded only to its longest member; with shuffle (each pass) sequences of one
    length are split among batches anew and the batches come in a new order.

    Arguments:
        sequences: a list of N sequences of lengths T_i >= 1, ids (T_i,) or features (T_i, D).
        labels: N targets (an array (N, ...)), or None (for predict).
        batch_size: sequences per batch.
        padding: "pre" (as pad_sequences) or "post"; the mask marks the real steps either way.
        value: the padding value (0: the id Embedding(mask_zero=True) treats as padding).
        dtype: the dtype of x; None: int64 for integer sequences, float32 otherwise.
        shuffle, seed: a new grouping and order per pass, from a generator seeded by seed.
        drop_remainder: drop the last, smaller batch.
    Returns: a `Buckets`, iterable once per epoch, yielding Batch(x (B, T_b[, D]), y (B, ...),
    None, mask (B, T_b)).
    """
    owner = "bucket"
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__") or not len(sequences):
        raise ValueError(f"{owner} expected a non-empty list of sequences, got {type(sequences).__name__}")
    sequences = list(sequences)
    for k, s in enumerate(sequences):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__") or not len(s):
            raise ValueError(
                f"{owner} expected sequences of at least one step, got "
                f"{'an empty one' if hasattr(s, '__len__') else type(s).__name__} at position {k}"
            )
    batch_size = checks.positive_int("batch_size", batch_size)
    checks.choice("padding", padding, ("pre", "post"))
    checks.flag("shuffle", shuffle)
    checks.flag("drop_remainder", drop_remainder)
    if drop_remainder and len(sequences) < batch_size:
        raise ValueError(
            f"{owner} with drop_remainder expected at least batch_size={batch_size} sequences, got {len(sequences)}"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 0 or len(labels) != len(sequences):
            raise ValueError(
                f"{owner} expected one label per sequence, got {len(sequences)} sequences and {labels.shape} labels"
            )
    if dtype is None:
        first = np.asarray(sequences[0])
        dtype = np.int64 if np.issubdtype(first.dtype, np.integer) else np.float32
    return Buckets(sequences, labels, batch_size, padding, value, dtype, shuffle, seed, drop_remainder)
