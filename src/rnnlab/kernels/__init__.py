"""Pure forward/backward functions for each recurrent cell, and the switch that picks their implementation.

A learner reads: `simple_rnn.py`, `lstm.py`, `gru.py` (one readable NumPy module per cell,
the spec), `lstm_variants.py` (the LSTM with peepholes and/or a projection), `activations.py`,
`inference.py` (the batch-first inference entry),
`segmented.py` (truncated BPTT and recomputation for long sequences).
`switch.py` is the backend switch: `get(cell)` returns the module of the active backend;
the compiled fast path lives behind it in `fast/`.
"""

from .switch import (
    aligned_empty,
    all_finite,
    available,
    backend,
    blas,
    fast_available,
    get,
    num_threads,
    register,
    register_cell,
    release_buffers,
    resolve,
    set_backend,
    use,
)

__all__ = [
    "get",
    "set_backend",
    "use",
    "backend",
    "resolve",
    "available",
    "fast_available",
    "register",
    "register_cell",
    "release_buffers",
    "all_finite",
    "aligned_empty",
    "blas",
    "num_threads",
]
