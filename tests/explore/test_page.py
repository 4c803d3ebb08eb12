"""rnnlab explore: the data the page embeds (quantisation, unit finder, predictions, gradient flow),
the page file, and the command's errors. The page itself is opened in a browser by test_explore_browser.py."""

import base64
import json
import os
import re
import threading
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest

import rnnlab as rl
from rnnlab import explore, text
from rnnlab.cli import main
from rnnlab.explore import finder, quantize

pytestmark = pytest.mark.usefixtures("reference_kernels")

CORPUS = (
    'She said "no" and left. He said "yes, of course" twice. Then "maybe" came, and "never again" ended it.\n'
) * 6


def char_model(corpus=CORPUS, hidden=12, seed=0):
    vocab = text.Vocabulary.from_text(corpus)
    lm = text.CharModel.build(vocab, hidden=hidden, seed=seed)
    lm.model.forward(vocab.encode(corpus[:4])[None])  # builds the weights
    lm.model.reset_state()
    return lm


def decode(html):
    """(meta, blob bytes) read back out of a page, as its script reads them."""
    meta = json.loads(re.search(r'<script id="meta" type="application/json">(.*?)</script>', html, re.S).group(1))
    b64 = re.search(r'<script id="blob" [^>]*>(.*?)</script>', html, re.S).group(1)
    return meta, zlib.decompress(base64.b64decode(b64))


def codes(meta, blob, layer, name):
    d = meta["layers"][layer]["quantities"][name]["data"]
    H, T = meta["layers"][layer]["units"], meta["layers"][layer]["quantities"][name]["steps"]
    return np.frombuffer(blob, dtype=np.uint8, count=d["length"], offset=d["offset"]).reshape(H, T)


def shown_values(meta, blob, layer, name):
    """(H, steps) values exactly as the page computes them: lo + q · step."""
    Q = meta["layers"][layer]["quantities"][name]
    return quantize.dequantize(codes(meta, blob, layer, name), Q["lo"], Q["step"])


# ---- quantisation -----------------------------------------------------------------------------
def test_quantisation_round_trip_within_half_a_step():
    rng = np.random.default_rng(0)
    v = np.concatenate(
        [
            rng.normal(0, 3, (500, 3)),
            rng.uniform(0.9, 1.0, (500, 1)),  # one unit in a narrow range
            np.full((500, 1), 0.25),
        ],
        axis=1,
    )  # one constant unit
    q, lo, step = quantize.quantize(v)
    assert q.shape == (5, 500) and q.dtype == np.uint8
    back = quantize.dequantize(q, lo, step)
    err = np.abs(back - v.T)
    assert np.all(err <= step[:, None] / 2 + 1e-12)
    assert err[3].max() < 0.1 / 510 + 1e-12  # its own range: 0.1 over 255 levels, not the 12 of unit 0
    assert np.all(back[4] == 0.25) and step[4] == 0
    assert quantize.error(v, q, lo, step) == pytest.approx(err.max())
    assert q.min() == 0 and q.max() == 255


def test_quantisation_rejects_bad_input():
    with pytest.raises(ValueError, match="finite"):
        quantize.quantize(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="steps, units"):
        quantize.quantize(np.zeros(4))


def test_recorded_states_round_trip_through_the_page(tmp_path):
    """Every quantity of every layer of record(), read back from the written file, within the stated error."""
    lm = char_model()
    out = explore.page(lm, CORPUS, tmp_path / "p.html")
    meta, blob = decode(open(out, encoding="utf-8").read())
    lm.model.reset_state()
    rec = rl.probe.record(lm.model, lm.vocab.encode(CORPUS)[None])[0]
    assert list(meta["layers"][0]["quantities"]) == ["h", "c", "i", "f", "o", "c_tilde"]
    assert set(meta["layers"][0]["quantities"]) == set(rec.arrays())  # names come from the record
    for name, values in rec.arrays().items():
        Q = meta["layers"][0]["quantities"][name]
        err = np.abs(shown_values(meta, blob, 0, name) - values[0].T)
        assert err.max() == pytest.approx(Q["error"])
        assert Q["error"] <= Q["bound"] + 1e-9
        assert Q["bound"] < 2.0 / 510 + 1e-9  # tanh and sigmoid ranges: at most 2 wide
    assert not meta["cut"] and meta["shown"] == meta["total"] == len(CORPUS)


