"""The version of rnnlab, in one place."""

__version__ = "0.1.0"
