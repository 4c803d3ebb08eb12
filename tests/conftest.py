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


@pytest.fixture(scope="module")
def torch_one_thread():
    """PyTorch on one thread while a module compares against it: small problems, no contention."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
