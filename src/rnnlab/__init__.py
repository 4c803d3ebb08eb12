"""rnnlab: SimpleRNN, LSTM and GRU written by hand in NumPy, with exact BPTT."""

from . import data, experiments, explore, initializers, interop, kernels, nn, plots, probe, tasks, train
from .kernels import set_backend
from .nn import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, Masking, SimpleRNN, Stack, inference_mode
from .train import Sequential, callbacks, load, losses, metrics, optim, schedules
from .version import __version__

__all__ = [
    # layers and the model
    "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Stack", "Dense", "Embedding", "Dropout", "Masking",
    "Sequential", "load", "inference_mode", "set_backend",
    # rooms
    "callbacks", "data", "experiments", "explore", "initializers", "interop", "kernels", "losses", "metrics",
    "nn", "optim", "plots", "probe", "schedules", "tasks", "train",
    "__version__",
]  # fmt: skip
