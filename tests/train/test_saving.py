"""Model files: round trips are bit-identical; anything malformed is refused and nothing runs."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.io import archive


def _trained(tmp_path=None, dtype="float32"):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=(24, 6))
    ids[:8, 4:] = 0  # padding
    y = rng.integers(0, 3, size=24)
    model = rl.Sequential(
        [
            rl.Embedding(7, 4, mask_zero=True, dtype=dtype),
            rl.Bidirectional(rl.LSTM(3, return_sequences=True, recurrent_dropout=0.1, dtype=dtype)),
            rl.Dropout(0.2, dtype=dtype),
            rl.SimpleRNN(3, dtype=dtype),
            rl.Dense(3, dtype=dtype),
        ],
        seed=3,
    )
    model.compile(
        "sparse_categorical_crossentropy",
        rl.optim.AdamW(rl.schedules.Warmup(1e-2, 3)),
        metrics=["accuracy"],
        clip_norm=1.0,
    )
    model.fit(ids, y, epochs=2, batch_size=8, seed=1, verbose=0)
    return model, ids, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_identical(tmp_path, dtype):
    model, ids, _ = _trained(dtype=dtype)
    path = tmp_path / "m.rnnlab"
    model.save(path)
    assert os.listdir(tmp_path) == ["m.rnnlab"]  # no temporary file left behind
    same = rl.load(path)
    assert np.array_equal(same.predict(ids), model.predict(ids))
    for k, v in model.get_weights().items():
        assert same.params[k].dtype == v.dtype and np.array_equal(same.params[k], v)
    assert {p: g.bit_generator.state for p, g in same.rngs().items()} == {
        p: g.bit_generator.state for p, g in model.rngs().items()
    }
    assert same.optimizer.get_config() == model.optimizer.get_config()
    assert same.optimizer.iterations == model.optimizer.iterations == 6
    for k, slots in model.optimizer.state.items():
        for slot, a in slots.items():
            assert np.array_equal(same.optimizer.state[k][slot], a)
    assert same.summary(print_fn=None) == model.summary(print_fn=None)


def test_loaded_model_keeps_training_like_the_original(tmp_path):
    model, ids, y = _trained()
    model.save(tmp_path / "m.rnnlab")
    same = rl.load(tmp_path / "m.rnnlab")
    h1 = model.fit(ids, y, epochs=1, batch_size=8, seed=5, verbose=0)
    h2 = same.fit(ids, y, epochs=1, batch_size=8, seed=5, verbose=0)
    assert h1.history == h2.history


# ---- malformed files ---------------------------------------------------------------
def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename[:-4]: zf.read(i) for i in zf.infolist()}


def _config(path):
    raw = _members(path)[archive.CONFIG_KEY]
    arr = np.load(io.BytesIO(raw), allow_pickle=False)
    return json.loads(arr.tobytes().decode())


def _rewrite(src, dst, config=None, arrays=None, extra=None, compressed=False):
    """A hand-made archive: src's members, with the config and arrays replaced as given."""
    members = {k: np.load(io.BytesIO(v), allow_pickle=False) for k, v in _members(src).items()}
    if config is not None:
        members[archive.CONFIG_KEY] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    members.update(arrays or {})
    members.update(extra or {})
    (np.savez_compressed if compressed else np.savez)(str(dst), **members)
    return dst.with_suffix(dst.suffix + ".npz") if not str(dst).endswith(".npz") else dst


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "good.rnnlab"
    _trained()[0].save(path)
    return path


def _mutated(saved, tmp_path, change):
    config = _config(saved)
    change(config)
    return _rewrite(saved, tmp_path / "bad", config=config)


