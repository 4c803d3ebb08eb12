"""Pure forward/backward functions for each recurrent cell.

`reference` is the readable NumPy spec. Other backends register themselves
with the same signatures; `get(cell)` returns the module of the active one.
The active backend comes from `set_backend()` or the RNNLAB_KERNEL
environment variable.
"""
import os

from . import lstm, simple_rnn

_BACKENDS = {"reference": {"simple_rnn": simple_rnn, "lstm": lstm}}
_active = None


def register(name, cells):
    """Add a backend: cells maps "simple_rnn"/"lstm" to modules with forward/backward."""
    _BACKENDS[name] = dict(cells)


def available():
    return sorted(_BACKENDS)


def set_backend(name):
    """Select the kernel backend used by every layer from now on."""
    global _active
    if name not in _BACKENDS:
        raise ValueError(f"backend expected one of {available()}, got {name!r}")
    _active = name


def backend():
    """Name of the active backend."""
    if _active is not None:
        return _active
    name = os.environ.get("RNNLAB_KERNEL", "reference")
    if name not in _BACKENDS:
        raise ValueError(f"RNNLAB_KERNEL expected one of {available()}, got {name!r}")
    return name


def get(cell):
    """Module with forward/backward for `cell` in the active backend."""
    return _BACKENDS[backend()][cell]
