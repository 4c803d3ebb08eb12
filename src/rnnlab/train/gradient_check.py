"""A user's loss checked once, on the first batch, against finite differences (rnnlab has no autograd).

A loss gives its value per position ℓ (B[, T]) and its gradient ∂ℓ/∂ŷ (B[, T], K)
by hand; a wrong gradient would train silently in a wrong direction. Before the
first update, fit and train_on_batch compare the gradient with central
differences in float64 on up to `COLUMNS` output units of every position of the
batch, and raise a ValueError naming the loss when they disagree.
"""

import numpy as np

COLUMNS = 16  # output units checked (all when K is smaller), chosen by a fixed generator
STEP = 1e-6  # central differences in float64: error O(h²) plus rounding O(ε/h) ≈ 1e-10
TOLERANCE = 1e-4  # |g − fd| ≤ TOLERANCE · (1 + |fd|): a wrong factor or sign is far beyond it


def needs_check(loss):
    """True for a loss whose gradient was written outside rnnlab and not switched off by check_gradient=False."""
    return bool(getattr(loss, "check_gradient", False)) and not getattr(loss, "trusted", False)


def _per_position(loss, y_pred, y_true):
    name = getattr(loss, "name", None) or type(loss).__name__
    try:
        ell, dell = loss.per_position(y_pred, y_true)
    except Exception as err:  # the user's code: say whose it is
        raise ValueError(f"loss {name!r} failed on the first batch: {type(err).__name__}: {err}") from err
    ell, dell = np.asarray(ell), np.asarray(dell)
    if ell.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"loss {name!r} expected per-position values of shape {y_pred.shape[:-1]} for outputs "
            f"{y_pred.shape} (one value per sample, or per step), got {ell.shape}"
        )
    if dell.shape != y_pred.shape:
        raise ValueError(f"loss {name!r} expected a gradient shaped like the outputs {y_pred.shape}, got {dell.shape}")
    return ell, dell


def check_loss_gradient(loss, y_pred, y_true, weight=None):
    """Raise ValueError when the loss's gradient disagrees with finite differences (no-op for rnnlab's losses).

    y_pred (B[, T], K), y_true as the loss takes it, weight (B[, T]) or None: positions of
    weight 0 (masked steps) are not checked.
    """
    if not needs_check(loss):
        return
    name = getattr(loss, "name", None) or type(loss).__name__
    z = np.array(y_pred, dtype=np.float64)
    t = np.array(y_true, dtype=np.float64) if not getattr(loss, "integer_targets", False) else np.asarray(y_true)
    _, grad = _per_position(loss, z, t)
    _per_position(loss, z.astype(y_pred.dtype), np.asarray(y_true))  # the shapes in the training dtype too
    K = z.shape[-1]
    columns = np.arange(K) if K <= COLUMNS else np.sort(np.random.default_rng(0).choice(K, COLUMNS, replace=False))
    live = np.ones(z.shape[:-1], dtype=bool) if weight is None else np.asarray(weight) != 0
    worst = (0.0, None, 0.0, 0.0)
    for k in columns:  # ℓ_n depends on ŷ_n only: one column of every position per pair of calls
        up, down = z.copy(), z.copy()
        up[..., k] += STEP
        down[..., k] -= STEP
        fd = (_per_position(loss, up, t)[0] - _per_position(loss, down, t)[0]) / (2 * STEP)
        g = grad[..., k]
        bad = np.where(live, np.abs(g - fd) / (1.0 + np.abs(fd)), 0.0)
        if not np.all(np.isfinite(np.where(live, g, 0.0))):
            raise ValueError(f"loss {name!r} gave a NaN or Inf gradient on the first batch")
        at = np.unravel_index(int(np.argmax(bad)), bad.shape)
        if bad[at] > worst[0]:
            worst = (float(bad[at]), tuple(int(i) for i in at) + (int(k),), float(g[at]), float(fd[at]))
    if worst[0] > TOLERANCE:
        _, where, g, fd = worst
        raise ValueError(
            f"loss {name!r}: its gradient disagrees with finite differences on the first batch: at output "
            f"{list(where)} it gives {g:.6g}, finite differences give {fd:.6g}. rnnlab has no autograd, so "
            "the gradient is the one the loss computes: check ∂ℓ/∂y_pred (per position, before the mean), "
            "or set check_gradient=False on the loss to skip this check"
        )
