"""Layers that hold parameters."""

from .base import Container, Layer
from .bidirectional import Bidirectional
from .cells import cell_class, cell_classes, cell_maker, register_cell, register_variant
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .lstm import LSTM
from .masking import Masking
from .mode import inference_mode, is_inference
from .recurrent import Recurrent
from .simple_rnn import SimpleRNN
from .stack import Stack

__all__ = [
    "register_cell",
    "cell_classes",
    "cell_class",
    "cell_maker",
    "register_variant",
    "Layer",
    "Container",
    "Recurrent",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "Stack",
    "Dense",
    "Embedding",
    "Dropout",
    "Masking",
    "inference_mode",
    "is_inference",
]
