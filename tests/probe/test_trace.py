"""rnnlab.probe.trace: a layer fed one step per call, and the 我 爱 祖国 tables of `rnnlab demo`."""

import re

import numpy as np
import pytest

import rnnlab as rl
from rnnlab.cli.demo import trace_section
from rnnlab.probe.trace import trace


def test_demo_trace_section_prints_words_and_gates(tmp_path, capsys):
    """The 我 爱 祖国 part of `rnnlab demo` (the whole story runs in tests/cli/test_cli_demo.py)."""
    trace_section(str(tmp_path))
    out = capsys.readouterr().out
    for word in ("我", "爱", "祖国"):
        assert word in out
    for gate in ("SimpleRNN", "LSTM", "\n  i ", "\n  f ", "\n  o ", "\n  C\u0303 ", "\n  C ", "\n  h "):
        assert gate in out, gate
    assert re.findall(r"^step (\d) +input (\S+)", out, flags=re.M) == [("1", "我"), ("2", "爱"), ("3", "祖国")]


def test_trace_equals_the_whole_sequence():
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    lstm = rl.LSTM(4, return_sequences=True, return_state=True, dtype="float64", seed=1)
    rec = trace(lstm, x)
    y, h, c = lstm(x)
    np.testing.assert_allclose(rec.h, y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rec.c[:, -1], c, rtol=1e-12, atol=1e-12)
    # the gates fit the article's equations at every step
    c_prev = np.concatenate([np.zeros((2, 1, 4)), rec.c[:, :-1]], axis=1)
    np.testing.assert_allclose(rec.c, rec.f * c_prev + rec.i * rec.c_tilde, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rec.h, rec.o * np.tanh(rec.c), rtol=1e-12, atol=1e-12)
    assert all(0 < g.min() and g.max() < 1 for g in (rec.i, rec.f, rec.o))


def test_trace_leaves_the_layer_alone():
    x = np.eye(3)[None]
    rnn = rl.SimpleRNN(4, seed=0)
    rec = trace(rnn, x)  # builds the layer
    assert rnn.built and not rnn.stateful and rnn.kernel_cache is None
    np.testing.assert_allclose(rec.h[:, -1], rnn(x), rtol=1e-6)
    init = np.full((1, 4), 0.5, dtype=np.float32)
    np.testing.assert_allclose(trace(rnn, x, initial_state=[init]).h[:, -1], rnn(x, initial_state=[init]), rtol=1e-6)
    with pytest.raises(TypeError, match="trace expected a SimpleRNN, LSTM or GRU layer, got Bidirectional"):
        trace(rl.Bidirectional(rl.LSTM(2)), x)
