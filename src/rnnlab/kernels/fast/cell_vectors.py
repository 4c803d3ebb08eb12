"""The LSTM's inference cell in float32 on explicit vectors of sixteen units.

lstm._cell_infer is one loop over a row's units, and LLVM vectorises it one vector at a time: each
unit is a chain of some forty dependent operations (four rational functions, two of them after
C_t), and one vector's chain, not the arithmetic units, bounds that loop. Here sixteen units (or
thirty-two) are one straight run of vector operations, written in LLVM IR as packed.py writes its
tile, so that a 256-bit machine runs two (or four) chains side by side and a 512-bit one one (or
two). The operations are the loop's, in its order, with its multiply-adds: the same bits
(tests/kernels/test_cell_vectors.py). A row of 16 units or more ends on a group that overlaps the
one before it (its units are computed again, the same values written again); lstm.py keeps the
loop for shorter rows, for float64 and on x86 CPUs without FMA. Timings: docs/PERFORMANCE.md.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .ops import JIT, TANH_CLAMP, TANH_P, TANH_Q, wide_vectors

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


def _make_units(vectors):
    """An intrinsic: units j .. j + vectors·LANES − 1 of one row, as lstm._cell_infer computes each.

    units(z, b, c_prev, c_new, h_new, j, H): z (4H,) the row's x_t W + h_{t-1} U, b (4H,), c_prev (H,)
    C_{t-1}; writes C_t into c_new (H,) and h_t into h_new (H,). All float32, C-contiguous; the caller
    keeps j + vectors·LANES ≤ H.
    """

    @intrinsic
    def units(typingctx, z, b, c_prev, c_new, h_new, j, H):
        sig = types.void(z, b, c_prev, c_new, h_new, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            *arrays, j_, H_ = args
            vty = ir.VectorType(ir.FloatType(), LANES)
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{LANES}f32"
            )
            z_, b_, cp_, cn_, hn_ = (
                context.make_array(signature.args[k])(context, builder, a).data for k, a in enumerate(arrays)
            )

            def at(data, offset):  # the vector of `data` that starts at element `offset`
                return builder.bitcast(builder.gep(data, [offset]), vty.as_pointer())

            def const(value):
                return ir.Constant(vty, [float(value)] * LANES)

            def gate(g, u):  # z + b of gate block g (i, f, C̃, o) for the units from u
                k = builder.add(builder.mul(H_, ir.Constant(_I64, g)), u)
                return builder.fadd(builder.load(at(z_, k), align=4), builder.load(at(b_, k), align=4))

            for v in range(vectors):
                u = builder.add(j_, ir.Constant(_I64, v * LANES))  # the vector's first unit
                ni, di = _sigmoid_fraction(builder, fma, const, gate(0, u))  # i_t = ni/di
                nf, df = _sigmoid_fraction(builder, fma, const, gate(1, u))  # f_t = nf/df
                ng, dg = _tanh_fraction(builder, fma, const, gate(2, u))  # C̃_t = ng/dg
                no, do = _sigmoid_fraction(builder, fma, const, gate(3, u))  # o_t = no/do
                c_prev = builder.load(at(cp_, u), align=4)
                i_g = builder.fdiv(builder.fmul(ni, ng), builder.fmul(di, dg))  # i_t ⊙ C̃_t, one division
                c_t = builder.call(fma, [builder.fdiv(nf, df), c_prev, i_g])  # C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
                builder.store(c_t, at(cn_, u), align=4)
                nt, dt = _tanh_fraction(builder, fma, const, c_t)
                h_t = builder.fdiv(builder.fmul(no, nt), builder.fmul(do, dt))  # h_t = o_t ⊙ tanh(C_t)
                builder.store(h_t, at(hn_, u), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return units


_units_1, _units_2 = _make_units(1), _make_units(2)


@njit(inline="always", **JIT)
def infer_groups(z, b, c_prev, c_new, h_new):
    """lstm._cell_infer for a float32 row of H ≥ LANES units: z (4H,), b (4H,), c_prev (H,) C_{t-1} ->
    c_new (H,) C_t, h_new (H,) h_t.

    Groups of 32 units, then one of 16, then a last group of 16 that ends at H, overlapping the one
    before: c_new and h_new lie apart from z and c_prev, so its units come out the same again.
    """
    wide_vectors()  # 512-bit registers where the CPU has them
    H = c_prev.shape[0]
    j = 0
    while j + 2 * LANES <= H:
        _units_2(z, b, c_prev, c_new, h_new, j, H)
        j += 2 * LANES
    if j + LANES <= H:
        _units_1(z, b, c_prev, c_new, h_new, j, H)
        j += LANES
    if j < H:
        _units_1(z, b, c_prev, c_new, h_new, H - LANES, H)
