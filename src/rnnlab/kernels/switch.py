"""The backend switch: which implementation of a cell's kernel runs, and what layers need from it.

Backends: "reference" (the readable NumPy modules of this package), "fast"
(compiled, kernels/fast/, needs numba and NumPy's OpenBLAS), "auto" (fast where
it can run, else reference) and any registered with `register`. The choice comes
from `set_backend()`, else the RNNLAB_KERNEL environment variable (read at first
use, and again after set_backend(None)), else "auto". Asking for "fast" where it
cannot run warns once and runs the reference, as does a cell without a fast module.

This module is the only door to kernels/fast: layers get their kernels through
`get`, aligned weight storage through `aligned_empty` and the input check through
`all_finite`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np

from .. import interrupts
from . import fast, gru, lstm, lstm_variants, simple_rnn
from .memory import aligned_empty  # noqa: F401  (layers reach it through the switch)

# cell -> its reference module; "lstm_variants" (peepholes, projection) has no fast module: the fast
# backend runs its reference (docs/PERFORMANCE.md)
_REFERENCE = {"simple_rnn": simple_rnn, "lstm": lstm, "gru": gru, "lstm_variants": lstm_variants}
_FAST = dict(fast.LOADERS)  # cell -> a function importing its compiled module
_OTHERS = {}  # name -> {cell: module} of registered backends
_active = None  # set_backend's choice
_from_env = None  # RNNLAB_KERNEL as read at first use ("auto" when unset)
_fast_error = None  # why the fast backend cannot run, once known
_fast_found = None  # numba installed and NumPy's OpenBLAS found, once looked up
_fast_loaded = {}  # cell -> its imported fast module
_compiled_finite = None  # ops.all_finite, once imported


# ---- cells and backends ---------------------------------------------------------------
def register_cell(cell: str, reference: ModuleType, fast: Callable[[], ModuleType] | None = None) -> None:
    """Make a cell's kernels known: `reference` a module with forward/backward (and infer,
    else it is made from forward), `fast` None or a function returning a module with the
    same functions. Registering the same reference again keeps its fast loader."""
    if not (hasattr(reference, "forward") and hasattr(reference, "backward")):
        raise TypeError(f"register_cell expected a reference module with forward and backward for {cell!r}")
    known = _REFERENCE.get(cell)
    if known is not None and known is not reference:
        raise ValueError(f"register_cell: a different kernel is already registered as {cell!r}")
    _REFERENCE[cell] = reference
    if fast is not None:
        _FAST[cell] = fast


_BUILT_IN = ("reference", "fast", "auto")


def register(name, cells):
    """Add a backend: `cells` maps cell names ("simple_rnn", "lstm", ...) to modules with forward/backward,
    which must not write into their inputs (a layer keeps its zero initial states from call to call)."""
    if name in _BUILT_IN:
        raise ValueError(f"register expected a new backend name, got the built-in {name!r}")
    _OTHERS[name] = dict(cells)


def available():
    """Names accepted by set_backend."""
    return sorted({*_BUILT_IN} | set(_OTHERS))


def _checked(name, what):
    """name, if a backend has it. Every layer call passes here: the sorted list is made only for the error."""
    if name in _BUILT_IN or (isinstance(name, str) and name in _OTHERS):
        return name
    raise ValueError(f"{what} expected one of {available()}, got {name!r}")


# ---- the choice -------------------------------------------------------------------------
def set_backend(name: str | None) -> None:
    """Select the kernel backend used by every layer from now on ("auto", "fast", "reference", ...).

    None: follow RNNLAB_KERNEL again, read anew at the next call.
    """
    global _active, _from_env
    if name is None:
        _active = _from_env = None
        return
    _active = _checked(name, "backend")


@contextlib.contextmanager
def use(name):
    """Run a block with `name` as the backend, then restore the previous choice."""
    global _active
    previous, _active = _active, _checked(name, "backend")
    try:
        yield
    finally:
        _active = previous


def fast_available():
    """True when the fast backend can run here (numba installed, NumPy's OpenBLAS found)."""
    global _fast_found
    if _fast_error is not None:
        return False
    if _fast_found is None:
        _fast_found = importlib.util.find_spec("numba") is not None and fast.load_blas() is not None
    return _fast_found


def _requested():
    """The backend asked for: set_backend's, else RNNLAB_KERNEL (read once), else "auto"."""
    global _from_env
    if _active is not None:
        return _active
    if _from_env is None:
        _from_env = _checked(os.environ.get("RNNLAB_KERNEL", "auto"), "RNNLAB_KERNEL")
    return _from_env


def resolve(name=None):
    """The backend that runs for `name` (None: the one asked for): "auto" made concrete,
    "fast" made "reference" (with a warning) where it cannot run."""
    name = _requested() if name is None else _checked(name, "backend")
    if name == "auto":
        return "fast" if fast_available() else "reference"
    if name == "fast" and not fast_available():
        _warn_fallback()
        return "reference"
    return name


def backend() -> str:
    """Name of the backend the layers use now ("auto" resolved)."""
    return resolve()


def _warn_fallback():
    why = _fast_error or "numba is not installed or NumPy has no bundled OpenBLAS"
    warnings.warn(
        f"fast kernels unavailable ({why}); using the reference kernels. Install them with: pip install rnnlab[fast]",
        RuntimeWarning,
        stacklevel=4,
    )


def get(cell: str, name: str | None = None) -> ModuleType:
    """Module with forward/backward (and infer) for `cell` in backend `name` (None: the active one)."""
    interrupts.check()  # every kernel call passes here: a Ctrl-C dropped in a finalizer is raised now
    if cell not in _REFERENCE:
        raise ValueError(f"kernel expected a registered cell among {sorted(_REFERENCE)}, got {cell!r}")
    name = resolve(name)
    if name == "reference":
        return _REFERENCE[cell]
    if name == "fast":
        return _fast(cell)
    return _OTHERS[name][cell]


def _fast(cell):
    """The cell's compiled module, imported once; the reference where it has none or the import fails."""
    global _fast_error
    module = _fast_loaded.get(cell)
    if module is not None:
        return module
    loader = _FAST.get(cell)
    if loader is None:  # a cell without a fast module runs its reference on the fast backend
        _fast_loaded[cell] = _REFERENCE[cell]
        return _REFERENCE[cell]
    try:
        module = _fast_loaded[cell] = loader()
        return module
    except ImportError as err:
        _fast_error = str(err)
        _warn_fallback()
        return _REFERENCE[cell]


# ---- what layers need besides kernels ------------------------------------------------------
def all_finite(x):
    """Whether every value of the float array x (C order) is finite: compiled on the fast
    backend (a few µs less per call, docs/PERFORMANCE.md), NumPy elsewhere."""
    global _compiled_finite, _fast_error
    if x.dtype.char in "fd" and resolve() == "fast":
        if _compiled_finite is None:
            try:
                _compiled_finite = fast.load_ops().all_finite
            except ImportError as err:
                _fast_error = str(err)
                return bool(np.isfinite(x).all())
        return bool(_compiled_finite(x.reshape(-1)))
    return bool(np.isfinite(x).all())


def release_buffers():
    """Let go of the work buffers the fast kernels keep between calls (kernels/fast/buffers.py), if any."""
    if _fast_loaded:
        fast.load_buffers().clear()


def blas():
    """NumPy's bundled OpenBLAS as the fast kernels bind it (addresses, thread control), or None."""
    return fast.load_blas()


def num_threads():
    """Threads the fast kernels split a large batch into (RNNLAB_NUM_THREADS, else the usable cores)."""
    return fast.num_threads()
