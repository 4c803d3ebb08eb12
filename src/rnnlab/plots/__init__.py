"""matplotlib figures from recorded numbers. Every function returns a Figure.

Figures are built without pyplot (no window, no global figure list) and drawn
by the Agg canvas; `save(fig, path)` writes PNG, SVG or PDF atomically.
Chinese text gets a CJK-capable font when one is installed (see `fonts`).
Needs matplotlib: pip install rnnlab[plot].
"""

from . import fonts
from .curves import activations, compare_grid, gradient_flow, learning_curves
from .figure import save
from .gates import cell_state, gates

__all__ = ["activations", "gates", "cell_state", "gradient_flow", "learning_curves", "compare_grid", "save", "fonts"]
