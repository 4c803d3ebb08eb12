"""Options that `rnnlab run` and `rnnlab compare` share, mapped to experiment config keys."""

from ..experiments.config import DEFAULTS, INITS, OPTIMIZERS
from . import argtypes as T

TASK_NAMES = {"adding": "adding", "copy": "copy", "copy_memory": "copy", "digits": "digits"}


def task_name(name):
    if name not in TASK_NAMES:
        raise ValueError(f"task expected one of {sorted(TASK_NAMES)}, got {name!r}")
    return TASK_NAMES[name]


def add_training_options(p):
    d = DEFAULTS
    p.add_argument("--hidden", type=T.units(), help=f"recurrent units (default {d['hidden']})")
    p.add_argument("--steps", type=T.count(1, T.STEPS), help=f"training steps, one batch each (default {d['steps']})")
    p.add_argument("--batch", type=T.count(1, 10**6), help=f"batch size (default {d['batch']})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d['optimizer']}")
    p.add_argument("--lr", type=T.positive_number(), help=f"learning rate (default {d['lr']:g})")
    p.add_argument(
        "--clip", type=T.non_negative_number(), help=f"global gradient-norm clip, 0 for none (default {d['clip']:g})"
    )
    p.add_argument("--activation", choices=("tanh", "relu"), help="the SimpleRNN's activation (default tanh)")
    p.add_argument("--init", choices=INITS, help="'chrono': LSTM gate biases for lags up to the length")
    p.add_argument("--eval-every", type=T.count(1, T.STEPS), help="steps between test evaluations (default steps/20)")
    p.add_argument(
        "--test-size", type=T.count(1, T.SIZE), help=f"test sequences for adding/copy (default {d['test_size']})"
    )
    p.add_argument(
        "--probe-every",
        type=T.count(0, T.STEPS),
        help="steps between gradient-flow probes (always at initialisation and at the end; 0: only "
        "those; default steps/4)",
    )
    p.add_argument(
        "--probe-size", type=T.count(1, 10**6), help=f"sequences in the gradient-flow probe (default {d['probe_size']})"
    )
    p.add_argument("--dtype", choices=("float32", "float64"), help="default float32")
    p.add_argument("--dropout", type=T.rate(), help="the recurrent layer's input dropout rate (default 0)")
    p.add_argument("--recurrent-dropout", type=T.rate(), help="its recurrent dropout rate, on h_{t-1} (default 0)")
    p.add_argument(
        "--stop-on-success",
        action="store_const",
        const=True,
        help="end a run at the first evaluation that meets the task's success criterion",
    )
    p.add_argument(
        "--out", type=T.output_folder, default="results", help="folder for records and figures (default results/)"
    )
    p.add_argument("--no-figures", action="store_true", help="write the JSON records only")
    p.add_argument("--force", action="store_true", help="run again even when a record of the same config exists")


def training_options(args):
    """The config overrides given on the command line (None = default)."""
    keys = (
        "hidden",
        "steps",
        "batch",
        "optimizer",
        "lr",
        "clip",
        "activation",
        "init",
        "eval_every",
        "test_size",
        "probe_every",
        "probe_size",
        "dtype",
        "stop_on_success",
        "dropout",
        "recurrent_dropout",
    )
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
