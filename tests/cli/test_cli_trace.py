"""`rnnlab trace`: a sentence read step by step, as a table and a heatmap figure."""

import re

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.cli import main

pytestmark = pytest.mark.usefixtures("reference_kernels")


def _blocks(out):
    """{step number: (input token, {row: [values]})} parsed from the printed table."""
    blocks, current = {}, None
    for line in out.splitlines():
        m = re.match(r"step (\d+)  input (\S+)", line)
        if m:
            current = blocks[int(m.group(1))] = (m.group(2), {})
            continue
        m = re.match(r"  (i|f|o|C̃|C|h)\s+(.*)$", line)
        if m and current is not None:
            current[1][m.group(1)] = [float(v) for v in m.group(2).split()]
    return blocks


def test_trace_the_articles_sentence(tmp_path, capsys):
    png = tmp_path / "trace.png"
    assert main(["trace", "我 爱 祖国", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    blocks = _blocks(out)
    assert [blocks[k][0] for k in (1, 2, 3)] == ["我", "爱", "祖国"]
    for _, rows in blocks.values():
        assert set(rows) == {"i", "f", "o", "C̃", "C", "h"} and all(len(v) == 8 for v in rows.values())
        assert all(0.0 <= g <= 1.0 for name in "ifo" for g in rows[name])  # gates are σ(·)
        # the printed numbers obey the article's h_t = o_t ⊙ tanh(C_t) (to the 2 printed digits)
        np.testing.assert_allclose(np.array(rows["o"]) * np.tanh(rows["C"]), rows["h"], atol=0.011)
    # the model trained on the spot learned the sentence: it predicts each next word
    assert "next: '爱'" in out and "next: '祖国'" in out and "next: '</s>'" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_trace_english_with_a_simple_rnn(capsys):
    assert main(["trace", "the cat sat on the mat", "--cell", "simplernn", "--units", "6"]) == 0
    out = capsys.readouterr().out
    blocks = _blocks(out)
    assert [blocks[k][0] for k in range(1, 7)] == "the cat sat on the mat".split()
    assert all(set(rows) == {"h"} and len(rows["h"]) == 6 for _, rows in blocks.values())
    # "the" comes twice: only the state tells "cat" from "mat" after it
    assert "step 1  input the  → next: 'cat'" in out and "step 5  input the  → next: 'mat'" in out


def test_trace_a_saved_text_model_reads_characters(tmp_path, capsys):
    from rnnlab import text

    lm, _ = text.train("abcabcabd\n" * 40, hidden=6, seq_len=8, batch_size=4, epochs=1, seed=0)
    path = tmp_path / "chars.rnnlab"
    lm.save(path)
    assert main(["trace", "ab ca", "--model", str(path), "--show-units", "3"]) == 1  # ' ' is not in its text
    assert "not in the vocabulary" in capsys.readouterr().err
    assert main(["trace", "abca", "--model", str(path), "--show-units", "3"]) == 0
    out = capsys.readouterr().out
    blocks = _blocks(out)
    assert [blocks[k][0] for k in range(1, 5)] == list("abca")
    assert all(len(rows["i"]) == 3 for _, rows in blocks.values())
    assert "6 units, first 3 shown" in out


def test_trace_any_saved_model_with_an_input_array(tmp_path, capsys):
    model = rl.Sequential([rl.LSTM(3, return_sequences=True), rl.Dense(1)], seed=0)
    model.build((5, 2))
    path, x = tmp_path / "m.rnnlab", tmp_path / "x.npy"
    model.save(path)
    np.save(x, np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))
    assert main(["trace", "--model", str(path), "--input", str(x)]) == 0
    blocks = _blocks(capsys.readouterr().out)
    assert sorted(blocks) == [1, 2, 3, 4, 5] and len(blocks[1][1]["f"]) == 3
    assert main(["trace", "--model", str(path)]) == 1
    assert "--input" in capsys.readouterr().err
