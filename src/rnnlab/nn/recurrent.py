"""What every recurrent layer shares: input checks, masks, direction, state and dropout.

The layer is batch-first, (batch, time, features), as in Keras; the kernels are
time-major, so the layer transposes once on the way in and once on the way out.
Under inference_mode() (nn/mode.py) it calls the kernel's batch-first infer()
instead, which keeps nothing for backward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import checks, initializers, kernels
from ..kernels import inference
from ..kernels.segmented import Segmented
from .base import Layer, aligned, as_array, as_float_array, check_grad, check_mask
from .mode import is_inference


class Recurrent(Layer):
    """Base of the recurrent layers: a cell's layer class sets the cell contract below.

    Contract (see nn/cells.py): `cell` the kernel's registered name; `gate_names`
    the blocks of W (D, G·H), U (H, G·H) and b (G·H,), G = len(gate_names);
    `state_names` the states the kernel carries, "h" first (the output);
    `kernel_options()` the keyword arguments of its kernel; `record_steps(cache)`
    what probe.record shows.

    Arguments (Keras'): units H; activation; use_bias; return_sequences; return_state;
    go_backwards; stateful; kernel_, recurrent_ and bias_initializer (a name, or a callable
    (shape, dtype) as Keras' initializers, or (shape, rng, dtype): initializers.get); dropout and
    recurrent_dropout rates in [0, 1); dtype float32 or float64; seed; name;
    bptt_steps, checkpoint_every (kernels/segmented.py).
    use_bias=False: the layer holds no b at all (params, grads, weights files, param counts);
    its kernel reads a zero b made for each call in its place and the gradient it returns for
    it is dropped, so nothing is learned for it (bias_initializer is then unused).
    zero_output_for_mask (Keras' meaning): what a masked step outputs. True: zero, at every step
    and as the last output without return_sequences (zero when the last step processed is masked);
    False: the previous step's output (zero before the first real step), so the last output is h of
    the last real step. None (default): True with return_sequences, False without, rnnlab's
    behaviour before the option existed (and what Keras' Bidirectional forces on its layers).
    initial_state_rows: 0 (default) starts from zero states; n > 0 gives the layer parameters
    "h0" (and "c0", ...) of shape (n, H), trained and saved with the weights, used when no
    initial_state is passed (and no stateful carry is held): 1 row is broadcast to any batch,
    n > 1 rows require batch n (ONNX files whose initial states are constants of a fixed batch).
    unroll: accepted for Keras compatibility and ignored (the kernels loop over time in any case;
    unrolling changes speed only, never the numbers).
    Inputs: x (B, T, D); mask (B, T) bool, True on real steps; initial_state, one
    (B, H) array per state name; training (dropout on).
    Outputs: (B, T, H) with return_sequences, else h_T (B, H); with return_state
    also the final states, each (B, H).
    After a call: `final_state` (the states, a tuple) and `kernel_cache`; after
    backward: `grads` and `state_grads` (∂L/∂ initial states). `backend` pins the
    layer to one kernel backend (None follows rnnlab.set_backend).
    """

    cell = None  # the kernel's registered name
    gate_names = ("h",)  # the blocks of W, U and b, in order
    state_names = ("h",)  # the states the kernel carries, "h" first
    supports_masking = True  # takes a (B, T) mask; passes it on while the time axis stays

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        use_bias: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        kernel_initializer: str | Callable = "glorot_uniform",
        recurrent_initializer: str | Callable = "orthogonal",
        bias_initializer: str | Callable = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        dtype: str | np.dtype = "float32",
        seed: int | None = None,
        name: str | None = None,
        bptt_steps: int | None = None,
        checkpoint_every: int | None = None,
        zero_output_for_mask: bool | None = None,
        initial_state_rows: int = 0,
        unroll: bool = False,
    ):
        super().__init__(dtype=dtype, name=name)
        if zero_output_for_mask is not None:
            checks.flag("zero_output_for_mask", zero_output_for_mask)
        self.zero_output_for_mask = zero_output_for_mask
        self.initial_state_rows = checks.non_negative_int("initial_state_rows", initial_state_rows)
        checks.flag("unroll", unroll)  # ignored: see the docstring
        self.units = checks.positive_int("units", units)
        self.activation = activation
        self.use_bias = checks.flag("use_bias", use_bias)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        for init in (kernel_initializer, recurrent_initializer, bias_initializer):
            initializers.get(init)
        self.dropout = checks.rate("dropout", dropout)
        self.recurrent_dropout = checks.rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        # long sequences (kernels/segmented.py): truncated BPTT, recomputation; None = neither
        self.bptt_steps, self.checkpoint_every = bptt_steps, checkpoint_every
        if bptt_steps is not None or checkpoint_every is not None:
            Segmented(None, bptt_steps, checkpoint_every)  # checks the values
        self.rng = np.random.default_rng(seed)
        self.input_dim = None
        self.final_state = None  # states after the last call, a tuple
        self.state_grads = None  # ∂L/∂(initial states) after the last backward, a tuple
        self._carry = None  # stateful: states handed to the next call
        self._zeros = None  # the zero initial states of the last batch size
        self._cache = None
        self._inferred = False  # the last forward ran under inference_mode: no cache
        self.backend = None  # kernel backend of this layer; None follows rnnlab.set_backend

    @property
    def zeros_masked_output(self):
        """Whether a masked step outputs zero (zero_output_for_mask, None resolved)."""
        return self.return_sequences if self.zero_output_for_mask is None else self.zero_output_for_mask

    @property
    def initial_state_names(self):
        """The parameters holding the initial states ("h0", ...), empty without initial_state_rows."""
        return tuple(f"{name}0" for name in self.state_names) if self.initial_state_rows else ()

    def state_widths(self):
        """The width of each state, in the order of state_names: H, unless the cell says otherwise
        (a projected LSTM's h is proj_size wide)."""
        return (self.units,) * len(self.state_names)

    @property
    def output_units(self):
        """The width of h, hence of the output."""
        return self.state_widths()[0]

    def kernel_name(self):
        """The registered kernel this layer runs: `cell`, unless its options need another one."""
        return self.cell

    @property
    def gates(self):
        """G, the number of blocks in W, U and b."""
        return len(self.gate_names)

    @classmethod
    def record_steps(cls, cache):
        """What probe.record shows of a kernel cache: ({name: (T, B, H)}, {state: (B, H) initial}).

        The names come in the order a table lists them; this default reads h only.
        """
        return {"h": cache["h"][1:]}, {"h": cache["h"][0]}

    def compute_mask(self, x, mask):
        """The mask of the output: the input's while the time axis stays, else None."""
        return mask if self.return_sequences else None

    # ---- parameters ---------------------------------------------------------------
    def bias_shape(self):
        """The shape of b the kernel reads, (gates·H,); a cell whose bias differs (the GRU's (2, 3H)) says so here."""
        return (self.gates * self.units,)

    def param_shapes(self, input_dim):
        """{name: shape} of the parameters for input_dim D: W (D, gates·H), U (H, gates·H), b (bias_shape(),)
        unless use_bias=False, and h0 (, c0) (initial_state_rows, H) with initial_state_rows.

        build, set_weights and load (io/layers.py) read it.
        """
        H, G = self.output_units, self.gates * self.units
        shapes = {"W": (input_dim, G), "U": (H, G)}
        if self.use_bias:
            shapes["b"] = self.bias_shape()
        states = zip(self.initial_state_names, self.state_widths())
        return {**shapes, **{key: (self.initial_state_rows, width) for key, width in states}}

    @property
    def weight_names(self):
        """The arrays set_weights takes, in order: ("W", "U", "b"), or ("W", "U") without a bias."""
        return ("W", "U", "b") if self.use_bias else ("W", "U")

    def kernel_params(self):
        """The parameters as the kernel reads them: params, with a zero b under use_bias=False.

        The zero b is made anew for each call (G·H values), so no kernel can change the next
        call's; writable, so the compiled kernels need no second, read-only specialisation.
        """
        if self.use_bias:
            return self.params
        return {**self.params, "b": aligned(np.zeros(self.bias_shape(), dtype=self.dtype))}

    def build(self, input_dim):
        """Create the parameters of param_shapes(input_dim): W, U and, with use_bias, b."""
        self.input_dim = checks.positive_int("input_dim", input_dim)
        shapes = self.param_shapes(input_dim)
        init = {"W": self.kernel_initializer, "U": self.recurrent_initializer, "b": self.bias_initializer}
        # C order whatever the initializer returns (an orthogonal U may come transposed), from a cache line
        self.params = {
            key: aligned(initializers.make(init[key], shapes[key], self.rng, self.dtype, f"{self.name} {key}"))
            for key in self.weight_names
        }
        for key in self.initial_state_names:  # learned initial states start at zero
            self.params[key] = aligned(np.zeros(shapes[key], dtype=self.dtype))
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True
        return self

    def set_weights(self, W: ArrayLike, U: ArrayLike, b: ArrayLike | None = None) -> Recurrent:
        """Load weights W (D, G·H), U (H, G·H) and, with use_bias, b (param_shapes); builds the layer
        for D if needed. Without a bias (use_bias=False) b must be None.

        All or nothing: every shape is checked before anything changes.
        """
        if (b is None) == self.use_bias:
            want = f"b of shape {self.bias_shape()}" if self.use_bias else "no b (use_bias=False)"
            raise ValueError(f"{self.name} expected {want}, got {'none' if b is None else 'one'}")
        values = dict(zip(self.weight_names, (np.asarray(a) for a in (W, U, b))))
        G = self.gates * self.units
        W = values["W"]
        if W.ndim != 2 or W.shape[1] != G:
            raise ValueError(f"{self.name} expected W of shape (input_dim, {G}), got {W.shape}")
        expected = self.param_shapes(W.shape[0])
        for key, value in values.items():
            if value.shape != expected[key]:
                raise ValueError(f"{self.name} expected {key} of shape {expected[key]}, got {value.shape}")
        if not self.built or self.input_dim != W.shape[0]:
            self.build(W.shape[0])
        for key, value in values.items():
            self.params[key][...] = value
        return self

    def set_initial_state(self, states):
        """Load the initial-state parameters: one (initial_state_rows, H) array per state name."""
        if not self.initial_state_rows:
            raise ValueError(f"{self.name} has initial_state_rows=0: it holds no initial state to set")
        if not self.built:
            raise ValueError(f"{self.name} is not built: set its weights first")
        if isinstance(states, np.ndarray):
            states = [states]
        names = self.initial_state_names
        if not isinstance(states, (list, tuple)) or len(states) != len(names):
            raise ValueError(f"{self.name}.set_initial_state expected {len(names)} arrays ({', '.join(names)})")
        states = [np.asarray(s) for s in states]
        for key, s, width in zip(names, states, self.state_widths()):
            shape = (self.initial_state_rows, width)
            if s.shape != shape:
                raise ValueError(f"{self.name} expected {key} of shape {shape}, got {s.shape}")
        for key, s in zip(names, states):
            self.params[key][...] = s
        return self

    def kernel_options(self):
        """Keyword arguments for the kernel besides mask and rdrop."""
        return {"activation": self.activation}

    # ---- state --------------------------------------------------------------------
    def reset_state(self, states=None):
        """Forget the state carried between calls (stateful layers), or carry `states` instead.

        states: None, or one (batch, units) array per state name ("h", or "h", "c").
        """
        if states is None:
            self._carry = None
            return
        n = len(self.state_names)
        if isinstance(states, np.ndarray):
            states = [states]
        if not isinstance(states, (list, tuple)) or not states or np.ndim(states[0]) != 2:
            raise ValueError(
                f"{self.name}.reset_state expected states as a list of {n} arrays "
                f"(batch, {self.units}), got {type(states).__name__}"
            )
        self._carry = tuple(s.copy() for s in self._initial_state(states, np.shape(states[0])[0]))

    def _initial_state(self, initial_state, batch):
        n = len(self.state_names)
        if initial_state is None:
            if self.stateful and self._carry is not None:
                if self._carry[0].shape[0] != batch:
                    raise ValueError(
                        f"{self.name} is stateful with batch {self._carry[0].shape[0]}, "
                        f"got batch {batch}; call reset_state() first"
                    )
                return self._carry
            if self.initial_state_rows:
                return self._learned_state(batch)
            return self._zero_state(batch)
        if isinstance(initial_state, np.ndarray):
            initial_state = [initial_state]
        if not isinstance(initial_state, (list, tuple)) or len(initial_state) != n:
            raise ValueError(
                f"{self.name} expected initial_state as a list of {n} arrays "
                f"({', '.join(self.state_names)}), got {type(initial_state).__name__}"
            )
        out = []
        for name, s, width in zip(self.state_names, initial_state, self.state_widths()):
            s = as_float_array(f"initial_state {name}", s, self.dtype, self.name)
            shape = (batch, width)
            if s.shape != shape:
                raise ValueError(f"{self.name} expected initial_state {name} of shape {shape}, got {s.shape}")
            out.append(s)
        return tuple(out)

    def _learned_state(self, batch):
        """The initial-state parameters as (batch, H) arrays: one row broadcast, or one per batch row."""
        rows = self.initial_state_rows
        if rows != 1 and rows != batch:
            raise ValueError(
                f"{self.name} holds initial states for batch {rows} (initial_state_rows={rows}), "
                f"got batch {batch}; pass initial_state"
            )
        return tuple(
            np.ascontiguousarray(np.broadcast_to(self.params[key], (batch, width)))
            for key, width in zip(self.initial_state_names, self.state_widths())
        )

    def _zero_state(self, batch):
        """Zero states (batch, units), kept from call to call (no kernel writes into its inputs;
        docs/PERFORMANCE.md, "A short path"). Writable: the fast kernels copy a read-only array
        at every call, since numba would compile their loops a second time for its type."""
        if self._zeros is None or self._zeros[0].shape[0] != batch:
            self._zeros = tuple(np.zeros((batch, width), dtype=self.dtype) for width in self.state_widths())
        return self._zeros

    # ---- forward ------------------------------------------------------------------
    @property
    def kernel_cache(self):
        """The kernel's cache of the last call (time-major, read only), or None."""
        return None if self._cache is None else self._cache[1]

    def check_input(self, x):
        x = as_array("input", x, type(self).__name__)
        D = self.input_dim if self.built else "features"
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} expected input (batch, time, {D}), got {x.shape}")
        if self.built and x.shape[2] != self.input_dim:
            raise ValueError(f"{type(self).__name__} expected input (batch, time, {D}), got {x.shape}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} expected a non-empty input, got {x.shape}")
        return as_float_array("input", x, self.dtype, type(self).__name__)

    def forward(
        self,
        x: ArrayLike,
        mask: ArrayLike | None = None,
        initial_state: Sequence[ArrayLike] | None = None,
        training: bool = False,
    ) -> np.ndarray | list:
        """x (B, T, D) -> y (B, T, H) or (B, H); with return_state also the final states."""
        x = self.check_input(x)
        if not self.built:
            self.build(x.shape[2])
        B, T, D = x.shape
        mask = check_mask(mask, B, T, type(self).__name__)
        state0 = self._initial_state(initial_state, B)
        backend = self.backend or kernels.backend()
        if is_inference() and not training:
            return self._infer(x, mask, state0, backend)

        xt = x.transpose(1, 0, 2)  # time-major for the kernel
        mt = None if mask is None else mask.T
        if self.go_backwards:
            xt, mt = xt[::-1], (None if mt is None else mt[::-1])
        # dropout: one mask per sequence, the same for every step (Keras)
        xdrop = self._dropout_mask((B, D), self.dropout) if training else None
        rdrop = self._dropout_mask((B, self.output_units), self.recurrent_dropout) if training else None
        if xdrop is not None:
            xt = xt * xdrop
        kernel = self._kernel(backend)
        y, state_T, cache = kernel.forward(
            np.ascontiguousarray(xt), self.kernel_params(), state0, mask=mt, rdrop=rdrop, **self.kernel_options()
        )
        learned = initial_state is None and self.initial_state_rows and not (self.stateful and self._carry is not None)
        self._cache = (backend, cache, xdrop, B, T, mt, learned)  # a name, not the module: layers stay copyable
        self._inferred = False
        # copies: the caller may write into its output, the cache must not change
        out = None
        if self.return_sequences:
            out = y.transpose(1, 0, 2).copy()
            if mt is not None and not self.zeros_masked_output:
                out = _hold_outputs(out, mt.T)
        return self._finish(out, state_T, None if mt is None else mt[-1])

    def _infer(self, x, mask, state0, backend):
        """forward() under inference_mode: the kernel's batch-first infer(), no cache kept."""
        module = kernels.get(self.kernel_name(), backend)
        options = self.kernel_options()
        if hasattr(module, "infer"):
            y, state_T = module.infer(
                x, self.kernel_params(), state0, mask, self.go_backwards, self.return_sequences, **options
            )
        else:  # a registered backend with forward/backward only
            y, state_T = inference.via_forward(
                module.forward,
                x,
                self.kernel_params(),
                state0,
                mask,
                self.go_backwards,
                self.return_sequences,
                **options,
            )
        self._cache, self._inferred = None, True
        m = None
        if mask is not None:  # processing order
            m = mask[:, ::-1] if self.go_backwards else mask
        if y is not None and m is not None and not self.zeros_masked_output:
            y = _hold_outputs(y, m)
        return self._finish(y, state_T, None if m is None else m[:, -1])

    def _finish(self, out, state_T, last_mask=None):
        """Keep the final states; the output, with them under return_state.

        last_mask (B,): the mask of the last step processed; without return_sequences and with
        zero_output_for_mask True the output of a row whose last step is masked is zero (Keras).
        """
        self.final_state = state_T
        if self.stateful:
            self._carry = tuple(s.copy() for s in state_T)
        if out is None:  # without return_sequences the output is h_T, its own array
            out = state_T[0].copy()
            if last_mask is not None and self.zeros_masked_output:
                out[~np.asarray(last_mask, bool)] = 0
        return (out, *state_T) if self.return_state else out

    def _kernel(self, backend):
        """The cell's kernel in `backend`, run in segments under bptt_steps / checkpoint_every."""
        kernel = kernels.get(self.kernel_name(), backend)
        if self.bptt_steps is not None or self.checkpoint_every is not None:
            kernel = Segmented(kernel, self.bptt_steps, self.checkpoint_every)
        return kernel

    def _dropout_mask(self, shape, rate):
        if rate == 0.0:
            return None
        keep = self.rng.random(shape) >= rate
        return (keep / (1.0 - rate)).astype(self.dtype)  # inverted dropout

    # ---- backward -----------------------------------------------------------------
    def backward(self, dout: ArrayLike | Sequence[ArrayLike | None]) -> np.ndarray:
        """dout matching the last output -> dx (B, T, D); fills grads and state_grads.

        With return_state, dout is (d_output, dh[, dc]); any entry may be None (zero).
        """
        if self._inferred:
            raise ValueError(
                f"{self.name}.backward called after a forward under inference_mode(), "
                "which keeps nothing for it; run forward outside inference_mode"
            )
        if self._cache is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        backend, cache, xdrop, B, T, mt, learned = self._cache
        H, n = self.output_units, len(self.state_names)
        if self.return_state:
            if not isinstance(dout, (list, tuple)) or len(dout) != 1 + n:
                raise ValueError(
                    f"{self.name}.backward expected dout as a tuple of {1 + n} arrays "
                    f"(output, {', '.join(self.state_names)}), got {type(dout).__name__}"
                )
            dy, dstate = dout[0], list(dout[1:])
        else:
            dy, dstate = dout, [None] * n
        dstate = [
            None if d is None else check_grad(f"d{name}", d, (B, width), self.dtype, self.name)
            for name, d, width in zip(self.state_names, dstate, self.state_widths())
        ]
        if dy is None and self.return_state:  # only the states carry gradient
            dy_seq = None
        elif self.return_sequences:
            dy = check_grad("dout", dy, (B, T, H), self.dtype, self.name).transpose(1, 0, 2)
            if mt is not None and not self.zeros_masked_output:  # a held output sends its gradient back
                dy = _hold_outputs_backward(dy, mt)
            dy_seq = np.ascontiguousarray(dy)
        else:  # the output is h_T itself (zero where the last step is masked, under zero_output_for_mask)
            dy = check_grad("dout", dy, (B, H), self.dtype, self.name)
            if mt is not None and self.zeros_masked_output:
                dy = dy * mt[-1][:, None]
            dstate[0] = dy if dstate[0] is None else dstate[0] + dy
            dy_seq = None

        dx, dstate0, grads = self._kernel(backend).backward(dy_seq, tuple(dstate), cache)
        if xdrop is not None:
            dx = dx * xdrop
        if self.go_backwards:
            dx = dx[::-1]
        if not self.use_bias:
            grads = {key: g for key, g in grads.items() if key != "b"}  # the zero stand-in learns nothing
        self.grads = grads
        if learned:  # the initial states are parameters: their gradient, summed over the rows they fed
            rows = self.initial_state_rows
            for key, d in zip(self.initial_state_names, dstate0):
                self.grads[key] = (d.sum(axis=0, keepdims=True) if rows == 1 and B != 1 else d).astype(self.dtype)
        elif self.initial_state_rows:
            for key in self.initial_state_names:
                self.grads[key] = np.zeros_like(self.params[key])
        self.state_grads = dstate0
        return np.ascontiguousarray(dx.transpose(1, 0, 2))

    def get_config(self):
        return {
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "dtype": np.dtype(self.dtype).name,
            "name": self.name,
            "bptt_steps": self.bptt_steps,
            "checkpoint_every": self.checkpoint_every,
            "zero_output_for_mask": self.zero_output_for_mask,
            "initial_state_rows": self.initial_state_rows,
        }


def _hold_outputs(y, mask):
    """y (B, T, H) in processing order with each masked step's output replaced by the previous
    step's output (zero before the first real step): Keras' zero_output_for_mask=False."""
    B, T = mask.shape
    steps = np.where(mask, np.arange(T), -1)
    last = np.maximum.accumulate(steps, axis=1)  # the last real step at or before t
    held = np.take_along_axis(y, np.maximum(last, 0)[:, :, None], axis=1)
    held[last < 0] = 0
    return held


def _hold_outputs_backward(dy, mt):
    """The gradient of _hold_outputs, time-major: dy (T, B, H), mt (T, B); each held step's
    gradient is summed into the real step it copied (dropped before the first real step)."""
    out = np.zeros_like(dy)
    acc = np.zeros_like(dy[0])
    for t in range(dy.shape[0] - 1, -1, -1):
        acc = acc + dy[t]
        real = mt[t][:, None]
        out[t] = np.where(real, acc, 0)
        acc = np.where(real, 0, acc)
    return out
