"""The `rnnlab` command: thin argument parsing over the library.

Each sub-command lives in its own module exposing `register(subparsers)`,
which adds a parser whose `func(args)` runs the command and returns an exit code.
"""
import argparse
import sys

from . import bench, cluster, compare, demo, explore, export, lesson, plot, run, text, trace

# one module per verb or group of verbs, in the order `rnnlab --help` lists them
COMMANDS = [demo, lesson, plot, run, compare, text, trace, explore, export, cluster, bench]


def build_parser():
    parser = argparse.ArgumentParser(prog="rnnlab", description="SimpleRNN and LSTM by hand, in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
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
