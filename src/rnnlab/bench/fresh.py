"""Each contender timed in a process of its own, one library per process, in alternation.

`rnnlab bench speed --fresh-processes`. In the default method every contender runs
in the benchmark's own process: PyTorch's and ONNX Runtime's thread pools and rnnlab's
kernel threads live side by side there, and one library's threads may still spin while
the next is timed. Here each contender (rnnlab's layer, PyTorch, ONNX Runtime) lives in a
child process started once for the whole run (`python -m rnnlab.bench.fresh LIBRARY`),
which imports only its library (and NumPy): the rnnlab child imports numba with its first
call; the PyTorch and ONNX Runtime children import rnnlab's benchmark module for the
contender's code, which does not import numba, and report the modules they hold. The parent
writes each problem to a .npz file, and then, round after round in rotating order, asks one
child at a time for its time per call (after `warm` seconds of untimed calls, as in
speed.interleaved and timing.warm_then_time); the children not asked wait on a pipe. Each figure is the median of
its rounds, each ratio the median of the per-round ratios, as in the default method.

Protocol: one JSON object per line on the child's stdin, one reply per line on its stdout
({"do": "setup", "cell", "problem": path, "threads"} -> {"ok": true} or {"missing": why};
{"do": "time", "mode", "warm"} -> {"seconds"}; {"do": "modules"} -> {"modules": [...]}).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import contenders
from .timing import rounds, warm_then_time

LIBRARIES = {"rnnlab": contenders.Rnnlab, "torch": contenders.Torch, "onnxruntime": contenders.OnnxRuntime}
WATCHED = ("numba", "torch", "onnxruntime")  # modules a child reports holding


class Child:
    """One contender's process."""

    def __init__(self, lib, timeout=600):
        self.lib = lib
        self.timeout = timeout
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnnlab.bench.fresh", lib],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, **msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.lib} process of the benchmark ended (exit code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the {self.lib} process of the benchmark failed: {reply['error']}")
        return reply

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=self.timeout)


class Session:
    """The children of one benchmark run, one per library, started once; close() ends them."""

    def __init__(self, libs=tuple(LIBRARIES)):
        self.children = {lib: Child(lib) for lib in libs}
        self.folder = tempfile.TemporaryDirectory(prefix="rnnlab-bench-")

    def close(self):
        for child in self.children.values():
            child.close()
        self.folder.cleanup()

    def setup(self, cell, p, threads=None):
        """Every child builds its contender of `p` (threads: see contenders); returns (children that have it,
        missing libraries)."""
        path = os.path.join(self.folder.name, "problem.npz")
        np.savez(path, **p)
        ready, missing = {}, []
        for lib, child in self.children.items():
            reply = child.ask(do="setup", cell=cell, problem=path, threads=threads)
            if "missing" in reply:
                missing.append(lib)
            else:
                ready[lib] = child
        return ready, missing

    def time(self, ready, mode, repeats, warm=0.1):
        """{library: [seconds per round]} of `mode` ("train" or "infer") for the children that do it."""
        doing = {lib: c for lib, c in ready.items() if mode == "infer" or lib != "onnxruntime"}
        timers = {lib: (lambda c=c: c.ask(do="time", mode=mode, warm=warm)["seconds"]) for lib, c in doing.items()}
        return rounds(timers, repeats)

    def modules(self):
        """{library: the modules of WATCHED its process holds}."""
        return {lib: c.ask(do="modules")["modules"] for lib, c in self.children.items()}


def serve(lib, stdin=sys.stdin, reply_to=sys.stdout):
    """The child's loop: answer the parent's requests until stdin closes."""
    sys.stdout = sys.stderr  # the pipe to the parent carries replies only
    runner = None
    for line in stdin:
        msg = json.loads(line)
        try:
            if msg["do"] == "setup":
                with np.load(msg["problem"]) as f:
                    p = {k: f[k] for k in f.files}
                try:
                    runner = LIBRARIES[lib](msg["cell"], p, msg["threads"])
                    reply = {"ok": True}
                except ImportError as e:
                    reply = {"missing": str(e)}
            elif msg["do"] == "time":
                reply = {"seconds": warm_then_time(getattr(runner, msg["mode"]), msg["warm"])}
            else:
                reply = {"modules": [m for m in WATCHED if m in sys.modules]}
        except Exception as e:  # the parent names the library and stops
            reply = {"error": f"{type(e).__name__}: {e}"}
        reply_to.write(json.dumps(reply) + "\n")
        reply_to.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
