"""`rnnlab explore MODEL --text corpus.txt --out explore.html`: a self-contained page to look inside a model.

A text model (from `rnnlab text train`) reads --text; any other saved model
reads a few sequences of --task (adding, copy, digits). --serve then serves the
page on 127.0.0.1 until Ctrl-C.
"""

import os

from . import argtypes as T


def register(sub):
    p = sub.add_parser(
        "explore",
        help="write one offline HTML page: the text coloured by any unit, a unit finder, "
        "gates over time, gradient flow",
    )
    p.add_argument(
        "model", type=T.input_file, help="a model file: a text model from `rnnlab text train`, or a model for a task"
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", type=T.input_file, help="a UTF-8 text for a text model to read")
    what.add_argument("--task", choices=["adding", "copy", "digits"], help="the task a task model was trained on")
    p.add_argument("--out", type=T.output_file, default="explore.html", help="the page to write (default explore.html)")
    p.add_argument(
        "--max-chars",
        type=T.count(2, 10**12),
        default=20_000,
        help="read at most this many characters of --text (default 20,000); the page says when it cut",
    )
    p.add_argument(
        "--max-mb",
        type=T.positive_number(10**6),
        default=10.0,
        help="the page's size budget in MB (default 10): h is kept for every character, C and the gates "
        "for as many first characters as fit",
    )
    p.add_argument("--samples", type=T.count(1, 10**5), default=8, help="with --task: sequences to read (default 8)")
    p.add_argument(
        "--length",
        type=T.count(2, 10**6),
        default=None,
        help="with --task: the adding length or the copy delay (default 50, 20)",
    )
    p.add_argument("--seed", type=T.seed(), default=0, help="with --task: the seed of the sequences")
    p.add_argument("--serve", action="store_true", help="then serve the page on 127.0.0.1 (standard library)")
    p.add_argument("--port", type=T.port(), default=0, help="with --serve: the port (default: any free one)")
    p.set_defaults(func=run)


def _check(args):
    if args.max_chars < 2:
        raise ValueError(f"--max-chars expected an integer >= 2, got {args.max_chars}")
    if not args.max_mb > 0:
        raise ValueError(f"--max-mb expected a positive number, got {args.max_mb}")
    if args.samples < 1:
        raise ValueError(f"--samples expected a positive integer, got {args.samples}")
    if args.length is not None and args.length < 2:
        raise ValueError(f"--length expected an integer >= 2, got {args.length}")
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"model file {args.model} does not exist")
    if args.text is not None and not os.path.isfile(args.text):
        raise FileNotFoundError(f"text file {args.text} does not exist")


def run(args):
    import time

    from .. import explore
    from ..io import FormatError
    from ..text import read_corpus

    _check(args)
    began = time.perf_counter()
    try:
        model = explore.load(args.model)
    except (FormatError, OSError) as err:
        raise ValueError(f"{args.model} is not an rnnlab model file ({err})") from None
    if args.text is not None:
        if not explore.is_text_model(model):
            raise ValueError(
                f"{args.model} is not a text model (from `rnnlab text train`); "
                f"for a task model give --task adding|copy|digits"
            )
        data = read_corpus(args.text)
    else:
        if explore.is_text_model(model):
            raise ValueError(f"{args.model} is a text model: give it --text FILE")
        data = args.task
    meta, blob, _ = explore.payload(
        model,
        data,
        max_chars=args.max_chars,
        max_bytes=int(args.max_mb * 1e6),
        samples=args.samples,
        length=args.length,
        seed=args.seed,
    )
    title = f"rnnlab explore — {os.path.basename(args.model)}" + (
        f" on the {args.task} task" if args.task else f" reading {os.path.basename(args.text)}"
    )
    path = explore.write(args.out, meta, blob, title)
    size = os.path.getsize(path)
    shown = (
        f"{meta['shown']:,} of {meta['total']:,} characters"
        if meta["kind"] == "text"
        else f"{len(meta['segments'])} sequences of {meta['task']}"
    )
    worst = max(q["error"] for layer in meta["layers"] for q in layer["quantities"].values() if q is not None)
    print(
        f"wrote {path} ({size / 1e6:.2f} MB, {shown}, largest quantisation error {worst:.2e}) "
        f"in {time.perf_counter() - began:.1f} s"
    )
    if meta["detail"] < meta["shown"]:
        print(
            f"C and the gates kept for the first {meta['detail']:,} characters (h for all) to stay within "
            f"{args.max_mb:g} MB"
        )
    if args.serve:
        server, url = explore.serve(path, args.port)
        print(f"serving {url} (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0
