"""`rnnlab plot activations --out FILE`: the article's pictures."""

from . import argtypes as T


def register(sub):
    p = sub.add_parser("plot", help="draw the article's figures (PNG, SVG or PDF)")
    kinds = p.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    a = kinds.add_parser("activations", help="sigmoid (x from -5 to 5 in steps of 0.1) and tanh with derivatives")
    a.add_argument(
        "--out",
        type=T.output_file,
        default="activations.png",
        help="output file, .png, .svg or .pdf (default activations.png)",
    )
    a.set_defaults(func=run_activations)


def run_activations(args):
    from .. import plots

    path = plots.save(plots.activations(), args.out)
    print(f"wrote {path}  (sigmoid' peaks at 0.25 at x = 0; tanh' at 1)")
    return 0
