"""`rnnlab trace "我 爱 祖国"`: watch a recurrent layer read a sentence, step by step.

Without --model a tiny language model learns the sentence on the spot (under a
second); with --model a text model from `rnnlab text train` reads it character
by character, and any other saved model reads --input (a .npy array).
"""

import numpy as np

from ..nn.cells import cell_class, model_names
from . import argtypes as T

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}  # whitespace characters as labels one can see


def register(sub):
    p = sub.add_parser("trace", help="show the gates (i, f, o, C̃, C of an LSTM; z, r, h̃ of a GRU) and h at every step")
    p.add_argument(
        "sentence",
        nargs="?",
        default="我 爱 祖国",
        help='the text to read (default "我 爱 祖国"); words when it has spaces, else characters',
    )
    p.add_argument("--level", choices=["auto", "word", "char"], default="auto", help="tokens (default auto)")
    p.add_argument("--cell", choices=model_names(), default="lstm", help="for the model trained on the spot")
    p.add_argument("--units", type=T.units(), default=8, help="units of the model trained on the spot (default 8)")
    p.add_argument(
        "--epochs", type=T.count(1, T.STEPS), default=200, help="training steps on the sentence (default 200)"
    )
    p.add_argument("--seed", type=T.seed(), default=0)
    p.add_argument("--model", type=T.input_file, help="a saved model instead: a text model, or any model with --input")
    p.add_argument(
        "--input", type=T.input_file, help="with --model: a .npy array (T, D) of floats or (T,) of ids to read"
    )
    p.add_argument(
        "--layer",
        default="0",
        help="which recurrent layer: its path in the model (e.g. 1 or 2.forward) or its rank among "
        "the recurrent layers (default: the first)",
    )
    p.add_argument("--show-units", type=T.count(1, 10**4), default=8, help="units per row in the table (default 8)")
    p.add_argument("--out", type=T.output_file, help="also draw the heatmaps to this .png/.svg/.pdf file")
    p.set_defaults(func=run)


def _from_spot(args):
    from ..text import sentence as S

    tokens = S.tokenize(args.sentence, args.level)
    model, vocab = S.fit_sentence(tokens, cell=args.cell, units=args.units, epochs=args.epochs, seed=args.seed)
    ids = np.array([[vocab.index(t) for t in tokens]])
    name = cell_class(args.cell).__name__
    title = f"A {name} language model of this sentence, trained on the spot for {args.epochs} steps"
    return model, ids, tokens, vocab, title


def _from_file(args):
    from ..train import load

    model = load(args.model)
    meta = getattr(model, "metadata", None) or {}
    if args.input is not None:
        x = np.load(args.input, allow_pickle=False)
        if x.ndim not in (1, 2):
            raise ValueError(f"--input expected an array (time, features) or (time,) of ids, got shape {x.shape}")
        return model, x[None], [str(t) for t in range(len(x))], None, f"{args.model} reading {args.input}"
    if meta.get("kind") != "char-lm":
        raise ValueError(f"--model {args.model} is not a text model; give its input with --input FILE.npy")
    from ..text import CharModel

    lm = CharModel.load(args.model)
    tokens = [_VISIBLE.get(ch, ch) for ch in args.sentence]
    return (
        lm.model,
        lm.vocab.encode(args.sentence)[None],
        tokens,
        lm.vocab.chars,
        f"{args.model}, character by character",
    )


def run(args):
    from .. import plots
    from ..probe import record
    from ..text.sentence import predictions

    model, x, tokens, vocab, title = _from_file(args) if args.model else _from_spot(args)
    if hasattr(model, "reset_state"):
        model.reset_state()
    recording = record(model, x)
    paths = [r.path for r in recording]
    layer = args.layer if args.layer in paths or not args.layer.isdigit() else int(args.layer)
    try:
        rec = recording[layer]
    except (KeyError, IndexError):
        raise ValueError(
            f"--layer expected an index below {len(recording)} or one of {paths}, got {args.layer!r}"
        ) from None
    notes = None
    output = np.asarray(recording.output)
    if vocab is not None and output.ndim == 3 and output.shape[-1] == len(vocab):
        notes = [f"→ next: {tok!r} (p = {p:.3f})" for tok, p in predictions(output[0], vocab)]
    print(title)
    print(rec.table(tokens=tokens, units=args.show_units, notes=notes))
    if args.out:
        fig = plots.gates(rec, tokens=tokens, title=f"{args.sentence} — {rec.title}")
        print(f"wrote {plots.save(fig, args.out)}")
    return 0
