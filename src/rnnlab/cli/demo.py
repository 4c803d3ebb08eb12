"""`rnnlab demo`: the sentence 我 爱 祖国 fed word by word to a SimpleRNN and an LSTM."""

import os
import time
import unicodedata

import numpy as np

from . import argtypes as T

WORDS = ["我", "爱", "祖国"]  # "I love my country", one word per step
UNITS = 4
SEED = 0


def register(sub):
    p = sub.add_parser("demo", help="trace 我 爱 祖国 through a SimpleRNN and an LSTM")
    p.add_argument("--quick", action="store_true", help="small settings, finishes in seconds")
    p.add_argument(
        "--out", type=T.output_folder, default="demo-output", help="folder for the figures (default demo-output/)"
    )
    p.set_defaults(func=run)


def _width(text):
    """Terminal columns: CJK characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text, width):
    return text + " " * (width - _width(text))


def _rnn_table(words, h):
    """One row per step: the word and h_t, unit by unit."""
    col = max(_width(w) for w in words + ["word"]) + 2
    lines = ["step  " + _pad("word", col) + "".join(f"{'h u' + str(u):>8}" for u in range(h.shape[1]))]
    for t, word in enumerate(words):
        lines.append(f"{t + 1:>4}  " + _pad(word, col) + "".join(f"{v:>8.3f}" for v in h[t]))
    return "\n".join(lines)


def run(args):
    """The story: activations, the 我 爱 祖国 trace, the adding race (lessons memory and vanishing), gradient
    flow, the lessons exploding, overfitting and cost, a summary."""
    from . import demo_science as science

    t0 = time.perf_counter()
    mode = "quick" if args.quick else "full"
    os.makedirs(args.out, exist_ok=True)
    figures = [science.activations_section(args.out, print)]
    print("\n2. a SimpleRNN and an LSTM read 我 爱 祖国 word by word")
    figures.append(trace_section(args.out))
    print()
    records, rows, race_figures = science.race_section(args.out, mode, print)
    print()
    rates, flow_figure = science.gradient_flow_section(args.out, records, mode, print)
    figures += race_figures + [flow_figure]
    figures += [lesson.figure for lesson in science.lesson_sections(args.out, mode, print)]
    if args.quick:
        print("\n(--quick: tiny models and 40 steps check that every part runs; `rnnlab demo` runs the real race)")
    science.summary(rows, rates, figures, time.perf_counter() - t0, print)
    return 0


def trace_section(out_dir):
    """Print the step-by-step tables; returns the path of the LSTM's gate figure."""
    # the trace runs in well under a second: --quick changes nothing here
    from .. import plots
    from ..nn import LSTM, SimpleRNN
    from ..probe.trace import trace

    x = np.eye(len(WORDS))[None]  # (1 sentence, 3 steps, 3-word vocabulary), one-hot
    print('我 爱 祖国 ("I love my country"), one word per step, each a one-hot vector:')
    print("   " + "   ".join(f"{w} = {row.astype(int)}" for w, row in zip(WORDS, x[0])))

    rnn = SimpleRNN(UNITS, seed=SEED)
    print(
        f"\nSimpleRNN, {UNITS} units (seed {SEED}): h_t = tanh(x_t W + h_{{t-1}} U + b); "
        "h carries the memory of the words so far"
    )
    print(_rnn_table(WORDS, trace(rnn, x).h[0]))

    lstm = LSTM(UNITS, seed=SEED)
    print(f"\nLSTM, {UNITS} units (seed {SEED}): input gate i, forget gate f, output gate o, candidate C̃,")
    print("cell C_t = f ⊙ C_{t-1} + i ⊙ C̃, hidden h_t = o ⊙ tanh(C_t)")
    steps = trace(lstm, x)
    print(steps.table(tokens=WORDS, units=UNITS, digits=3))
    path = plots.save(
        plots.gates(steps, tokens=WORDS, title="LSTM reading 我 爱 祖国"), os.path.join(out_dir, "trace-lstm-gates.png")
    )
    print(f"   figure: {path}")
    return path
