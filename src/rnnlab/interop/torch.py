"""PyTorch ↔ rnnlab: nn.RNN / nn.LSTM / nn.GRU to SimpleRNN / LSTM / GRU / Bidirectional / Stack, and back.

PyTorch keeps, per layer k and direction, weight_ih_l{k} (G·H, D), weight_hh_l{k}
(G·H, H) and two biases, the LSTM gate blocks in the order i, f, g, o — the same
as ours (i, f, C̃, o). So W = weight_ihᵀ, U = weight_hhᵀ, b = bias_ih + bias_hh;
going back, bias_ih = b and bias_hh = 0 (only the sum enters the equations).
The GRU's blocks are r, z, n in PyTorch and z, r, h̃ here (Keras'), and its
equations are those of reset_after=True, where the recurrent bias b_hn sits
inside r ⊙ (·): W = weight_ihᵀ and U = weight_hhᵀ with the first two blocks
swapped, b = [bias_ih, bias_hh] (2, 3H) likewise; a reset_after=False GRU has
no PyTorch counterpart and is refused. An LSTM with proj_size P keeps weight_hr_l{k}
(P, H) besides: W_hr = weight_hrᵀ (H, P), and weight_hh is then (4H, P). PyTorch
has no peepholes: an LSTM with peepholes is refused. A module with bias=False is a
layer with use_bias=False (no b at all), and back.
rnnlab is always batch-first; PyTorch's batch_first only changes how it is called.
"""

import numpy as np

from .. import nn
from . import common

_DTYPES = {"float32": np.float32, "float64": np.float64}


def _torch():
    return common.require("torch", "torch")


def _numpy(t):
    return t.detach().cpu().numpy()


# position k of rnnlab's GRU order (z, r, h̃) holds PyTorch's block GRU_FROM_TORCH[k] of (r, z, n); it is its own inverse
GRU_FROM_TORCH = (1, 0, 2)


def from_torch(module, return_state=False):
    """An rnnlab layer with the weights of a torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU.

    One layer: SimpleRNN, LSTM (with the module's proj_size) or GRU (reset_after=True);
    bidirectional: Bidirectional(merge_mode="concat"); num_layers > 1: a Stack of those.
    Every layer returns sequences, as PyTorch does; with return_state the top layer also
    returns its final states. The dtype is the module's; bias=False gives layers with
    use_bias=False. PyTorch's dropout between layers acts in training only and is not
    carried over.
    """
    torch = _torch()
    if isinstance(module, torch.nn.LSTM):
        make = nn.LSTM
        options = {"unit_forget_bias": False, "proj_size": module.proj_size}
    elif isinstance(module, torch.nn.GRU):
        make = nn.GRU
        options = {"reset_after": True}
    elif isinstance(module, torch.nn.RNN):
        make = nn.SimpleRNN
        options = {"activation": module.nonlinearity}
    else:
        raise TypeError(f"from_torch expected torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, got {type(module).__name__}")
    dtype = str(module.weight_ih_l0.dtype).replace("torch.", "")
    if dtype not in _DTYPES:
        raise ValueError(f"from_torch expected float32 or float64 weights, got {dtype}")

    layers = []
    for k in range(module.num_layers):
        last = k == module.num_layers - 1
        directions = []
        for suffix in ("", "_reverse")[: 1 + module.bidirectional]:
            w_ih, w_hh = getattr(module, f"weight_ih_l{k}{suffix}"), getattr(module, f"weight_hh_l{k}{suffix}")
            layer = make(
                module.hidden_size,
                return_sequences=True,
                return_state=return_state and last,
                go_backwards=bool(suffix),
                use_bias=bool(module.bias),
                dtype=dtype,
                name=f"l{k}{suffix}",
                **options,
            )
            W, U = _numpy(w_ih).T, _numpy(w_hh).T
            b = None
            if make is nn.GRU:
                W, U = (common.reorder_blocks(a, GRU_FROM_TORCH) for a in (W, U))
                if module.bias:
                    biases = [_numpy(getattr(module, f"bias_{side}_l{k}{suffix}")) for side in ("ih", "hh")]
                    b = common.reorder_blocks(np.stack(biases), GRU_FROM_TORCH)
            elif module.bias:
                b = _numpy(getattr(module, f"bias_ih_l{k}{suffix}") + getattr(module, f"bias_hh_l{k}{suffix}"))
            extra = (
                {"W_hr": _numpy(getattr(module, f"weight_hr_l{k}{suffix}")).T}
                if make is nn.LSTM and module.proj_size
                else {}
            )
            directions.append(layer.set_weights(W, U, b, **extra))
        layers.append(
            nn.Bidirectional(directions[0], merge_mode="concat", backward_layer=directions[1])
            if module.bidirectional
            else directions[0]
        )
    return layers[0] if len(layers) == 1 else nn.Stack(layers, name="torch_stack")


