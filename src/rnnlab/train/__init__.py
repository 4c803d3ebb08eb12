"""Training: losses, metrics, optimizers, schedules, clipping, callbacks, Sequential and its fit loop."""

from . import callbacks, clipping, losses, metrics, optim, schedules
from .model import Sequential, load

__all__ = ["Sequential", "load", "callbacks", "clipping", "losses", "metrics", "optim", "schedules"]
