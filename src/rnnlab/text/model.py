"""A character-level language model: Embedding → stateful LSTM(s) → Dense logits, with its vocabulary.

Training is truncated BPTT over the whole text: the text is cut into
`batch_size` parallel streams read window by window, the LSTM carrying its
state from one window to the next (Karpathy's char-rnn, in Keras' stateful
form). The score is bits per character on held-out text (the last
`val_fraction` of the corpus), read the same stateful way.
"""

import math
import time

import numpy as np

from ..nn import Dense, Embedding
from ..nn.cells import cell_maker
from ..train import Sequential, load
from ..train.optim import Adam
from .corpus import Vocabulary, stream_batches, unigram_entropy

KIND = "char-lm"  # the metadata tag of a saved text model


def _softmax_t(logits, temperature):
    # p_k ∝ exp(z_k / temperature): below 1 sharper, above 1 flatter
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


class CharModel:
    """A Sequential that reads character ids and predicts the next one, plus the Vocabulary."""

    def __init__(self, model, vocab):
        self.model = model
        self.vocab = vocab

    @classmethod
    def build(
        cls,
        vocab,
        hidden=128,
        layers=1,
        embed_dim=None,
        dtype="float32",
        seed=0,
        dropout=0.0,
        recurrent_dropout=0.0,
        cell="lstm",
    ):
        """Embedding (V, E) → `layers` stateful LSTM(hidden) → Dense(V) logits; dropout / recurrent_dropout:
        each LSTM's rates on its inputs and on h_{t-1} (Keras' meaning), while training only; cell: the
        recurrent cell's model name ("lstm", "gru", "simplernn"; nn/cells.py) in place of the LSTM."""
        recurrent = cell_maker(cell)
        V = len(vocab)
        E = embed_dim or min(64, V)
        stack = [Embedding(V, E, dtype=dtype)]
        stack += [
            recurrent(
                hidden,
                return_sequences=True,
                stateful=True,
                dtype=dtype,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
            )
            for _ in range(layers)
        ]
        stack.append(Dense(V, dtype=dtype))
        return cls(Sequential(stack, seed=seed), vocab)

    # ---- files --------------------------------------------------------------------
    def save(self, path):
        """One rnnlab file: the model, and the vocabulary in its metadata (atomic write)."""
        self.model.metadata = {"kind": KIND, "chars": "".join(self.vocab.chars)}
        self.model.save(path)

    @classmethod
    def load(cls, path):
        model = load(path)
        meta = getattr(model, "metadata", None) or {}
        if meta.get("kind") != KIND or not isinstance(meta.get("chars"), str):
            raise ValueError(
                f"{path}: expected a text model saved by `rnnlab text train`, got a model "
                f"without a character vocabulary"
            )
        return cls(model, Vocabulary(list(meta["chars"])))

    # ---- reading and writing text ---------------------------------------------------
    def bits_per_char(self, ids, batch_size=1, seq_len=64):
        """Bits per character of predicting ids[1:] from ids[:-1], read as `batch_size` stateful streams."""
        X, Y = stream_batches(ids, batch_size, min(seq_len, (len(ids) - 1) // batch_size))
        self.model.reset_state()
        loss = self.model.evaluate(X, Y, batch_size=batch_size)["loss"]  # mean cross-entropy, nats
        self.model.reset_state()
        return loss / math.log(2)

    def sample(self, prime="", length=300, temperature=0.8, seed=0):
        """prime followed by `length` sampled characters; same seed, same text."""
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"length expected a non-negative integer, got {length!r}")
        if not (isinstance(temperature, (int, float)) and temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature expected a positive number, got {temperature!r}")
        rng = np.random.default_rng(seed)
        start = prime or ("\n" if "\n" in self.vocab.index else self.vocab.chars[0])
        ids = self.vocab.encode(start)
        self.model.reset_state()
        logits = self.model.forward(ids[None, :])[0, -1]  # the prime read in one call, state carried on
        out = []
        for _ in range(length):
            k = int(rng.choice(len(self.vocab), p=_softmax_t(logits, temperature)))
            out.append(k)
            logits = self.model.forward(np.array([[k]], dtype=ids.dtype))[0, -1]
        self.model.reset_state()
        return prime + self.vocab.decode(out)


def train(
    text,
    hidden=128,
    layers=1,
    seq_len=64,
    batch_size=32,
    epochs=10,
    lr=3e-3,
    clip_norm=5.0,
    val_fraction=0.1,
    embed_dim=None,
    seed=0,
    on_epoch=None,
    save_to=None,
    verbose=0,
    dropout=0.0,
    recurrent_dropout=0.0,
    cell="lstm",
):
    """Train a CharModel on `text`; returns (CharModel, history).

    history: {"epoch", "train_bpc", "val_bpc", "seconds"} lists plus "unigram_bpc"
    (the entropy of the training text's character frequencies, the bar a model
    that ignores context cannot pass). on_epoch(epoch, logs) is called after
    each epoch; save_to, when given, receives the model after each epoch that
    reaches the lowest validation bits per character so far;
    verbose=1 shows fit's progress bar within each epoch; dropout and recurrent_dropout go to every LSTM
    (CharModel.build); cell: "lstm", "gru" or another registered cell's model name.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("text expected a non-empty string")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction expected a fraction in (0, 1), got {val_fraction!r}")
    vocab = Vocabulary.from_text(text)
    if len(vocab) < 2:
        raise ValueError(f"text expected at least 2 distinct characters, got {len(vocab)}")
    ids = vocab.encode(text)
    cut = int(len(ids) * (1.0 - val_fraction))
    train_ids, val_ids = ids[:cut], ids[cut - 1 :]  # the first validation target follows the last training char
    X, Y = stream_batches(train_ids, batch_size, seq_len)
    val_batch = max(1, min(batch_size, (len(val_ids) - 1) // seq_len))
    if (len(val_ids) - 1) // val_batch < 1:
        raise ValueError(
            f"val_fraction {val_fraction} leaves {len(val_ids) - 1} characters to validate on; expected at least 1"
        )

    lm = CharModel.build(
        vocab,
        hidden=hidden,
        layers=layers,
        embed_dim=embed_dim,
        seed=seed,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        cell=cell,
    )
    lm.model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(lr), clip_norm=clip_norm)
    history = {
        "epoch": [],
        "train_bpc": [],
        "val_bpc": [],
        "seconds": [],
        "unigram_bpc": unigram_entropy(train_ids, len(vocab)),
    }
    for epoch in range(1, epochs + 1):
        began = time.perf_counter()
        lm.model.reset_state()
        # one epoch in order: row j of each batch continues row j of the batch before
        fitted = lm.model.fit(X, Y, epochs=1, batch_size=batch_size, shuffle=False, verbose=verbose)
        train_bpc = fitted.history["loss"][-1] / math.log(2)
        val_bpc = lm.bits_per_char(val_ids, val_batch, seq_len)
        logs = {"epoch": epoch, "train_bpc": train_bpc, "val_bpc": val_bpc, "seconds": time.perf_counter() - began}
        for key, value in logs.items():
            history[key].append(value)
        logs["saved"] = save_to is not None and val_bpc <= min(history["val_bpc"])
        if logs["saved"]:  # the file keeps the best epoch: a small corpus overfits
            lm.save(save_to)
        if on_epoch is not None:
            on_epoch(epoch, logs)
    return lm, history
