"""A character-level corpus: reading UTF-8 text safely, the vocabulary, and batches for stateful BPTT."""

import os

import numpy as np

_BOM = "\ufeff"


def read_corpus(path):
    """The text of a UTF-8 file; empty, binary or non-UTF-8 files raise ValueError saying which."""
    path = os.fspath(path)
    with open(path, "rb") as fh:
        data = fh.read()
    return decode_corpus(data, name=path)


def decode_corpus(data, name="corpus"):
    """bytes -> str with the same checks as read_corpus."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"{name}: expected bytes, got {type(data).__name__}")
    if not data.strip():
        raise ValueError(f"{name}: corpus expected UTF-8 text, got an empty file")
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise ValueError(f"{name}: corpus expected UTF-8 text, got binary data (a NUL byte at offset {offset})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{name}: corpus expected UTF-8 text, got byte 0x{data[err.start]:02x} "
            f"at offset {err.start} that is not valid UTF-8 ({err.reason})"
        ) from None
    text = text.removeprefix(_BOM).replace("\r\n", "\n")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\t\r\f\x1b")
    if controls > 0.01 * len(text):
        raise ValueError(
            f"{name}: corpus expected UTF-8 text, got binary data ({controls} control characters in {len(text)})"
        )
    return text


class Vocabulary:
    """The characters of a corpus, each with an id (sorted, so the same text gives the same ids)."""

    def __init__(self, chars):
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("chars expected a non-empty list of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("chars expected distinct characters, got duplicates")
        self.chars = chars
        self.index = {c: k for k, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text):
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """str -> int32 ids; characters outside the vocabulary raise ValueError naming them."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            shown = "".join(unknown[:20])
            raise ValueError(f"text has {len(unknown)} characters not in the vocabulary: {shown!r}")
        return np.fromiter((self.index[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids):
        return "".join(self.chars[int(k)] for k in ids)


def unigram_entropy(ids, vocab_size):
    """Bits per character of the best predictor that ignores context: −Σ p log2 p."""
    counts = np.bincount(np.asarray(ids), minlength=vocab_size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def stream_batches(ids, batch_size, seq_len):
    """Inputs and next-character targets laid out for stateful truncated BPTT.

    The text is cut into `batch_size` contiguous streams; window k of every
    stream forms batch k, so row j of batch k+1 continues row j of batch k and a
    stateful layer carries its state across windows. Returns X, Y of shape
    (n_windows · batch_size, seq_len), the batches stacked in order; the tail
    that does not fill a window is dropped.
    """
    ids = np.asarray(ids)
    per_stream = (ids.size - 1) // batch_size
    windows = per_stream // seq_len
    if windows == 0:
        need = batch_size * seq_len + 1
        raise ValueError(
            f"text expected at least {need} characters for batch_size {batch_size} "
            f"and seq_len {seq_len}, got {ids.size}"
        )
    span = windows * seq_len
    starts = np.arange(batch_size) * per_stream
    cols = starts[:, None] + np.arange(span)[None, :]  # (batch, span) positions in the text
    X = ids[cols].reshape(batch_size, windows, seq_len).transpose(1, 0, 2)
    Y = ids[cols + 1].reshape(batch_size, windows, seq_len).transpose(1, 0, 2)
    return X.reshape(-1, seq_len), Y.reshape(-1, seq_len)
