"""Gradient flow through time: ‖∂L/∂h_t‖ (and ‖∂L/∂C_t‖ for an LSTM) for every t.

The loss sits at the last step T only, so ∂L/∂h_t measures how much the
state T − t steps back still matters to it. BPTT carries it back step by step,

    SimpleRNN:  ∂L/∂h_{t-1} = (∂L/∂h_t ⊙ φ'(z_t)) Uᵀ
    LSTM:       ∂L/∂C_{t-1} = (∂L/∂C_t + ∂L/∂h_t ⊙ o_t ⊙ tanh'(C_t)) ⊙ f_t,
                ∂L/∂h_{t-1} = ∂L/∂z_t Uᵀ   (z_t: the four gates' pre-activations)

so with a tanh RNN the norm shrinks by a roughly constant factor per step (an
exponential in the lag) while an LSTM's forget gate near 1 lets C pass almost
unchanged. The probe runs the layer's own kernel one step at a time and feeds
each step's backward the state gradient of the step after it: every number
comes from the kernel's exact BPTT, with no gradient re-derived here.
"""

import numpy as np

from .. import checks, kernels
from ..nn.cells import describe
from ..nn.recurrent import Recurrent
from ..train.callbacks import Callback, NonFiniteError


def state_gradients(layer, x, dh_T, dc_T=None):
    """∂L/∂(state) at every step for a loss whose gradient w.r.t. h_T is dh_T.

    layer: a SimpleRNN or LSTM (built on first use); x (B, T, D); dh_T (B, H);
    dc_T (B, H) or None for an LSTM loss that does not read C_T directly.
    Returns a dict of arrays (T + 1, B, width of the state) indexed by step: "h"[t] = ∂L/∂h_t,
    with h_0 the initial state, and "c"[t] = ∂L/∂C_t for an LSTM. Runs in
    inference mode (no dropout) with zero initial states.
    """
    if not isinstance(layer, Recurrent):
        raise TypeError(f"state_gradients expected a {describe()} layer, got {type(layer).__name__}")
    x = layer.check_input(x)
    if not layer.built:
        layer.build(x.shape[2])
    B, T, _ = x.shape
    widths = layer.state_widths()  # (B, H) each, but a projected LSTM's h is (B, P)
    dh_T = np.asarray(dh_T, dtype=layer.dtype)
    if dh_T.shape != (B, widths[0]):
        raise ValueError(f"state_gradients expected dh_T of shape {(B, widths[0])}, got {dh_T.shape}")
    xt = x.transpose(1, 0, 2)  # time-major, in the order the layer reads it
    if layer.go_backwards:
        xt = xt[::-1]
    kernel = kernels.get(layer.kernel_name())
    options = layer.kernel_options()

    state = tuple(np.zeros((B, width), dtype=layer.dtype) for width in widths)
    caches = []
    for t in range(T):  # one kernel call per step keeps every step's cache
        _, state, cache = kernel.forward(np.ascontiguousarray(xt[t : t + 1]), layer.kernel_params(), state, **options)
        caches.append(cache)

    n = len(layer.state_names)
    grads = [np.zeros((T + 1, B, width), dtype=layer.dtype) for width in widths]
    dstate = [dh_T] + [None] * (n - 1)
    if n > 1 and dc_T is not None:
        dstate[1] = np.asarray(dc_T, dtype=layer.dtype)
    for k in range(n):
        if dstate[k] is not None:
            grads[k][T] = dstate[k]
    for t in reversed(range(T)):  # the kernel's backward over step t gives ∂L/∂(state_{t-1})
        _, dstate, _ = kernel.backward(None, tuple(dstate), caches[t])
        for k in range(n):
            grads[k][t] = dstate[k]
    return dict(zip(layer.state_names, grads))


