"""What fit shows while it runs, chosen by `verbose`.

verbose=0: nothing. verbose=1: a tqdm bar per epoch with the running loss and
metrics when standard output is a terminal, nothing otherwise (logs, pipes,
notebooks run by CI stay clean); without tqdm (`pip install rnnlab[progress]`)
one line per epoch instead of the bar. verbose=2: one line per epoch, always.
"""

import importlib.util
import sys


def _format(logs):
    return "  ".join(f"{k}={v:.4g}" for k, v in logs.items())


class Progress:
    def __init__(self, verbose, epochs):
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose expected 0, 1 or 2, got {verbose!r}")
        self.epochs, self.bar = epochs, None
        self.mode = "none"
        if verbose == 2 or (verbose == 1 and sys.stdout.isatty()):
            self.mode = "line"
            if verbose == 1 and importlib.util.find_spec("tqdm") is not None:
                self.mode = "bar"

    def epoch_begin(self, epoch, steps):
        if self.mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(
                total=steps, desc=f"epoch {epoch + 1}/{self.epochs}", file=sys.stdout, leave=True, dynamic_ncols=True
            )

    def batch_end(self, logs):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(_format(logs), refresh=False)

    def epoch_end(self, epoch, logs):
        if self.bar is not None:
            self.bar.set_postfix_str(_format(logs))
            self.bar.close()
            self.bar = None
        elif self.mode == "line":
            print(f"epoch {epoch + 1}/{self.epochs}  {_format(logs)}", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
