"""rl.data.bucket: batches padded to their longest member with their masks; it trains as full padding does."""

import numpy as np
import pytest

import rnnlab as rl


def task(n, seed):
    """Ids in {1, 2} of lengths 3..40; the class decides which id is more likely (0.75), the label is it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    lengths = rng.integers(3, 41, n)
    seqs = [np.where(rng.random(t) < 0.75, 1 + c, 2 - c) for c, t in zip(labels, lengths)]
    return seqs, labels


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_batches_masks_and_padded_steps(padding):
    seqs, _ = task(100, 0)
    n = len(seqs)
    data = rl.data.bucket(seqs, np.arange(n), batch_size=16, padding=padding, seed=0)
    assert len(data) == 7
    for _epoch in range(2):
        seen, padded = [], 0
        for batch in data:
            x, index, w, mask = batch
            assert w is None and x.dtype == np.int64 and mask.dtype == bool and mask.shape == x.shape
            lengths = np.array([len(seqs[i]) for i in index])
            assert x.shape[1] == lengths.max()  # padded to its longest member only
            np.testing.assert_array_equal(mask, x != 0)  # ids are never 0: the mask marks the real steps
            np.testing.assert_array_equal(mask.sum(axis=1), lengths)
            for row, i in zip(x, index):
                real = row[row != 0]
                np.testing.assert_array_equal(real, seqs[i])
                assert (row[: len(real)] != 0).all() == (padding == "post" or len(real) == len(row))
            padded += int((~mask).sum())
            seen += list(index)
        assert sorted(seen) == list(range(n))  # each sequence once per epoch
        assert padded == data.padded_steps
    lengths = np.array([len(s) for s in seqs])
    assert data.full_padding_steps == int((lengths.max() - lengths).sum())
    assert data.padded_steps < data.full_padding_steps / 5


def test_float_sequences_and_options():
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((t, 3)) for t in (4, 2, 7, 5, 1)]
    data = rl.data.bucket(seqs, np.arange(5), batch_size=2, shuffle=False, padding="post", drop_remainder=True)
    batches = list(data)
    assert len(batches) == len(data) == 2
    x, y, _, mask = batches[0]
    assert x.dtype == np.float32 and x.shape == (2, 2, 3)  # the two shortest: lengths 1 and 2
    np.testing.assert_array_equal(y, [4, 1])
    np.testing.assert_array_equal(mask, [[True, False], [True, True]])
    np.testing.assert_array_equal(x[1], seqs[1].astype(np.float32))


@pytest.mark.parametrize(
    "args, message",
    [
        (([], None, 2), "bucket expected a non-empty list of sequences"),
        (([[1], []], None, 2), "sequences of at least one step, got an empty one at position 1"),
        (([[1], [2]], [0], 2), "one label per sequence"),
        (([[1], [2]], None, 0), "batch_size expected a positive integer, got 0"),
    ],
)
def test_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        rl.data.bucket(*args)


def test_bucketing_trains_to_the_accuracy_of_full_padding_with_fewer_padded_steps():
    seqs, labels = task(480, 0)
    test_seqs, test_labels = task(300, 1)
    x_test = rl.data.pad_sequences(test_seqs)

    def model():
        m = rl.Sequential([rl.Embedding(3, 4, mask_zero=True), rl.LSTM(8), rl.Dense(2)], seed=0)
        return m.compile("sparse_categorical_crossentropy", rl.optim.Adam(2e-2), metrics=["accuracy"])

    full, bucketed = model(), model()
    x_full = rl.data.pad_sequences(seqs)
    full.fit(x_full, labels, epochs=6, batch_size=32, seed=0, verbose=0)
    data = rl.data.bucket(seqs, labels, batch_size=32, seed=0)
    bucketed.fit(data, epochs=6, verbose=0)
    acc_full = full.evaluate(x_test, test_labels)["accuracy"]
    acc_bucket = bucketed.evaluate(x_test, test_labels)["accuracy"]
    padded_full = int((x_full == 0).sum())
    print(
        f"padded steps per epoch: full padding {padded_full}, bucketing {data.padded_steps}; "
        f"test accuracy: full padding {acc_full:.3f}, bucketing {acc_bucket:.3f}"
    )
    assert padded_full == data.full_padding_steps
    assert data.padded_steps < padded_full / 10
    assert acc_full > 0.85 and acc_bucket > 0.85
    assert abs(acc_full - acc_bucket) < 0.04
    # the mask makes padding invisible: a bucketed batch gives what the fully padded rows give
    x, y, _, mask = next(iter(rl.data.bucket(test_seqs, np.arange(300), batch_size=50, seed=2)))
    np.testing.assert_allclose(bucketed.predict(x), bucketed.predict(x_test[y]), rtol=1e-5, atol=1e-6)
