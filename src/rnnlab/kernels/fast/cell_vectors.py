"""The float32 inference cells of the LSTM and the GRU (reset_after) on explicit vectors of sixteen units.

lstm._cell_infer and gru._cell_after_infer are loops over a row's units, and LLVM vectorises each one
vector at a time: a unit is a chain of dependent operations (an LSTM unit some forty: four rational
functions, two of them after C_t; a GRU unit some thirty), and one vector's chain, not the arithmetic
units, bounds the loop. Here sixteen units (or thirty-two) are one straight run of vector operations,
written in LLVM IR as packed.py writes its tile, so that a 256-bit machine runs two (or four) chains
side by side and a 512-bit one one (or two). The operations are the loops', in their order, with their
multiply-adds: the same bits (tests/kernels/test_cell_vectors.py). A row of 16 units or more ends on a
group that overlaps the one before it (its units are computed again, the same values written again);
lstm.py and gru.py keep the loops for shorter rows, for float64 and on x86 CPUs without FMA. Timings:
docs/PERFORMANCE.md.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import packed
from .ops import TANH_CLAMP, TANH_P, TANH_Q, prefer_wide_vectors

LANES = 16  # units of one vector: one 512-bit register, or two 256-bit ones
_I64 = ir.IntType(64)


def _tanh_fraction(builder, fma, const, x):
    """(n, d) with tanh(x) = n / d, as ops.tanh32_fraction: x clamped to ±9 (a NaN passes), x P(x²) / Q(x²)."""
    x = builder.select(builder.fcmp_ordered("<", const(TANH_CLAMP), x), const(TANH_CLAMP), x)
    x = builder.select(builder.fcmp_ordered("<", x, const(-TANH_CLAMP)), const(-TANH_CLAMP), x)
    s = builder.fmul(x, x)
    p = const(TANH_P[5])
    for k in (4, 3, 2, 1, 0):  # Horner, one multiply-add a coefficient
        p = builder.call(fma, [p, s, const(TANH_P[k])])
    q = const(TANH_Q[3])
    for k in (2, 1, 0):
        q = builder.call(fma, [q, s, const(TANH_Q[k])])
    return builder.fmul(x, p), q


def _sigmoid_fraction(builder, fma, const, x):
    """(n, d) with σ(x) = n / d, as ops.sigmoid_fraction: σ(x) = (1 + tanh(x/2)) / 2."""
    n, d = _tanh_fraction(builder, fma, const, builder.fmul(const(0.5), x))
    return builder.fadd(d, n), builder.fadd(d, d)


def _make_groups(one_vector):
    """An intrinsic: a whole row in groups of LANES units, each vector emitted by
    one_vector(builder, fma, const, load, store, u).

    groups(a0, a1, a2, a3, a4): five float32 C-contiguous 1-D arrays, the last of H ≥ LANES units (the
    caller checks). In one_vector, load(array, block, u) is the vector of array a0..a4 (0..4) from
    element block·H + u, store(value, array, u) writes one at element u, const(value) is a vector of one value. Pairs of
    vectors (32 units) first, then one vector where 16 units or more are left, then one that ends at
    H and overlaps the one before: the last array (the output) must lie apart from the inputs.
    """

    @intrinsic
    def groups(typingctx, a0, a1, a2, a3, a4):
        sig = types.void(a0, a1, a2, a3, a4)

        def codegen(context, builder, signature, args):
            prefer_wide_vectors(builder)  # 512-bit registers where the CPU has them, as ops.wide_vectors
            vty = ir.VectorType(ir.FloatType(), LANES)
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{LANES}f32"
            )
            arrays = [context.make_array(signature.args[k])(context, builder, a) for k, a in enumerate(args)]
            H = cgutils.unpack_tuple(builder, arrays[4].shape, 1)[0]

            def at(array, offset):  # the vector of an array that starts at element `offset`
                return builder.bitcast(builder.gep(arrays[array].data, [offset]), vty.as_pointer())

            def load(array, block, u):
                return builder.load(at(array, builder.add(builder.mul(H, ir.Constant(_I64, block)), u)), align=4)

            def store(value, array, u):
                builder.store(value, at(array, u), align=4)

            def const(value):
                return ir.Constant(vty, [float(value)] * LANES)

            def emit(u):
                one_vector(builder, fma, const, load, store, u)

            lanes, pair = ir.Constant(_I64, LANES), ir.Constant(_I64, 2 * LANES)
            pairs = builder.sdiv(H, pair)
            with cgutils.for_range(builder, pairs) as loop:
                u = builder.mul(loop.index, pair)
                emit(u)
                emit(builder.add(u, lanes))
            u = builder.mul(pairs, pair)
            left = builder.sub(H, u)  # 0 .. 31 units
            with builder.if_then(builder.icmp_signed(">=", left, lanes)):
                emit(u)
            with builder.if_then(builder.icmp_signed("!=", builder.srem(left, lanes), ir.Constant(_I64, 0))):
                emit(builder.sub(H, lanes))  # the last units, with some of the group before
            return context.get_dummy_value()

        return sig, codegen

    return groups


def vectors_or_loop(groups, loop):
    """What an @overload of one row's cell returns: groups (of this module) where the row is float32, its
    last array has LANES units or more and the CPU has FMA, else loop (a compiled function of the same
    five arrays). An x86 CPU without FMA keeps the loop: the vectors' multiply-adds would be library calls."""

    def choose(a0, a1, a2, a3, a4):
        if a0.dtype != types.float32 or not packed.HAS_FMA:
            return lambda a0, a1, a2, a3, a4: loop(a0, a1, a2, a3, a4)

        def impl(a0, a1, a2, a3, a4):
            if a4.shape[0] >= LANES:
                groups(a0, a1, a2, a3, a4)
            else:
                loop(a0, a1, a2, a3, a4)

        return impl

    return choose


