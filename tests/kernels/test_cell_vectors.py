"""The LSTM's inference cell on explicit vectors (kernels/fast/cell_vectors.py) against its loop.

The vectors run the loop's operations in its order, so a row comes out the same to the bit, for
any H from one group of sixteen units on (where the last group overlaps the one before), on
values past the tanh's clamp, on NaN and on a large C_{t-1}, and without a write outside the
row's H units. Whole inference calls against the reference: test_fast.py.
"""

import numpy as np
import pytest

from rnnlab import kernels

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")

GUARD = 8  # values on each side of a row's C_t and h_t that no cell may write

if kernels.fast_available():
    from numba import njit

    from rnnlab.kernels.fast import cell_vectors, lstm, packed
    from rnnlab.kernels.fast.ops import JIT

    @njit(**{**JIT, "cache": False})
    def _rows(z, b, c, out, vectors):
        """Every row of z (n, 4H) through the vector cell (vectors) or the loop: C_t and h_t into
        out (n, 2H + 4·GUARD), each between guards."""
        H = c.shape[1]
        for r in range(z.shape[0]):
            cn = out[r, GUARD : GUARD + H]
            hn = out[r, 3 * GUARD + H : 3 * GUARD + 2 * H]
            if vectors:
                cell_vectors.infer_groups(z[r], b, c[r], cn, hn)
            else:
                lstm._cell_infer(z[r], b, c[r], cn, hn)


@pytest.mark.parametrize("H", [16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 130, 256])
def test_vectors_give_the_loops_bits(H):
    if not packed.HAS_FMA:
        pytest.skip("an x86 CPU without FMA keeps the loop (lstm._cell_infer_row), whose sums round twice")
    rng = np.random.default_rng(H)
    n = 5
    z = (rng.standard_normal((n, 4 * H)) * 6).astype(np.float32)  # some gates past the clamp at ±9
    z[0, :: max(1, H // 3)] = np.float32(40.0)
    z[1, 1] = np.nan
    b = (rng.standard_normal(4 * H) * 0.5).astype(np.float32)
    c = (rng.standard_normal((n, H)) * 3).astype(np.float32)
    c[2, -1] = np.float32(1e30)  # a large C_{t-1}: f_t divides on its own, C_t stays finite
    outs = []
    for vectors in (True, False):
        out = np.full((n, 2 * H + 4 * GUARD), -7.0, np.float32)
        _rows(z, b, c, out, vectors)
        outs.append(out)
    vec, loop = outs
    assert np.array_equal(vec, loop, equal_nan=True)  # the same bits, NaN where the loop has NaN
    guards = np.concatenate([vec[:, :GUARD], vec[:, GUARD + H : 3 * GUARD + H], vec[:, 3 * GUARD + 2 * H :]], 1)
    assert np.all(guards == -7.0)
    assert np.isnan(vec[1, GUARD + 1]) and np.isnan(vec[1, 3 * GUARD + H + 1])  # a NaN gate reaches C_t and h_t
    assert np.isfinite(vec[2, GUARD : GUARD + H]).all() and vec[2, GUARD + H - 1] != 0.0


def test_float64_and_cpus_without_fma_keep_the_loop(monkeypatch):
    """lstm._cell_infer_row picks, when it compiles, the vectors for float32 on a CPU with FMA and the
    loop otherwise (an x86 CPU without FMA would make each multiply-add a library call)."""
    from numba import types

    f32, f64 = [types.float32[::1]] * 5, [types.float64[::1]] * 5
    monkeypatch.setattr(lstm, "HAS_FMA", True)
    vectors, loop = lstm._cell_infer_row_impl(*f32), lstm._cell_infer_row_impl(*f64)
    monkeypatch.setattr(lstm, "HAS_FMA", False)
    without_fma = lstm._cell_infer_row_impl(*f32)
    assert without_fma.__code__ is loop.__code__
    assert vectors.__code__ is not loop.__code__
    assert "infer_groups" in vectors.__code__.co_names and "infer_groups" not in loop.__code__.co_names
