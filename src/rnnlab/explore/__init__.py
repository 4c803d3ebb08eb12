"""`rnnlab explore`: one self-contained web page to look inside a trained recurrent network.

page(model, data, out) records every gate of every step (rnnlab.probe.record),
quantises them to 8 bits per unit (quantize), and writes an HTML file with four
views: the text coloured by a unit, the unit finder (finder), the gates over
time and the gradient flow. See docs/EXPLORE.md.
"""

import os

from ..text.corpus import Vocabulary
from ..text.model import KIND as TEXT_KIND
from ..train import load
from . import data, finder, quantize
from .data import MAX_BYTES, MAX_CHARS, TASKS, task_payload, text_payload
from .page import html, serve, write

__all__ = [
    "page",
    "payload",
    "serve",
    "html",
    "write",
    "load",
    "is_text_model",
    "quantize",
    "finder",
    "data",
    "MAX_CHARS",
    "TASKS",
]


def is_text_model(model):
    """True for a CharModel or a Sequential saved by `rnnlab text train` (it carries its vocabulary)."""
    if getattr(model, "vocab", None) is not None and hasattr(model, "model"):
        return True
    meta = getattr(model, "metadata", None) or {}
    return meta.get("kind") == TEXT_KIND and isinstance(meta.get("chars"), str)


def _open(model):
    """(Sequential, Vocabulary or None, name) from a path, a CharModel or a Sequential."""
    if isinstance(model, (str, os.PathLike)):
        name = os.fspath(model)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"model file {name} does not exist")
        model = load(name)
    else:
        name = type(model).__name__
    vocab = getattr(model, "vocab", None)
    if vocab is not None and hasattr(model, "model"):  # a CharModel
        return model.model, vocab, name
    meta = getattr(model, "metadata", None) or {}
    if meta.get("kind") == TEXT_KIND and isinstance(meta.get("chars"), str):
        return model, Vocabulary(list(meta["chars"])), name
    if not hasattr(model, "layers"):
        raise TypeError(f"explore expected an rnnlab model (a Sequential or a text model), got {type(model).__name__}")
    return model, None, name


def payload(model, data, max_chars=MAX_CHARS, max_bytes=MAX_BYTES, samples=8, length=None, seed=0):
    """(meta, blob, title): what the page embeds. Arguments as for `page`."""
    net, vocab, name = _open(model)
    if vocab is not None:
        if not isinstance(data, str):
            raise TypeError(f"a text model explores a text: data expected a str, got {type(data).__name__}")
        meta, blob = text_payload(net, vocab, data, max_chars, max_bytes)
        return meta, blob, f"rnnlab explore — {name}"
    if data not in TASKS:
        raise ValueError(f"{name} is not a text model: data expected a task name ({', '.join(TASKS)}), got {data!r}")
    meta, blob = task_payload(net, data, samples=samples, length=length, seed=seed)
    return meta, blob, f"rnnlab explore — {name} on the {data} task"


def page(model, data, out="explore.html", max_chars=MAX_CHARS, max_bytes=MAX_BYTES, samples=8, length=None, seed=0):
    """Write the explorer page for `model` reading `data`; returns the path written.

    model: a text model (a CharModel, or the path of a file from `rnnlab text
    train`) with data the text (str; its first max_chars characters are read
    from a zero state), or any Sequential with SimpleRNN/LSTM layers (or its
    path) with data a task name, "adding", "copy" or "digits": `samples`
    sequences of the task (length: the adding length or the copy delay) are read.
    max_bytes: the page's size budget for a text (None: none); h is kept at
    every character, C and the gates at as many first characters as fit.
    """
    meta, blob, title = payload(
        model, data, max_chars=max_chars, max_bytes=max_bytes, samples=samples, length=length, seed=seed
    )
    return write(out, meta, blob, title)
