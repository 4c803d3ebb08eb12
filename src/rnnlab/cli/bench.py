"""`rnnlab bench speed`: time rnnlab against PyTorch and ONNX Runtime (see rnnlab.bench.speed)."""

import sys

from . import argtypes as T


def register(sub):
    p = sub.add_parser("bench", help="benchmarks")
    kinds = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    s = kinds.add_parser(
        "speed", help="LSTM, GRU and SimpleRNN training and inference against PyTorch and ONNX Runtime"
    )
    s.add_argument("--quick", action="store_true", help="a tiny grid and 3 rounds: seconds, not minutes")
    s.add_argument("--json", type=T.output_file, metavar="PATH", help="also write every figure to this JSON file")
    s.add_argument(
        "--repeats", type=T.count(1, 10**4), default=None, help="rounds per figure, medians taken (default 7; quick 3)"
    )
    s.add_argument("--cells", default="lstm,simple_rnn", help="comma-separated: lstm, simple_rnn, gru")
    s.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    s.add_argument(
        "--fresh-processes",
        action="store_true",
        help="time each contender in a process of its own that imports only its library (alternating, medians)",
    )
    s.add_argument(
        "--threads",
        type=T.count(1, 1024),
        default=None,
        help="every library on this many threads (rnnlab's kernels, PyTorch, ONNX Runtime); default: each its own",
    )
    s.set_defaults(func=run_speed)


def run_speed(args):
    from ..bench import speed
    from ..bench.contenders import COUNTERPARTS

    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for cell in cells:
        if cell not in COUNTERPARTS:
            names = list(COUNTERPARTS)
            raise ValueError(f"--cells expected {', '.join(names[:-1])} and/or {names[-1]}, got {cell!r}")
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    grid = speed.QUICK_GRID if args.quick else speed.GRID
    result = speed.run(
        grid,
        cells,
        repeats=repeats,
        with_memory=not args.no_memory,
        fresh_processes=args.fresh_processes,
        threads=args.threads,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(speed.table(result))
    if args.json:
        speed.write_json(result, args.json)
        print(f"wrote {args.json}")
    return 0
