"""A cell is a plug-in: a linear RNN defined here, registered from outside the package, works through
the layer, Bidirectional, Stack, Sequential with save/load, and probe.record, with no rnnlab file edited.

    h_t = x_t W + h_{t-1} U + b        (a SimpleRNN without its φ: the smallest cell there is)
"""

import types

import numpy as np
import pytest
from gradcheck_util import check, loss, random_weights

import rnnlab as rl
from rnnlab.kernels import switch
from rnnlab.nn import cells


def _forward(x, params, state, mask=None, rdrop=None):
    """x (T, B, D) -> (y (T, B, H), (h_T,), cache); a masked step carries h and outputs 0."""
    W, U, b = params["W"], params["U"], params["b"]
    T, B, _ = x.shape
    h = np.empty((T + 1, B, U.shape[0]), x.dtype)
    h[0] = state[0]
    for t in range(T):
        h_prev = h[t] if rdrop is None else h[t] * rdrop
        h_new = x[t] @ W + h_prev @ U + b  # h_t = x_t W + h_{t-1} U + b
        h[t + 1] = h_new if mask is None else np.where(mask[t, :, None], h_new, h[t])
    y = h[1:] if mask is None else np.where(mask[:, :, None], h[1:], 0)
    return y, (h[T].copy(),), dict(x=x, W=W, U=U, h=h, mask=mask, rdrop=rdrop)


def _backward(dy, dstate, cache):
    """Exact BPTT of _forward: (dx (T, B, D), (dh_0,), grads W, U, b)."""
    x, W, U, h, mask, rdrop = (cache[k] for k in ("x", "W", "U", "h", "mask", "rdrop"))
    T, B, _ = x.shape
    dh = np.zeros_like(h[0]) if dstate[0] is None else np.array(dstate[0], x.dtype)
    dz = np.empty_like(h[1:])
    for t in reversed(range(T)):
        dh_t = dh if dy is None else dh + dy[t]  # everything that reaches h_t
        if mask is not None:
            dh_t = np.where(mask[t, :, None], dh_t, 0)
        dz[t] = dh_t  # the cell is linear: ∂h_t/∂z_t = 1
        dh_rec = dz[t] @ U.T if rdrop is None else (dz[t] @ U.T) * rdrop
        dh = dh_rec if mask is None else np.where(mask[t, :, None], 0, dh) + dh_rec
    h_prev = h[:-1] if rdrop is None else h[:-1] * rdrop
    grads = {"W": np.einsum("tbd,tbg->dg", x, dz), "U": np.einsum("tbh,tbg->hg", h_prev, dz), "b": dz.sum((0, 1))}
    return np.einsum("tbg,dg->tbd", dz, W), (dh,), grads


LINEAR_KERNEL = types.SimpleNamespace(forward=_forward, backward=_backward)  # no infer: made from forward


class LinearRNN(rl.nn.Recurrent):
    """h_t = x_t W + h_{t-1} U + b; x (B, T, D) -> (B, T, H) or (B, H)."""

    cell = "linear_rnn"
    gate_names = ("h",)
    state_names = ("h",)

    def __init__(self, units, activation="linear", **kwargs):  # get_config() must come back through __init__
        if activation != "linear":
            raise ValueError(f"LinearRNN expected activation 'linear', got {activation!r}")
        super().__init__(units, activation=activation, **kwargs)

    def kernel_options(self):
        return {}


@pytest.fixture
def linear_cell(monkeypatch):
    """LinearRNN registered for one test, the registries restored after."""
    monkeypatch.setattr(cells, "_CELLS", dict(cells._CELLS))
    monkeypatch.setattr(switch, "_REFERENCE", dict(switch._REFERENCE))
    monkeypatch.setattr(switch, "_fast_loaded", dict(switch._fast_loaded))
    rl.nn.register_cell(LinearRNN, reference=LINEAR_KERNEL)
    return LinearRNN


def _data(B=2, T=4, D=3, seed=0):
    return np.random.default_rng(seed).standard_normal((B, T, D))


def test_registration_makes_it_known(linear_cell):
    assert rl.nn.cell_class("linear_rnn") is linear_cell and rl.nn.cell_class("LinearRNN") is linear_cell
    assert linear_cell in rl.nn.cell_classes()
    assert rl.kernels.get("linear_rnn", "reference") is LINEAR_KERNEL
    assert rl.kernels.get("linear_rnn", "fast") is LINEAR_KERNEL  # no fast module: the reference runs
    assert "LinearRNN" in cells.describe()


