"""Gradient clipping, in place on a dict of gradients; both equal torch.nn.utils' versions."""

import numpy as np

from ..checks import is_number


def global_norm(grads):
    """‖g‖ over every array together: √(Σ_k ‖g_k‖²)."""
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())))


def clip_by_global_norm(grads, max_norm):
    """Rescale all gradients together when ‖g‖ > c (Pascanu et al. 2013): g ← g · c / ‖g‖.

    As torch.nn.utils.clip_grad_norm_, the factor is min(1, c / (‖g‖ + 1e-6)),
    the 1e-6 guarding against a zero norm. Returns ‖g‖ before clipping.
    """
    norm = global_norm(grads)
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


def clip_by_value(grads, clip_value):
    """Clamp every component to [−c, c], as torch.nn.utils.clip_grad_value_."""
    for g in grads.values():
        np.clip(g, -clip_value, clip_value, out=g)


def check_clip(name, value):
    """None or a positive finite number."""
    if value is None:
        return None
    if not is_number(value) or not 0 < value < float("inf"):
        raise ValueError(f"{name} expected a positive number or None, got {value!r}")
    return float(value)
