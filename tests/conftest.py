import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="module")
def reference_kernels():
    """For modules that test figures, recording or learning rather than kernel speed:
    the reference kernels, so that no compile time is spent on a fast backend."""
    import rnnlab as rl

    with rl.kernels.use("reference"):
        yield
