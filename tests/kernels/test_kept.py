"""Inference's kept packs (kernels/fast/kept.py): a pack is taken again only while its matrices hold the
same bits, whatever changed them; it goes with them. Through packed.pack and pack_stacked with keep, as
the kernels ask for them (the layers' predictions after a change: test_packed.py)."""

import numpy as np
import pytest

from rnnlab import kernels
from rnnlab.kernels.memory import aligned_empty

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")

if kernels.fast_available():
    from rnnlab.kernels.fast import kept, packed


@pytest.mark.parametrize("large", [False, True], ids=["small", "compared-by-the-threads"])
def test_a_kept_pack_is_taken_only_while_its_matrix_holds_the_same_bits(large, monkeypatch):
    """pack(keep=True) hands back the last pack of the same matrix only if every bit of it is unchanged: a
    value changed anywhere (first, last, in the last cut panel), +0 turned into −0; a NaN equals itself.
    Without keep nothing is kept; a kept pack goes with its matrix; a transposed pack is never kept."""
    if large:  # the compare split across the kernel threads, as for packs of PARALLEL_COMPARE bytes
        monkeypatch.setattr(kept, "PARALLEL_COMPARE", 0)
    rng = np.random.default_rng(11)
    M = rng.normal(size=(37, 70)).astype(np.float32)  # 70 columns: the last panel cut
    M[3, 4], M[5, 6] = np.nan, 0.0
    first = packed.pack(M, False, packed.NARROW, keep=True)
    assert packed.pack(M, False, packed.NARROW, keep=True) is first
    assert packed.pack(M, False, packed.NARROW) is not first  # not asked to keep: a pack of its own
    last = M.shape[0] - 1, M.shape[1] - 1
    for where, value in [((0, 0), 7.0), (last, -3.0), ((10, 69), 1.5), ((5, 6), -0.0)]:
        before = packed.pack(M, False, packed.NARROW, keep=True)
        M[where] = value
        again = packed.pack(M, False, packed.NARROW, keep=True)
        assert again is not before, where
        np.testing.assert_array_equal(again, packed.pack(M, False, packed.NARROW))
        assert packed.pack(M, False, packed.NARROW, keep=True) is again
    with pytest.raises(ValueError, match="as it lies"):
        packed.pack(np.ascontiguousarray(M.T), True, packed.NARROW, keep=True)
    if not large:  # (a worker may hold its block, and M with it, a little longer)
        entries = len(kept._kept)
        del M, first, before, again
        assert len(kept._kept) == entries - 1


def test_a_kept_stacked_pack_follows_both_matrices():
    """[W; U] packed with keep is packed again when W alone or U alone changes."""
    rng = np.random.default_rng(12)
    W, U = (aligned_empty(shape, np.float32) for shape in ((9, 64), (16, 64)))
    W[...], U[...] = rng.normal(size=W.shape), rng.normal(size=U.shape)
    before = packed.pack_stacked(W, U, packed.NARROW, keep=True)
    assert packed.pack_stacked(W, U, packed.NARROW, keep=True) is before
    for M in (W, U):
        M[-1, -1] += 1
        again = packed.pack_stacked(W, U, packed.NARROW, keep=True)
        assert again is not before
        np.testing.assert_array_equal(again, packed.pack_stacked(W, U, packed.NARROW))
        before = again


def test_a_kept_pack_of_columns_follows_only_its_columns():
    """A pack of M's columns c0:c1 kept is taken again while they hold the same bits, whatever changes in
    M's other columns, and packed again when one of its own changes; the pack of the other columns and
    that of all of M are kept apart from it."""
    rng = np.random.default_rng(13)
    M = rng.normal(size=(20, 96)).astype(np.float32)  # a GRU's U at H = 32: U_z, U_r | U_h
    zr = packed.pack(M, False, packed.NARROW, keep=True, columns=(0, 64))
    h = packed.pack(M, False, packed.NARROW, keep=True, columns=(64, 96))
    whole = packed.pack(M, False, packed.NARROW, keep=True)
    assert packed.pack(M, False, packed.NARROW, keep=True, columns=(0, 64)) is zr
    assert packed.pack(M, False, packed.NARROW, keep=True, columns=(64, 96)) is h
    assert packed.pack(M, False, packed.NARROW, keep=True) is whole
    M[-1, -1] += 1  # in U_h's columns only
    assert packed.pack(M, False, packed.NARROW, keep=True, columns=(0, 64)) is zr
    again = packed.pack(M, False, packed.NARROW, keep=True, columns=(64, 96))
    assert again is not h
    np.testing.assert_array_equal(again, packed.pack(np.ascontiguousarray(M[:, 64:]), False, packed.NARROW))
    assert packed.pack(M, False, packed.NARROW, keep=True) is not whole
    M[0, 63] -= 1  # the last column of U_r
    assert packed.pack(M, False, packed.NARROW, keep=True, columns=(0, 64)) is not zr
    assert packed.pack(M, False, packed.NARROW, keep=True, columns=(64, 96)) is again