@pytest.mark.parametrize("backend", ["reference", "fast"])
def test_the_layer_computes_the_equation_and_its_gradients(linear_cell, backend):
    x = _data()
    layer = linear_cell(3, return_sequences=True, dtype="float64", seed=0)
    layer.backend = backend
    mask = np.array([[True, True, True, False], [True, False, True, True]])
    y = layer(x, mask=mask)
    W, U, b = (layer.params[k] for k in "WUb")
    h = np.zeros((2, 3))
    for t in range(4):
        h_new = x[:, t] @ W + h @ U + b
        h = np.where(mask[:, t, None], h_new, h)
        np.testing.assert_allclose(y[:, t], np.where(mask[:, t, None], h_new, 0), rtol=1e-12, atol=1e-12)
    R = np.random.default_rng(1).standard_normal(y.shape)
    dx = layer.backward(R)
    pairs = [("x", x, dx)] + [(k, layer.params[k], layer.grads[k]) for k in "WUb"]
    check(lambda: loss(layer(x, mask=mask), R), pairs)
    with rl.inference_mode():  # the batch-first inference entry made from forward
        np.testing.assert_allclose(layer(x, mask=mask), y, rtol=1e-12, atol=1e-12)


def test_bidirectional_and_stack_take_it(linear_cell):
    x = _data()
    model = rl.Stack(
        [
            rl.Bidirectional(linear_cell(2, return_sequences=True, dtype="float64", seed=0)),
            linear_cell(2, dtype="float64", seed=1),
        ]
    )
    y = model(x)
    R = random_weights(y, np.random.default_rng(2))
    dx = model.backward(R)
    params, grads = model.params, model.grads
    assert sorted(params) == [
        "0.backward.U",
        "0.backward.W",
        "0.backward.b",
        "0.forward.U",
        "0.forward.W",
        "0.forward.b",
        "1.U",
        "1.W",
        "1.b",
    ]
    check(lambda: loss(model(x), R), [("x", x, dx)] + [(k, params[k], grads[k]) for k in sorted(params)])


def test_save_and_load_give_the_same_model(linear_cell, tmp_path):
    x = _data().astype(np.float32)
    model = rl.Sequential([linear_cell(4, return_sequences=True, seed=0), rl.Dense(1, seed=0)])
    model.compile("mse", optimizer=rl.optim.Adam(1e-2))
    model.fit(x, np.ones((2, 4, 1), np.float32), epochs=2, verbose=0, seed=0)
    model.save(tmp_path / "linear.rnnlab")
    same = rl.load(tmp_path / "linear.rnnlab")
    assert type(same.layers[0]) is linear_cell
    np.testing.assert_array_equal(same.predict(x), model.predict(x))


def test_a_file_naming_an_unregistered_cell_is_refused(linear_cell, tmp_path, monkeypatch):
    model = rl.Sequential([linear_cell(2, seed=0)])
    model.build((3, 1))
    model.save(tmp_path / "linear.rnnlab")
    monkeypatch.setattr(cells, "_CELLS", {k: v for k, v in cells._CELLS.items() if v is not linear_cell})
    with pytest.raises(ValueError, match="layer class expected one of .* got 'LinearRNN'"):
        rl.load(tmp_path / "linear.rnnlab")


def test_probe_record_reads_its_cache(linear_cell):
    x = _data()
    layer = linear_cell(3, dtype="float64", seed=0)
    rec = rl.probe.record(layer, x)[0]
    assert rec.cell == "linear_rnn" and list(rec.arrays()) == ["h"]
    W, U, b = (layer.params[k] for k in "WUb")
    h_prev = np.concatenate([rec.h0[:, None], rec.h[:, :-1]], axis=1)
    np.testing.assert_allclose(rec.h, x @ W + h_prev @ U + b, rtol=1e-12, atol=1e-12)
    assert "h" in rec.table(units=2)


def test_the_converters_refuse_it_by_name(linear_cell):
    layer = linear_cell(2, seed=0)
    layer.build(1)
    with pytest.raises(ValueError, match="no PyTorch, Keras or ONNX layout for the cell 'linear_rnn'"):
        rl.interop.torch.to_torch(layer)


def test_a_class_that_breaks_the_contract_is_refused(linear_cell):
    class NoStates(rl.nn.Recurrent):
        cell = "linear_rnn"
        state_names = ()

    with pytest.raises(TypeError, match="state_names as a tuple of names"):
        rl.nn.register_cell(NoStates)
    with pytest.raises(TypeError, match="subclass of rnnlab.nn.Recurrent"):
        rl.nn.register_cell(dict)

    class Unknown(rl.nn.Recurrent):
        cell = "never_registered"

    with pytest.raises(ValueError, match="registered cell"):
        rl.nn.register_cell(Unknown)
