"""`rnnlab export MODEL --onnx out.onnx`: a saved model for ONNX Runtime, or its weights for Keras."""

import sys

from . import argtypes as T


def register(sub):
    p = sub.add_parser("export", help="write a saved model as ONNX (RNN/LSTM operators) or Keras .weights.h5")
    p.add_argument("model", type=T.input_file, help="a model file written by model.save (or a checkpoint)")
    p.add_argument("--onnx", type=T.output_file, metavar="OUT.onnx", help="write an ONNX model here")
    p.add_argument("--opset", type=T.count(14, 1000), default=None, help="ONNX opset (default 17)")
    p.add_argument(
        "--lengths", action="store_true", help="add the input sequence_lens (batch,) int32 for right-padded batches"
    )
    p.add_argument(
        "--padding",
        choices=["right"],
        default=None,
        help="declare that padded steps (Masking, mask_zero) sit at the right end of each sequence: the "
        "recurrent layers run as ONNX's operators with lengths (faster); without it, as a Scan exact "
        "for a mask anywhere",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default=None,
        help="the ONNX model's float type (default: the model's; ONNX Runtime runs float32 only)",
    )
    p.add_argument(
        "--keras-weights",
        type=T.output_file,
        metavar="OUT.weights.h5",
        help="write the weights as a Keras 3 .weights.h5 file (h5py only)",
    )
    p.set_defaults(func=run)


def run(args):
    from ..train import load

    if not args.onnx and not args.keras_weights:
        raise ValueError("export expected --onnx OUT.onnx and/or --keras-weights OUT.weights.h5")
    model = load(args.model)
    try:
        _write(model, args)
    except ImportError as err:  # the onnx or h5py extra is missing
        print(f"rnnlab export: error: {err}", file=sys.stderr)
        return 1
    return 0


def _write(model, args):
    from ..interop import h5, onnx

    if args.onnx:
        proto = onnx.export(
            model, args.onnx, opset=args.opset, lengths=args.lengths, padding=args.padding, dtype=args.dtype
        )
        inputs = ", ".join(i.name for i in proto.graph.input)
        outputs = ", ".join(o.name for o in proto.graph.output)
        print(f"wrote {args.onnx}: opset {proto.opset_import[0].version}, inputs {inputs}, outputs {outputs}")
    if args.keras_weights:
        h5.save_weights(model, args.keras_weights)
        print(f"wrote {args.keras_weights}: Keras 3 weights of {len(model.layers)} layers")
