"""The fast kernels equal the reference: random shapes and options; float32 within 1e-5, float64 within 1e-12.

"Within tol" is normwise: max |fast − reference| ≤ tol · max |reference|, for every
output, state and gradient.
"""

import warnings

import numpy as np
import pytest

import rnnlab as rl
from rnnlab import kernels
from rnnlab.kernels import gru as ref_gru
from rnnlab.kernels import lstm as ref_lstm
from rnnlab.kernels import simple_rnn as ref_rnn
from rnnlab.kernels import switch

pytestmark = pytest.mark.skipif(not kernels.fast_available(), reason="needs numba: pip install rnnlab[fast]")

TOL = {np.float32: 1e-5, np.float64: 1e-12}
ACTS = ["tanh", "sigmoid", "hard_sigmoid", "relu", "linear"]
GATE_ACTS = ["sigmoid", "hard_sigmoid", "tanh"]


def assert_close(fast, ref, dtype, what):
    fast, ref = np.asarray(fast), np.asarray(ref)
    assert fast.shape == ref.shape and fast.dtype == ref.dtype, what
    scale = max(float(np.max(np.abs(ref), initial=0.0)), np.finfo(dtype).tiny)
    err = float(np.max(np.abs(fast - ref), initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e}"


def fast_module(cell):
    return kernels.get(cell, "fast")


def random_case(cell, dtype, seed, shape=None):
    """Shapes, weights, states, mask, options, output gradients; ~1/3 of the options left out."""
    rng = np.random.default_rng(seed)
    T, B, D, H = shape or (rng.integers(1, 12), rng.integers(1, 9), rng.integers(1, 7), rng.integers(1, 13))
    G = {"lstm": 4, "gru": 3}.get(cell, 1) * H
    reset_after = cell == "gru" and rng.random() < 0.5  # the GRU's bias is then (2, 3H)
    params = {
        "W": rng.normal(0, 0.7, (D, G)),
        "U": rng.normal(0, 0.7 / np.sqrt(H), (H, G)),
        "b": rng.normal(0, 0.5, (2, G) if reset_after else G),
    }
    params = {k: v.astype(dtype) for k, v in params.items()}
    n_states = 2 if cell == "lstm" else 1
    state = tuple(rng.normal(0, 0.5, (B, H)).astype(dtype) for _ in range(n_states))
    mask = None
    if rng.random() < 0.6:
        mask = rng.random((T, B)) < 0.7
        mask[:, 0] = False  # a row with no real step at all
    options = {"activation": ACTS[rng.integers(5)] if rng.random() < 0.5 else "tanh"}
    if cell == "gru":
        options["reset_after"] = reset_after
    if cell in ("lstm", "gru"):
        # gates stay bounded (an unbounded gate overflows float32 within a few steps)
        options["recurrent_activation"] = GATE_ACTS[rng.integers(3)] if rng.random() < 0.5 else "sigmoid"
    rdrop = (rng.random((B, H)) < 0.8).astype(dtype) / dtype(0.8) if rng.random() < 0.4 else None
    x = rng.normal(0, 1, (T, B, D)).astype(dtype)
    dy = rng.normal(0, 1, (T, B, H)).astype(dtype) if rng.random() < 0.8 else None
    dstate = tuple(rng.normal(0, 1, (B, H)).astype(dtype) if rng.random() < 0.5 else None for _ in range(n_states))
    # softsign, drawn last so that the draws above (and the cases they made) stay as they were
    if rng.random() < 0.25:
        options["activation"] = "softsign"
    if cell in ("lstm", "gru") and rng.random() < 0.25:
        options["recurrent_activation"] = "softsign"
    return x, params, state, mask, options, rdrop, dy, dstate


def compare(cell, dtype, case):
    x, params, state, mask, options, rdrop, dy, dstate = case
    ref, fast = {"lstm": ref_lstm, "gru": ref_gru}.get(cell, ref_rnn), fast_module(cell)
    y_r, s_r, c_r = ref.forward(x, params, state, mask=mask, rdrop=rdrop, **options)
    y_f, s_f, c_f = fast.forward(x, params, state, mask=mask, rdrop=rdrop, **options)
    assert_close(y_f, y_r, dtype, "y")
    for k, (a, b) in enumerate(zip(s_f, s_r)):
        assert_close(a, b, dtype, f"final state {k}")
    dx_r, ds_r, g_r = ref.backward(dy, dstate, c_r)
    dx_f, ds_f, g_f = fast.backward(dy, dstate, c_f)
    assert_close(dx_f, dx_r, dtype, "dx")
    for k, (a, b) in enumerate(zip(ds_f, ds_r)):
        assert_close(a, b, dtype, f"d initial state {k}")
    for key in ("W", "U", "b"):
        assert_close(g_f[key], g_r[key], dtype, f"d{key}")
    return c_f, c_r


@pytest.fixture(params=[1, 2, 3], ids=lambda n: f"{n}threads")
def split(request, monkeypatch):
    """Every batch split into n row blocks, however little the work (uneven blocks, one-row blocks)."""
    from rnnlab.kernels.fast import plan as fast_plan

    monkeypatch.setenv("RNNLAB_NUM_THREADS", str(request.param))
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_ROWS", 1)  # blocks of any size, on every thread
    monkeypatch.setattr(fast_plan, "MIN_BLOCK_WORK", 0)
    return request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "simple_rnn", "gru"])
