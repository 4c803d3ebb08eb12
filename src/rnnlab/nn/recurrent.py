"""What every recurrent layer shares: input checks, masks, direction, state and dropout.

The layer is batch-first, (batch, time, features), as in Keras; the kernels are
time-major, so the layer transposes once on the way in and once on the way out.
Under inference_mode() (nn/mode.py) it calls the kernel's batch-first infer()
instead, which keeps nothing for backward.
"""
import numpy as np

from .. import initializers, kernels
from ..kernels import inference
from ..kernels.segmented import Segmented
from .. import checks
from .base import Layer, aligned, as_array, as_float_array, check_grad, check_mask
from .mode import is_inference


class Recurrent(Layer):
    """Base of the recurrent layers: a cell's layer class sets the cell contract below.

    Contract (see nn/cells.py): `cell` the kernel's registered name; `gate_names`
    the blocks of W (D, G·H), U (H, G·H) and b (G·H,), G = len(gate_names);
    `state_names` the states the kernel carries, "h" first (the output);
    `kernel_options()` the keyword arguments of its kernel; `record_steps(cache)`
    what probe.record shows.

    Arguments (Keras'): units H; activation; return_sequences; return_state;
    go_backwards; stateful; kernel_, recurrent_ and bias_initializer; dropout and
    recurrent_dropout rates in [0, 1); dtype float32 or float64; seed; name;
    bptt_steps, checkpoint_every (kernels/segmented.py).
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

    def __init__(self, units, activation="tanh", return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, dtype="float32", seed=None, name=None, bptt_steps=None,
                 checkpoint_every=None):
        super().__init__(dtype=dtype, name=name)
        self.units = checks.positive_int("units", units)
        self.activation = activation
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
    def param_shapes(self, input_dim):
        """{name: shape} of the parameters for input_dim D: W (D, gates·H), U (H, gates·H), b (gates·H,).

        A cell whose weights differ (the GRU's (2, 3H) bias) says so here; build, set_weights
        and load (io/layers.py) read it.
        """
        H, G = self.units, self.gates * self.units
        return {"W": (input_dim, G), "U": (H, G), "b": (G,)}

    def build(self, input_dim):
        """Create the parameters of param_shapes(input_dim): W, U, b."""
        self.input_dim = checks.positive_int("input_dim", input_dim)
        shapes = self.param_shapes(input_dim)
        init = {"W": (self.kernel_initializer, shapes["W"]), "U": (self.recurrent_initializer, shapes["U"]),
                "b": (self.bias_initializer, shapes["b"])}
        # C order whatever the initializer returns (an orthogonal U may come transposed), from a cache line
        self.params = {key: aligned(np.asarray(initializers.get(name)(shape, self.rng, self.dtype), dtype=self.dtype))
                       for key, (name, shape) in init.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True
        return self

    def set_weights(self, W, U, b):
        """Load weights W (D, G·H), U (H, G·H), b (param_shapes); builds the layer for D if needed.

        All or nothing: every shape is checked before anything changes.
        """
        W, U, b = (np.asarray(a) for a in (W, U, b))
        G = self.gates * self.units
        if W.ndim != 2 or W.shape[1] != G:
            raise ValueError(f"{self.name} expected W of shape (input_dim, {G}), got {W.shape}")
        expected = self.param_shapes(W.shape[0])
        for key, value in (("U", U), ("b", b)):
            if value.shape != expected[key]:
                raise ValueError(f"{self.name} expected {key} of shape {expected[key]}, got {value.shape}")
        if not self.built or self.input_dim != W.shape[0]:
            self.build(W.shape[0])
        for key, value in (("W", W), ("U", U), ("b", b)):
            self.params[key][...] = value
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
            raise ValueError(f"{self.name}.reset_state expected states as a list of {n} arrays "
                             f"(batch, {self.units}), got {type(states).__name__}")
        self._carry = tuple(s.copy() for s in self._initial_state(states, np.shape(states[0])[0]))

    def _initial_state(self, initial_state, batch):
        n = len(self.state_names)
        shape = (batch, self.units)
        if initial_state is None:
            if self.stateful and self._carry is not None:
                if self._carry[0].shape != shape:
                    raise ValueError(f"{self.name} is stateful with batch {self._carry[0].shape[0]}, "
                                     f"got batch {batch}; call reset_state() first")
                return self._carry
            return self._zero_state(batch)
        if isinstance(initial_state, np.ndarray):
            initial_state = [initial_state]
        if not isinstance(initial_state, (list, tuple)) or len(initial_state) != n:
            raise ValueError(f"{self.name} expected initial_state as a list of {n} arrays "
                             f"({', '.join(self.state_names)}), got {type(initial_state).__name__}")
        out = []
        for name, s in zip(self.state_names, initial_state):
            s = as_float_array(f"initial_state {name}", s, self.dtype, self.name)
            if s.shape != shape:
                raise ValueError(f"{self.name} expected initial_state {name} of shape {shape}, got {s.shape}")
            out.append(s)
        return tuple(out)

    def _zero_state(self, batch):
        """Zero states (batch, units), kept from call to call and read only (the kernels copy
        their initial states; docs/PERFORMANCE.md, "A short path")."""
        if self._zeros is None or self._zeros[0].shape[0] != batch:
            zeros = np.zeros((batch, self.units), dtype=self.dtype)
            zeros.flags.writeable = False
            self._zeros = (zeros,) * len(self.state_names)
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

    def forward(self, x, mask=None, initial_state=None, training=False):
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
        rdrop = self._dropout_mask((B, self.units), self.recurrent_dropout) if training else None
        if xdrop is not None:
            xt = xt * xdrop
        kernel = self._kernel(backend)
        y, state_T, cache = kernel.forward(np.ascontiguousarray(xt), self.params, state0, mask=mt,
                                           rdrop=rdrop, **self.kernel_options())
        self._cache = (backend, cache, xdrop, B, T)  # a name, not the module: layers stay copyable
        self._inferred = False
        # copies: the caller may write into its output, the cache must not change
        out = y.transpose(1, 0, 2).copy() if self.return_sequences else None
        return self._finish(out, state_T)

    def _infer(self, x, mask, state0, backend):
        """forward() under inference_mode: the kernel's batch-first infer(), no cache kept."""
        module = kernels.get(self.cell, backend)
        options = self.kernel_options()
        if hasattr(module, "infer"):
            y, state_T = module.infer(x, self.params, state0, mask, self.go_backwards, self.return_sequences,
                                      **options)
        else:  # a registered backend with forward/backward only
            y, state_T = inference.via_forward(module.forward, x, self.params, state0, mask, self.go_backwards,
                                               self.return_sequences, **options)
        self._cache, self._inferred = None, True
        return self._finish(y, state_T)

    def _finish(self, out, state_T):
        """Keep the final states; the output, with them under return_state."""
        self.final_state = state_T
        if self.stateful:
            self._carry = tuple(s.copy() for s in state_T)
        if out is None:  # without return_sequences the output is h_T, its own array
            out = state_T[0].copy()
        return (out, *state_T) if self.return_state else out

    def _kernel(self, backend):
        """The cell's kernel in `backend`, run in segments under bptt_steps / checkpoint_every."""
        kernel = kernels.get(self.cell, backend)
        if self.bptt_steps is not None or self.checkpoint_every is not None:
            kernel = Segmented(kernel, self.bptt_steps, self.checkpoint_every)
        return kernel

    def _dropout_mask(self, shape, rate):
        if rate == 0.0:
            return None
        keep = self.rng.random(shape) >= rate
        return (keep / (1.0 - rate)).astype(self.dtype)  # inverted dropout

    # ---- backward -----------------------------------------------------------------
    def backward(self, dout):
        """dout matching the last output -> dx (B, T, D); fills grads and state_grads.

        With return_state, dout is (d_output, dh[, dc]); any entry may be None (zero).
        """
        if self._inferred:
            raise ValueError(f"{self.name}.backward called after a forward under inference_mode(), "
                             "which keeps nothing for it; run forward outside inference_mode")
        if self._cache is None:
            raise ValueError(f"{self.name}.backward called before a forward call")
        backend, cache, xdrop, B, T = self._cache
        H, n = self.units, len(self.state_names)
        if self.return_state:
            if not isinstance(dout, (list, tuple)) or len(dout) != 1 + n:
                raise ValueError(f"{self.name}.backward expected dout as a tuple of {1 + n} arrays "
                                 f"(output, {', '.join(self.state_names)}), got {type(dout).__name__}")
            dy, dstate = dout[0], list(dout[1:])
        else:
            dy, dstate = dout, [None] * n
        dstate = [None if d is None else check_grad(f"d{name}", d, (B, H), self.dtype, self.name)
                  for name, d in zip(self.state_names, dstate)]
        if dy is None and self.return_state:  # only the states carry gradient
            dy_seq = None
        elif self.return_sequences:
            dy = check_grad("dout", dy, (B, T, H), self.dtype, self.name).transpose(1, 0, 2)
            dy_seq = np.ascontiguousarray(dy)
        else:  # the output is h_T itself
            dy = check_grad("dout", dy, (B, H), self.dtype, self.name)
            dstate[0] = dy if dstate[0] is None else dstate[0] + dy
            dy_seq = None

        dx, dstate0, grads = self._kernel(backend).backward(dy_seq, tuple(dstate), cache)
        if xdrop is not None:
            dx = dx * xdrop
        if self.go_backwards:
            dx = dx[::-1]
        self.grads = grads
        self.state_grads = dstate0
        return np.ascontiguousarray(dx.transpose(1, 0, 2))

    def get_config(self):
        return {
            "units": self.units, "activation": self.activation,
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful,
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "dtype": np.dtype(self.dtype).name, "name": self.name,
            "bptt_steps": self.bptt_steps, "checkpoint_every": self.checkpoint_every,
        }
