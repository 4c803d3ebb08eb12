"""The rnnlab file format and how files are written: atomic writes, the archive (.npz with a JSON
config, never pickle), layers to and from configs. Saving a model lives with the model (train/saving.py)."""

from . import atomic
from .archive import FORMAT, VERSION, FormatError

__all__ = ["atomic", "FormatError", "FORMAT", "VERSION"]
