"""Loads are all-or-nothing: a file missing its parameter arrays, holding NaN/Inf, or with one array of a
wrong shape is refused, and the model it was to be loaded into stays bit-identical."""

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.io import archive


def _model(seed=0):
    model = rl.Sequential([rl.LSTM(5, return_sequences=True), rl.SimpleRNN(4), rl.Dense(2)], seed=seed)
    model.compile("mse", "adam")
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(16, 6, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    return model, X, y


def _rewrite(path, out, edit):
    """Write out as path with edit(arrays) applied to its arrays (the table follows the arrays)."""
    config, arrays = archive.read(path, kinds=("model", "checkpoint"))
    kind = config["kind"]
    config = {k: v for k, v in config.items() if k not in ("format", "version", "kind", "arrays")}
    edit(arrays)
    archive.write(out, kind, config, arrays)
    return out


def _snapshot(model):
    return {k: v.copy() for k, v in model.get_weights().items()}


def _same(model, snapshot):
    now = model.get_weights()
    return set(now) == set(snapshot) and all(
        np.array_equal(now[k], snapshot[k]) and now[k].dtype == snapshot[k].dtype for k in now
    )


def test_a_file_without_its_parameter_arrays_is_refused(tmp_path):
    model, _, _ = _model()
    model.save(tmp_path / "m.rnnlab")

    for prefix in ("param:0.", "param:"):  # one layer's arrays, or all of them (from the archive and its table)

        def drop(arrays, prefix=prefix):
            for key in [k for k in arrays if k.startswith(prefix)]:
                del arrays[key]

        bad = _rewrite(tmp_path / "m.rnnlab", tmp_path / "bad.rnnlab", drop)
        with pytest.raises(ValueError, match="no parameter arrays for layer"):
            rl.load(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("key", ["param:1.U", "optim:"])
def test_non_finite_weights_or_optimizer_state_are_refused(tmp_path, key, value):
    model, _, _ = _model()
    model.save(tmp_path / "m.rnnlab")
    config, arrays = archive.read(tmp_path / "m.rnnlab", kinds=("model",))
    key = key if key in arrays else next(k for k in arrays if k.startswith(key) and arrays[k].size)

    def poison(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key].flat[0] = value

    bad = _rewrite(tmp_path / "m.rnnlab", tmp_path / "bad.rnnlab", poison)
    with pytest.raises(ValueError, match=r"holds 1 NaN or Inf value"):
        rl.load(bad)


def _wrong_shape(arrays):
    arrays["param:1.U"] = np.zeros((5, 4), dtype=arrays["param:1.U"].dtype)  # (4, 4) in the model


def test_set_weights_with_one_wrong_shape_leaves_the_model_bit_identical():
    model, _, _ = _model()
    before = _snapshot(model)
    weights = _snapshot(model)
    for k in weights:
        weights[k] = weights[k] + 1  # every other array would change the model
    weights["1.U"] = np.zeros((5, 4), dtype="float32")
    with pytest.raises(ValueError):
        model.set_weights(weights)
    assert _same(model, before)


def test_resume_from_a_checkpoint_with_one_wrong_shape_leaves_the_model_bit_identical(tmp_path):
    model, X, y = _model()
    model.fit(
        X, y, epochs=1, batch_size=8, verbose=0, callbacks=[rl.callbacks.ModelCheckpoint(str(tmp_path / "c.rnnlab"))]
    )
    bad = _rewrite(tmp_path / "c.rnnlab", tmp_path / "bad.rnnlab", _wrong_shape)
    target, _, _ = _model(seed=1)
    before = _snapshot(target)
    with pytest.raises(ValueError):
        target.fit(X, y, epochs=2, batch_size=8, verbose=0, resume_from=str(bad))
    assert _same(target, before)


def test_a_checkpoint_with_a_negative_epoch_is_refused(tmp_path):
    model, X, y = _model()
    model.fit(
        X, y, epochs=1, batch_size=8, verbose=0, callbacks=[rl.callbacks.ModelCheckpoint(str(tmp_path / "c.rnnlab"))]
    )
    config, arrays = archive.read(tmp_path / "c.rnnlab", kinds=("checkpoint",))
    config = {k: v for k, v in config.items() if k not in ("format", "version", "kind", "arrays")}
    config["train"]["epoch"] = -5
    archive.write(tmp_path / "bad.rnnlab", "checkpoint", config, arrays)
    target, _, _ = _model(seed=1)
    before = _snapshot(target)
    with pytest.raises(ValueError, match="epoch and step expected >= 0"):
        target.fit(X, y, epochs=2, batch_size=8, verbose=0, resume_from=str(tmp_path / "bad.rnnlab"))
    assert _same(target, before)


def test_keras_weights_with_one_wrong_shape_leave_the_model_bit_identical(tmp_path):
    h5py = pytest.importorskip("h5py")
    from rnnlab.interop import h5

    model, _, _ = _model()
    h5.save_weights(model, tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r+") as f:
        found = []
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
        name = found[-1]  # the last array: every array before it would already be copied by a one-by-one load
        shape = f[name].shape
        del f[name]
        f.create_dataset(name, data=np.zeros(tuple(d + 1 for d in shape), dtype="float32"))
    target, _, _ = _model(seed=1)
    before = _snapshot(target)
    with pytest.raises(ValueError):
        h5.load_weights(target, tmp_path / "w.weights.h5")
    assert _same(target, before)
