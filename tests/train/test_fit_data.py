"""fit, evaluate and predict on iterables of batches (generators, DataLoaders), mask=, and errors on wrong data."""

import warnings

import numpy as np
import pytest

import rnnlab as rl

RNG = np.random.default_rng(0)
X = RNG.standard_normal((50, 6, 3)).astype(np.float32)
Y = (X[:, :, 0].sum(axis=1, keepdims=True) > 0).astype(np.float32)


def model(seed=0):
    m = rl.Sequential([rl.LSTM(5), rl.Dense(1, activation="sigmoid")], seed=seed)
    return m.compile("binary_crossentropy", rl.optim.Adam(1e-2), metrics=["accuracy"])


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


def test_a_generator_trains_exactly_as_the_same_arrays():
    ref, gen = model(), model()
    h_ref = ref.fit(X, Y, epochs=3, batch_size=8, seed=4, verbose=0, validation_data=(X[:10], Y[:10]))
    rng = np.random.default_rng(4)  # fit(seed=4) shuffles with this generator, one permutation per epoch

    def batches():
        while True:
            order = rng.permutation(len(X))
            for s in range(0, len(X), 8):
                idx = order[s : s + 8]
                yield X[idx], Y[idx]

    val = [(X[:8], Y[:8]), (X[8:10], Y[8:10])]  # a list, read again each epoch, batched as fit batches arrays
    h_gen = gen.fit(batches(), epochs=3, steps_per_epoch=7, verbose=0, validation_data=val)
    assert_same_weights(ref, gen)
    assert h_gen.history == h_ref.history
    assert type(h_gen.history) is dict and all(type(v) is list for v in h_gen.history.values())
    assert h_gen.params == {"epochs": 3, "steps": 7, "verbose": 0}


def test_a_torch_dataloader_trains_a_model():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=10, shuffle=False)
    m = model()
    history = m.fit(loader, epochs=12, verbose=0, validation_data=loader)
    assert len(history.history["loss"]) == 12
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    ref = model()  # a DataLoader without shuffling gives the arrays' batches in order
    ref.fit(X, Y, epochs=12, batch_size=10, shuffle=False, verbose=0)
    assert_same_weights(m, ref)
    # the same batches (OpenBLAS may round a row of a product differently in a batch of another size)
    np.testing.assert_array_equal(m.predict(loader), m.predict(X, batch_size=10))
    assert m.evaluate(loader) == m.evaluate(X, Y, batch_size=10)


