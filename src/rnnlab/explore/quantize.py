"""8-bit quantisation of recorded states, one range per unit.

A page holds every recorded quantity (gates, C̃, C, h) of every unit at every
step; as float32 a 20,000-character, 256-unit LSTM would need 123 MB. Each
unit's series is mapped linearly onto 0..255 over its own range [lo, hi], so a
unit that only moves within [0.9, 1.0] keeps its detail:

    q = round((v - lo) / step),  step = (hi - lo) / 255,   v' = lo + q · step

and |v - v'| ≤ step / 2 for every value. The page decodes with exactly this
formula in double precision, so Python (dequantize) and the page see the very
same numbers.
"""

import numpy as np

LEVELS = 255


def quantize(values):
    """Quantise each unit's series to uint8 over its own range.

    values: (T, H) floats, step t of unit u at [t, u].
    Returns q (H, T) uint8 — unit-major, so one unit's series is contiguous
    (that is how the page reads it: one unit across the whole text) —, lo (H,)
    and step (H,) float64. A unit constant over the text gets step 0 and q 0.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError(f"quantize expected values of shape (steps, units) with steps >= 1, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("quantize expected finite values, got NaN or Inf")
    lo = v.min(axis=0)
    step = (v.max(axis=0) - lo) / LEVELS
    safe = np.where(step > 0, step, 1.0)
    q = np.clip(np.rint((v - lo) / safe), 0, LEVELS).astype(np.uint8)
    return np.ascontiguousarray(q.T), lo, step


def dequantize(q, lo, step):
    """(H, T) uint8 codes -> (H, T) float64 values, as the page computes them: lo + q · step."""
    q = np.asarray(q)
    return (
        np.asarray(lo, dtype=np.float64)[:, None] + q.astype(np.float64) * np.asarray(step, dtype=np.float64)[:, None]
    )


def error(values, q, lo, step):
    """Largest |v - v'| over all units and steps: the error the page states (≤ max(step) / 2)."""
    return float(np.max(np.abs(np.asarray(values, dtype=np.float64).T - dequantize(q, lo, step))))