def _lstm_vector(builder, fma, const, load, store, u):
    """LSTM units u .. u + LANES − 1, as lstm._cell_infer computes each: arrays z (4H,) the row's
    x_t W + h_{t-1} U, b (4H,), c_prev (H,) C_{t-1}; C_t into c_new (H,), h_t into h_new (H,)."""
    z, b, c_prev, c_new, h_new = range(5)

    def gate(block):  # z + b of a gate block (i, f, C̃, o)
        return builder.fadd(load(z, block, u), load(b, block, u))

    ni, di = _sigmoid_fraction(builder, fma, const, gate(0))  # i_t = ni/di
    nf, df = _sigmoid_fraction(builder, fma, const, gate(1))  # f_t = nf/df
    ng, dg = _tanh_fraction(builder, fma, const, gate(2))  # C̃_t = ng/dg
    no, do = _sigmoid_fraction(builder, fma, const, gate(3))  # o_t = no/do
    i_g = builder.fdiv(builder.fmul(ni, ng), builder.fmul(di, dg))  # i_t ⊙ C̃_t, one division
    c_t = builder.call(fma, [builder.fdiv(nf, df), load(c_prev, 0, u), i_g])  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
    store(c_t, c_new, u)
    nt, dt = _tanh_fraction(builder, fma, const, c_t)
    store(builder.fdiv(builder.fmul(no, nt), builder.fmul(do, dt)), h_new, u)  # h_t = o_t ⊙ tanh(C_t)


def _gru_vector(builder, fma, const, load, store, u):
    """GRU units u .. u + LANES − 1 (reset_after), as gru._cell_after_infer computes each: arrays g (3H,)
    x_t W, bx (3H,) b, hu (3H,) h_{t-1} U + b', h_prev (H,); h_t into h_new (H,)."""
    g, bx, hu, h_prev, h_new = range(5)

    def gate(block):  # x_t W + h_{t-1} U + b' + b of a gate block (z, r)
        return builder.fadd(builder.fadd(load(g, block, u), load(hu, block, u)), load(bx, block, u))

    nz, dz = _sigmoid_fraction(builder, fma, const, gate(0))  # z_t = nz/dz
    nr, dr = _sigmoid_fraction(builder, fma, const, gate(1))  # r_t = nr/dr
    gated = builder.call(fma, [builder.fdiv(nr, dr), load(hu, 2, u), load(g, 2, u)])  # x_t W_h + r_t ⊙ (h U_h + b'_h)
    nt, dt = _tanh_fraction(builder, fma, const, builder.fadd(gated, load(bx, 2, u)))  # h̃_t = tanh(· + b_h)
    new = builder.fdiv(builder.fmul(builder.fsub(dz, nz), nt), builder.fmul(dz, dt))  # (1 − z_t) ⊙ h̃_t
    store(builder.call(fma, [builder.fdiv(nz, dz), load(h_prev, 0, u), new]), h_new, u)  # h_t = z_t ⊙ h_{t-1} + ·


# lstm._cell_infer for a float32 row: z (4H,), b (4H,), c_prev (H,) C_{t-1} -> c_new (H,) C_t, h_new (H,) h_t
lstm_infer_groups = _make_groups(_lstm_vector)
# gru._cell_after_infer for a float32 row: g (3H,) x_t W, bx (3H,) b, hu (3H,) h_{t-1} U + b', h_prev (H,) -> h_new (H,)
gru_infer_groups = _make_groups(_gru_vector)
