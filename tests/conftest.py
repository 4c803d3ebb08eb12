import os
import sys

import pytest

# tests/ on the path, for `import gradcheck_util` from any test folder (tests/nn/, tests/train/, ...)
# whatever the import mode; pytest's default "prepend" mode would add it anyway while importing this file
_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

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