def test_keras_pydataset():
    keras = pytest.importorskip("keras")

    class Data(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, k):
            return X[10 * k : 10 * k + 10], Y[10 * k : 10 * k + 10]

    m, ref = model(), model()
    m.fit(Data(), epochs=2, verbose=0)
    ref.fit(X, Y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    assert_same_weights(m, ref)


def test_steps_per_epoch_with_an_endless_generator_and_a_generator_that_runs_out():
    def endless():
        k = 0
        while True:
            yield X[k % 5 * 10 : k % 5 * 10 + 10], Y[k % 5 * 10 : k % 5 * 10 + 10], np.ones(10), None
            k += 1

    m = model()
    m.fit(endless(), epochs=3, steps_per_epoch=4, verbose=0)
    assert m.optimizer.iterations == 12
    assert m.evaluate(endless(), steps=5) == m.evaluate(X, Y, batch_size=10)

    def once():
        for s in range(0, 50, 10):
            yield X[s : s + 10], Y[s : s + 10]

    m = model()
    with pytest.warns(
        RuntimeWarning, match="ran out at the start of epoch 2: a generator runs once; pass steps_per_epoch"
    ):
        history = m.fit(once(), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and m.optimizer.iterations == 5
    assert "ran out" in history.stop_reason


def test_mask_for_float_sequences_equals_a_masking_layer():
    lengths = np.array([6, 2, 4, 5, 1] * 10)
    mask = np.arange(6)[None, :] < lengths[:, None]
    x = np.where(mask[:, :, None], X, 0.0).astype(np.float32)
    with_mask = model().build((6, 3))
    masking = rl.Sequential([rl.Masking(), rl.LSTM(5), rl.Dense(1, activation="sigmoid")]).build((6, 3))
    masking.compile("binary_crossentropy", rl.optim.Adam(1e-2))

    def shifted(weights):  # "0.W" of the model without Masking is "1.W" of the one with it
        return {f"{int(k[0]) + 1}{k[1:]}": v for k, v in weights.items()}

    masking.set_weights(shifted(with_mask.get_weights()))
    with_mask.fit(x, Y, mask=mask, epochs=2, batch_size=10, seed=0, verbose=0)
    masking.fit(x, Y, epochs=2, batch_size=10, seed=0, verbose=0)
    want = shifted(with_mask.get_weights())
    for k, v in masking.get_weights().items():
        np.testing.assert_array_equal(v, want[k], err_msg=k)
    np.testing.assert_array_equal(with_mask.predict(x, mask=mask), masking.predict(x))
    # the mask really acts: values at padded steps change nothing
    noisy = np.where(mask[:, :, None], x, 7.0).astype(np.float32)
    np.testing.assert_array_equal(with_mask.predict(noisy, mask=mask), with_mask.predict(x, mask=mask))


def test_masking_after_another_layer_follows_the_mask_protocol():
    x = np.where((np.arange(6) < 3)[None, :, None], X, 0.0).astype(np.float32)
    first = rl.Sequential([rl.Masking(), rl.LSTM(4)], seed=0)
    later = rl.Sequential([rl.Dropout(0.5), rl.Masking(), rl.LSTM(4)], seed=0)
    want = first.predict(x)
    later.build((6, 3))
    later.set_weights({"2." + k[2:]: v for k, v in first.get_weights().items()})
    np.testing.assert_array_equal(later.predict(x), want)
    assert not np.array_equal(rl.Sequential([rl.LSTM(4)], seed=0).predict(x), want)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.fit(5, verbose=0), r"^fit expected arrays \(X, y\), or an iterable of \(x, y\) batches"),
        (
            lambda m: m.fit(X, verbose=0),
            r"^fit expected y with the arrays X \(or X as an iterable of \(x, y\) "
            r"batches and no y\), got y=None",
        ),
        (
            lambda m: m.fit(iter([X[:5]]), verbose=0),
            r"^fit \(batch 1 of the data\) expected each batch as a tuple "
            r"\(x, y\)",
        ),
        (
            lambda m: m.fit(iter([(X[:5],)]), verbose=0),
            r"^fit \(batch 1 of the data\) expected each batch as "
            r"\(x, y\), \(x, y, sample_weight\)",
        ),
        (
            lambda m: m.fit(iter([(X[:5], Y[:5]), (X[:5], Y[:4])]), verbose=0),
            r"^fit \(batch 2 of the data\) expected X and y with the same number of samples, got 5 and 4",
        ),
        (lambda m: m.fit(iter([]), verbose=0), r"^fit expected at least one batch in the data, got none"),
        (lambda m: m.fit(iter([(X, Y)]), validation_split=0.2, verbose=0), "validation_split expected 0"),
        (lambda m: m.fit(iter([(X, Y)]), steps_per_epoch=0, verbose=0), "steps_per_epoch expected a positive"),
        (lambda m: m.fit(X, Y, steps_per_epoch=3, verbose=0), r"steps_per_epoch expected None with arrays"),
        (lambda m: m.fit(iter([(X, Y)]), mask=np.ones((50, 6), bool), verbose=0), "mask inside the batches"),
        (lambda m: m.fit(X, Y, mask=np.ones((50, 5), bool), verbose=0), r"fit expected mask of shape \(50, 6\)"),
        (lambda m: m.fit([[1.0, 2.0], [1.0]], Y, verbose=0), "fit expected X as a regular array .*pad_sequences"),
        (lambda m: m.fit(X, Y, validation_data=5, verbose=0), "validation_data expected a tuple"),
        (lambda m: m.predict(iter([{"x": X}])), r"predict \(batch 1 of the data\) expected each batch as a tuple"),
    ],
)
def test_wrong_data_is_named_in_the_users_terms(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(model())


def test_the_original_complaint():
    """A generator passed to fit used to fail with 'expected at least one sample in X, got shape ()'."""
    m = model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = m.fit((b for b in [(X[:25], Y[:25]), (X[25:], Y[25:])]), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


def test_train_on_batch_returns_the_loss_before_its_update():
    m = model()
    before = m.test_on_batch(X[:10], Y[:10])
    assert isinstance(before, list) and len(before) == 2  # [loss, accuracy], as Keras with metrics
    got = m.train_on_batch(X[:10], Y[:10])
    assert got[0] == pytest.approx(before[0], rel=1e-6) and got[1] == before[1]
    assert m.optimizer.iterations == 1
    after = m.test_on_batch(X[:10], Y[:10], return_dict=True)
    assert after["loss"] < got[0]
    plain = rl.Sequential([rl.LSTM(5), rl.Dense(1)], seed=0).compile("mse")
    assert isinstance(plain.train_on_batch(X[:10], Y[:10]), float)
    with pytest.raises(ValueError, match=r"^train_on_batch expected X and y with the same number of samples"):
        plain.train_on_batch(X[:10], Y[:9])
