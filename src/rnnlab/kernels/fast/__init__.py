"""The compiled fast path: the same forward/backward/infer as the reference kernels, laid out for speed.

Nothing here is imported by layers: the backend switch (kernels/switch.py) loads
a cell's fast module through LOADERS on first use, and falls back to the
reference kernels when numba or NumPy's OpenBLAS is missing. Rooms:

    lstm.py, gru.py,
    simple_rnn.py            one compiled module per cell, held equal to kernels/<cell>.py by the tests
    ops.py                   compiled building blocks: the BLAS product, activations, the finiteness check
    products.py              matrix products on blocks of batch rows
    packed.py                the recurrent product on weights packed once per call, register-tiled
    kept.py                  inference's packs, kept from call to call while the weights hold their bits
    cell_vectors.py          the inference cells of the LSTM and the GRU in float32 on explicit vectors
    plan.py                  what the compiled loops accept, and how the batch is split across cores
    pool.py                  the kernel threads
    spin.py                  how the kernel threads meet: flags watched from compiled code
    fpenv.py                 subnormals flushed to zero on each kernel thread while it runs
    blas.py                  NumPy's bundled OpenBLAS, bound without SciPy, and its thread control
    buffers.py               work buffers reused from call to call
    numba_cache.py           numba's on-disk cache, stamped with all of this package's sources

Speed notes and measurements: docs/PERFORMANCE.md.
"""


def load_simple_rnn():
    from . import simple_rnn

    return simple_rnn


def load_lstm():
    from . import lstm

    return lstm


def load_gru():
    from . import gru

    return gru


def load_ops():
    from . import ops

    return ops


def load_buffers():
    from . import buffers

    return buffers


def load_blas():
    """The Blas of NumPy's OpenBLAS, or None (importing blas.py needs no numba)."""
    from .blas import blas

    return blas()


def num_threads():
    from .pool import num_threads

    return num_threads()


# cell name -> a function importing its compiled module (importing numba: seconds when not cached)
LOADERS = {"simple_rnn": load_simple_rnn, "lstm": load_lstm, "gru": load_gru}
