"""pad_sequences: ragged sequences to one array, with Keras' arguments, defaults and results."""

import numpy as np

from .. import checks


def _length(owner, k, s):
    if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
        raise ValueError(
            f"{owner} expected a list of sequences (lists or arrays), got {type(s).__name__} at position {k}"
        )
    return len(s)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or truncate) each sequence to one length; as `keras.utils.pad_sequences`.

    Arguments:
        sequences: a list of N sequences, each a list or array of length T_i whose items are
            scalars or arrays of one shape S (e.g. feature vectors (D,)).
        maxlen: the length of the result; None: the longest T_i.
        dtype: the dtype of the result ("int32" by default, as Keras: pass "float32" for features).
        padding: "pre" (Keras' default) or "post": where the padding goes.
        truncating: "pre" (default) drops the first steps of a longer sequence, "post" the last.
        value: the padding value.
    Returns: an array (N, maxlen) + S. An empty sequence gives a row of `value`.
    """
    owner = "pad_sequences"
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(f"{owner} expected a list of sequences, got {type(sequences).__name__}")
    checks.choice("padding", padding, ("pre", "post"))
    checks.choice("truncating", truncating, ("pre", "post"))
    if maxlen is not None:
        maxlen = checks.positive_int("maxlen", maxlen)
    if not checks.is_number(value):
        raise ValueError(f"value expected a number, got {value!r}")
    lengths = [_length(owner, k, s) for k, s in enumerate(sequences)]
    if maxlen is None:
        if not lengths:
            raise ValueError(f"{owner} expected at least one sequence (or maxlen), got none")
        maxlen = max(lengths)
    sample_shape = next((np.asarray(s).shape[1:] for s, n in zip(sequences, lengths) if n), ())
    try:
        out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{owner} could not make an array of dtype {dtype!r} filled with {value!r}: {err}") from None
    for k, (s, n) in enumerate(zip(sequences, lengths)):
        if not n:
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]  # the steps that stay
        try:
            kept = np.asarray(kept, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{owner} expected sequence {k} to hold numbers of one shape, got {err}") from None
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"{owner} expected every step of shape {sample_shape} (as in the first non-empty "
                f"sequence), got {kept.shape[1:]} in sequence {k}"
            )
        if padding == "post":
            out[k, : len(kept)] = kept
        else:
            out[k, maxlen - len(kept) :] = kept
    return out
