"""Feed a sequence to a recurrent layer one step per call, the chain of steps of the article.

A stateful copy of the layer takes one step per call and hands its state to the
next call; rnnlab.probe.record reads each call's numbers from the kernel's cache,
so nothing here computes an equation a second time.
"""

import copy
import dataclasses

import numpy as np

from ..nn.cells import describe
from ..nn.recurrent import Recurrent
from .record import record


def trace(layer, x, initial_state=None):
    """x (B, T, D) -> a probe LayerRecord of the T steps, batch-first (B, T, H) arrays.

    What the cell records (e.g. h for a SimpleRNN; i, f, o, c_tilde (C̃), c (C) and h
    for an LSTM); the initial states are those before the first step. x is read in
    the order given (one step per call: go_backwards plays no part). `layer` is
    built if it was not, and otherwise left as it was.
    """
    if not isinstance(layer, Recurrent):
        raise TypeError(f"trace expected a {describe()} layer, got {type(layer).__name__}")
    x = layer.check_input(x)
    if not layer.built:
        layer.build(x.shape[2])
    step = copy.deepcopy(layer)
    step.stateful = True
    step.reset_state(initial_state)
    steps = [record(step, x[:, t : t + 1])[0] for t in range(x.shape[1])]
    values = {k: np.concatenate([s.values[k] for s in steps], axis=1) for k in steps[0].values}
    return dataclasses.replace(
        steps[0],
        x=np.concatenate([s.x for s in steps], axis=1),
        values=values,
        steps=np.arange(x.shape[1]),
        layer=layer,
    )