def test_random_shapes_and_options(cell, dtype, split):
    for seed in range(12):
        compare(cell, dtype, random_case(cell, dtype, 100 * split + seed))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "simple_rnn", "gru"])
def test_larger_shapes_keep_the_tolerance(cell, dtype):
    for seed, shape in enumerate([(60, 16, 40, 64), (30, 3, 5, 150)]):
        compare(cell, dtype, random_case(cell, dtype, seed, shape))


def test_cache_has_the_reference_keys_and_values():
    case = random_case("lstm", np.float64, 7, (5, 3, 2, 4))
    c_f, c_r = compare("lstm", np.float64, case)
    for key in ("x", "W", "U", "h", "c", "gates"):
        assert_close(c_f[key], c_r[key], np.float64, f"cache {key}")
    for key in ("mask", "rdrop", "activation", "recurrent_activation"):
        assert c_f[key] is c_r[key] or c_f[key] == c_r[key]


def test_backward_twice_gives_the_same_gradients():
    x, params, state, mask, options, rdrop, dy, dstate = random_case("lstm", np.float32, 3, (6, 4, 3, 5))
    fast = fast_module("lstm")
    _, _, cache = fast.forward(x, params, state, mask=mask, rdrop=rdrop, **options)
    first = fast.backward(dy, dstate, cache)
    second = fast.backward(dy, dstate, cache)
    np.testing.assert_array_equal(first[0], second[0])
    for key in ("W", "U", "b"):
        np.testing.assert_array_equal(first[2][key], second[2][key])


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_nan_stays_nan(activation):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2, 3)).astype(np.float32)
    x[1, 0, 0] = np.nan
    params = {
        "W": rng.normal(size=(3, 5)).astype(np.float32),
        "U": rng.normal(size=(5, 5)).astype(np.float32),
        "b": np.zeros(5, np.float32),
    }
    state = (np.zeros((2, 5), np.float32),)
    y_r = ref_rnn.forward(x, params, state, activation=activation)[0]
    y_f = fast_module("simple_rnn").forward(x, params, state, activation=activation)[0]
    np.testing.assert_array_equal(np.isnan(y_f), np.isnan(y_r))
    assert np.isnan(y_f).any()


def test_unsupported_dtype_runs_the_reference():
    case = random_case("simple_rnn", np.float64, 5, (4, 2, 3, 3))
    x, params, state, mask, options, rdrop, _, _ = case
    as16 = {k: v.astype(np.float16) for k, v in params.items()}
    state16 = tuple(s.astype(np.float16) for s in state)
    y_r = ref_rnn.forward(x.astype(np.float16), as16, state16, mask=mask, rdrop=None, **options)[0]
    y_f = fast_module("simple_rnn").forward(x.astype(np.float16), as16, state16, mask=mask, rdrop=None, **options)[0]
    np.testing.assert_array_equal(y_f, y_r)