def decay_rate(norms, lags=None):
    """Fitted decay per step of a norm curve: -slope of ln(norm) against lag.

    norms: 1-D, norms[k] at lag k; lags: optional (first, last) lag range for the
    fit. Zeros (underflow) are left out. Returns nats per step (positive = decays);
    exp(-rate) is the factor by which the norm changes per step.
    """
    norms = np.asarray(norms, dtype=np.float64)
    lag = np.arange(norms.size)
    keep = np.isfinite(norms) & (norms > 0)
    if lags is not None:
        first, last = lags
        keep &= (lag >= first) & (lag <= last)
    if keep.sum() < 2:
        raise ValueError(f"decay_rate expected at least 2 positive norms to fit, got {int(keep.sum())}")
    slope, _ = np.polyfit(lag[keep], np.log(norms[keep]), 1)
    return float(-slope)


def gradient_flow(layer, x, dh_T, dc_T=None, fit_lags=None):
    """Norms of the state gradients by lag T − t, with their fitted decay rates.

    Returns a JSON-ready dict: "lag" [0..T], "h" ‖∂L/∂h_{T-lag}‖ (Frobenius norm
    over the batch), "rate_h" (nats per step); for an LSTM also "c" and "rate_c".
    """
    grads = state_gradients(layer, x, dh_T, dc_T)
    out = {"lag": list(range(next(iter(grads.values())).shape[0]))}
    for name, g in grads.items():
        norms = np.sqrt(np.einsum("tbh,tbh->t", g, g, dtype=np.float64))[::-1]  # by lag
        out[name] = [float(v) for v in norms]
        out[f"rate_{name}"] = decay_rate(norms, fit_lags) if np.count_nonzero(norms) >= 2 else None
    return out


def model_gradient_flow(model, X, y, fit_lags=None):
    """gradient_flow for a compiled Sequential whose first layer is a SimpleRNN or LSTM.

    The loss is the model's own, put at the last step only: the layers after the
    recurrent one read h_T, and when the recurrent layer returns sequences the
    targets (B, T, ...) keep their last step. Runs without dropout. Raises
    NonFiniteError when the recurrent layer's output holds NaN or Inf.
    """
    layers = list(getattr(model, "layers", []))
    if not layers or not isinstance(layers[0], Recurrent):
        raise TypeError(f"model_gradient_flow expected a Sequential whose first layer is a {describe()}")
    if getattr(model, "loss", None) is None:
        raise ValueError("model_gradient_flow expected a compiled model: call compile(loss, optimizer) first")
    rnn, head = layers[0], layers[1:]
    X = rnn.check_input(X)
    y = np.asarray(y)
    h = rnn(X)
    bad = h.size - int(np.count_nonzero(np.isfinite(h)))
    if bad:  # a diverged model: no gradient to follow
        raise NonFiniteError(f"model_gradient_flow: layer 0 ({rnn.name}) gave {bad} NaN or Inf value(s)")
    h_T = h[:, -1] if h.ndim == 3 else h
    out = h_T
    for layer in head:
        out = layer(out)
    if rnn.return_sequences:
        y = y[:, -1]  # targets per step: the last step's
    y = model.loss.check_targets(y, out.shape, "model_gradient_flow")
    _, dout = model.loss(out, y)
    for layer in reversed(head):
        dout = layer.backward(dout)
    return gradient_flow(rnn, X, dout, fit_lags=fit_lags)


class GradientFlowCallback(Callback):
    """Record model_gradient_flow on fixed data at the start of training and every `every` steps.

    `records` is a list of {"step": k, **gradient_flow}; the step count runs on
    across several fit calls, so training in chunks gives one timeline.
    """

    def __init__(self, X, y, every, fit_lags=None):
        self.X, self.y, self.every, self.fit_lags = X, y, checks.positive_int("every", every), fit_lags
        self.step = 0
        self.records = []

    def measure(self):
        flow = model_gradient_flow(self.model, self.X, self.y, self.fit_lags)
        self.records.append({"step": self.step, **flow})

    def on_train_begin(self, logs=None):
        if not self.records:
            self.measure()  # at initialisation

    def on_train_batch_end(self, step, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self.measure()
