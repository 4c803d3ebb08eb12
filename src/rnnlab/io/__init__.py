"""Saving and loading: one .npz-based file per model or checkpoint, JSON config, never pickle."""
from .archive import FORMAT, VERSION, FormatError
from .files import load, read_checkpoint, save_checkpoint, save_model

__all__ = ["load", "save_model", "save_checkpoint", "read_checkpoint", "FormatError", "FORMAT", "VERSION"]
