"""The `rnnlab` command: thin argument parsing over the library.

Each sub-command lives in its own module exposing `register(subparsers)`,
which adds a parser whose `func(args)` runs the command and returns an exit code.
"""
import argparse
import importlib
import sys

# modules of rnnlab.cli, one per verb or group of verbs
COMMANDS = ["demo", "lesson", "plot", "run", "compare", "text", "trace", "export", "cluster", "bench"]


def build_parser():
    parser = argparse.ArgumentParser(prog="rnnlab", description="SimpleRNN and LSTM by hand, in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"rnnlab.cli.{name}").register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"rnnlab {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
