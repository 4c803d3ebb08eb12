"""rl.plots: every figure renders headlessly; Chinese text gets a CJK font; `rnnlab plot`."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

import rnnlab as rl  # noqa: E402
from rnnlab.cli import main  # noqa: E402
from rnnlab.plots import fonts  # noqa: E402

TOKENS = ["我", "爱", "祖国"]


pytestmark = pytest.mark.usefixtures("reference_kernels")


@pytest.fixture(scope="module")
def recording():
    x = np.eye(3, dtype=np.float32)[None]  # one-hot 我, 爱, 祖国
    return rl.probe.record(
        rl.Stack([rl.LSTM(6, return_sequences=True, seed=0), rl.SimpleRNN(4, return_sequences=True, seed=1)]), x
    )


def _figures(recording):
    rng = np.random.default_rng(0)
    lstm_flow = rl.probe.gradient_flow(rl.LSTM(4, seed=0), rng.normal(size=(2, 12, 1)), np.ones((2, 4)))
    rows = [
        {"model": m, "length": T, "mse": v * (1 + 0.1 * s)}
        for m, v in (("lstm", 0.01), ("simplernn", 0.16))
        for T in (10, 50)
        for s in range(2)
    ]
    return {
        "activations": rl.plots.activations(),
        "gates": rl.plots.gates(recording, tokens=TOKENS),
        "gates_simple_rnn": rl.plots.gates(recording, layer=1, tokens=TOKENS),
        "cell_state": rl.plots.cell_state(recording, tokens=TOKENS),
        "gradient_flow": rl.plots.gradient_flow(
            {"LSTM h": lstm_flow, "LSTM C": {"h": lstm_flow["c"]}, "decay": 0.5 ** np.arange(12.0)}
        ),
        "learning_curves": rl.plots.learning_curves(
            {"lstm": [0.3, 0.1, 0.02], "rnn": {"loss": [0.2, 0.17], "step": [100, 200]}}, baseline=0.167, logy=True
        ),
        "compare_grid": rl.plots.compare_grid(rows, "mse", baseline=lambda T: 10 * np.log(8) / (T + 20), logx=True),
    }


def test_every_figure_renders_a_non_empty_png(recording, tmp_path):
    for name, fig in _figures(recording).items():
        assert isinstance(fig, Figure), name
        path = rl.plots.save(fig, tmp_path / f"{name}.png")
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n", name
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100, name
        assert pixels[..., :3].std() > 0.05, f"{name} is blank"


def test_activation_curves_are_the_articles(tmp_path):
    fig = rl.plots.activations()
    left = fig.axes[0]
    x, s = left.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(-5.0, 5.0, 0.1))  # the article's x
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-x)), rtol=1e-12)
    d = left.lines[1].get_ydata()
    assert d.max() <= 0.25 and d.max() == pytest.approx(0.25, abs=1e-12)  # σ' ≤ 1/4, reached at x = 0


def test_save_rejects_unknown_formats_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        rl.plots.save(rl.plots.activations(), tmp_path / "figure.jpg")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_name_themselves(recording):
    with pytest.raises(ValueError, match="tokens expected 3"):
        rl.plots.gates(recording, tokens=["a", "b"])
    with pytest.raises(ValueError, match="sample expected"):
        rl.plots.gates(recording, sample=5)
    with pytest.raises(ValueError, match="missing"):
        rl.plots.compare_grid([{"model": "lstm", "length": 10}], "mse")
    with pytest.raises(ValueError, match="metric 'acc'"):
        rl.plots.learning_curves({"run": {"loss": [1.0]}}, metric="acc")


def test_compare_grid_draws_the_training_loss_beside_the_score():
    rows = [
        {"model": "lstm", "length": 10, "mse": 0.01, "train_loss": 0.02},
        {"model": "lstm", "length": 10, "mse": 0.03, "train_loss": 0.04},
        {"model": "lstm", "length": 50, "mse": 0.10, "train_loss": None},  # a run with no finite training loss
    ]
    fig = rl.plots.compare_grid(rows, "mse", train="train_loss")
    score, train = fig.axes
    assert list(score.get_lines()[0].get_ydata()) == pytest.approx([0.02, 0.10])
    assert list(train.get_lines()[0].get_xdata()) == [10] and list(train.get_lines()[0].get_ydata()) == [0.03]
    with pytest.raises(ValueError, match="train_loss"):
        rl.plots.compare_grid([{"model": "lstm", "length": 10, "mse": 0.01}], "mse", train="train_loss")


def _font_drawing(text_artist, ch):
    """The font file matplotlib draws `ch` with: the first of the text's fonts that has the glyph."""
    paths = font_manager.fontManager._find_fonts_by_props(text_artist.get_fontproperties())
    for path in paths:
        if FT2Font(path).get_char_index(ord(ch)):
            return path
    return None


def test_chinese_labels_are_drawn_with_a_cjk_font(recording, tmp_path):
    found = fonts.cjk_font()
    if found is None:
        pytest.skip(f"no CJK font installed; {fonts.INSTALL_HINT}")
    family, cjk_path = found
    fig = rl.plots.gates(recording, tokens=TOKENS)
    labels = [t for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert [t.get_text() for t in labels] == TOKENS
    default_path = font_manager.findfont(font_manager.FontProperties())
    for label in labels:
        for ch in label.get_text():
            assert not FT2Font(default_path).get_char_index(ord(ch)), "the default font unexpectedly has CJK"
            assert _font_drawing(label, ch) == cjk_path, f"{ch} is not drawn with {family}"
    # Latin text keeps the default font
    title = fig.axes[0].title
    assert _font_drawing(title, "i") == default_path
    rl.plots.save(fig, tmp_path / "gates.png")  # and it renders


def test_a_system_font_missing_from_matplotlibs_cached_list_is_found(monkeypatch):
    # matplotlib caches its font list: a font installed after the cache was built is not in it
    found = fonts.cjk_font()
    if found is None or found[1] not in font_manager.findSystemFonts():
        pytest.skip(f"no system CJK font installed; {fonts.INSTALL_HINT}")
    family, path = found
    stale = [entry for entry in font_manager.fontManager.ttflist if entry.fname != path]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    assert fonts._search() == (family, path)
    assert path in {entry.fname for entry in font_manager.fontManager.ttflist}  # registered for drawing


def test_without_a_cjk_font_a_warning_is_given_once(monkeypatch, recording):
    monkeypatch.setattr(fonts, "_found", ())
    monkeypatch.setattr(fonts, "_warned", False)
    with pytest.warns(RuntimeWarning, match="CJK"):
        rl.plots.gates(recording, tokens=TOKENS)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rl.plots.gates(recording, tokens=TOKENS)  # no second warning


def test_cli_plot_activations_writes_png_and_svg(tmp_path, capsys):
    png, svg = tmp_path / "act.png", tmp_path / "act.svg"
    assert main(["plot", "activations", "--out", str(png)]) == 0
    assert main(["plot", "activations", "--out", str(svg)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in svg.read_bytes()[:500]
    assert main(["plot", "activations", "--out", str(tmp_path / "act.bmp")]) == 1
    assert "expected a file name ending" in capsys.readouterr().err
