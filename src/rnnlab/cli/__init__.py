"""The `rnnlab` command: thin argument parsing over the library.

Each sub-command lives in its own module exposing `register(subparsers)`,
which adds a parser whose `func(args)` runs the command and returns an exit code.
"""

import signal
import sys
import threading
import traceback

from .. import interrupts
from . import argtypes, bench, cluster, compare, demo, explore, export, lesson, plot, run, text, trace

# one module per verb or group of verbs, in the order `rnnlab --help` lists them
COMMANDS = [demo, lesson, plot, run, compare, text, trace, explore, export, cluster, bench]


def build_parser():
    parser = argtypes.Parser(prog="rnnlab", description="SimpleRNN and LSTM by hand, in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


# rnnlab's own errors: a mistake in the arguments, a file or the environment, said in one line (exit 1)
OWN_ERRORS = (ValueError, TypeError, OSError, ImportError, FloatingPointError, MemoryError)
# what Ctrl-C leaves behind, per verb (every file is written whole or not at all: io/atomic.py)
INTERRUPTED = {
    "run": "no record of this run was written; the same command starts it again",
    "compare": "the records of finished runs are kept; the same command resumes the grid",
    "lesson": "the records of finished runs are kept; the same command resumes the lesson",
    "text": "the model file, if written, holds the epoch with the best validation so far",
    "demo": "the figures drawn so far are kept",
}


def _interrupted(command):
    saved = INTERRUPTED.get(command, "every file written so far is whole; nothing else was saved")
    print(f"rnnlab {command}: interrupted; {saved}", file=sys.stderr, flush=True)
    return 130


def main(argv=None):
    """Run `rnnlab ARGS`; returns the exit status: 0 done, 1 an error, 2 a mistake in the arguments
    (argparse: one line), 130 interrupted. A traceback only for a bug, with a line asking to report it."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    in_main = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = signal.signal(signal.SIGINT, interrupts.handle) if in_main else None
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return _interrupted(args.command)
    except argtypes.UsageError as err:
        print(f"rnnlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OWN_ERRORS as err:
        print(f"rnnlab {args.command}: error: {' '.join(str(err).split()) or type(err).__name__}", file=sys.stderr)
        return 1
    except Exception:
        if interrupts.pending():  # the Ctrl-C broke what it landed in (numba's compiler raises its own error)
            return _interrupted(args.command)
        traceback.print_exc()
        from ..version import __version__

        print(
            f"rnnlab {args.command}: this is a bug in rnnlab {__version__}; please report it with the command "
            f"line and the traceback above",
            file=sys.stderr,
        )
        return 70
    finally:
        interrupts.clear()  # dealt with here or by the verb: none is left for later kernel calls
        if in_main and previous is not None:  # None: a handler not set from Python, left as it is
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
