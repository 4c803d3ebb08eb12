"""`rnnlab text train CORPUS --out MODEL` and `rnnlab text sample MODEL --prime ...`: a character LSTM."""

import sys

from ..nn.cells import model_names
from . import argtypes as T


def register(sub):
    p = sub.add_parser("text", help="train a character-level LSTM on a UTF-8 text, and sample from it")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    t = verbs.add_parser("train", help="stateful truncated BPTT over the whole text; validation bits/char per epoch")
    t.add_argument("corpus", type=T.input_file, help="a UTF-8 text file, English or Chinese")
    t.add_argument(
        "--out",
        type=T.output_file,
        required=True,
        help="model file to write (after each epoch with the best validation)",
    )
    t.add_argument("--cell", choices=model_names(), default="lstm", help="the recurrent cell (default lstm)")
    t.add_argument("--hidden", type=T.units(), default=128, help="recurrent units (default 128)")
    t.add_argument("--layers", type=T.count(1, 100), default=1, help="stacked recurrent layers (default 1)")
    t.add_argument("--embed", type=T.count(1, 10**5), default=None, help="embedding size (default min(64, vocabulary))")
    t.add_argument("--seq-len", type=T.count(1, 10**6), default=64, help="BPTT window in characters (default 64)")
    t.add_argument(
        "--batch-size", type=T.count(1, 10**6), default=32, help="parallel streams through the text (default 32)"
    )
    t.add_argument("--epochs", type=T.count(1, T.STEPS), default=10)
    t.add_argument("--lr", type=T.positive_number(), default=3e-3, help="Adam learning rate (default 3e-3)")
    t.add_argument("--clip-norm", type=T.positive_number(), default=5.0, help="global gradient-norm clip (default 5)")
    t.add_argument("--val-fraction", type=T.open_rate(), default=0.1, help="held-out tail of the text (default 0.1)")
    t.add_argument("--max-chars", type=T.count(2, 10**12), default=None, help="use only the first N characters")
    t.add_argument(
        "--dropout",
        type=T.rate(),
        default=0.0,
        help="input dropout rate of each recurrent layer, in [0, 1) (default 0)",
    )
    t.add_argument(
        "--recurrent-dropout",
        type=T.rate(),
        default=0.0,
        help="recurrent dropout rate on h_{t-1}, one mask per sequence, in [0, 1) (default 0)",
    )
    t.add_argument(
        "--plot", type=T.output_file, default=None, help="write a figure of training and validation bits/char (.png)"
    )
    t.add_argument("--seed", type=T.seed(), default=0)
    t.add_argument(
        "--sample", type=T.count(0, 10**7), default=200, help="characters to sample after training (0: none)"
    )
    t.set_defaults(func=run_train)

    s = verbs.add_parser("sample", help="generate text from a model written by `rnnlab text train`")
    s.add_argument("model", type=T.input_file)
    s.add_argument("--prime", default="", help="text to start from (its characters must be in the vocabulary)")
    s.add_argument(
        "--temperature", type=T.positive_number(), default=0.8, help="below 1: safer, above 1: wilder (default 0.8)"
    )
    s.add_argument("--length", type=T.count(1, 10**7), default=300, help="characters to generate (default 300)")
    s.add_argument("--seed", type=T.seed(), default=0)
    s.set_defaults(func=run_sample)


def run_train(args):
    from .. import text

    if args.plot is not None and not args.plot.lower().endswith((".png", ".svg", ".pdf")):
        raise ValueError(f"--plot expected a file name ending in .png, .svg or .pdf, got {args.plot!r}")

    corpus = text.read_corpus(args.corpus)
    if args.max_chars is not None:
        if args.max_chars < 2:
            raise ValueError(f"--max-chars expected at least 2, got {args.max_chars}")
        corpus = corpus[: args.max_chars]
    vocab = text.Vocabulary.from_text(corpus)
    print(f"corpus {args.corpus}: {len(corpus):,} characters, vocabulary {len(vocab)}")

    def report(epoch, logs):
        print(
            f"epoch {epoch:3d}/{args.epochs}  train {logs['train_bpc']:.3f} bits/char  "
            f"val {logs['val_bpc']:.3f} bits/char  {logs['seconds']:.1f} s" + ("  saved" if logs["saved"] else ""),
            flush=True,
        )

    _, history = text.train(
        corpus,
        hidden=args.hidden,
        layers=args.layers,
        embed_dim=args.embed,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        epochs=args.epochs,
        lr=args.lr,
        clip_norm=args.clip_norm,
        val_fraction=args.val_fraction,
        seed=args.seed,
        on_epoch=report,
        save_to=args.out,
        dropout=args.dropout,
        recurrent_dropout=args.recurrent_dropout,
        cell=args.cell,
        verbose=1 if sys.stdout.isatty() else 0,
    )
    print(
        f"unigram entropy of the training text: {history['unigram_bpc']:.3f} bits/char "
        f"(a model that ignores context cannot go below it)"
    )
    best = min(range(len(history["val_bpc"])), key=history["val_bpc"].__getitem__)
    print(f"wrote {args.out} (epoch {best + 1}, val {history['val_bpc'][best]:.3f} bits/char)")
    if args.plot:
        from .. import plots

        fig = plots.learning_curves(
            {
                "training": {"bpc": history["train_bpc"], "epoch": history["epoch"]},
                "validation": {"bpc": history["val_bpc"], "epoch": history["epoch"]},
            },
            metric="bpc",
            baseline=history["unigram_bpc"],
            xlabel="epoch",
            title=f"{args.corpus}: bits per character (baseline: unigram entropy)",
        )
        print(f"figure: {plots.save(fig, args.plot)}")
    if args.sample:
        saved = text.CharModel.load(args.out)
        print(f"\nsample (temperature 0.8, seed {args.seed}):\n{saved.sample('', args.sample, 0.8, args.seed)}")
    return 0


def run_sample(args):
    from .. import text

    lm = text.CharModel.load(args.model)
    print(lm.sample(args.prime, args.length, args.temperature, args.seed))
    return 0