def test_top_predictions_are_the_models():
    lm = char_model()
    meta, blob = explore.data.text_payload(lm.model, lm.vocab, CORPUS)
    lm.model.reset_state()
    logits = lm.model.forward(lm.vocab.encode(CORPUS)[None])[0].astype(np.float64)
    lm.model.reset_state()
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    k, T = meta["top"]["k"], meta["shown"]
    ids = np.frombuffer(blob, np.uint16, T * k, meta["top"]["ids"]["offset"]).reshape(T, k)
    probs = np.frombuffer(blob, np.uint8, T * k, meta["top"]["p"]["offset"]).reshape(T, k) / 255
    assert k == 5 and meta["vocab"] == "".join(lm.vocab.chars)
    assert np.array_equal(ids[:, 0], p.argmax(-1))
    assert np.all(np.diff(np.take_along_axis(p, ids.astype(int), -1), axis=-1) <= 0)  # best first
    assert np.abs(probs - np.take_along_axis(p, ids.astype(int), -1)).max() <= 0.5 / 255 + 1e-9


def test_max_chars_cuts_and_says_so():
    lm = char_model()
    meta, _ = explore.data.text_payload(lm.model, lm.vocab, CORPUS, max_chars=100)
    assert meta["cut"] and meta["shown"] == 100 and meta["total"] == len(CORPUS)
    assert meta["text"] == CORPUS[:100]
    with pytest.raises(ValueError, match="max_chars"):
        explore.data.text_payload(lm.model, lm.vocab, CORPUS, max_chars=1)


# ---- unit finder --------------------------------------------------------------------------------
def quote_corpus(seed=0):
    """A text with quotes, and states (H, T): unit 5 planted to be on inside quotes, others noise or decoys."""
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "said", "and", "then", "we", "left", "home", "no", "yes"]
    parts = []
    for _ in range(60):
        parts.append(" ".join(rng.choice(words, rng.integers(2, 6))))
        parts.append('"' + " ".join(rng.choice(words, rng.integers(1, 4))) + '"')
    corpus = " ".join(parts)
    inside = np.zeros(len(corpus), dtype=bool)
    state = False
    for t, ch in enumerate(corpus):
        if ch == '"':
            state = not state
        elif state:
            inside[t] = True
    H = 16
    x = rng.normal(0, 0.3, (H, len(corpus)))
    x[5] = np.where(inside, 0.8, -0.6) + rng.normal(0, 0.1, len(corpus))  # the quote unit
    x[9] = np.where(np.array([c == " " for c in corpus]), 0.9, -0.2)  # a space unit: a decoy
    x[11] += 0.5 * inside  # weakly related
    return corpus, inside, np.tanh(x)


def runs(mask):
    out, start = [], None
    for t, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = t
        if not m and start is not None:
            out.append((start, t))
            start = None
    return out


def test_finder_ranks_the_planted_quote_unit_first():
    corpus, inside, x = quote_corpus()
    quotes = runs(inside)
    a, b = quotes[3]  # select the inside of one quotation
    order, s = finder.rank(x, [(a, b)])
    assert order[0] == 5
    assert s[0] > s[1] > 0 and np.all(np.diff(s) <= 0)
    mean_in, mean_out, std = finder.stats(x, [(a, b)])
    assert s[0] == pytest.approx((x[5, a:b].mean() - np.delete(x[5], np.arange(a, b)).mean()) / x[5].std())
    # picking it, the corpus fires exactly inside the quotes
    assert finder.firing_spans(x, [5], [(a, b)]) == quotes


def test_finder_spans_do_not_cross_segments_and_constant_units_score_zero():
    x = np.array([[0, 1, 1, 1, 1, 0.0], [2, 2, 2, 2, 2, 2.0]])
    assert finder.firing_spans(x, [0], [(1, 3)], segments=[(0, 3), (3, 6)]) == [(1, 3), (3, 5)]
    assert finder.scores(x, [(1, 3)])[1] == 0
    with pytest.raises(ValueError):
        finder.rank(x, [(0, 6)])  # nothing outside
    with pytest.raises(ValueError):
        finder.rank(x, [(4, 9)])


