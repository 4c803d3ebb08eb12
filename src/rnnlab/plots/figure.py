"""A Figure without pyplot (no global state, no window), and an atomic save."""

import os

from ..io.atomic import atomic_open
from . import fonts

FORMATS = (".png", ".svg", ".pdf")


def new_figure(nrows=1, ncols=1, figsize=(8, 4.5), **subplot_kw):
    """(Figure, axes) drawn by the Agg canvas; never shown in a window."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("rnnlab.plots needs matplotlib: pip install rnnlab[plot]") from err
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def finish(fig):
    """Give every text a CJK-capable font (see fonts.apply) and return the figure."""
    return fonts.apply(fig)


def save(fig, path, dpi=120):
    """Write fig to path (.png, .svg or .pdf) atomically: a temporary file, then rename."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"path expected a file name ending in one of {FORMATS}, got {path!r}")
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=ext[1:], dpi=dpi)
    return path
