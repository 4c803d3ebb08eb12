"""A tiny language model of one sentence, trained in seconds, to watch a recurrent layer read it.

The article feeds 我 爱 祖国 to a SimpleRNN word by word. Here a small
Embedding → LSTM (or SimpleRNN) → Dense model learns to predict each next
token of the sentence (and an end mark after the last), so that reading the
sentence again shows gates and states that do a job.
"""

import numpy as np

from ..nn import Dense, Embedding
from ..nn.cells import cell_maker
from ..train import Sequential
from ..train.optim import Adam

END = "</s>"


def tokenize(sentence, level="auto"):
    """Tokens of a sentence: words split on spaces ("word"), characters ("char"), or words when it has spaces."""
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence expected non-empty text, got {sentence!r}")
    if level not in ("auto", "word", "char"):
        raise ValueError(f"level expected 'auto', 'word' or 'char', got {level!r}")
    if level == "word" or (level == "auto" and len(sentence.split()) > 1):
        return sentence.split()
    return [ch for ch in sentence if not ch.isspace()]


def fit_sentence(tokens, cell="lstm", units=8, epochs=200, lr=0.05, seed=0):
    """(model, vocab): a Sequential trained to predict tokens[1:] + [END] from tokens.

    vocab lists the token of each id; model takes ids (1, T) and returns logits (1, T, V).
    """
    recurrent = cell_maker(cell)  # "lstm", "simplernn", "lstm-peephole", ...: a registered cell
    tokens = list(tokens)
    if not tokens:
        raise ValueError("tokens expected at least one token, got none")
    vocab = list(dict.fromkeys(tokens)) + [END]
    index = {t: k for k, t in enumerate(vocab)}
    x = np.array([[index[t] for t in tokens]])
    y = np.array([[index[t] for t in tokens[1:] + [END]]])
    model = Sequential(
        [Embedding(len(vocab), 8), recurrent(units, return_sequences=True), Dense(len(vocab))], seed=seed
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(lr))
    model.fit(x, y, epochs=epochs, batch_size=1, shuffle=False, verbose=0)
    return model, vocab


def predictions(logits, vocab):
    """[(token, probability)] of the most likely next token at each step, from logits (T, V)."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    best = p.argmax(axis=-1)
    return [(vocab[k], float(p[t, k])) for t, k in enumerate(best)]
