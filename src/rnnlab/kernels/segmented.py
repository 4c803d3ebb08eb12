"""Long sequences: truncated BPTT and recomputation, around any backend's kernel.

`Segmented(kernel, bptt_steps=k1, checkpoint_every=k2)` has the kernel's
forward/backward signatures. The sequence, in the order it is processed, is
cut into segments of S steps (S = checkpoint_every, else bptt_steps); the
forward pass runs segment by segment with the state carried across, so its
outputs and final state are those of one call.

Truncated BPTT (bptt_steps = k): the state entering step j·k (j ≥ 1) is held
constant in backward, so no gradient crosses a multiple of k. The gradient of
the output at step t reaches steps k·⌊t/k⌋ … t only (at most k steps); ∂L/∂h_T
reaches the last segment only, and ∂L/∂(initial state) comes from the first
segment. This is Williams & Peng's BPTT(k, k): losses of a whole segment, then
backpropagation through that segment. With T ≤ k it is full BPTT.

Recompute (checkpoint_every = k): forward keeps only the state entering each
segment (⌈T/k⌉ of them) and drops the segment caches; backward reruns each
segment's forward from its saved state just before backpropagating through it.
The gradients are those of full BPTT: the same arithmetic, only the sums over
segments of the weight gradients are grouped differently (equal to rounding).

Both together need bptt_steps to be a multiple of checkpoint_every. Memory:
docs/PERFORMANCE.md.
"""

import numpy as np

from ..checks import is_int


def memory_bound(T, B, D, H, k, gates=4, states=2, itemsize=4):
    """Bytes of new memory a training step of a return_sequences layer needs at most with
    checkpoint_every = k (docs/PERFORMANCE.md); gates/states: LSTM 4/2, SimpleRNN 1/1."""
    whole = T * B * (3 * D + 2 * H)  # input copy, dx (time-major and batch-first), output, dy copy
    kept = states * B * H * -(-T // k)  # the states entering each segment
    segment = k * B * ((3 * gates + 2) * H + 2 * D)  # one segment's cache, dz and dx, recomputed in turn
    small = 2 * states * B * H + 3 * (D + H + 1) * gates * H  # carried gradients, weight-gradient sums
    return itemsize * (whole + kept + segment + small)


def _steps(name, value):
    if value is None:
        return None
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} expected a positive integer or None, got {value!r}")
    return int(value)


class Segmented:
    """A kernel (module with forward/backward) run in segments; see the module docstring."""

    def __init__(self, kernel, bptt_steps=None, checkpoint_every=None):
        self.kernel = kernel
        self.bptt_steps = _steps("bptt_steps", bptt_steps)
        self.checkpoint_every = _steps("checkpoint_every", checkpoint_every)
        if self.bptt_steps is None and self.checkpoint_every is None:
            raise ValueError("Segmented expected bptt_steps or checkpoint_every, got neither")
        if self.bptt_steps and self.checkpoint_every and self.bptt_steps % self.checkpoint_every:
            raise ValueError(
                f"bptt_steps expected a multiple of checkpoint_every ({self.checkpoint_every}), got {self.bptt_steps}"
            )
        self.segment = self.checkpoint_every or self.bptt_steps

    def forward(self, x, params, state, mask=None, rdrop=None, **options):
        """As the kernel's forward. Returns (y (T, B, H), final state tuple, cache)."""
        T = x.shape[0]
        bounds = [(s, min(s + self.segment, T)) for s in range(0, T, self.segment)]
        y = None
        starts, caches = [], []
        for s, e in bounds:
            starts.append(tuple(state))
            m = None if mask is None else mask[s:e]
            y_seg, state, cache = self.kernel.forward(x[s:e], params, state, mask=m, rdrop=rdrop, **options)
            if y is None:
                y = np.empty((T,) + y_seg.shape[1:], dtype=y_seg.dtype)
            y[s:e] = y_seg
            caches.append(None if self.checkpoint_every else cache)
        cache = dict(
            x=x,
            params=params,
            mask=mask,
            rdrop=rdrop,
            options=options,
            bounds=bounds,
            starts=starts if self.checkpoint_every else None,
            caches=caches,
        )
        return y, state, cache

    def backward(self, dy, dstate, cache):
        """As the kernel's backward. Returns (dx (T, B, D), initial-state gradients, grads)."""
        x, mask = cache["x"], cache["mask"]
        dx = np.empty_like(x)
        grads = None
        for k in reversed(range(len(cache["bounds"]))):
            s, e = cache["bounds"][k]
            seg_cache = cache["caches"][k]
            if seg_cache is None:  # recompute this segment from the state that entered it
                m = None if mask is None else mask[s:e]
                _, _, seg_cache = self.kernel.forward(
                    x[s:e], cache["params"], cache["starts"][k], mask=m, rdrop=cache["rdrop"], **cache["options"]
                )
            dx[s:e], dstate_in, g = self.kernel.backward(None if dy is None else dy[s:e], dstate, seg_cache)
            del seg_cache
            if grads is None:
                grads = g
            else:
                for key in grads:
                    grads[key] += g[key]
            cut = self.bptt_steps is not None and s > 0 and s % self.bptt_steps == 0
            dstate = tuple(None for _ in dstate_in) if cut else dstate_in
        return dx, dstate_in, grads
