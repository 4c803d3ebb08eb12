"""Inference mode: forward passes that keep nothing for a backward pass.

    with rl.inference_mode():
        y = model.predict(X)      # predict and evaluate enter it themselves

Inside it recurrent layers run their kernel's inference loop: batch-first in and
out, no cache of gates and states (on the fast backend a different layout of the
work, see kernels/fast_lstm.py). A backward pass after such a forward raises.
Like torch.inference_mode(); the setting is per thread (and per asyncio task).
"""
import contextlib
import contextvars

_inference = contextvars.ContextVar("rnnlab_inference_mode", default=False)


@contextlib.contextmanager
def inference_mode(enabled=True):
    """Run a block with inference mode on (or off, with enabled=False), then restore it."""
    if not isinstance(enabled, bool):
        raise TypeError(f"inference_mode expected enabled as a bool, got {type(enabled).__name__}")
    token = _inference.set(enabled)
    try:
        yield
    finally:
        _inference.reset(token)


def is_inference():
    """True inside inference_mode()."""
    return _inference.get()