LAYERS = [
    pytest.param(lambda dt: rl.Bidirectional(rl.LSTM(5, return_sequences=True, dtype=dt, seed=1)), id="bi-lstm"),
    pytest.param(
        lambda dt: rl.Stack(
            [
                rl.Bidirectional(
                    rl.SimpleRNN(4, activation="relu", return_sequences=True, dtype=dt, seed=2), merge_mode="sum"
                ),
                rl.LSTM(3, go_backwards=True, dtype=dt, seed=3),
            ]
        ),
        id="stack",
    ),
    pytest.param(
        lambda dt: rl.Stack(
            [
                rl.Bidirectional(rl.GRU(4, return_sequences=True, dtype=dt, seed=5)),
                rl.GRU(3, reset_after=False, go_backwards=True, dtype=dt, seed=6),
            ]
        ),
        id="gru",
    ),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("make", LAYERS)
def test_layers_with_the_backend_switched(make, dtype):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 7, 3))
    mask = np.arange(7)[None, :] < np.array([[7], [4], [1], [7], [6]])
    out = {}
    for name in ("reference", "fast"):
        rl.set_backend(name)
        try:
            model = make(dtype)
            y = model(x, mask=mask, training=False)
            dx = model.backward(np.ones_like(y))
            out[name] = (y, dx, {k: v.copy() for k, v in model.grads.items()})
        finally:
            kernels.set_backend("auto")
    dt = np.dtype(dtype).type
    (y_r, dx_r, g_r), (y_f, dx_f, g_f) = out["reference"], out["fast"]
    assert_close(y_f, y_r, dt, "y")
    assert_close(dx_f, dx_r, dt, "dx")
    assert sorted(g_f) == sorted(g_r)
    for key in g_r:
        assert_close(g_f[key], g_r[key], dt, key)


def test_backend_selection(monkeypatch):
    monkeypatch.setattr(switch, "_active", None)
    monkeypatch.setattr(switch, "_from_env", None)
    monkeypatch.setenv("RNNLAB_KERNEL", "reference")
    assert kernels.backend() == "reference" and kernels.get("lstm") is ref_lstm
    monkeypatch.setenv("RNNLAB_KERNEL", "fast")
    assert kernels.backend() == "reference"  # read once, at first use
    kernels.set_backend(None)  # read it again
    assert kernels.backend() == "fast" and kernels.get("lstm") is fast_module("lstm")
    monkeypatch.delenv("RNNLAB_KERNEL")
    kernels.set_backend(None)
    assert kernels.backend() == "fast"  # auto, with numba here
    kernels.set_backend("reference")
    assert kernels.backend() == "reference"
    monkeypatch.setenv("RNNLAB_KERNEL", "bogus")
    kernels.set_backend(None)
    with pytest.raises(ValueError, match="RNNLAB_KERNEL expected one of"):
        kernels.backend()
    with pytest.raises(ValueError, match="backend expected one of"):
        rl.set_backend("bogus")


