"""`rnnlab lesson NAME`: one of the tutorial's limits of the SimpleRNN, as a short experiment and a figure."""

import time

from . import argtypes as T


def register(sub):
    from ..lessons import LESSONS, SIZES

    p = sub.add_parser(
        "lesson",
        help="a limit of the SimpleRNN shown by a short experiment: " + ", ".join(LESSONS),
        description="Run one lesson: it prints a small table, writes one figure and says what to see in it.",
    )
    p.add_argument("name", nargs="?", choices=list(LESSONS), help="the lesson (see --list)")
    p.add_argument("--list", action="store_true", help="list the lessons and exit")
    p.add_argument(
        "--size",
        choices=SIZES,
        default="full",
        help="full: a minute or two on 2 cores (default); short: the demo's; tiny: seconds",
    )
    p.add_argument(
        "--out",
        type=T.output_folder,
        default="lessons",
        help="folder for the figure and run records (default lessons/)",
    )
    p.set_defaults(func=main, parser=p)


def main(args):
    from .. import lessons

    if args.list:
        for name, (_, line) in lessons.LESSONS.items():
            print(f"{name:12s} {line}")
        return 0
    if args.name is None:
        args.parser.error("expected a lesson NAME or --list")  # exits 2
    t0 = time.perf_counter()
    lessons.run(args.name, args.out, args.size)
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0
