"""The unit finder: which units are on inside a selected span and off outside it, and where else they fire.

After LSTMVis (Strobelt et al., IEEE TVCG 2018), with an explicit score. For
unit u with values x_u,t (dequantised, as the page shows them) and a selection
S of positions,

    score_u = (mean_{t∈S} x_u,t − mean_{t∉S} x_u,t) / std_t x_u,t

the difference of means in units of the unit's own spread over the whole
text (population std; 0 for a constant unit). Units are ranked by score, highest
first, ties by unit index. A picked unit is *on* at t when x_u,t lies beyond the
midpoint of its two means, on the side of the inside mean; the corpus *fires*
where every picked unit is on, and each maximal run of firing positions within
one segment (a sample, for task data) is a span.

The sums run in index order, one addition at a time (np.cumsum), because the
page adds them in the same order: both then give bit-identical scores.
"""

import numpy as np


def _ordered_sum(a):
    """Σ over the last axis added left to right, the order the page's loop uses (np.sum pairs terms)."""
    return np.cumsum(a, axis=-1)[..., -1]


def _inside_mask(n, spans):
    inside = np.zeros(n, dtype=bool)
    for a, b in spans:
        if not 0 <= a < b <= n:
            raise ValueError(f"span expected 0 <= start < end <= {n}, got ({a}, {b})")
        inside[a:b] = True
    if inside.all():
        raise ValueError("selection expected to leave some positions outside it, got all of them")
    return inside


def stats(x, spans):
    """Per-unit (mean inside, mean outside, std) of x (H, T) for a selection given as [(start, end)]."""
    x = np.asarray(x, dtype=np.float64)
    inside = _inside_mask(x.shape[1], spans)
    n_in = inside.sum()
    mean_in = _ordered_sum(np.where(inside, x, 0.0)) / n_in
    mean_out = _ordered_sum(np.where(inside, 0.0, x)) / (x.shape[1] - n_in)
    mean = _ordered_sum(x) / x.shape[1]
    d = x - mean[:, None]
    std = np.sqrt(_ordered_sum(d * d) / x.shape[1])
    return mean_in, mean_out, std


def scores(x, spans):
    """score_u (H,) for the selection: (mean inside − mean outside) / std, 0 for a constant unit."""
    mean_in, mean_out, std = stats(x, spans)
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, (mean_in - mean_out) / safe, 0.0)


def rank(x, spans, top=None):
    """Unit indices, best score first (ties: lower index first), and their scores."""
    s = scores(x, spans)
    order = np.lexsort((np.arange(s.size), -s))
    if top is not None:
        order = order[:top]
    return order, s[order]


def firing(x, units, spans):
    """(T,) bool: positions where every unit in `units` is on, judged against the selection `spans`."""
    x = np.asarray(x, dtype=np.float64)
    units = list(units)
    if not units:
        raise ValueError("firing expected at least one unit")
    mean_in, mean_out, _ = stats(x, spans)
    on = np.ones(x.shape[1], dtype=bool)
    for u in units:
        mid = (mean_in[u] + mean_out[u]) / 2
        on &= x[u] > mid if mean_in[u] >= mean_out[u] else x[u] < mid
    return on


def firing_spans(x, units, spans, segments=None):
    """Maximal runs [(start, end)] (end exclusive) of firing positions, never crossing a segment boundary.

    segments: [(start, end)] covering the positions (task samples); None for one text.
    """
    on = firing(x, units, spans)
    T = on.size
    cuts = np.zeros(T + 1, dtype=bool)
    for a, _ in segments or [(0, T)]:
        cuts[a] = True
    out, start = [], None
    for t in range(T + 1):
        if start is not None and (t == T or not on[t] or cuts[t]):
            out.append((start, t))
            start = None
        if t < T and on[t] and start is None:
            start = t
    return out
