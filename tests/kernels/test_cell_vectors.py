"""The inference cells of the LSTM and the GRU on explicit vectors (kernels/fast/cell_vectors.py)
against their loops.

The vectors run the loops' operations in their order, so a row comes out the same to the bit, for
any H from one group of sixteen units on (where the last group overlaps the one before), on
values past the tanh's clamp, on NaN and on a large state, and without a write outside the
row's H units. Whole inference calls against the reference: test_fast.py.
"""

import numpy as np
import pytest

from rnnlab import kernels

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")

GUARD = 8  # values on each side of a row's C_t and h_t that no cell may write

if kernels.fast_available():
    from numba import njit

    from rnnlab.kernels.fast import cell_vectors, gru, lstm, packed
    from rnnlab.kernels.fast.ops import JIT

    LOOP, GROUPS, ROW = (
        0,
        1,
        2,
    )  # the LSTM cell called: its loop, the groups, or the row function the layers' loop calls

    @njit(**{**JIT, "cache": False})
    def _rows(z, b, c, out, path):
        """Every row of z (n, 4H) through the LSTM cell `path`: C_t and h_t into out (n, 2H + 4·GUARD),
        each between guards."""
        H = c.shape[1]
        for r in range(z.shape[0]):
            cn = out[r, GUARD : GUARD + H]
            hn = out[r, 3 * GUARD + H : 3 * GUARD + 2 * H]
            if path == GROUPS:
                cell_vectors.lstm_infer_groups(z[r], b, c[r], cn, hn)
            elif path == ROW:
                lstm._cell_infer_row(z[r], b, c[r], cn, hn)
            else:
                lstm._cell_infer(z[r], b, c[r], cn, hn)

    @njit(**{**JIT, "cache": False})
    def _gru_rows(g, bx, hu, h, out, vectors):
        """Every row through the GRU's vector cell (vectors) or its loop: h_t into out (n, H + 2·GUARD)."""
        H = h.shape[1]
        for r in range(g.shape[0]):
            hn = out[r, GUARD : GUARD + H]
            if vectors:
                cell_vectors.gru_infer_groups(g[r], bx, hu[r], h[r], hn)
            else:
                gru._cell_after_infer(g[r], bx, hu[r], h[r], hn)


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
    for path in (GROUPS, LOOP):
        out = np.full((n, 2 * H + 4 * GUARD), -7.0, np.float32)
        _rows(z, b, c, out, path)
        outs.append(out)
    vec, loop = outs
    assert np.array_equal(vec, loop, equal_nan=True)  # the same bits, NaN where the loop has NaN
    guards = np.concatenate([vec[:, :GUARD], vec[:, GUARD + H : 3 * GUARD + H], vec[:, 3 * GUARD + 2 * H :]], 1)
    assert np.all(guards == -7.0)
    assert np.isnan(vec[1, GUARD + 1]) and np.isnan(vec[1, 3 * GUARD + H + 1])  # a NaN gate reaches C_t and h_t
    assert np.isfinite(vec[2, GUARD : GUARD + H]).all() and vec[2, GUARD + H - 1] != 0.0


@pytest.mark.parametrize("H", [16, 17, 31, 32, 33, 48, 64, 65, 100, 256])
def test_gru_vectors_give_the_loops_bits(H):
    if not packed.HAS_FMA:
        pytest.skip("an x86 CPU without FMA keeps the loop (gru._cell_after_infer_row)")
    rng = np.random.default_rng(100 + H)
    n = 5
    g = (rng.standard_normal((n, 3 * H)) * 6).astype(np.float32)  # x_t W, some gates past the clamp
    g[0, :: max(1, H // 3)] = np.float32(40.0)
    g[1, 2] = np.nan
    hu = (rng.standard_normal((n, 3 * H)) * 3).astype(np.float32)  # h_{t-1} U + b'
    bx = (rng.standard_normal(3 * H) * 0.5).astype(np.float32)
    h = rng.uniform(-1, 1, (n, H)).astype(np.float32)
    h[2, -1] = np.float32(1e30)  # a large initial state: z_t divides on its own
    outs = []
    for vectors in (True, False):
        out = np.full((n, H + 2 * GUARD), -7.0, np.float32)
        _gru_rows(g, bx, hu, h, out, vectors)
        outs.append(out)
    vec, loop = outs
    assert np.array_equal(vec, loop, equal_nan=True)
    assert np.all(vec[:, :GUARD] == -7.0) and np.all(vec[:, GUARD + H :] == -7.0)
    assert np.isnan(vec[1, GUARD + 2])  # a NaN gate reaches h_t
    assert np.isfinite(vec[0]).all()


def test_float64_short_rows_and_cpus_without_fma_keep_the_loop(monkeypatch):
    """vectors_or_loop, which lstm._cell_infer_row and gru._cell_after_infer_row are made with, picks when
    it compiles: the groups for float32 on a CPU with FMA (rows of LANES units or more), the loop for
    float64 and on an x86 CPU without FMA (where each multiply-add would be a library call)."""
    from numba import types

    def closed_over(f):
        return {cell.cell_contents for cell in f.__closure__ or ()}

    f32, f64 = [types.float32[::1]] * 5, [types.float64[::1]] * 5
    for groups, loop in (
        (cell_vectors.lstm_infer_groups, lstm._cell_infer),
        (cell_vectors.gru_infer_groups, gru._cell_after_infer),
    ):
        choose = cell_vectors.vectors_or_loop(groups, loop)
        monkeypatch.setattr(packed, "HAS_FMA", True)
        assert closed_over(choose(*f32)) == {groups, loop}  # groups, and the loop for rows under LANES units
        assert closed_over(choose(*f64)) == {loop}
        monkeypatch.setattr(packed, "HAS_FMA", False)
        assert closed_over(choose(*f32)) == {loop}

    rng = np.random.default_rng(1)  # a row under LANES units, through the row function a layer's loop calls
    H = cell_vectors.LANES - 1
    z, b = rng.standard_normal((1, 4 * H)).astype(np.float32), rng.standard_normal(4 * H).astype(np.float32)
    c = rng.standard_normal((1, H)).astype(np.float32)
    outs = []
    for path in (ROW, LOOP):
        out = np.full((1, 2 * H + 4 * GUARD), -7.0, np.float32)
        _rows(z, b, c, out, path)
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