def _directions(layer, position):
    """[forward] or [forward, backward] leaf layers of one level, checked for PyTorch."""
    if isinstance(layer, nn.Bidirectional):
        if layer.merge_mode != "concat":
            raise ValueError(
                f"to_torch expected Bidirectional(merge_mode='concat') at layer {position}, "
                f"got merge_mode={layer.merge_mode!r}"
            )
        leaves = [layer.forward_layer, layer.backward_layer]
        if leaves[0].go_backwards or not leaves[1].go_backwards:
            raise ValueError(
                f"to_torch expected a forward and a go_backwards direction at layer {position}, "
                f"got go_backwards={leaves[0].go_backwards}, {leaves[1].go_backwards}"
            )
    elif isinstance(layer, nn.Recurrent):
        common.kind_of(layer)  # a cell without a PyTorch layout is refused here, by name
        if layer.go_backwards:
            raise ValueError(
                f"to_torch expected go_backwards=False at layer {position} "
                "(PyTorch runs one direction backwards only inside a bidirectional layer), got True"
            )
        leaves = [layer]
    else:
        raise TypeError(
            f"to_torch expected SimpleRNN, LSTM, GRU, Bidirectional or a Stack of them, "
            f"got {type(layer).__name__} at layer {position}"
        )
    for leaf in leaves:
        common.check_built(leaf)
    return leaves


def _check_cell(leaf, first, position):
    if type(leaf) is not type(first) or leaf.state_widths() != first.state_widths() or leaf.dtype != first.dtype:
        raise ValueError(
            f"to_torch expected every layer to be {_shape_name(first)} of "
            f"{np.dtype(first.dtype).name}, got {_shape_name(leaf)} of "
            f"{np.dtype(leaf.dtype).name} at layer {position}"
        )
    if isinstance(leaf, (nn.LSTM, nn.GRU)):
        kind = type(leaf).__name__
        if leaf.activation != "tanh" or leaf.recurrent_activation != "sigmoid":
            raise ValueError(
                f"to_torch expected a {kind} with activation='tanh' and recurrent_activation='sigmoid', "
                f"got {leaf.activation!r} and {leaf.recurrent_activation!r} at layer {position}"
            )
        if kind == "LSTM" and leaf.peepholes:
            raise ValueError(
                f"to_torch expected an LSTM without peepholes (torch.nn.LSTM has none), "
                f"got peepholes=True at layer {position}"
            )
        if kind == "GRU" and not leaf.reset_after:
            raise ValueError(
                f"to_torch expected a GRU with reset_after=True (PyTorch applies the reset gate after "
                f"the recurrent product), got reset_after=False at layer {position}"
            )
    elif leaf.activation not in ("tanh", "relu"):
        raise ValueError(
            f"to_torch expected a SimpleRNN activation 'tanh' or 'relu', got {leaf.activation!r} at layer {position}"
        )
    elif leaf.activation != first.activation:
        raise ValueError(
            f"to_torch expected one activation for every layer, got {first.activation!r} and "
            f"{leaf.activation!r} at layer {position}"
        )


def _shape_name(leaf):
    """The layer as a message names it: LSTM(4), or LSTM(4, proj_size=2)."""
    proj = getattr(leaf, "proj_size", 0)
    return f"{type(leaf).__name__}({leaf.units}{f', proj_size={proj}' if proj else ''})"


