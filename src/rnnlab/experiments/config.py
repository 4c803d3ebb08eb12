"""Run configurations: every choice of a run, complete, checked and named by its hash.

A config is a flat JSON-able dict. `make_config` fills the defaults and
resolves the derived values (evaluation and probe intervals), so the same
config always means the same run, and `config_id` — a hash of all of it —
names the run's record.
"""

import hashlib
import json

from .. import checks
from ..nn.cells import cell_class, model_names

TASKS = ("adding", "copy", "digits")
MODELS = tuple(model_names())  # the registered cells: ("simplernn", "lstm", ...)
INITS = ("default", "chrono")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DIGITS_LENGTHS = (8, 64)  # 8 row steps or 64 pixel steps
DEFAULT_LENGTH = {"adding": 100, "copy": 100, "digits": 64}

DEFAULTS = {
    "hidden": 128,
    "steps": 5000,
    "batch": 64,
    "optimizer": "adam",
    "lr": 1e-3,
    "clip": 1.0,  # global-norm threshold (Pascanu et al. 2013); 0 turns clipping off
    "seed": 0,
    "activation": "tanh",  # the SimpleRNN's φ
    "init": "default",  # "chrono": LSTM gate biases for lags up to the sequence length
    "eval_every": None,  # None: steps / 20
    "test_size": 1000,  # test sequences for adding and copy (digits has a fixed test set)
    "probe_every": None,  # gradient flow every N steps, and always at the start and end; None: steps / 4
    "probe_size": 32,
    "dtype": "float32",
    "stop_on_success": False,  # end the run at the first evaluation that meets the success criterion
    "dropout": 0.0,  # the recurrent layer's dropout of its inputs (Keras' dropout)
    "recurrent_dropout": 0.0,  # and of h_{t-1} in the recurrent product (Keras' recurrent_dropout)
}
# keys added after the first records were written: left out of the hash while at these
# values, so that the records of earlier runs keep their names
_HASHED_ONLY_IF_SET = {"dropout": 0.0, "recurrent_dropout": 0.0}
# The scoring protocol of a task whose protocol changed after records were written, hashed with the config:
# a record made under the earlier protocol has another name, so it is never reused as this config's record.
# digits: evaluations on the validation split, the test set scored once at the step chosen there.
PROTOCOLS = {"digits": "validation-split"}


_positive_int, _choice = checks.positive_int, checks.choice


def make_config(task, model, length=None, **overrides):
    """A complete, checked config for one run of `model` on `task`.

    length: the adding sequence length T, the copy delay T (sequences of T + 20
    steps), or 64 / 8 for digits as pixel / row sequences; None: the task's default.
    """
    _choice("task", task, TASKS)
    _choice("model", model, MODELS)
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"config expected keys among {sorted(DEFAULTS)}, got {sorted(unknown)}")
    config = {"task": task, "model": model, "length": DEFAULT_LENGTH[task] if length is None else length}
    config.update(DEFAULTS)
    config.update({k: v for k, v in overrides.items() if v is not None})
    return check_config(config)


def check_config(config):
    """Validate a full config and resolve its derived values; returns a new dict."""
    c = dict(config)
    missing = {"task", "model", "length", *DEFAULTS} - set(c)
    if missing:
        raise ValueError(f"config expected keys {sorted(missing)}, missing")
    _choice("task", c["task"], TASKS)
    _choice("model", c["model"], MODELS)
    if c["task"] == "digits":
        _choice("length for digits", c["length"], DIGITS_LENGTHS)
    else:
        _positive_int("length", c["length"])
        if c["task"] == "adding" and c["length"] < 2:
            raise ValueError(f"length expected an integer >= 2 for adding, got {c['length']!r}")
    for key in ("hidden", "steps", "batch", "test_size", "probe_size"):
        _positive_int(key, c[key])
    checks.non_negative_int("seed", c["seed"])
    _choice("optimizer", c["optimizer"], OPTIMIZERS)
    _choice("activation", c["activation"], ("tanh", "relu"))
    _choice("init", c["init"], INITS)
    _choice("dtype", c["dtype"], ("float32", "float64"))
    if not isinstance(c["stop_on_success"], bool):
        raise ValueError(f"stop_on_success expected True or False, got {c['stop_on_success']!r}")
    if c["activation"] != "tanh" and c["model"] != "simplernn":
        raise ValueError(
            f"activation {c['activation']!r} expected model 'simplernn' (the LSTM keeps tanh), got {c['model']!r}"
        )
    if c["init"] == "chrono" and c["model"] != "lstm":
        raise ValueError(f"init 'chrono' expected model 'lstm', got {c['model']!r}")
    for key in ("dropout", "recurrent_dropout"):
        value = c[key]
        c[key] = checks.rate(key, value)
    for key in ("lr", "clip"):
        value = c[key]
        c[key] = checks.non_negative_number(key, value)
    if c["lr"] == 0:
        raise ValueError("lr expected a positive number, got 0")
    if c["eval_every"] is None:
        c["eval_every"] = max(1, c["steps"] // 20)
    _positive_int("eval_every", c["eval_every"])
    if c["probe_every"] is None:
        c["probe_every"] = max(1, c["steps"] // 4)
    checks.non_negative_int("probe_every", c["probe_every"])
    return c


def config_id(config):
    """16 hex digits of the SHA-256 of the config's canonical JSON (with the task's protocol, see PROTOCOLS)."""
    c = check_config(config)
    hashed = {k: v for k, v in c.items() if k not in _HASHED_ONLY_IF_SET or v != _HASHED_ONLY_IF_SET[k]}
    if c["task"] in PROTOCOLS:
        hashed["protocol"] = PROTOCOLS[c["task"]]
    text = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def record_name(config):
    """File stem of a run's record: readable fields, then the config hash."""
    c = check_config(config)
    extra = "-chrono" if c["init"] == "chrono" else ""
    return f"{c['task']}-{c['model']}{extra}-T{c['length']}-h{c['hidden']}-seed{c['seed']}-{config_id(c)}"


def memory_estimate(config):
    """A lower bound on the bytes a run of config holds at once: weights with their gradient and the
    optimizer's moments, the training batch's forward cache, the test set and one evaluation batch."""
    c = check_config(config)
    gates = len(cell_class(c["model"]).gate_names)
    H, B = c["hidden"], c["batch"]
    T = {"adding": c["length"], "copy": c["length"] + 20, "digits": c["length"]}[c["task"]]
    D = {"adding": 2, "copy": 10, "digits": 64 // c["length"]}[c["task"]]
    size = 4 if c["dtype"] == "float32" else 8
    weights = 4 * gates * H * (D + H + 1)
    cache = B * (T + 1) * H * (gates + 2)
    test = c["test_size"] * T * D + min(c["test_size"], 500) * T * H
    return size * (weights + cache + test)


def check_memory(config):
    """Refuse (ValueError, before any allocation) a config whose run would not fit in this machine's memory."""
    need = memory_estimate(config)
    c = config
    checks.fits_in_memory(
        "a run of",
        f"{c['model']} with hidden {c['hidden']}, batch {c['batch']}, length "
        f"{c['length']} and test size {c['test_size']}",
        need,
        "its weights, training batch and test set",
    )
    return need