def test_without_numba_fast_falls_back_to_the_reference(monkeypatch):
    monkeypatch.setattr(switch, "_fast_found", False)
    monkeypatch.setattr(switch, "_active", None)
    monkeypatch.setattr(switch, "_from_env", None)
    monkeypatch.delenv("RNNLAB_KERNEL", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernels.backend() == "reference" and kernels.get("lstm") is ref_lstm  # auto: silently
    with pytest.warns(RuntimeWarning, match=r"pip install rnnlab\[fast\]"):
        assert kernels.get("simple_rnn", "fast") is ref_rnn


def test_float32_tanh_is_within_7_ulp_of_the_exact_value():
    from rnnlab.kernels.fast.ops import TANH, activate

    x = np.concatenate(
        [np.linspace(-12, 12, 400_001, dtype=np.float32), np.geomspace(1e-30, 1e-2, 1000).astype(np.float32)]
    )
    y = x.copy()
    activate(TANH, y, np.zeros_like(y))  # y = tanh(y + 0), as in the kernels
    exact = np.tanh(x.astype(np.float64))
    ulp = np.abs(y - exact) / np.spacing(np.abs(exact).astype(np.float32))
    assert ulp.max() <= 7.0, ulp.max()


def _run_in_child():
    x, params, state, mask, options, rdrop, dy, dstate = random_case("lstm", np.float32, 11, (6, 8, 3, 5))
    compare("lstm", np.float32, (x, params, state, mask, options, rdrop, dy, dstate))
    return True


def test_a_forked_child_runs_the_fast_kernels(monkeypatch):
    """The kernel threads do not survive a fork; the child must make its own, not wait for them."""
    import multiprocessing

    from rnnlab.kernels.fast import plan as fast_plan

    monkeypatch.setenv("RNNLAB_NUM_THREADS", "2")
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(fast_plan, "MIN_SPLIT_ROWS", 1)  # blocks of any size, on every thread
    monkeypatch.setattr(fast_plan, "MIN_BLOCK_WORK", 0)
    assert _run_in_child()  # the parent's kernel threads now exist
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_run_in_child).get(timeout=120)


def test_buffers_come_back_only_when_nothing_else_holds_them(monkeypatch):
    from rnnlab.kernels.fast import buffers as fb

    monkeypatch.setattr(fb, "_free", type(fb._free)())
    monkeypatch.setattr(fb, "_kept", 0)
    a, b = fb.empty((3, 5), np.float32), fb.empty((3, 5), np.float32)
    view = b[1:]  # b is still in use through its view
    lease = fb.Lease(a, b)
    del a, b, lease
    assert fb._kept == 60  # a came back, b did not
    again = fb.empty((3, 5), np.float32)
    assert fb._kept == 0 and again.shape == (3, 5) and np.shares_memory(view, view.base) and view.base is not again
    monkeypatch.setattr(fb, "LIMIT", 100)
    fb.give_back([np.empty(20, np.float32), np.empty(20, np.float32)])  # 160 bytes: the older one is dropped
    assert fb._kept == 80


def test_ctrl_c_landing_while_buffers_come_back_is_raised_again_not_lost(monkeypatch):
    # a cache's buffers come back in a finalizer, run at every training step; Python prints and drops
    # an exception raised inside one, so a Ctrl-C arriving there would be ignored and training go on
    from rnnlab.kernels.fast import buffers as fb

    def interrupted(items):
        raise KeyboardInterrupt

    monkeypatch.setattr(fb, "give_back", interrupted)
    lease = fb.Lease(np.empty(4))
    del lease  # the interrupt lands in the finalizer, which holds it
    with pytest.raises(KeyboardInterrupt):
        kernels.get("lstm", "fast")  # the next kernel call: the training step stops here
    assert kernels.get("lstm", "fast") is not None  # raised once


def test_a_ctrl_c_dropped_anywhere_under_the_cli_handler_is_raised_at_the_next_kernel_call(monkeypatch):
    import signal
    import sys

    from rnnlab import interrupts

    class Finalized:
        def __del__(self):
            interrupts.handle(signal.SIGINT, None)  # as if SIGINT were handled inside this finalizer

    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: dropped.append(info.exc_type))
    Finalized()  # collected at once: its __del__ raises, and Python drops the exception
    assert dropped == [KeyboardInterrupt]
    with pytest.raises(KeyboardInterrupt):
        kernels.get("simple_rnn")
    kernels.get("simple_rnn")  # once only


def test_kernel_caches_released_are_reused_and_results_unchanged():
    from rnnlab.kernels.fast import buffers as fb

    case = random_case("lstm", np.float32, 21, (7, 5, 3, 6))
    first = compare("lstm", np.float32, case)[0]["h"].copy()
    kept = fb._kept
    c_f, _ = compare("lstm", np.float32, case)  # the first call's buffers are reused here
    assert fb._kept <= kept
    np.testing.assert_array_equal(c_f["h"], first)


