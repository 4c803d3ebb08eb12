"""rnnlab.text: corpus checks, stateful batches, a char LSTM that learns, reproducible sampling, `rnnlab text`."""

import numpy as np
import pytest

from rnnlab import kernels, text
from rnnlab.cli import main


@pytest.fixture(autouse=True, scope="module")
def reference_kernels_on_one_blas_thread():
    """Learning, not kernel speed, is tested here: the reference kernels, with OpenBLAS held to
    one thread (two threads stall the small per-step products on 2 cores: 4x slower measured)."""
    from threadpoolctl import threadpool_limits

    with kernels.use("reference"), threadpool_limits(1, user_api="blas"):
        yield


def _corpus(n_words=1500, seed=0):
    """Text from a small grammar: predictable within words, random between them."""
    rng = np.random.default_rng(seed)
    words = ["the cat", "a dog", "my hat", "sat on", "the mat", "ran off", "so far"]
    return " ".join(rng.choice(words, size=n_words)) + "\n"


@pytest.fixture(scope="module")
def trained():
    corpus = _corpus()
    lm, history = text.train(corpus, hidden=32, seq_len=16, batch_size=32, epochs=5, lr=2e-2, seed=0)
    return corpus, lm, history


def test_training_goes_below_the_unigram_entropy(trained):
    _, lm, history = trained
    unigram = history["unigram_bpc"]
    assert 3.0 < unigram < 4.0  # the generator's character mix, ~3.4 bits
    assert history["val_bpc"][-1] < history["val_bpc"][0]
    # a model that ignores context cannot beat the unigram entropy; this one uses the words
    # (the generator's own entropy, log2(7) bits per ~7.4 characters, is ~0.4 bits/char)
    assert history["val_bpc"][-1] < 0.5 * unigram, history


def test_sampling_with_a_seed_is_reproducible_and_survives_save_load(trained, tmp_path):
    _, lm, _ = trained
    a = lm.sample("the ", length=120, temperature=0.8, seed=3)
    assert a == lm.sample("the ", length=120, temperature=0.8, seed=3)
    assert a != lm.sample("the ", length=120, temperature=0.8, seed=4)
    assert a.startswith("the ") and len(a) == 124
    path = tmp_path / "lm.rnnlab"
    lm.save(path)
    again = text.CharModel.load(path)
    assert again.vocab.chars == lm.vocab.chars
    assert again.sample("the ", length=120, temperature=0.8, seed=3) == a


def test_low_temperature_sticks_to_the_learned_words(trained):
    corpus, lm, _ = trained
    words = set(corpus.split())
    sample = lm.sample("the ", length=300, temperature=0.3, seed=0)
    inside = [w for w in sample.split()[1:-1]]
    assert sum(w in words for w in inside) >= 0.8 * len(inside)


def test_same_seed_same_training():
    corpus = _corpus(200)
    runs = [text.train(corpus, hidden=8, seq_len=16, batch_size=4, epochs=1, seed=5)[1] for _ in range(2)]
    assert runs[0]["val_bpc"] == runs[1]["val_bpc"] and runs[0]["train_bpc"] == runs[1]["train_bpc"]


def test_chinese_text_trains_and_samples_characters(tmp_path):
    lines = ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"]
    rng = np.random.default_rng(1)
    corpus = "\n".join(rng.choice(lines, size=120)) + "\n"
    path = tmp_path / "poem.txt"
    path.write_text(corpus, encoding="utf-8")
    read = text.read_corpus(path)
    assert read == corpus
    lm, history = text.train(read, hidden=16, seq_len=16, batch_size=8, epochs=1, lr=1e-2, seed=0)
    assert len(lm.vocab) == len(set(corpus))
    sample = lm.sample("床", length=20, seed=0)
    assert len(sample) == 21 and set(sample) <= set(corpus)


