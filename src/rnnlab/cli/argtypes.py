"""argparse types for every value `rnnlab` reads: a mistake is refused while parsing, before any work.

Each numeric type knows its range (`minimum`, `maximum`; tests/cli/test_cli_arguments.py feeds every
argument of every verb values outside it), says what it expected in the user's terms, and
refuses a size whose arrays would not fit in this machine's memory, with the size they would need.
Output paths are checked as files or folders that can be written (rnnlab.io.atomic), input
files as files that exist. The parser of the `rnnlab` command (`Parser`) reports a mistake as one
line on stderr and exit status 2.
"""

import argparse
import math
import os
import sys

from .. import checks
from ..io import atomic

STEPS = 10**9  # steps, epochs, evaluation intervals: beyond this a run would not end
SIZE = 10**8  # sequences, characters, lengths
SEED = 2**32 - 1  # NumPy's legacy generators take seeds below 2**32


class UsageError(ValueError):
    """A mistake in the arguments found after parsing (a combination of them): exit status 2, one line."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes are one line on stderr (with where to look), exit status 2."""

    def error(self, message):
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Number:
    """An int or float in [minimum, maximum] (finite); memory(value) -> (bytes, what) may refuse it too."""

    def __init__(
        self, kind, minimum, maximum=None, memory=None, exclusive_minimum=False, exclusive_maximum=False, words=None
    ):
        self.kind, self.minimum, self.maximum, self.memory, self.words = kind, minimum, maximum, memory, words
        self.exclusive_minimum, self.exclusive_maximum = exclusive_minimum, exclusive_maximum
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def _show(self, value):
        return f"{value:,}" if self.kind is int else f"{value:g}"

    def expected(self):
        if self.words:
            return self.words
        noun = "an integer" if self.kind is int else "a number"
        low = f"> {self._show(self.minimum)}" if self.exclusive_minimum else f">= {self._show(self.minimum)}"
        if self.maximum is None:
            return f"{noun} {low}"
        high = f"< {self._show(self.maximum)}" if self.exclusive_maximum else f"<= {self._show(self.maximum)}"
        return f"{noun} {low} and {high}"

    def __call__(self, text):
        try:
            value = self.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {self.expected()}, got {text!r}") from None
        if self.kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {self.expected()} (finite), got {text!r}")
        low_ok = value > self.minimum if self.exclusive_minimum else value >= self.minimum
        high_ok = self.maximum is None or (value < self.maximum if self.exclusive_maximum else value <= self.maximum)
        if not (low_ok and high_ok):
            raise argparse.ArgumentTypeError(f"expected {self.expected()}, got {text}")
        if self.memory is not None:
            need, what = self.memory(value)
            try:
                checks.fits_in_memory("", value, need, what)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err).strip()) from None
        return value


def count(minimum=1, maximum=SIZE, memory=None):
    """An integer in [minimum, maximum]."""
    return Number(int, minimum, maximum, memory)


def _recurrent_memory(units):
    # the smallest recurrent layer: U (H, H) in float32, its gradient and the optimizer's two moments
    return 16 * units * units, "the recurrent weights, their gradient and the optimizer's moments"


def units():
    """Recurrent units: refused when even a SimpleRNN's U of that size would not fit in memory."""
    return Number(int, 1, None, memory=_recurrent_memory)


def seed():
    return Number(int, 0, SEED)


def port(minimum=0):
    return Number(int, minimum, 65535)


def positive_number(maximum=None):
    return Number(float, 0.0, maximum, exclusive_minimum=True)


def non_negative_number():
    return Number(float, 0.0)


def rate():
    """A fraction in [0, 1)."""
    return Number(float, 0.0, 1.0, exclusive_maximum=True, words="a rate in [0, 1)")


def open_rate():
    """A fraction in (0, 1)."""
    return Number(float, 0.0, 1.0, exclusive_minimum=True, exclusive_maximum=True, words="a fraction in (0, 1)")


class IntList:
    """Comma-separated integers, each an argument of `item` (a Number)."""

    def __init__(self, item):
        self.item = item
        self.__name__ = "list"

    def __call__(self, text):
        parts = [v.strip() for v in text.split(",") if v.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
        out = []
        for part in parts:
            try:
                out.append(self.item(part))
            except argparse.ArgumentTypeError as err:
                raise argparse.ArgumentTypeError(f"{part!r} in {text!r}: {err}") from None
        return out


def output_file(text):
    """A file rnnlab may write: not a folder, in a writable folder."""
    try:
        return atomic.check_file_target(text, "output file")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


output_file.__name__ = "output file"


def output_folder(text):
    """A folder rnnlab may write into (created if missing)."""
    try:
        return atomic.check_folder_target(text, "output folder")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


output_folder.__name__ = "output folder"


def input_file(text):
    """A file that exists and is readable (not a folder)."""
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected a file")
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: not readable")
    return text


input_file.__name__ = "input file"


def numeric_types():
    """The classes of value-checking types, for the tests that walk every parser."""
    return (Number, IntList)


def say(line):
    """One line on stderr."""
    print(line, file=sys.stderr, flush=True)
