"""Models and checkpoints in rnnlab files (io/archive.py): what goes in, and how it is checked on the way out.

Array keys: "param:<name>" (model weights, e.g. "param:0.W"),
"optim:<name>/<slot>" (optimizer state), "callback:<i>:<name>" (callback arrays).
The JSON config holds the layers, the RNG state of every layer, the compile
settings and, in a checkpoint, the training state ("train").
"""

import json

import numpy as np

from ..io import archive
from ..io.archive import FormatError
from ..io.layers import build_from_arrays, layer_config, layer_from_config
from ..nn.base import leaf_layers
from ..nn.stack import Stack
from . import losses, optim
from .callbacks import History

_BIT_GENERATORS = {
    cls.__name__: cls
    for cls in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox, np.random.SFC64)
}


def rng_from_state(state):
    """A Generator from `bit_generator.state`, for the bit generators numpy ships only."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise FormatError(f"RNG state expected a bit_generator among {sorted(_BIT_GENERATORS)}, got {name!r}")
    bit_generator = _BIT_GENERATORS[name]()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise FormatError(f"RNG state is invalid: {err}") from None
    return np.random.Generator(bit_generator)


def _payload(model):
    """(config, arrays) describing a model, its RNGs and its compile settings."""
    config = {
        "model": {
            "class_name": "Sequential",
            "name": model.name,
            "seed": model.seed,
            "layers": [layer_config(layer) for layer in model.layers],
            "input_spec": None if model.input_spec is None else list(model.input_spec),
            "output_shapes": [None if s is None else list(s) for s in model.output_shapes],
        },
        "rng": {path: rng.bit_generator.state for path, rng in model.rngs().items()},
        "compile": None,
        # free JSON data the application keeps with the model (e.g. a text model's vocabulary)
        "metadata": getattr(model, "metadata", None),
    }
    arrays = {f"param:{k}": v for k, v in model.params.items()}
    if model.loss is not None:
        opt = model.optimizer
        config["compile"] = {
            "loss": model.loss.get_config(),
            "optimizer": opt.get_config(),
            "metrics": [name for name, _ in model.metrics],
            "clip_norm": model.clip_norm,
            "clip_value": model.clip_value,
            "iterations": opt.iterations,
        }
        arrays.update({f"optim:{k}": a for k, a in opt.state_arrays().items()})
    return config, arrays


def save_model(model, path):
    """Write model (layers, weights, RNG states, compile settings, optimizer state) to one file."""
    _check_model(model, "save")
    config, arrays = _payload(model)
    archive.write(path, "model", config, arrays)


def save_checkpoint(model, path):
    """save_model plus the training state: epoch, step, the fit RNG, history, callback states."""
    _check_model(model, "save_checkpoint")
    state = model.train_state
    if state is None or model.loss is None:
        raise ValueError("save_checkpoint expected a model being trained by fit (or trained before)")
    config, arrays = _payload(model)
    entries = []
    for i, cb in enumerate(state.callbacks):
        cb_state, cb_arrays = cb.get_state()
        entries.append({"class_name": type(cb).__name__, "state": cb_state})
        arrays.update({f"callback:{i}:{k}": a for k, a in cb_arrays.items()})
    config["train"] = {
        "epoch": state.epoch,
        "step": state.step,
        "fit_rng": state.rng.bit_generator.state,
        "fit_args": state.fit_args,
        "history": model.history.to_dict(),
        "callbacks": entries,
    }
    archive.write(path, "checkpoint", config, arrays)


def _check_model(model, owner):
    if not (isinstance(model, Stack) and hasattr(model, "compile")):
        raise TypeError(f"{owner} expected a rnnlab Sequential, got {type(model).__name__}")


def read_model(path, model_class):
    """The model saved at path (a model file or a checkpoint) as a `model_class` (Sequential),
    compiled as it was saved; rnnlab.load is this with Sequential.

    Predictions equal the saved model's bit for bit. Raises ValueError for a
    file that is truncated, corrupted, of another format version or not one
    rnnlab writes; nothing in the file is ever executed or unpickled.
    """
    config, arrays = archive.read(path, kinds=("model", "checkpoint"))
    try:
        model = _build(
            config, arrays, model_class, allow_prefixes=("callback:",) if config["kind"] == "checkpoint" else ()
        )
        if config["kind"] == "checkpoint":
            model.history = History.from_dict(_get(config, "train", dict)["history"])
        model.metadata = config.get("metadata")
    except (KeyError, TypeError, ValueError) as err:  # FormatError is a ValueError
        raise FormatError(f"{path}: not a valid rnnlab file: {err}") from None
    return model


def _get(d, key, kind):
    value = d.get(key) if isinstance(d, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"{key!r} expected {kind.__name__}, got {value!r}")
    return value


def _build(config, arrays, model_class, allow_prefixes=()):
    """A model_class (Sequential) from a checked archive: layers from the whitelist, weights, RNGs, compile."""
    mc = _get(config, "model", dict)
    if mc.get("class_name") != "Sequential":
        raise FormatError(f"model class expected 'Sequential', got {mc.get('class_name')!r}")
    entries = _get(mc, "layers", list)
    seed, name = mc.get("seed"), mc.get("name")
    if not (seed is None or (isinstance(seed, int) and not isinstance(seed, bool))) or not isinstance(name, str):
        raise FormatError(f"model seed/name invalid: {seed!r}, {name!r}")
    model = model_class([layer_from_config(e) for e in entries], seed=seed, name=name)

    leaves = dict(leaf_layers(model))
    grouped = {path: {} for path in leaves}
    rest = {}
    for key, a in arrays.items():
        if key.startswith("param:"):
            path, _, pname = key[len("param:") :].rpartition(".")
            if path not in grouped:
                raise FormatError(f"array {key!r} names no layer of the model")
            grouped[path][pname] = a
        elif key.startswith("optim:") or any(key.startswith(p) for p in allow_prefixes):
            rest[key] = a
        else:
            raise FormatError(f"unexpected array {key!r}")
    for key, a in arrays.items():  # NaN/Inf weights or optimizer state: refused before anything is built
        if key.startswith(("param:", "optim:")) and np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise FormatError(
                f"array {key!r} holds {a.size - int(np.count_nonzero(np.isfinite(a)))} NaN or Inf value(s)"
            )
    spec = mc.get("input_spec")
    if spec is not None:  # saved after it was built: every layer that holds weights must have them in the file
        empty = [path for path, layer in leaves.items() if hasattr(layer, "build") and not grouped[path]]
        if empty:
            raise FormatError(f"the model was saved built, but the file has no parameter arrays for layer(s) {empty}")
    for path, layer_arrays in grouped.items():
        build_from_arrays(leaves[path], layer_arrays, path)

    if spec is not None:
        if not (
            isinstance(spec, list)
            and len(spec) == 2
            and spec[0] in (2, 3)
            and (spec[1] is None or (isinstance(spec[1], int) and spec[1] > 0))
        ):
            raise FormatError(f"input_spec invalid: {spec!r}")
        model.input_spec = (spec[0], spec[1])
    shapes = mc.get("output_shapes")
    if isinstance(shapes, list) and len(shapes) == len(model.layers):
        model.output_shapes = [None if s is None else tuple(s) for s in shapes]

    rng = _get(config, "rng", dict)
    targets = model.rngs()
    if set(rng) != set(targets):
        raise FormatError(f"RNG states expected for {sorted(targets)}, got {sorted(rng)}")
    for path, state in rng.items():
        leaves[path].rng = rng_from_state(state)

    compiled = config.get("compile")
    optim_arrays = {k[len("optim:") :]: a for k, a in rest.items() if k.startswith("optim:")}
    if compiled is None:
        if optim_arrays:
            raise FormatError("optimizer arrays in a file without compile settings")
        return model
    if not isinstance(compiled, dict):
        raise FormatError(f"compile settings invalid: {compiled!r}")
    model.compile(
        losses.from_config(compiled.get("loss")),
        optim.from_config(compiled.get("optimizer")),
        metrics=_get(compiled, "metrics", list),
        clip_norm=compiled.get("clip_norm"),
        clip_value=compiled.get("clip_value"),
    )
    iterations = _get(compiled, "iterations", int)
    if iterations < 0:
        raise FormatError(f"optimizer iterations expected >= 0, got {iterations}")
    model.optimizer.load_state_arrays(iterations, optim_arrays, model.params)
    return model


def _canonical(value):
    return json.loads(json.dumps(value))


def read_checkpoint(path, model, state):
    """Check a checkpoint against model and the fit about to run; return a function that restores it.

    Nothing changes until the returned function runs, so a bad checkpoint
    leaves the model as it was (and fit writes nothing).
    """
    config, arrays = archive.read(path, kinds=("checkpoint",))
    where = f"resume_from {path}"
    try:
        saved = _build(config, arrays, type(model), allow_prefixes=("callback:",))
        train = _get(config, "train", dict)
        epoch, step = _get(train, "epoch", int), _get(train, "step", int)
        if epoch < 0 or step < 0:
            raise FormatError(f"epoch and step expected >= 0, got {epoch} and {step}")
        fit_rng = rng_from_state(train.get("fit_rng"))
        history = History.from_dict(train.get("history"))
        cb_entries = _get(train, "callbacks", list)
        if saved.loss is None:
            raise FormatError("no compile settings")
    except (FormatError, KeyError, TypeError, ValueError) as err:
        raise FormatError(f"{where}: not a valid checkpoint: {err}") from None
    mine, _ = _payload(model)
    theirs = _canonical(config)
    if _canonical(mine["model"]["layers"]) != theirs["model"]["layers"]:
        raise ValueError(f"{where}: the checkpoint's layers differ from this model's")
    if any(cb.sets_lr for cb in state.callbacks):  # the rate is the callback's, restored with its state
        mine["compile"]["optimizer"] = dict(mine["compile"]["optimizer"], lr=theirs["compile"]["optimizer"].get("lr"))
    for key in ("loss", "optimizer", "metrics", "clip_norm", "clip_value"):
        if _canonical(mine["compile"][key]) != theirs["compile"][key]:
            raise ValueError(
                f"{where}: compile {key} expected {theirs['compile'][key]!r} as in the checkpoint, "
                f"got {mine['compile'][key]!r}"
            )
    if _canonical(state.fit_args) != train.get("fit_args"):
        raise ValueError(
            f"{where}: fit arguments expected {train.get('fit_args')} as in the checkpoint, got {state.fit_args}"
        )
    params = model.params
    for k, a in saved.params.items():
        if k not in params or params[k].shape != a.shape or params[k].dtype != a.dtype:
            raise ValueError(f"{where}: parameter {k} {a.shape} {a.dtype} does not fit this model")
    cb_arrays = {}
    for key, a in arrays.items():
        if key.startswith("callback:"):
            index, _, name = key[len("callback:") :].partition(":")
            cb_arrays.setdefault(index, {})[name] = a
    matched = _match_callbacks(state.callbacks, cb_entries, cb_arrays, where)

    def restore():
        model.set_weights(saved.get_weights())
        leaves = dict(leaf_layers(model))
        for p, rng in saved.rngs().items():
            leaves[p].rng = rng
        model.optimizer.iterations, model.optimizer.state = saved.optimizer.iterations, saved.optimizer.state
        model.history.epoch, model.history.history = history.epoch, history.history
        state.rng, state.epoch, state.step = fit_rng, epoch, step
        for cb, cb_state, arrs in matched:
            try:
                cb.set_state(cb_state, arrs)
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{where}: state of {type(cb).__name__} is invalid: {err}") from None

    return restore


def _match_callbacks(callbacks, entries, arrays, where):
    """Pair each callback with the saved state of the same class and rank among its kind."""
    saved = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("state"), dict):
            raise FormatError(f"{where}: callback entry {i} invalid")
        saved.setdefault(entry.get("class_name"), []).append((entry["state"], arrays.get(str(i), {})))
    matched, seen = [], {}
    for cb in callbacks:
        name = type(cb).__name__
        rank = seen[name] = seen.get(name, -1) + 1
        if rank < len(saved.get(name, [])):
            matched.append((cb, *saved[name][rank]))
    return matched