def test_stream_batches_continue_row_by_row():
    ids = np.arange(103)
    X, Y = text.stream_batches(ids, batch_size=4, seq_len=5)
    per_stream = 102 // 4  # 25 positions per stream, 5 windows of 5
    assert X.shape == (20, 5)
    np.testing.assert_array_equal(Y, X + 1)  # the target is the next character
    batches = X.reshape(5, 4, 5)
    for k in range(4):
        np.testing.assert_array_equal(batches[k + 1][:, 0], batches[k][:, -1] + 1)  # row j continues
    np.testing.assert_array_equal(batches[0][:, 0], np.arange(4) * per_stream)
    with pytest.raises(ValueError, match="at least 21 characters"):
        text.stream_batches(np.arange(10), batch_size=4, seq_len=5)


def test_vocabulary_and_unigram_entropy():
    vocab = text.Vocabulary.from_text("abca")
    np.testing.assert_array_equal(vocab.encode("cab"), [2, 0, 1])
    assert vocab.decode([2, 0, 1]) == "cab"
    with pytest.raises(ValueError, match="not in the vocabulary: 'xz'"):
        vocab.encode("zax")
    assert text.unigram_entropy([0, 1, 2, 3] * 5, 4) == pytest.approx(2.0)
    assert text.unigram_entropy([0] * 7, 3) == 0.0


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b" \n\n\t", "empty"),
        (b"hello\x00world", "binary data \\(a NUL byte at offset 5\\)"),
        (bytes(range(1, 32)) * 4 + b"ab", "binary data"),
        ("café".encode("latin-1"), "byte 0xe9 at offset 3 that is not valid UTF-8"),
        ("我爱祖国".encode("gbk"), "not valid UTF-8"),
    ],
)
def test_bad_corpora_are_refused_clearly(tmp_path, data, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        text.read_corpus(path)


def test_cli_text_train_and_sample(tmp_path, capsys):
    corpus, model = tmp_path / "c.txt", tmp_path / "m.rnnlab"
    corpus.write_text(_corpus(300), encoding="utf-8")
    assert (
        main(
            [
                "text",
                "train",
                str(corpus),
                "--out",
                str(model),
                "--hidden",
                "16",
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--seq-len",
                "16",
                "--sample",
                "40",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "epoch   1/1" in out and "val" in out and "bits/char" in out and "unigram entropy" in out
    assert model.exists()
    args = ["text", "sample", str(model), "--prime", "the ", "--length", "50", "--seed", "1"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first and first.startswith("the ") and len(first.rstrip("\n")) == 54


def test_cli_text_errors_write_nothing(tmp_path, capsys):
    bad, model = tmp_path / "bad.txt", tmp_path / "m.rnnlab"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["text", "train", str(bad), "--out", str(model)]) == 1
    assert "binary data" in capsys.readouterr().err
    assert not model.exists()
    assert main(["text", "sample", str(bad)]) == 1
    assert "not a valid rnnlab file" in capsys.readouterr().err


def test_the_model_file_keeps_the_best_validation_epoch(tmp_path):
    rng = np.random.default_rng(2)
    corpus = "".join(rng.choice(list("abcdefghijklmnopqrst"), size=3000))  # nothing to learn: val wanders
    path = tmp_path / "best.rnnlab"
    flags = []
    _, history = text.train(
        corpus,
        hidden=16,
        seq_len=16,
        batch_size=8,
        epochs=4,
        lr=2e-2,
        seed=0,
        save_to=path,
        on_epoch=lambda epoch, logs: flags.append(logs["saved"]),
    )
    val = history["val_bpc"]
    assert flags == [v <= min(val[: k + 1]) for k, v in enumerate(val)] and flags[0]
    # the file holds the epoch with the lowest validation bits/char: recompute it from the file
    ids = text.Vocabulary.from_text(corpus).encode(corpus)
    val_ids = ids[int(len(ids) * 0.9) - 1 :]
    saved = text.CharModel.load(path)
    assert saved.bits_per_char(val_ids, batch_size=8, seq_len=16) == pytest.approx(min(val), rel=1e-6)
