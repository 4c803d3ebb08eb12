"""Training: losses, metrics, optimizers, schedules, clipping, callbacks, Sequential and its fit loop."""
from . import callbacks, clipping, losses, metrics, optim, schedules
from .model import Sequential

__all__ = ["Sequential", "callbacks", "clipping", "losses", "metrics", "optim", "schedules"]
