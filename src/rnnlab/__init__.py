"""rnnlab: SimpleRNN and LSTM written by hand in NumPy, with exact BPTT."""
from . import initializers, kernels, nn
from .kernels import set_backend
from .nn import LSTM, Bidirectional, SimpleRNN, Stack

__version__ = "0.1.0"

__all__ = ["SimpleRNN", "LSTM", "Bidirectional", "Stack", "nn", "kernels", "initializers", "set_backend"]