def compare_infer(cell, dtype, case, go_backwards, sequences):
    """fast infer() against the reference forward(), batch first, no cache."""
    x, params, state, mask, options, _, _, _ = case
    ref, fast = {"lstm": ref_lstm, "gru": ref_gru}.get(cell, ref_rnn), fast_module(cell)
    xt, mt = (x[::-1], None if mask is None else mask[::-1]) if go_backwards else (x, mask)
    y_r, s_r, _ = ref.forward(np.ascontiguousarray(xt), params, state, mask=mt, **options)
    xb = np.ascontiguousarray(x.transpose(1, 0, 2))
    mb = None if mask is None else np.ascontiguousarray(mask.T)
    y_f, s_f = fast.infer(xb, params, state, mb, go_backwards, sequences, **options)
    if sequences:
        assert_close(y_f, y_r.transpose(1, 0, 2), dtype, "y")
    else:
        assert y_f is None
    for k, (a, b) in enumerate(zip(s_f, s_r)):
        assert_close(a, b, dtype, f"final state {k}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "simple_rnn", "gru"])
def test_infer_equals_the_reference_forward(cell, dtype, split):
    for seed in range(12):
        case = random_case(cell, dtype, 100 * split + seed)
        compare_infer(cell, dtype, case, go_backwards=seed % 3 == 1, sequences=seed % 4 != 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "simple_rnn", "gru"])
def test_infer_larger_shapes_keep_the_tolerance(cell, dtype):
    for seed, shape in enumerate([(60, 16, 40, 64), (30, 9, 5, 150), (12, 7, 1, 9)]):
        case = random_case(cell, dtype, 50 + seed, shape)
        compare_infer(cell, dtype, case, go_backwards=seed == 1, sequences=seed != 2)


def test_infer_keeps_nan():
    rng = np.random.default_rng(0)
    for B in (1, 8):  # row loops, and OpenBLAS products
        x = rng.normal(size=(B, 4, 3)).astype(np.float32)
        x[0, 1, 0] = np.nan
        params = {
            "W": rng.normal(size=(3, 20)).astype(np.float32),
            "U": rng.normal(size=(5, 20)).astype(np.float32),
            "b": np.zeros(20, np.float32),
        }
        state = tuple(np.zeros((B, 5), np.float32) for _ in range(2))
        y_f, _ = fast_module("lstm").infer(x, params, state)
        y_r, _ = ref_lstm.infer(x, params, state)
        np.testing.assert_array_equal(np.isnan(y_f), np.isnan(y_r))
        assert np.isnan(y_f).any()


