"""Inference entry of a kernel: batch-first in and out, no cache kept.

    infer(x (B, T, D), params, state, mask (B, T) or None, go_backwards, sequences, **options)
        -> (y (B, T, H) or None, final states)

y and the final states are those of forward() on the time-major input (reversed
in time under go_backwards: y is in processing order, as forward gives it);
sequences=False returns y as None. The initial states are read, never written
(as by forward: layers pass their zero states read only and keep them). The
reference kernels define infer through forward (below); the fast ones run loops
of their own, batch first.
"""

import numpy as np


def via_forward(forward, x, params, state, mask, go_backwards, sequences, **options):
    """infer() from a kernel's forward: transpose, run, transpose back."""
    xt = x.transpose(1, 0, 2)
    mt = None if mask is None else mask.T
    if go_backwards:
        xt, mt = xt[::-1], (None if mt is None else mt[::-1])
    y, state_T, _ = forward(np.ascontiguousarray(xt), params, state, mask=mt, **options)
    return (np.ascontiguousarray(y.transpose(1, 0, 2)) if sequences else None), state_T