CONFIG_CHANGES = {
    "format name": (lambda c: c.update(format="keras"), "format expected 'rnnlab'"),
    "version": (lambda c: c.update(version=2), "format version 2 is not supported"),
    "kind": (lambda c: c.update(kind="weights"), "kind expected"),
    "layer class": (lambda c: c["model"]["layers"][0].update(class_name="Lambda"), "layer class expected"),
    "layer argument": (lambda c: c["model"]["layers"][4]["config"].update(function="os.system"), "unexpected keys"),
    "layer value": (lambda c: c["model"]["layers"][4]["config"].update(units=[1, 2]), "non-scalar"),
    "units vs weights": (lambda c: c["model"]["layers"][4]["config"].update(units=5), "expected arrays"),
    "activation": (lambda c: c["model"]["layers"][4]["config"].update(activation="__import__"), "activation"),
    "loss": (lambda c: c["compile"].update(loss={"name": "custom"}), "loss config"),
    "optimizer": (lambda c: c["compile"]["optimizer"].update(class_name="Evil"), "optimizer config"),
    "rng": (lambda c: c["rng"]["0"].update(bit_generator="Evil"), "RNG state"),
    "declared dtype": (lambda c: c["arrays"]["param:0.E"].update(dtype="float64"), "dtype expected"),
    "declared shape": (lambda c: c["arrays"]["param:0.E"].update(shape=[7, 400000000]), "shape expected"),
    "undeclared array": (lambda c: c["arrays"].pop("param:4.b"), "unexpected"),
}


@pytest.mark.parametrize("case", list(CONFIG_CHANGES))
def test_hand_crafted_config_is_refused(case, saved, tmp_path):
    change, message = CONFIG_CHANGES[case]
    with pytest.raises(ValueError, match=message):
        rl.load(_mutated(saved, tmp_path, change))


def test_truncated_and_corrupted_files_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    for n in (0, 10, len(data) // 2, len(data) - 30):
        (tmp_path / "t").write_bytes(data[:n])
        with pytest.raises(ValueError, match="not a valid rnnlab file"):
            rl.load(tmp_path / "t")
    weights = _members(saved)["param:0.E"]
    at = data.index(weights) + len(weights) - 8  # inside the array's data
    flipped = bytearray(data)
    flipped[at] ^= 0xFF
    (tmp_path / "c").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a valid rnnlab file"):  # the zip CRC catches it
        rl.load(tmp_path / "c")
    with pytest.raises(FileNotFoundError):
        rl.load(tmp_path / "missing")


def test_wrong_array_shape_and_compression_are_refused(saved, tmp_path):
    config = _config(saved)
    config["arrays"]["param:4.W"]["shape"] = [3, 2]
    bad = _rewrite(saved, tmp_path / "shape", config=config, arrays={"param:4.W": np.zeros((3, 2), np.float32)})
    with pytest.raises(ValueError, match="expected arrays"):
        rl.load(bad)
    with pytest.raises(ValueError, match="compressed"):
        rl.load(_rewrite(saved, tmp_path / "zip", compressed=True))


class _Payload:
    """Unpickling this would create a folder: the marker that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_member_never_runs(saved, tmp_path):
    marker = str(tmp_path / "executed")
    config = _config(saved)
    config["arrays"]["param:4.b"] = {"shape": [1], "dtype": "float32"}
    evil = np.array([_Payload(marker)], dtype=object)
    bad = _rewrite(saved, tmp_path / "evil", config=config, arrays={"param:4.b": evil})
    with pytest.raises(ValueError, match="dtype expected float32"):
        rl.load(bad)
    bad = _rewrite(saved, tmp_path / "evil2", extra={"payload": evil})
    with pytest.raises(ValueError, match="unexpected"):
        rl.load(bad)
    assert not os.path.exists(marker)


def test_save_needs_known_layers(tmp_path):
    class Custom(rl.Dense):
        pass

    model = rl.Sequential([Custom(1)])
    with pytest.raises(TypeError, match="save expected layers"):
        model.save(tmp_path / "x.rnnlab")
    assert os.listdir(tmp_path) == []


def test_unbuilt_and_uncompiled_model_round_trip(tmp_path):
    model = rl.Sequential([rl.SimpleRNN(2, activation="relu"), rl.Dense(1)], seed=0)
    model.save(tmp_path / "u.rnnlab")
    same = rl.load(tmp_path / "u.rnnlab")
    assert not same.built and same.loss is None
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(same.predict(x), model.predict(x))  # the same seeded initial weights
