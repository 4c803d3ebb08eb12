"""What the fast kernels accept, and how they split the work across cores."""
import numpy as np

from . import activations, threads
from .fast_ops import CODES
from .fast_products import SMALL_ROWS

# below this many multiply-adds per sequence the batch is not split: a call hands work to
# the other thread two to four times, some tens of microseconds each, which would eat
# most of what a second core saves on a sequence of a millisecond or less
MIN_SPLIT_WORK = 2_000_000


def empty(ndim, dtype):
    """A zero-size array standing for "none" (compiled code takes arrays, not None)."""
    return np.empty((0,) * ndim, dtype)


def supported(x, params, state, mask, rdrop, names):
    """Arrays in the layout the compiled loops take, or None when the reference must run.

    Returns (x, W, U, b, mask as bool or empty, rdrop or empty, activation codes).
    """
    for name in names:
        activations.get(name)  # an unknown name: the reference's error
    if any(name not in CODES for name in names):
        return None  # an activation the compiled loops do not know
    codes = tuple(CODES[name] for name in names)
    x = np.ascontiguousarray(x)
    dtype = x.dtype
    arrays = [np.ascontiguousarray(params[k]) for k in ("W", "U", "b")]
    others = [np.asarray(s) for s in state] + ([] if rdrop is None else [np.asarray(rdrop)])
    if dtype not in (np.float32, np.float64) or any(a.dtype != dtype for a in arrays + others):
        return None  # another dtype, or mixed precision (NumPy's promotion rules): the reference
    T, B, _ = x.shape
    m8 = empty(2, np.bool_) if mask is None else np.ascontiguousarray(mask, dtype=np.bool_).reshape(T, B)
    rd = empty(2, dtype) if rdrop is None else np.ascontiguousarray(rdrop)
    return (x, *arrays, m8, rd, codes)


def infer_plan(x, params, state, mask, names):
    """supported() for the loops of infer(), batch first; None where the reference must run.

    Returns (x, W, U, b, mask (B, T) as bool or empty, codes, row blocks).
    """
    plan = supported(x, params, state, None, None, names)
    if plan is None:
        return None
    x, W, U, b, _, _, codes = plan
    B, T, D = x.shape
    m8 = empty(2, np.bool_) if mask is None else np.ascontiguousarray(mask, dtype=np.bool_).reshape(B, T)
    return x, W, U, b, m8, codes, blocks_for(B, T, D, U.shape[0], U.shape[1] // U.shape[0])


def blocks_for(B, T, D, H, gates):
    """Row blocks of the batch, one per thread, when the sequence is worth splitting."""
    work = T * B * (D + H) * gates * H
    parts = threads.num_threads() if work >= MIN_SPLIT_WORK else 1
    return threads.split(B, parts)


def calls_blas(D, rows):
    """Whether the loops will call OpenBLAS: more than SMALL_ROWS input features or rows in a block."""
    return D > SMALL_ROWS or max(r1 - r0 for r0, r1 in rows) > SMALL_ROWS


def transposed_if_small(U, rows):
    """Uᵀ in C order when some block has at most SMALL_ROWS rows (their loops read it), else empty."""
    if min(r1 - r0 for r0, r1 in rows) <= SMALL_ROWS:
        return np.ascontiguousarray(U.T)
    return empty(2, U.dtype)