def test_finder_sums_are_in_index_order():
    """The page adds left to right; finder must too, so both give bit-identical scores."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 1001)) * 10.0 ** rng.integers(-3, 4, size=(3, 1001))
    mean_in, _, std = finder.stats(x, [(10, 500)])
    for u in range(3):
        s = 0.0
        for v in x[u, 10:500]:
            s += v
        assert mean_in[u] == s / 490
        m = 0.0
        for v in x[u]:
            m += v
        m /= x.shape[1]
        d = 0.0
        for v in x[u]:
            d += (v - m) * (v - m)
        assert std[u] == np.sqrt(d / x.shape[1])


# ---- gradient flow and tasks --------------------------------------------------------------------
def test_gradient_flow_matches_the_probe_for_a_plain_model():
    """Through a Sequential whose first layer is the LSTM, it equals probe.model_gradient_flow."""
    X, y = rl.tasks.adding(4, 12, seed=0)
    model = rl.Sequential([rl.LSTM(6), rl.Dense(1)], seed=0)
    model.compile("mse")
    ours = explore.data.gradient_flow(model, X, y, rl.losses.get("mse"))
    ref = rl.probe.model_gradient_flow(model, X, y)
    assert ours["lag"] == ref["lag"]
    np.testing.assert_allclose(ours["h"], ref["h"], rtol=1e-6)
    np.testing.assert_allclose(ours["c"], ref["c"], rtol=1e-6)


def test_text_gradient_flow_runs_through_the_embedding():
    lm = char_model()
    meta, _ = explore.data.text_payload(lm.model, lm.vocab, CORPUS)
    f = meta["gradflow"]
    assert f["steps"] == 100 and f["samples"] == 16 and len(f["h"]) == 101
    assert f["h"][0] > 0 and all(np.isfinite(f["h"]))


@pytest.mark.parametrize("task,dim,cell", [("adding", 2, "lstm"), ("copy", 10, "lstm"), ("digits", 8, "simplernn")])
def test_task_pages(tmp_path, task, dim, cell):
    per_step = task == "copy"
    Layer = rl.LSTM if cell == "lstm" else rl.SimpleRNN
    model = rl.Sequential([Layer(6, return_sequences=per_step), rl.Dense(1 if task == "adding" else 10)], seed=0)
    model.predict(np.zeros((1, 8, dim), dtype=np.float32))
    path = tmp_path / "m.rnnlab"
    model.save(path)
    out = explore.page(str(path), task, tmp_path / "t.html", samples=3)
    meta, blob = decode(open(out, encoding="utf-8").read())
    T = {"adding": 50, "copy": 40, "digits": 8}[task]
    assert meta["kind"] == "task" and meta["segments"] == [[0, T], [T, 2 * T], [2 * T, 3 * T]]
    assert len(meta["tokens"]) == 3 * T and len(meta["inputs"]) == 3
    names = ["h", "c", "i", "f", "o", "c_tilde"] if cell == "lstm" else ["h"]
    assert list(meta["layers"][0]["quantities"]) == names
    X, *_ = explore.data.task_data(task, dim, samples=3)
    rec = rl.probe.record(model, X)[0]
    err = np.abs(shown_values(meta, blob, 0, "h") - rec.h.reshape(-1, 6).T)
    assert err.max() <= meta["layers"][0]["quantities"]["h"]["bound"] + 1e-9
    assert len(meta["gradflow"]["h"]) == T + 1


# ---- the page file ------------------------------------------------------------------------------
def test_page_is_self_contained_and_escapes_script_endings(tmp_path):
    corpus = CORPUS + 'and "</script><!-- x" too.\n'
    lm = char_model(corpus)
    out = explore.page(lm, corpus, tmp_path / "p.html")
    html = open(out, encoding="utf-8").read()
    assert html.count("</script>") == 3  # meta, blob, the script: the text did not end one
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "import(" not in html and "fetch(" not in html
    meta, _ = decode(html)
    assert meta["text"] == corpus
    assert [f for f in os.listdir(tmp_path) if f != "p.html"] == []  # no temporary file left


def test_page_stays_within_its_size_budget(tmp_path):
    """Over budget, h stays at every character and C and the gates keep the first `detail` ones."""
    rng = np.random.default_rng(0)
    corpus = "".join(rng.choice(list("abcdefgh \n\"'.,"), 4000))
    lm = char_model(corpus, hidden=32)
    full = os.path.getsize(explore.page(lm, corpus, tmp_path / "full.html", max_bytes=None))
    budget = full // 2
    out = explore.page(lm, corpus, tmp_path / "p.html", max_bytes=budget)
    assert os.path.getsize(out) <= budget
    meta, blob = decode(open(out, encoding="utf-8").read())
    Qs = meta["layers"][0]["quantities"]
    assert Qs["h"]["steps"] == 4000 and 1 < meta["detail"] < 4000
    assert all(Qs[k]["steps"] == meta["detail"] for k in Qs if k != "h")
    assert os.path.getsize(
        explore.page(lm, corpus, tmp_path / "q.html", max_bytes=int(budget * 1.1))
    ) > os.path.getsize(out)  # it used the budget, not far less
    lm.model.reset_state()
    rec = rl.probe.record(lm.model, lm.vocab.encode(corpus)[None])[0]
    c = shown_values(meta, blob, 0, "c")
    assert c.shape == (32, meta["detail"])
    assert np.abs(c - rec.c[0, : meta["detail"]].T).max() <= Qs["c"]["bound"] + 1e-9
    with pytest.raises(ValueError, match="h alone"):
        explore.page(lm, corpus, tmp_path / "r.html", max_bytes=50_000)


def test_serve_answers_the_page_only(tmp_path):
    path = tmp_path / "p.html"
    path.write_text("<html>page</html>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    server, url = explore.serve(path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(url).read() == b"<html>page</html>"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url.rsplit("/", 1)[0] + "/secret.txt")
    finally:
        server.shutdown()
        server.server_close()


# ---- the command --------------------------------------------------------------------------------
def test_cli_writes_the_page(tmp_path, capsys):
    lm = char_model()
    lm.save(tmp_path / "m.rnnlab")
    (tmp_path / "c.txt").write_text(CORPUS, encoding="utf-8")
    assert (
        main(
            [
                "explore",
                str(tmp_path / "m.rnnlab"),
                "--text",
                str(tmp_path / "c.txt"),
                "--out",
                str(tmp_path / "e.html"),
                "--max-chars",
                "200",
            ]
        )
        == 0
    )
    said = capsys.readouterr().out
    assert "wrote" in said and f"200 of {len(CORPUS)} characters" in said
    meta, _ = decode(open(tmp_path / "e.html", encoding="utf-8").read())
    assert meta["cut"] and meta["shown"] == 200


@pytest.mark.parametrize(
    "args,message",
    [
        (["MISSING", "--text", "C"], "argument model: .*MISSING: no such file"),
        (["M", "--text", "MISSING"], "argument --text: .*MISSING: no such file"),
        (["M", "--text", "C", "--max-chars", "0"], "argument --max-chars: expected an integer >= 2 and .*, got 0"),
        (["M", "--task", "adding"], "is a text model: give it --text FILE"),
        (["A", "--text", "C"], "is not a text model"),
        (["A", "--task", "copy"], "the copy task feeds 10 input features; the model reads 2"),
        (["C", "--text", "C"], "is not an rnnlab model file"),
        (["M", "--text", "B"], "characters not in the vocabulary"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, message):
    char_model().save(tmp_path / "M")
    adding = rl.Sequential([rl.LSTM(4), rl.Dense(1)])
    adding.predict(np.zeros((1, 5, 2), dtype=np.float32))
    adding.save(tmp_path / "A")
    (tmp_path / "C").write_text(CORPUS, encoding="utf-8")
    (tmp_path / "B").write_text("Zebra §", encoding="utf-8")
    full = [str(tmp_path / a) if a in ("M", "A", "C", "B", "MISSING") else a for a in args]
    argv = ["explore", *full, "--out", str(tmp_path / "e.html")]
    if "argument" in message:  # a mistake in the arguments: refused while parsing, exit status 2
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    else:
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "e.html").exists()
