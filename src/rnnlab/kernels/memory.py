"""Arrays whose data start on a cache line, for weights and for the fast kernels' packed copies."""

import math

import numpy as np


def aligned_empty(shape, dtype, boundary=64):
    """An uninitialised C-order array whose data (if any) start at a multiple of `boundary` bytes.

    From a cache line boundary no vector load straddles two lines; what np.empty
    returns often starts 16, 32 or 48 bytes past one (glibc's 16-byte alignment, also for the
    large blocks it maps). The array is a view into a byte buffer `boundary` bytes larger,
    which it keeps alive.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + boundary, np.uint8)
    start = -raw.ctypes.data % boundary
    return raw[start : start + nbytes].view(dtype).reshape(shape)
