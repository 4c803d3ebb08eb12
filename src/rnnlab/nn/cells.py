"""The registry of recurrent cells: every tool that handles "any recurrent layer" looks here.

A cell is a plug-in. It is
- a reference kernel module with `forward`, `backward` (and `infer`, else one is
  made from forward), as kernels/lstm.py;
- optionally a compiled module with the same functions (kernels/fast/);
- a layer class, a subclass of `Recurrent`, naming the kernel (`cell`), the
  blocks of its weights (`gate_names`), its states (`state_names`), its kernel
  options (`kernel_options()`) and what probe.record reads from its cache
  (`record_steps(cache)`).
`register_cell(LayerClass, reference, fast)` makes it known to the kernel switch,
Bidirectional, save/load, the converters, probe.record and the CLI: no other file
lists cells. Converters refuse a cell that has no layout of theirs, by name.
`register_variant(name, LayerClass, **options)` gives a cell with options a model name of its
own for the CLI and the experiments: "lstm-peephole" is LSTM(peepholes=True).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType

from .. import kernels
from .gru import GRU
from .lstm import LSTM
from .recurrent import Recurrent
from .simple_rnn import SimpleRNN

_CELLS = {}  # cell name -> layer class, in registration order
_VARIANTS = {}  # model name -> (layer class, its options), e.g. "lstm-peephole"


def register_cell(
    layer_class: type[Recurrent], reference: ModuleType | None = None, fast: Callable[[], ModuleType] | None = None
) -> type[Recurrent]:
    """Register a recurrent layer class (and, when given, its kernels); returns the class.

    layer_class: a subclass of Recurrent with `cell`, `gate_names` and `state_names`.
    reference: the module with forward/backward for `layer_class.cell`, unless the
    kernel switch knows it already; fast: None or a function returning the compiled module.
    """
    if not (isinstance(layer_class, type) and issubclass(layer_class, Recurrent)):
        raise TypeError(f"register_cell expected a subclass of rnnlab.nn.Recurrent, got {layer_class!r}")
    cell = layer_class.cell
    if not isinstance(cell, str) or not cell:
        raise TypeError(f"register_cell expected {layer_class.__name__}.cell as a kernel name, got {cell!r}")
    for attr in ("gate_names", "state_names"):
        names = getattr(layer_class, attr)
        if not isinstance(names, tuple) or not names or not all(isinstance(n, str) for n in names):
            raise TypeError(f"register_cell expected {layer_class.__name__}.{attr} as a tuple of names, got {names!r}")
    if layer_class.state_names[0] != "h":
        raise TypeError(f"register_cell expected {layer_class.__name__}.state_names to start with 'h'")
    taken = [c for c in _CELLS.values() if c.__name__ == layer_class.__name__ and c is not layer_class]
    if taken:
        raise ValueError(f"register_cell: a cell class named {layer_class.__name__} is registered already")
    if reference is not None:
        kernels.register_cell(cell, reference, fast)
    else:
        kernels.get(cell, "reference")  # raises when the switch does not know the kernel
    _CELLS[cell] = layer_class
    return layer_class


def register_variant(name: str, layer_class: type[Recurrent], **options) -> None:
    """Give a registered cell with `options` the model name `name` ("lstm-peephole")."""
    if layer_class not in _CELLS.values():
        raise ValueError(f"register_variant expected a registered cell class, got {layer_class!r}")
    layer_class(1, **options)  # raises for options the class does not take
    _VARIANTS[name] = (layer_class, dict(options))


def cell_classes():
    """The registered recurrent layer classes, in registration order."""
    return tuple(_CELLS.values())


def cell_class(name):
    """The class registered under a cell name ("lstm"), class name ("LSTM") or model name ("lstm", "simplernn",
    "lstm-peephole")."""
    if name in _VARIANTS:
        return _VARIANTS[name][0]
    for cls in _CELLS.values():
        if name in (cls.cell, cls.__name__, cls.__name__.lower()):
            return cls
    raise ValueError(f"cell expected one of {model_names()}, got {name!r}")


def cell_maker(name):
    """A function making the layer a model name stands for: its class, with a variant's options bound."""
    if name in _VARIANTS:
        cls, options = _VARIANTS[name]
        return functools.partial(cls, **options)
    return cell_class(name)


def model_names():
    """The names the CLI and the experiments use: lower-case class names ("simplernn", "lstm", ...),
    then the variants ("lstm-peephole")."""
    return [cls.__name__.lower() for cls in _CELLS.values()] + list(_VARIANTS)


def describe():
    """The registered cells' class names for a message: "SimpleRNN or LSTM"."""
    names = [cls.__name__ for cls in _CELLS.values()]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


register_cell(SimpleRNN)
register_cell(LSTM)
register_cell(GRU)
register_variant("lstm-peephole", LSTM, peepholes=True)
