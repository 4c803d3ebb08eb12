"""Fit the rational tanh of the fast float32 kernels and measure its error.

tanh(x) ≈ x P(x²) / Q(x²) on 0 ≤ x ≤ 9 (beyond 9, float32 tanh is ±1), P of degree
5 and Q of degree 3 in x², Q(0) = 1. The fit minimises the relative error: a
linearised least-squares problem in a Chebyshev basis, re-weighted by the current
denominator (Sanathanan–Koerner) and then by the current error (Lawson) to
approach the minimax fit. Prints the coefficients used in
src/rnnlab/kernels/fast/ops.py and the error of the float32 evaluation, in units
in the last place (ulp), against float64 tanh, next to NumPy's own float32 tanh.

    python benchmarks/fit_tanh.py
"""

import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.polynomial import polynomial as P

DEG_P, DEG_Q, CLAMP = 5, 3, 9.0


def fit(deg_p=DEG_P, deg_q=DEG_Q, clamp=CLAMP, iterations=60):
    """Coefficients (p, q) of P and Q in powers of s = x², with q[0] = 1."""
    x = np.linspace(1e-4, clamp, 20000)
    f = np.tanh(x) / x  # even in x: a function of s = x²
    v = 2 * (x / clamp) ** 2 - 1  # s mapped onto [-1, 1] for the Chebyshev basis
    Q = np.ones_like(x)
    weight = np.ones_like(x)
    for it in range(iterations):
        Vp = C.chebvander(v, deg_p)
        Vq = C.chebvander(v, deg_q)[:, 1:]
        A = np.hstack([Vp, -f[:, None] * Vq]) / (f * Q)[:, None]  # relative residual, linearised
        sol = np.linalg.lstsq(A * np.sqrt(weight)[:, None], np.sqrt(weight) / Q, rcond=None)[0]
        pc, qc = sol[: deg_p + 1], np.concatenate([[1.0], sol[deg_p + 1 :]])
        Q = C.chebval(v, qc)
        err = C.chebval(v, pc) / Q / f - 1
        if it > 10:  # Lawson: weight the worst points up
            weight = weight * np.abs(err)
            weight /= weight.sum()
    to_s = [P.polypow([-1, 2 / clamp**2], k) for k in range(max(deg_p, deg_q) + 1)]  # v as a polynomial in s

    def in_s(cheb):
        out = np.zeros(len(cheb))
        for k, a in enumerate(C.cheb2poly(cheb)):
            out[: k + 1] += a * to_s[k]
        return out

    p, q = in_s(pc), in_s(qc)
    return p / q[0], q / q[0]


def tanh32(x, p, q, clamp=CLAMP):
    """The float32 evaluation of the fast kernels (Horner, clamped), in NumPy."""
    x = np.clip(x.astype(np.float32), np.float32(-clamp), np.float32(clamp))
    s = x * x
    num = np.float32(p[-1])
    for c in p[-2::-1]:
        num = num * s + np.float32(c)
    den = np.float32(q[-1])
    for c in q[-2::-1]:
        den = den * s + np.float32(c)
    return np.clip(x * num / den, np.float32(-1), np.float32(1))


def ulp_error(y, x):
    exact = np.tanh(x.astype(np.float64))
    return np.abs(y.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)


if __name__ == "__main__":
    p, q = fit()
    print("P:", ", ".join(repr(float(c)) for c in p))
    print("Q:", ", ".join(repr(float(c)) for c in q))
    x = np.concatenate(
        [np.linspace(-12, 12, 2_000_001, dtype=np.float32), np.geomspace(1e-30, 1e-2, 10_000).astype(np.float32)]
    )
    print(
        f"float32 evaluation: max {ulp_error(tanh32(x, p, q), x).max():.2f} ulp; "
        f"NumPy's float32 tanh: max {ulp_error(np.tanh(x), x).max():.2f} ulp ({x.size} points)"
    )
