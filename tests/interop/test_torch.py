"""from_torch / to_torch: lossless round trips, and clear errors for what PyTorch cannot express."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import rnnlab as rl
from rnnlab.interop.torch import from_torch, to_torch

pytestmark = pytest.mark.usefixtures("torch_one_thread")


MODULES = [
    lambda: torch.nn.RNN(3, 4),
    lambda: torch.nn.RNN(3, 4, nonlinearity="relu", num_layers=3, batch_first=True),
    lambda: torch.nn.RNN(2, 3, num_layers=2, bidirectional=True, dtype=torch.float64),
    lambda: torch.nn.LSTM(3, 4, batch_first=True),
    lambda: torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True),
    lambda: torch.nn.LSTM(5, 3, num_layers=3, bidirectional=True, batch_first=True, dtype=torch.float64),
]


@pytest.mark.parametrize("make", MODULES)
def test_round_trip_reproduces_every_weight(make):
    torch.manual_seed(0)
    m = make()
    back = to_torch(from_torch(m))
    assert type(back) is type(m) and back.batch_first
    for attr in ("input_size", "hidden_size", "num_layers", "bidirectional", "bias"):
        assert getattr(back, attr) == getattr(m, attr), attr
    if isinstance(m, torch.nn.RNN):
        assert back.nonlinearity == m.nonlinearity
    ours, theirs = dict(back.named_parameters()), dict(m.named_parameters())
    assert set(ours) == set(theirs)
    for name, p in theirs.items():
        assert ours[name].dtype == p.dtype
        if name.startswith("weight"):
            assert torch.equal(ours[name], p), name
        elif name.startswith("bias_ih"):  # only the sum of the two biases is a weight of the model
            other = name.replace("bias_ih", "bias_hh")
            assert torch.equal(ours[name] + ours[other], p + theirs[other]), name
            assert not torch.any(ours[other])


@pytest.mark.parametrize("cell", [torch.nn.RNN, torch.nn.LSTM])
def test_round_trip_without_bias(cell):
    m = cell(3, 4, num_layers=2, bidirectional=True, bias=False)
    back = to_torch(from_torch(m), bias=False)
    ours = back.state_dict()
    assert set(ours) == set(m.state_dict())
    for name, p in m.state_dict().items():
        assert torch.equal(ours[name], p), name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnnlab_to_torch_computes_the_same(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 3)).astype(dtype)
    model = rl.Stack([rl.Bidirectional(rl.LSTM(4, return_sequences=True, dtype=dtype, seed=k)) for k in range(2)])
    y = model(x)
    m = to_torch(model)
    assert m.weight_ih_l0.dtype == getattr(torch, dtype)
    with torch.no_grad():
        y_t, _ = m(torch.tensor(x))
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y, y_t.numpy(), rtol=tol, atol=tol)
    again = from_torch(m)
    for key, p in model.params.items():
        np.testing.assert_array_equal(again.params[key], p, err_msg=key)


def test_simple_rnn_to_torch_return_sequences_false_on_top():
    layer = rl.SimpleRNN(3, activation="relu", seed=0)
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype(np.float32)
    h = layer(x)
    m = to_torch(layer)
    assert m.nonlinearity == "relu"
    with torch.no_grad():
        _, h_t = m(torch.tensor(x))
    np.testing.assert_allclose(h, h_t[0].numpy(), rtol=1e-6, atol=1e-6)


def test_from_torch_layout():
    m = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    model = from_torch(m, return_state=True)
    assert isinstance(model, rl.Stack) and len(model.layers) == 2
    assert all(isinstance(level, rl.Bidirectional) and level.merge_mode == "concat" for level in model.layers)
    assert all(level.return_sequences for level in model.layers)
    assert model.layers[1].return_state and not model.layers[0].return_state
    assert model.layers[0].forward_layer.input_dim == 3 and model.layers[1].forward_layer.input_dim == 8
    single = from_torch(torch.nn.RNN(3, 4, nonlinearity="relu"))
    assert isinstance(single, rl.SimpleRNN) and single.activation == "relu" and single.return_sequences


def built(layer, input_dim=3):
    layer.build(input_dim)
    return layer


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: torch.nn.Linear(3, 4), TypeError, r"torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, got Linear"),
        (lambda: torch.nn.RNN(3, 4, dtype=torch.float16), ValueError, r"float32 or float64 weights, got float16"),
    ],
    ids=["linear", "float16"],
)
def test_from_torch_errors(make, error, message):
    with pytest.raises(error, match=message):
        from_torch(make())


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: built(rl.LSTM(4, recurrent_activation="hard_sigmoid")),
            ValueError,
            r"recurrent_activation='sigmoid', got 'tanh' and 'hard_sigmoid'",
        ),
        (lambda: built(rl.LSTM(4, activation="relu")), ValueError, r"activation='tanh'.*got 'relu'"),
        (lambda: built(rl.SimpleRNN(4, activation="linear")), ValueError, r"'tanh' or 'relu', got 'linear'"),
        (
            lambda: rl.Bidirectional(built(rl.LSTM(4)), merge_mode="sum"),
            ValueError,
            r"merge_mode='concat'\) at layer 0, got merge_mode='sum'",
        ),
        (
            lambda: rl.Stack([built(rl.LSTM(4, return_sequences=True)), built(rl.SimpleRNN(4), 4)]),
            ValueError,
            r"every layer to be LSTM\(4\).*got SimpleRNN\(4\).*at layer 1",
        ),
        (
            lambda: rl.Stack([rl.Bidirectional(built(rl.LSTM(4, return_sequences=True))), built(rl.LSTM(4), 8)]),
            ValueError,
            r"every layer bidirectional, got a mixed stack at layer 1",
        ),
        (
            lambda: rl.Stack([built(rl.LSTM(4)), built(rl.LSTM(4), 4)]),
            ValueError,
            r"return_sequences=True below the top layer, got False at layer 0",
        ),
        (lambda: built(rl.SimpleRNN(4, go_backwards=True)), ValueError, r"go_backwards=False at layer 0.*got True"),
        (lambda: rl.SimpleRNN(4), ValueError, r"not built"),
        (
            lambda: rl.Stack([built(rl.SimpleRNN(4, return_sequences=True)), rl.Dense(2)]),
            TypeError,
            r"SimpleRNN, LSTM, GRU, Bidirectional or a Stack of them, got Dense at layer 1",
        ),
        (
            lambda: rl.Stack([built(rl.LSTM(4, return_sequences=True)), built(rl.LSTM(4), 5)]),
            ValueError,
            r"input_dim 4 at layer 1, got 5",
        ),
    ],
    ids=[
        "hard_sigmoid",
        "lstm-relu",
        "linear",
        "merge-sum",
        "mixed-cells",
        "mixed-directions",
        "no-sequences-below",
        "go_backwards",
        "unbuilt",
        "dense",
        "input_dim",
    ],
)
def test_to_torch_errors(make, error, message):
    with pytest.raises(error, match=message):
        to_torch(make())


def test_to_torch_without_bias_needs_zero_biases():
    layer = built(rl.LSTM(2))  # unit_forget_bias: the forget block of b is 1
    with pytest.raises(ValueError, match=r"bias=False\) expected zero biases, got nonzero b at layer 0"):
        to_torch(layer, bias=False)


def test_torch_is_imported_lazily():
    code = "import sys, rnnlab; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_missing_torch_names_the_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from rnnlab.interop.torch import from_torch\n"
        "try:\n    from_torch(None)\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install rnnlab[torch]" in out
