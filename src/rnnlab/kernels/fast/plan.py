"""What the fast kernels accept, and how they split the work across cores."""

import os

import numpy as np

from .. import activations
from . import packed, pool
from .ops import CODES
from .products import SMALL_ROWS, projection_block

# below this many multiply-adds per sequence the batch is not split: a call hands work to
# the other thread two to four times, some tens of microseconds each, which would eat
# most of what a second core saves on a sequence of a millisecond or less
MIN_SPLIT_WORK = 2_000_000
# nor into blocks too small to be worth a thread: every block reads all of U and runs the loop's fixed
# work at every step, which a second thread repeats; it pays only when its rows do enough arithmetic on
# top: at least MIN_SPLIT_ROWS rows, and MIN_BLOCK_WORK multiply-adds a step (rows · G·H · H) or
# ENOUGH_ROWS rows. Two threads took 0.95–1.9× one's time with blocks of one row, 1.0–1.25× with an
# LSTM's or a GRU's of two at H = 64 (32768 multiply-adds a step for the LSTM), 1.08–1.32× with a
# SimpleRNN's of four at H = 64; 0.54–0.91× from two rows at H = 128, three at H = 64 (36864 for a GRU)
# and eight for a SimpleRNN (docs/PERFORMANCE.md, "Few rows: a block must be worth a thread")
MIN_SPLIT_ROWS = 2
MIN_BLOCK_WORK = 35_000
ENOUGH_ROWS = 8


def empty(ndim, dtype):
    """A zero-size array standing for "none" (compiled code takes arrays, not None)."""
    return np.empty((0,) * ndim, dtype)


def codes_of(names):
    """The compiled loops' codes of activation names, or None if one has none (unknown names raise)."""
    try:
        return tuple(CODES[name] for name in names)
    except (KeyError, TypeError):
        for name in names:
            activations.get(name)  # an unknown name: the reference's error
        return None


def _same_float(arrays):
    """The dtype all the arrays share, float32 or float64; None for another or a mix (NumPy would promote)."""
    dtype = arrays[0].dtype
    if dtype.char not in "fd":
        return None
    for a in arrays:
        if a.dtype != dtype:
            return None
    return dtype


_NO_MASK = empty(2, np.bool_)  # "no mask", shared: it has no element to write


