"""Argument checks shared by every layer of the package: one wording for one mistake.

Each check returns the value in its plain Python type, or raises ValueError
"<name> expected <what>, got <value>". A bool is never taken for a number.
"""

import math
import numbers


def is_int(value):
    """An integer (Python's or NumPy's) that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """A real number (an integer or a float, Python's or NumPy's) that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name, value):
    if not is_int(value) or value <= 0:
        raise ValueError(f"{name} expected a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name, value):
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} expected a non-negative integer, got {value!r}")
    return int(value)


def int_at_least(name, value, minimum):
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} expected an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_number(name, value):
    """A finite number > 0."""
    if not is_number(value) or not 0 < value < math.inf:
        raise ValueError(f"{name} expected a positive number, got {value!r}")
    return float(value)


def non_negative_number(name, value):
    """A finite number >= 0."""
    if not is_number(value) or not 0 <= value < math.inf:
        raise ValueError(f"{name} expected a non-negative number, got {value!r}")
    return float(value)


def rate(name, value):
    """A fraction in [0, 1): a dropout rate, a held-out share."""
    if not is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} expected a rate in [0, 1), got {value!r}")
    return float(value)


def flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name} expected True or False, got {value!r}")
    return value


def choice(name, value, options):
    """One of `options` (a sequence of allowed values)."""
    if value not in options:
        raise ValueError(f"{name} expected one of {list(options)}, got {value!r}")
    return value


def physical_memory():
    """This machine's memory in bytes, or None where it cannot be read."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(n):
    """1.5 GB, 64 TB, ... (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000


def fits_in_memory(name, value, need_bytes, what):
    """Raise ValueError (before any allocation) when `need_bytes` exceed this machine's memory:
    "<name> <value> would need <size> for <what> (this machine has <size>)". Returns need_bytes."""
    have = physical_memory()
    if have is not None and need_bytes > have:
        raise ValueError(
            f"{name} {value} would need at least {human_bytes(need_bytes)} for {what} "
            f"(this machine has {human_bytes(have)})"
        )
    return need_bytes
