"""What the kernels run on: the CPU model, its SIMD flags, and the BLAS NumPy loaded with its core type.

Float rounding of a long run (the order of a product's sums, FMA or not) depends on the
CPU's vector width and the BLAS kernels chosen for it, so run records and the speed
benchmark store these beside their figures.
"""

import platform

SIMD_FLAGS = (
    "sse2",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "amx_tile",
    "neon",
    "asimd",
    "sve",
)


def cpu():
    """(model name, the SIMD flags of SIMD_FLAGS this CPU has) from /proc/cpuinfo ("", [] elsewhere)."""
    name, flags = platform.processor() or "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not flags:
                    name = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return name, [f for f in SIMD_FLAGS if f in flags]


def blas_libraries():
    """The BLAS libraries NumPy loaded, with the core type their kernels were chosen for (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    # NumPy's own (a wheel's numpy.libs); other packages loaded in this process (SciPy, PyTorch) bring theirs
    mine = [lib for lib in libs if "numpy" in (lib.get("filepath") or "")] or libs
    return sorted(
        ({k: lib.get(k) for k in ("internal_api", "version", "architecture")} for lib in mine),
        key=lambda d: [str(v) for v in d.values()],
    )
