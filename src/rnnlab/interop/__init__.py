"""Conversion to and from other frameworks; each module imports its framework only when used."""

from . import h5, keras, onnx, torch

__all__ = ["torch", "onnx", "keras", "h5"]
