"""Central finite differences in float64 against analytic gradients.

The scalar loss is L = Σ out ⊙ R over every output array (sequence, states,
both directions), with R random and fixed, so ∂L/∂out = R is what backward gets.
"""

import numpy as np

# step of the fourth-order central difference: its round-off is ~1e-16·|L|/EPS and its
# truncation ~EPS⁴·f⁽⁵⁾, both far below 1e-10 (the two-point rule's EPS²·f‴ is not)
EPS = 1e-4
FLOOR = 1e-4  # below this magnitude the error is measured absolutely (see rel_error)


def flatten(out):
    """Arrays of a (nested) layer output, in order."""
    if isinstance(out, (list, tuple)):
        return [a for item in out for a in flatten(item)]
    return [out]


def like(out, arrays):
    """`arrays` (flat) rebuilt in the nested structure of `out`."""
    arrays = iter(arrays)

    def build(item):
        if isinstance(item, (list, tuple)):
            return type(item)(build(x) for x in item)
        return next(arrays)

    return build(out)


def random_weights(out, rng):
    """R with the structure and shapes of `out`."""
    return like(out, [rng.standard_normal(a.shape) for a in flatten(out)])


def loss(out, R):
    return float(sum(np.sum(a * r) for a, r in zip(flatten(out), flatten(R))))


def numeric_grad(f, arr):
    """∂f/∂arr by central differences, perturbing `arr` in place element by element.

    f'(x) ≈ (8 (f(x+ε) − f(x−ε)) − (f(x+2ε) − f(x−2ε))) / 12ε
    """
    g = np.zeros(arr.shape)
    for k in np.ndindex(arr.shape):
        old = arr[k]
        values = []
        for step in (EPS, -EPS, 2 * EPS, -2 * EPS):
            arr[k] = old + step
            values.append(f())
        arr[k] = old
        up1, down1, up2, down2 = values
        g[k] = (8 * (up1 - down1) - (up2 - down2)) / (12 * EPS)
    return g


def rel_error(analytic, numeric):
    """max over elements of |a − n| / max(|a|, |n|, FLOOR).

    Central differences carry a round-off of ~1e-16·|L|/EPS ≈ 1e-12 whatever the
    gradient, so an element smaller than FLOOR (an exact zero of a masked step,
    say) is held to an absolute error of FLOOR·tol instead of a relative error
    that would only measure that round-off.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    assert a.shape == n.shape, (a.shape, n.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), FLOOR)))


def check(f, pairs, tol=1e-6):
    """For each (name, array, analytic grad): compare with ∂f/∂array; return the errors."""
    errors = {name: rel_error(grad, numeric_grad(f, arr)) for name, arr, grad in pairs}
    worst = max(errors.values())
    assert worst <= tol, {k: v for k, v in errors.items() if v > tol}
    return errors


def relu_margin(cache, b):
    """Smallest |z_t| over the real steps of a reference SimpleRNN cache, z_t = x_t W + h_{t-1} U + b.

    relu has a kink at 0; a finite difference that steps across it measures
    neither side's slope, so checks draw data again when the margin is below
    MARGIN (a step of 2·EPS moves z by far less).
    """
    hp = cache["h"][:-1] if cache["rdrop"] is None else cache["h"][:-1] * cache["rdrop"]
    z = cache["x"] @ cache["W"] + hp @ cache["U"] + b
    if cache["mask"] is not None:
        z = z[cache["mask"]]
    return float(np.min(np.abs(z))) if z.size else np.inf


MARGIN = 50 * EPS


def softsign_margin(outputs):
    """Smallest |z| behind softsign outputs s = z / (1 + |z|) (so |z| = |s| / (1 − |s|)).

    softsign's second derivative jumps at 0 (−2·sign(z) / (1 + |z|)³): a fourth-order central
    difference whose stencil straddles 0 is off by far more than the check's bound, so checks
    draw data again when a softsign input lies within MARGIN of 0, as for relu's kink.
    """
    s = np.abs(np.asarray(outputs))
    return float(np.min(s / (1.0 - s))) if s.size else np.inf


def leaves(model):
    """The SimpleRNN/LSTM layers inside a layer, Bidirectional or Stack."""
    if hasattr(model, "named_layers"):
        return [leaf for _, layer in model.named_layers() for leaf in leaves(layer)]
    return [model]


def relu_ok(model):
    """True when no relu layer of `model` has a pre-activation within MARGIN of its kink."""
    return all(
        relu_margin(leaf.kernel_cache, leaf.params["b"]) > MARGIN for leaf in leaves(model) if leaf.activation == "relu"
    )
