"""What a lesson hands back: its table, its figure and the caption that says what to see."""

from dataclasses import dataclass, field

SIZES = ("full", "short", "tiny")  # full: `rnnlab lesson`; short: `rnnlab demo`; tiny: the tests, seconds


@dataclass
class Lesson:
    """name; table (text, printed); figure (path of the PNG); caption (one paragraph); numbers: the measured
    figures the caption quotes, by name (for tests and docs)."""

    name: str
    table: str
    figure: str
    caption: str
    numbers: dict = field(default_factory=dict)


def check_size(size):
    if size not in SIZES:
        raise ValueError(f"size expected one of {list(SIZES)}, got {size!r}")
    return size


def table(headers, rows):
    """Rows of values under headers, each column as wide as its widest cell; numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(headers))]
    lines = []
    for r in cells:
        lines.append("  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)
