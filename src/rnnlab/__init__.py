"""rnnlab: SimpleRNN, LSTM and GRU written by hand in NumPy, with exact BPTT."""
from . import data, initializers, interop, kernels, nn
from . import experiments, plots, probe, tasks
from . import explore
from .kernels import set_backend
from .nn import GRU, LSTM, Bidirectional, SimpleRNN, Stack
from .nn import Dense, Dropout, Embedding, Masking, inference_mode
from . import train
from .train import Sequential, callbacks, losses, metrics, optim, schedules
from .train import load

from .version import __version__

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "Stack", "nn", "kernels", "interop", "initializers", "set_backend",
           "Dense", "Embedding", "Dropout", "Masking", "Sequential", "train", "callbacks", "losses", "metrics", "optim",
           "schedules", "load", "inference_mode", "explore", "data"]
