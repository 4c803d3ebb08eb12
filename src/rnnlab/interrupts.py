"""Ctrl-C that Python would otherwise drop.

Python raises KeyboardInterrupt wherever the main thread happens to be when it
handles SIGINT. Inside a finalizer (a __del__: rnnlab's work buffers coming back
after a training step, or the compiler's objects while numba compiles a kernel)
the exception is printed and dropped, and the program runs on: a Ctrl-C then
seems ignored. So an interrupt is *held* as well as raised, and check(), which
every kernel call makes, raises a held one that nothing has dealt with yet.
The command line installs handle() for SIGINT while a verb runs, and clears the
held interrupt once it has caught it.
"""

_held = False


def hold():
    """Keep an interrupt for the next check()."""
    global _held
    _held = True


def pending():
    """Whether an interrupt is held: a Ctrl-C came and nothing has dealt with it yet."""
    return _held


def clear():
    """Forget a held interrupt (its KeyboardInterrupt was caught)."""
    global _held
    _held = False


def handle(signum, frame):
    """A SIGINT handler: hold the interrupt, then raise it here, where it may yet be dropped."""
    hold()
    raise KeyboardInterrupt


def check():
    """Raise KeyboardInterrupt for a held interrupt (once)."""
    if _held:
        clear()
        raise KeyboardInterrupt