def _c_writable(a, dtype=None):
    """a as the compiled loops take it, C-ordered and writable: a itself where it is, else a copy. numba
    compiles a loop again for each type of array it is given, and a read-only or strided array is a type
    of its own: a memory-mapped input, or read-only weights or states, would compile every loop a second
    time, a minute and more, for the same arithmetic."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.writeable else a.copy()


def supported(x, params, state, mask, rdrop, names):
    """Arrays in the layout the compiled loops take, or None when the reference must run.

    Returns (x, W, U, b, mask as bool or empty, rdrop or empty, activation codes).
    """
    codes = codes_of(names)
    arrays = [_c_writable(a) for a in (x, params["W"], params["U"], params["b"])]
    others = [np.asarray(s) for s in state] + ([] if rdrop is None else [np.asarray(rdrop)])
    if codes is None or _same_float(arrays + others) is None:
        return None
    T, B, _ = arrays[0].shape
    m8 = _NO_MASK if mask is None else _c_writable(mask, np.bool_).reshape(T, B)
    rd = empty(2, arrays[0].dtype) if rdrop is None else _c_writable(rdrop)
    return (*arrays, m8, rd, codes)


def infer_plan(x, params, state, mask, names):
    """supported() for the loops of infer(), batch first; None where the reference must run.

    Returns (x, W, U, b, states as arrays, mask (B, T) as bool or empty, codes, row blocks).
    Runs once per call, so written flat: a one-step call takes some twenty microseconds in all.
    """
    codes = codes_of(names)
    x, W, U, b = _c_writable(x), _c_writable(params["W"]), _c_writable(params["U"]), _c_writable(params["b"])
    state = tuple(_c_writable(s) for s in state)
    if codes is None or _same_float([x, W, U, b, *state]) is None:
        return None
    B, T, D = x.shape
    m8 = _NO_MASK if mask is None else _c_writable(mask, np.bool_).reshape(B, T)
    return x, W, U, b, state, m8, codes, blocks_for(B, T, D, U.shape[0], U.shape[1] // U.shape[0])


def blocks_for(B, T, D, H, gates):
    """Row blocks of the batch, one per thread, when the sequence is worth splitting: enough work in
    all, and enough in every block (MIN_SPLIT_ROWS, MIN_BLOCK_WORK, ENOUGH_ROWS); gates: U's columns over H."""
    if T * B * (D + H) * gates * H < MIN_SPLIT_WORK:
        return [(0, B)]
    rows = max(MIN_SPLIT_ROWS, min(ENOUGH_ROWS, -(-MIN_BLOCK_WORK // (gates * H * H))))  # the fewest a block may have
    return pool.split(B, min(pool.num_threads(), max(1, B // rows)))


def input_steps(T, D):
    """Steps of input terms x_t W that infer() makes at once, and keeps: all T as one product, or,
    for one or two features, where a loop makes them either way, one at a time. One step's
    terms stay in L1: LSTM inference at T = 100, B = 1, H = 64 took 9% less time."""
    return T if D > SMALL_ROWS else 1


def calls_blas(D, rows, panels, PW, WU):
    """Whether inference's loops will call OpenBLAS, which is then held to one thread (blas.one_blas_thread,
    whose two settings took some 14 µs a call, docs/PERFORMANCE.md): for the input terms of more than
    SMALL_ROWS features made neither on W stacked over U (WU) nor on W packed (PW), or for a recurrent
    product whose matrix is not packed (an empty array in the tuple `panels`) in a block of more than
    SMALL_ROWS rows (blocks: rows)."""
    if WU.shape[0] > 0:  # every step one product on the panels of [W; U]
        return False
    widest = -(-rows[-1][1] // len(rows))  # no block of split() exceeds ⌈B / blocks⌉
    return (D > SMALL_ROWS and PW.shape[0] == 0) or (widest > SMALL_ROWS and any(P.shape[0] == 0 for P in panels))


def transposed_if_small(U, rows, P):
    """Uᵀ in C order when U is not packed (P, Uᵀ's panels, empty) and some block has at most SMALL_ROWS
    rows (their loops read it), else empty."""
    if P.shape[0] == 0 and min(r1 - r0 for r0, r1 in rows) <= SMALL_ROWS:
        return np.ascontiguousarray(U.T)
    return empty(2, U.dtype)


# the fewest input rows (T·B) whose terms are made on W packed: the pack costs some 5 µs, and layers took
# 1.00–1.11× the time at 100 rows (T = 100, B = 1, D = 8, H = 64), 0.94–1.04× at 400 and 800 (B = 4 and 8,
# D = 32), 0.93–1.03× at 6400 (B = 64, D = 128, H = 256; LSTM inference 0.96–0.99×)
INPUT_PANEL_ROWS = 512

PRODUCTS = ("auto", "packed", "blas")
# RNNLAB_PRODUCT, read when the kernels load, as packed.TILE (and for the same reason)
PRODUCT = os.environ.get("RNNLAB_PRODUCT", "auto") or "auto"


def product_path():
    """How blocks of more than SMALL_ROWS rows make the recurrent product: PRODUCT ("packed" or "blas")
    forces one, else auto."""
    if PRODUCT not in PRODUCTS:
        raise ValueError(f"RNNLAB_PRODUCT expected one of {', '.join(PRODUCTS)}, got {PRODUCT!r}")
    return PRODUCT


def _tiled_path():
    """product_path(), or None where the tiles do not run: "blas", or auto on an x86 CPU without FMA."""
    path = product_path()
    return None if path == "blas" or (path == "auto" and not packed.HAS_FMA) else path


# blocks of one or two rows are packed only for sequences of this many steps or more: packing U
# took 5–10 µs at H = 64, where the wide panels save 0.3–0.5 µs a step
ROW_PANEL_STEPS = 32


def panels(U, rows, steps, transpose=False, keep=False, columns=None):
    """U (or Uᵀ) packed for the tiled product (packed.pack), laid out for the largest block of rows
    (steps: the sequence's length); else an empty stand-in, and the blocks then call OpenBLAS or loops
    (empty too for an empty U, the GRU's U_h under reset_after). columns: (c0, c1), U[:, c0:c1] packed
    as if it were U (packed.pack's); None: all of U.

    Auto packs unless the CPU lacks FMA: packing reads U once per call, and the packed product took
    0.6–1.03× OpenBLAS's time per step for three rows or more, 1.03 only at one thread's 128 rows at
    H = 1024 (docs/PERFORMANCE.md, "The product of one step, on one core"); two paths split by a
    threshold fitted to one machine were not worth 3 %. Blocks of one or two rows keep their loops
    for short sequences (ROW_PANEL_STEPS) and unless U's columns fill whole panels of theirs: a
    panel cut by the last column costs them a tile of 8–16 vectors for its few columns, and an LSTM
    at H = 70 took 1.3× the loops' time. A U that is its own panel (packed.own_panel) costs no pack.
    keep: inference's; the pack is kept for the next call on the same weights (packed.pack)."""
    most = _packed_rows(U, rows, steps, transpose, columns)
    if most is None:
        return empty(3, U.dtype)
    return packed.pack(U, transpose, packed.vector_bytes(), most, keep, columns)


def _packed_rows(U, rows, steps, transpose=False, columns=None):
    """The rows of the largest block, for which panels() packs U (or Uᵀ, or U's columns); None where it does not."""
    if U.size == 0 or _tiled_path() is None:
        return None
    most = max(r1 - r0 for r0, r1 in rows)
    N = U.shape[0 if transpose else 1] if columns is None else columns[1] - columns[0]  # the columns packed
    NR = packed.panel_width(U.dtype, packed.vector_bytes(), most, N)
    short = steps < ROW_PANEL_STEPS and not packed.own_panel(U, transpose, NR, columns)  # a pack would cost more
    if most <= SMALL_ROWS and (short or N % NR):
        return None
    return most


def stacked_panels(W, U, rows, steps, keep=False):
    """W stacked over U, [W; U] (D + H, G), packed (packed.pack_stacked) for one product a step of the input
    and recurrent terms (products.stacked_product); else an empty stand-in, and the input terms of all steps
    are made first (input_panels), U packed on its own (panels). steps: the sequence's length.

    Stacked where panels() would pack U, there are more than SMALL_ROWS features and at least
    INPUT_PANEL_ROWS input rows (T·B): LSTM inference took 0.85–0.97× the time from (100, 8, 16, 64) to
    (25, 128, 512, 1024) on two threads and 0.88–0.94× on one, since the input terms of all steps made
    first are read back from memory at each step; with fewer rows the pack of W costs more than that
    saves (1.06–1.36× at T·B = 32–256 and H ≤ 256). Not where U's columns make one panel: a layer's U
    (on a cache line, memory.aligned_empty) is then its own (packed.own_panel) and costs no pack, and
    stacking took 1.07–1.17× the time. The rule reads shapes only, never where U lies: the path sets
    the rounding (docs/PERFORMANCE.md, "One product a step"). keep: as panels()'s."""
    D, G = W.shape
    if D <= SMALL_ROWS or steps * (rows[-1][1] - rows[0][0]) < INPUT_PANEL_ROWS:  # shapes first, the cheaper
        return empty(3, U.dtype)
    most = _packed_rows(U, rows, steps)
    if most is None:
        return empty(3, U.dtype)
    if G == packed.panel_width(U.dtype, packed.vector_bytes(), most, G):  # U is one panel: a layer's costs no pack
        return empty(3, U.dtype)
    return packed.pack_stacked(W, U, packed.vector_bytes(), most, keep)


# features plus units up to which the tiles make the weight gradients in one pass over dz (products.grads_block):
# on one thread that took 0.77–0.99× the time of the separate passes (OpenBLAS's products, the tiles' for the
# bias and for one or two features) from D + H = 65 to 160, LSTM and SimpleRNN, T·B = 3200 and 6400 steps;
# 1.04–1.10× at 161 and 192, where OpenBLAS, which packs both operands, makes the faster product
GRAD_TILE_COLUMNS = 160


def grads_in_one_pass(D, H):
    """Whether the tiles make ∂L/∂W, ∂L/∂U and ∂L/∂b in one pass over dz (products.grads_block): up to
    GRAD_TILE_COLUMNS features and units, where the tiles run (not under "blas", nor on a CPU without FMA)."""
    return _tiled_path() is not None and D + H <= GRAD_TILE_COLUMNS


def input_panels(W, rows, keep=False):
    """W (D, G) packed for the input terms of all steps (packed.project), or an empty stand-in: then
    OpenBLAS's product, or loops for one or two features (products.input_projection). rows: T·B.

    Auto packs where a panel of all D rows fits L1 (packed.L1_PANEL: D ≤ 128 on AVX-512's tile, 512 on
    AVX2's) and there are INPUT_PANEL_ROWS rows or more: there AVX-512's tiles took 0.53–0.89× OpenBLAS's
    time from D = 8 to 64, 0.94–1.01× at 128, and 0.93–1.12× from 160 to 512 (docs/PERFORMANCE.md); "packed"
    packs for any D and rows, "blas" never. keep: as panels()'s."""
    path = _tiled_path()
    D, G = W.shape
    if D <= SMALL_ROWS or path is None:
        return empty(3, W.dtype)
    width = packed.vector_bytes()
    panel = D * packed.panel_width(W.dtype, width, packed.MR, G) * W.itemsize  # bytes of one panel, as pack lays it
    if path == "auto" and (panel > packed.L1_PANEL or rows < INPUT_PANEL_ROWS):
        return empty(3, W.dtype)
    return packed.pack(W, width=width, keep=keep)


def step_terms(x, W, U, rows, z, rdrop):
    """How a training forward makes each step's terms z_t = x_t W + h_{t-1} U, for the blocks of batch rows
    `rows`: one product a step on [W; U] where stacked_panels packs it, else the input terms x_t W of all
    steps first, written into z as one large product per thread, and h_{t-1} U added at each step.
    Call with OpenBLAS on one thread (blas.one_blas_thread).

    x (T, B, D), W (D, G), U (H, G), z (T, B, G), rdrop (B, H) or empty (no recurrent dropout).
    Returns (WU, P, xh, hp): [W; U] packed or empty; U packed (panels) or empty; the rows [x_t, h_{t-1}]
    of the stacked product (B, D + H) or (0, 0); h_{t-1} ⊙ rdrop for U's product alone (B, H) or (0, 0)."""
    T, B, D = x.shape
    H, G = U.shape
    WU = stacked_panels(W, U, rows, T)
    stacked = WU.size > 0
    xh = np.empty((B, D + H) if stacked else (0, 0), x.dtype)
    P = empty(3, x.dtype) if stacked else panels(U, rows, T)
    hp = np.empty((B, H) if rdrop.size and not stacked else (0, 0), x.dtype)
    if not stacked:  # z_t = x_t W for all steps first
        PW = input_panels(W, T * B)
        xs, zs = x.reshape(T * B, D), z.reshape(T * B, G)
        pool.run(projection_block, [(xs, W, PW, zs, q0, q1) for q0, q1 in pool.split(T * B, len(rows))])
    return WU, P, xh, hp


def infer_terms(W, U, rows, T, B):
    """How inference makes each step's terms, for the blocks of batch rows `rows` of a batch of B sequences
    of T steps: one product a step on [W; U] where stacked_panels packs it, else the input terms x_t W
    first (of all steps, or each at its step: input_steps) and h_{t-1} U added at each step.

    W (D, G), U (H, G). Returns (WU, P, PW, steps): [W; U] packed or empty; U packed (panels) or empty;
    W packed (input_panels) or empty; the steps whose input terms are held at once (the middle length
    of the work array z)."""
    WU = stacked_panels(W, U, rows, T, keep=True)
    if WU.shape[0] > 0:  # one product a step
        return WU, empty(3, U.dtype), empty(3, W.dtype), 1
    return WU, panels(U, rows, T, keep=True), input_panels(W, T * B, keep=True), input_steps(T, W.shape[0])
