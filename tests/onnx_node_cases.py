"""ONNX's own node test cases of one operator, collected in a fresh process.

onnx's `collect_testcases` gathers the cases of one operator type only on its first call in a
process (it imports the case modules once, and their expect() calls append to one list): a
second operator's call in the same process returns nothing. So each collection runs in a
process of its own, which saves the models and their data for the test to load.
"""

import subprocess
import sys

import numpy as np

COLLECT = """
import sys, warnings
import numpy as np, onnx
from onnx.backend.test.case.node import collect_testcases
warnings.simplefilter("ignore")  # collecting imports every operator's case module, some of which warn
for case in collect_testcases(sys.argv[2]):
    onnx.save(case.model, f"{sys.argv[1]}/{case.name}.onnx")
    inputs, outputs = case.data_sets[0]
    arrays = {**{f"in{k}": a for k, a in enumerate(inputs)}, **{f"out{k}": a for k, a in enumerate(outputs)}}
    np.savez(f"{sys.argv[1]}/{case.name}.npz", **arrays)
"""


def collect(op_type, folder):
    """{case name: (model, inputs, outputs)} of ONNX's node test cases of op_type, saved under folder."""
    import onnx

    subprocess.run([sys.executable, "-c", COLLECT, str(folder), op_type], check=True)
    cases = {}
    for path in folder.glob("*.onnx"):
        arrays = np.load(path.with_suffix(".npz"))
        count = {side: sum(k.startswith(side) for k in arrays.files) for side in ("in", "out")}
        inputs = [arrays[f"in{k}"] for k in range(count["in"])]
        cases[path.stem] = (onnx.load(path), inputs, [arrays[f"out{k}"] for k in range(count["out"])])
    return cases