@pytest.mark.parametrize("cell, G, S", [("lstm", 4, 2), ("simple_rnn", 1, 1)])
def test_inference_on_the_whole_batch_runs_the_loop_compiled_for_blocks_of_rows(cell, G, S, monkeypatch):
    """numba compiles a function again for each literal argument it is given: the whole batch's path
    hands the block and its loop of rows a plain integer as the first row, so that one compiled loop serves both."""
    import numba
    from numba.core import types

    monkeypatch.setenv("RNNLAB_NUM_THREADS", "1")  # one block of rows: the whole batch's path
    rng = np.random.default_rng(0)
    B, T, D, H = 3, 5, 2, 4
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    params = {"W": rng.normal(size=(D, G * H)), "U": rng.normal(size=(H, G * H)), "b": np.zeros(G * H)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    module = fast_module(cell)
    module.infer(x, params, tuple(np.zeros((B, H), np.float32) for _ in range(S)))
    # loaded from the cache, a function types nothing it calls: copies outside the cache are typed here
    for caller, callee in ((module._infer_batch, module._infer_block), (module._infer_block, module._infer_rows)):
        numba.njit(caller.py_func).compile(caller.signatures[0])
        assert callee.signatures
        assert not any(isinstance(t, types.Literal) for sig in callee.signatures for t in sig), callee


def _compiled_signatures():
    """How many typed versions the fast kernels' compiled functions hold, all modules together."""
    import sys

    from numba.core.dispatcher import Dispatcher

    modules = [m for name, m in list(sys.modules.items()) if m and name.startswith("rnnlab.kernels.fast")]
    functions = {id(f): f for m in modules for f in vars(m).values() if isinstance(f, Dispatcher)}
    return sum(len(f.signatures) for f in functions.values())


@pytest.mark.parametrize("cell, G, S", [("lstm", 4, 2), ("simple_rnn", 1, 1), ("gru", 3, 1)])
def test_read_only_and_strided_arrays_compile_no_loop_again(cell, G, S):
    """A memory-mapped input is read only, a caller's states may be strided views: numba would type both
    apart from writable C-order arrays and compile every loop again (a minute and more) for the same
    arithmetic. The kernels take copies of such arrays instead, and give the same numbers."""
    rng = np.random.default_rng(0)
    B, T, D, H = 4, 6, 3, 5
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    b = np.zeros((2, G * H) if cell == "gru" else G * H)  # the GRU's default reset_after: (2, 3H)
    params = {"W": rng.normal(size=(D, G * H)), "U": rng.normal(size=(H, G * H)), "b": b}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    wide = rng.normal(size=(S, B, 2 * H)).astype(np.float32)
    mask = rng.random((B, T)) < 0.8
    module = fast_module(cell)

    def run(x, params, states, mask):
        y, final = module.infer(x, params, states, mask)
        xt = np.ascontiguousarray(x.transpose(1, 0, 2))
        z, _, cache = module.forward(xt, params, states, np.ascontiguousarray(mask.T))
        dx, _, grads = module.backward(np.ones_like(z), (None,) * S, cache)
        return [y, *final, z, dx, *grads.values()]

    def read_only(a):
        a = a.copy()
        a.flags.writeable = False
        return a

    expected = run(x, params, tuple(np.ascontiguousarray(w[:, ::2]) for w in wide), mask)
    before = _compiled_signatures()
    got = run(
        read_only(x),
        {k: read_only(v) for k, v in params.items()},
        tuple(read_only(w)[:, ::2] for w in wide),  # read only and strided
        read_only(mask),
    )
    assert _compiled_signatures() == before
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)


_SAME_BITS_CHILD = """
import sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from rnnlab.kernels.fast import gru as fast_gru, lstm as fast_lstm, simple_rnn as fast_simple_rnn
T, B, D, H = 30, 8, 3, 16
out = {}
cells = (("lstm", fast_lstm, 4, 2, (4 * H,), {}), ("rnn", fast_simple_rnn, 1, 1, (H,), {}),
         ("gru", fast_gru, 3, 1, (2, 3 * H), {"reset_after": True}),
         ("gru_before", fast_gru, 3, 1, (3 * H,), {"reset_after": False}))
for seed, (name, kernel, G, S, b_shape, options) in enumerate(cells):
    if name not in sys.argv[2].split(","):
        continue
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    params = {"W": rng.normal(0, 0.5, (D, G * H)).astype(np.float32),
              "U": rng.normal(0, 0.3, (H, G * H)).astype(np.float32),
              "b": rng.normal(0, 0.3, b_shape).astype(np.float32)}
    state = tuple(np.zeros((B, H), np.float32) for _ in range(S))
    y, _, cache = kernel.forward(x, params, state, **options)
    dx, _, grads = kernel.backward(np.ones_like(y), (None,) * S, cache)
    out[name + "_y"], out[name + "_dx"], out[name + "_dU"] = y, dx, grads["U"]
    out[name + "_infer"] = kernel.infer(np.ascontiguousarray(x.transpose(1, 0, 2)), params, state, **options)[0]
kernels = {id(f): f for m in list(sys.modules.values()) if m and m.__name__.startswith("rnnlab.kernels.fast")
           for f in vars(m).values() if isinstance(f, Dispatcher)}.values()
out["cache_hits"] = sum(sum(f.stats.cache_hits.values()) for f in kernels)
out["cache_misses"] = sum(sum(f.stats.cache_misses.values()) for f in kernels)
np.savez(sys.argv[1], **out)
"""