def to_torch(obj, bias=None):
    """A torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU (batch_first=True) with the weights of `obj`.

    obj: a built SimpleRNN, LSTM (proj_size allowed, peepholes not) or GRU (reset_after=True),
    Bidirectional(merge_mode="concat") of one, or a Stack of such layers with the same cell,
    units and direction. bias: None (default) follows the layers' use_bias, which must then
    agree; True makes a module with biases (zero for layers without one); False makes one
    without biases and requires every b to be zero. Dropout rates and stateful are not
    carried over.
    """
    torch = _torch()
    layers = list(obj.layers) if isinstance(obj, nn.Stack) else [obj]
    levels = [_directions(layer, k) for k, layer in enumerate(layers)]
    first = levels[0][0]
    bidirectional = len(levels[0]) == 2
    if bias is None:
        bias = first.use_bias
        for k, leaves in enumerate(levels):
            for leaf in leaves:
                if leaf.use_bias != bias:
                    raise ValueError(
                        f"to_torch expected every layer with use_bias={bias} (a PyTorch module has biases in "
                        f"all layers or none), got use_bias={leaf.use_bias} at layer {k}; pass bias=True to "
                        "give the layers without one a zero bias"
                    )
    for k, (layer, leaves) in enumerate(zip(layers, levels)):
        if (len(leaves) == 2) != bidirectional:
            raise ValueError(
                f"to_torch expected every layer {'bi' if bidirectional else 'uni'}directional, "
                f"got a mixed stack at layer {k}"
            )
        if k < len(layers) - 1 and not layer.return_sequences:
            raise ValueError(f"to_torch expected return_sequences=True below the top layer, got False at layer {k}")
        width = first.input_dim if k == 0 else first.output_units * len(leaves)
        for leaf in leaves:
            _check_cell(leaf, first, k)
            common.check_no_initial_state(leaf, "PyTorch")
            if leaf.input_dim != width:
                raise ValueError(f"to_torch expected input_dim {width} at layer {k}, got {leaf.input_dim}")
            if not bias and leaf.use_bias and np.any(leaf.params["b"]):
                raise ValueError(f"to_torch(bias=False) expected zero biases, got nonzero b at layer {k}")

    dtype = getattr(torch, np.dtype(first.dtype).name)
    kwargs = dict(num_layers=len(layers), bias=bias, batch_first=True, bidirectional=bidirectional, dtype=dtype)
    if isinstance(first, nn.LSTM):
        module = torch.nn.LSTM(first.input_dim, first.units, proj_size=first.proj_size, **kwargs)
    elif isinstance(first, nn.GRU):
        module = torch.nn.GRU(first.input_dim, first.units, **kwargs)
    else:
        module = torch.nn.RNN(first.input_dim, first.units, nonlinearity=first.activation, **kwargs)
    with torch.no_grad():
        for k, leaves in enumerate(levels):
            for suffix, leaf in zip(("", "_reverse"), leaves):
                params = leaf.kernel_params()  # a zero b for a layer without one
                if isinstance(leaf, nn.GRU):  # blocks z, r, h̃ to r, z, n; b[0] to bias_ih, b[1] to bias_hh
                    W, U, b = (common.reorder_blocks(params[key], GRU_FROM_TORCH) for key in ("W", "U", "b"))
                    getattr(module, f"weight_ih_l{k}{suffix}").copy_(torch.from_numpy(W.T.copy()))
                    getattr(module, f"weight_hh_l{k}{suffix}").copy_(torch.from_numpy(U.T.copy()))
                    if bias:
                        getattr(module, f"bias_ih_l{k}{suffix}").copy_(torch.from_numpy(b[0].copy()))
                        getattr(module, f"bias_hh_l{k}{suffix}").copy_(torch.from_numpy(b[1].copy()))
                    continue
                getattr(module, f"weight_ih_l{k}{suffix}").copy_(torch.from_numpy(params["W"].T.copy()))
                getattr(module, f"weight_hh_l{k}{suffix}").copy_(torch.from_numpy(params["U"].T.copy()))
                if "W_hr" in params:
                    getattr(module, f"weight_hr_l{k}{suffix}").copy_(torch.from_numpy(params["W_hr"].T.copy()))
                if bias:
                    getattr(module, f"bias_ih_l{k}{suffix}").copy_(torch.from_numpy(params["b"].copy()))
                    getattr(module, f"bias_hh_l{k}{suffix}").zero_()
    return module
