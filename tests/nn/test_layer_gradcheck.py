"""Layers, Bidirectional and Stack: backward against central differences in float64.

Every parameter element, every input element and every initial-state element
is perturbed; the loss is Σ out ⊙ R over all outputs (sequence, states, both
directions). Shapes and options are drawn by hypothesis.
"""

import numpy as np
from gradcheck_util import check, flatten, leaves, loss, random_weights, relu_ok
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rnnlab as rl

SETTINGS = settings(max_examples=15, deadline=None)
KINDS = ("rnn-tanh", "rnn-relu", "lstm")
MASKS = ("none", "padding", "empty-row", "scattered")
SHAPES = dict(B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(1, 3))


def make(kind, H, **options):
    if kind == "lstm":
        return rl.LSTM(H, dtype="float64", **options)
    return rl.SimpleRNN(H, activation=kind.split("-")[1], dtype="float64", **options)


def make_mask(kind, B, T, rng):
    """(B, T) bool or None: right padding (random lengths, 0 included), padding whose
    first row is empty (all masked), or scattered holes."""
    if kind == "none":
        return None
    if kind in ("padding", "empty-row"):
        lengths = rng.integers(0, T + 1, size=(B, 1))
        if kind == "empty-row":
            lengths[0] = 0
        return np.arange(T)[None, :] < lengths
    return rng.random((B, T)) < 0.6


def randomize(model, rng):
    """Random weights of a moderate size instead of the initializers' (zero biases, say)."""
    for p in model.params.values():
        p[...] = 0.5 * rng.standard_normal(p.shape)


def state_arrays(model, B, rng):
    """Random initial states in the structure `model` takes, and the flat list of them."""
    if isinstance(model, rl.Stack):
        per_layer = [state_arrays(layer, B, rng)[0] for layer in model.layers]
        return per_layer, [s for states in per_layer for s in states]
    states = [rng.standard_normal((B, leaf.units)) for leaf in leaves(model) for _ in leaf.state_names]
    return states, states


def gradcheck(model, x, mask, rng, with_state, training=False):
    """Check d(loss)/d(params, x, initial states) of one call of `model`."""
    B = x.shape[0]
    init, flat_init = state_arrays(model, B, rng) if with_state else (None, [])

    def run():
        for k, leaf in enumerate(leaves(model)):
            leaf.rng = np.random.default_rng(k)  # the same dropout masks on every call
        return model(x, mask=mask, initial_state=init, training=training)

    model(x, mask=mask)  # builds the weights
    randomize(model, rng)
    R = random_weights(run(), rng)
    assume(relu_ok(model))
    dx = model.backward(R)
    params, grads = model.params, model.grads
    assert set(params) == set(grads)
    pairs = [("x", x, dx)] + [(k, params[k], grads[k]) for k in sorted(params)]
    if with_state:
        state_grads = model.state_grads
        flat_grads = flatten(state_grads)
        assert len(flat_grads) == len(flat_init)
        pairs += [(f"state{k}", s, g) for k, (s, g) in enumerate(zip(flat_init, flat_grads))]
    return check(lambda: loss(run(), R), pairs)


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    **SHAPES,
    mask=st.sampled_from(MASKS),
    return_sequences=st.booleans(),
    return_state=st.booleans(),
    go_backwards=st.booleans(),
    with_state=st.booleans(),
    dropout=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_layer(kind, B, T, D, H, mask, return_sequences, return_state, go_backwards, with_state, dropout, seed):
    rng = np.random.default_rng(seed)
    rate = 0.3 if dropout else 0.0
    layer = make(
        kind,
        H,
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        dropout=rate,
        recurrent_dropout=rate,
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(layer, x, make_mask(mask, B, T, rng), rng, with_state, training=dropout)


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    **SHAPES,
    merge_mode=st.sampled_from(["concat", "sum", "mul", "ave", None]),
    mask=st.sampled_from(MASKS),
    return_sequences=st.booleans(),
    return_state=st.booleans(),
    with_state=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_bidirectional(kind, B, T, D, H, merge_mode, mask, return_sequences, return_state, with_state, seed):
    rng = np.random.default_rng(seed)
    layer = rl.Bidirectional(
        make(kind, H, return_sequences=return_sequences, return_state=return_state), merge_mode=merge_mode
    )
    x = rng.standard_normal((B, T, D))
    gradcheck(layer, x, make_mask(mask, B, T, rng), rng, with_state)


@SETTINGS
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=2, max_size=3),
    bidi=st.lists(st.booleans(), min_size=3, max_size=3),
    **SHAPES,
    mask=st.sampled_from(["none", "padding", "empty-row"]),
    return_sequences=st.booleans(),
    return_state=st.booleans(),
    with_state=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stack(kinds, bidi, B, T, D, H, mask, return_sequences, return_state, with_state, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for k, kind in enumerate(kinds):
        last = k == len(kinds) - 1
        layer = make(kind, H, return_sequences=return_sequences or not last, return_state=return_state and last)
        layers.append(rl.Bidirectional(layer) if bidi[k] else layer)
    x = rng.standard_normal((B, T, D))
    gradcheck(rl.Stack(layers), x, make_mask(mask, B, T, rng), rng, with_state)


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    **SHAPES,
    mask=st.sampled_from(MASKS),
    return_sequences=st.booleans(),
    go_backwards=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stateful_second_call(kind, B, T, D, H, mask, return_sequences, go_backwards, seed):
    """Gradients of the second call, with the state carried from the first held fixed."""
    rng = np.random.default_rng(seed)
    layer = make(kind, H, stateful=True, return_sequences=return_sequences, go_backwards=go_backwards)
    layer(rng.standard_normal((B, T, D)))
    randomize(layer, rng)
    layer.reset_state()
    layer(rng.standard_normal((B, T, D)))  # the first call: its final states are carried
    carried = [s.copy() for s in layer.final_state]
    x, m = rng.standard_normal((B, T, D)), make_mask(mask, B, T, rng)

    def run():
        layer.reset_state(carried)
        return layer(x, mask=m)

    R = random_weights(run(), rng)
    assume(relu_ok(layer))
    dx = layer.backward(R)
    pairs = [("x", x, dx)] + [(k, layer.params[k], layer.grads[k]) for k in "WUb"]
    pairs += [(f"carried {name}", s, g) for name, s, g in zip(layer.state_names, carried, layer.state_grads)]
    check(lambda: loss(run(), R), pairs)
