"""The compiled loops' helpers (kernels/fast/ops.py) that the cell tests do not reach on their own."""

import llvmlite.binding as llvm
import numpy as np
import pytest

from rnnlab import kernels

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")


def _scaled(wide):
    """The machine code of a float32 loop compiled afresh (not cached), with or without wide_vectors()."""
    from numba import njit

    from rnnlab.kernels.fast.ops import wide_vectors

    three, one = np.float32(3.0), np.float32(1.0)

    def plain(a, out):
        for j in range(a.shape[0]):
            out[j] = three * a[j] + one

    def marked(a, out):
        wide_vectors()  # a compile-time mark: it acts wherever it stands in the function
        for j in range(a.shape[0]):
            out[j] = three * a[j] + one

    scaled = njit(cache=False)(marked if wide else plain)
    a = np.arange(100, dtype=np.float32)
    out = np.empty_like(a)
    scaled(a, out)
    np.testing.assert_array_equal(out, 3 * a + 1)
    return next(iter(scaled.inspect_asm().values()))


@pytest.mark.skipif(not llvm.get_host_cpu_features().get("avx512f"), reason="needs a CPU with AVX-512")
def test_wide_vectors_lets_a_loop_use_512_bit_vectors():
    """LLVM vectorises with 256-bit vectors on Intel's AVX-512 CPUs by default (its tuning for AMD's Zen 4
    and later prefers 512 already); the marker asks for 512 in one function, on any CPU with AVX-512."""
    assert ("zmm" in _scaled(False)) == llvm.get_host_cpu_name().startswith("znver")
    assert "zmm" in _scaled(True)


def test_wide_vectors_changes_no_result():
    _scaled(True)  # on any CPU: compiles, and computes what the loop says (checked inside)