# two processes at a time, each on its half of the cells with a numba cache of its own: the compile takes
# the two cores instead of one
_SAME_BITS_GROUPS = ("lstm", "rnn,gru,gru_before")


def test_a_compiling_process_and_a_caching_one_agree_to_the_bit(tmp_path):
    """The process that compiles the kernels and the ones that load them from the cache give the
    same bits (they once rounded the LSTM cell update 1 ulp apart, and a seeded run then drifted)."""
    import os
    import subprocess
    import sys

    def run(stage):
        children = []
        try:
            for k, group in enumerate(_SAME_BITS_GROUPS):
                env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / f"cache{k}"))  # empty: the first child compiles
                args = [sys.executable, "-c", _SAME_BITS_CHILD, str(tmp_path / f"{stage}{k}.npz"), group]
                children.append(subprocess.Popen(args, env=env))
            assert [child.wait(timeout=600) for child in children] == [0] * len(children)
        finally:
            for child in children:
                child.kill()

    run("compiled")
    run("cached")
    for k, group in enumerate(_SAME_BITS_GROUPS):
        compiled, cached = np.load(tmp_path / f"compiled{k}.npz"), np.load(tmp_path / f"cached{k}.npz")
        assert compiled["cache_misses"] > 0 and compiled["cache_hits"] == 0, group  # it compiled every kernel
        assert cached["cache_hits"] > 0 and cached["cache_misses"] == 0, group  # it compiled none
        outputs = sorted(key for key in compiled.files if not key.startswith("cache_"))
        assert outputs == sorted(key for key in cached.files if not key.startswith("cache_"))
        assert len(outputs) == 4 * len(group.split(","))
        for key in outputs:
            np.testing.assert_array_equal(compiled[key], cached[key], err_msg=key)


@pytest.mark.parametrize("backend", ["fast", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_all_finite_finds_every_nan_and_inf(backend, dtype):
    x = np.random.default_rng(0).normal(size=(3, 50, 7)).astype(dtype)
    x[1, 2, 3] = np.finfo(dtype).max  # the largest value is still finite
    x[0, 1, 2] = -np.finfo(dtype).max
    with kernels.use(backend):
        assert kernels.all_finite(x) and kernels.all_finite(x[:, :1])
        for bad in (np.nan, np.inf, -np.inf):
            for where in ((0, 0, 0), (2, 49, 6), (1, 17, 3)):
                y = x.copy()
                y[where] = bad
                assert not kernels.all_finite(y), (bad, where)
    if backend == "fast":
        assert switch._compiled_finite is not None  # the compiled loop answered


def test_calls_blas_sees_the_largest_block_and_what_is_packed():
    """OpenBLAS is held to one thread exactly when a loop will call it: the input terms of more than SMALL_ROWS
    features on W neither packed nor stacked over U, or a product on an unpacked U in a block over SMALL_ROWS rows."""
    from rnnlab.kernels.fast import plan as fast_plan
    from rnnlab.kernels.fast import pool as threads
    from rnnlab.kernels.fast.products import SMALL_ROWS

    none, some = np.empty((0, 0, 0), np.float32), np.ones((1, 1, 1), np.float32)
    for B in range(1, 40):
        for parts in range(1, 6):
            rows = threads.split(B, parts)
            widest = max(r1 - r0 for r0, r1 in rows)
            for D in (1, SMALL_ROWS, SMALL_ROWS + 1):
                wide_input = D > SMALL_ROWS
                for PW in (none, some):
                    for panels in ((none,), (some,), (some, none), (some, some)):
                        unpacked = any(P.size == 0 for P in panels)
                        expected = (wide_input and PW.size == 0) or (widest > SMALL_ROWS and unpacked)
                        assert fast_plan.calls_blas(D, rows, panels, PW, none) == expected, (B, parts, D)
                        assert not fast_plan.calls_blas(D, rows, panels, PW, some)  # one product a step on [W; U]
