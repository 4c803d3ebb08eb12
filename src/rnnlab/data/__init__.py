"""Data for training: padding ragged sequences, length bucketing, batches from iterables.

`pad_sequences` is Keras' (same arguments and defaults); `bucket` groups
sequences of similar length so each batch is padded only to its longest member
and carries its mask; `batches` reads the batches that fit, evaluate and
predict take from any iterable (a generator, a PyTorch DataLoader, a Keras
PyDataset).
"""

from .batches import Batch
from .bucket import Buckets, bucket
from .pad import pad_sequences

__all__ = ["pad_sequences", "bucket", "Buckets", "Batch"]
