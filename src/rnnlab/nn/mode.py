"""Inference mode: forward passes that keep nothing for a backward pass.

    with rl.inference_mode():
        y = model.predict(X)      # predict and evaluate enter it themselves

Inside it recurrent layers run their kernel's inference loop: batch-first in and
out, no cache of gates and states (on the fast backend a different layout of the
work, see kernels/fast/lstm.py). A backward pass after such a forward raises.
Like torch.inference_mode(); the setting is per thread (and per asyncio task).
"""

import contextvars

_inference = contextvars.ContextVar("rnnlab_inference_mode", default=False)


class inference_mode:
    """Run a block with inference mode on (or off, with enabled=False), then restore it.

    A class, not a generator: entering and leaving cost a ContextVar set and reset only.
    """

    __slots__ = ("enabled", "_token")

    def __init__(self, enabled=True):
        if not isinstance(enabled, bool):
            raise TypeError(f"inference_mode expected enabled as a bool, got {type(enabled).__name__}")
        self.enabled = enabled

    def __enter__(self):
        self._token = _inference.set(self.enabled)
        return self

    def __exit__(self, *exc):
        _inference.reset(self._token)
        return False


def is_inference():
    """True inside inference_mode()."""
    return _inference.get()
