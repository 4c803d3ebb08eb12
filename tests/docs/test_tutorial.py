"""docs/tutorial.ipynb: rendered from docs/tutorial.py, and it runs end to end."""

import importlib.util
import os

import pytest

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")


def _render_module():
    spec = importlib.util.spec_from_file_location("render_tutorial", os.path.join(DOCS, "render_tutorial.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebook_is_the_rendered_script():
    pytest.importorskip("nbformat")
    with open(os.path.join(DOCS, "tutorial.ipynb"), encoding="utf-8") as fh:
        committed = fh.read()
    assert _render_module().render(dst=None) == committed, "run `python docs/render_tutorial.py`"


def test_percent_format_cells():
    cells = _render_module().cells('"""header"""\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n# %%\n\n')
    assert cells == [("markdown", "# Title\n\ntext"), ("code", "x = 1")]


def test_the_tutorial_executes_end_to_end(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # small settings; the reference kernels on one BLAS thread (no compile time, no BLAS stalls on 2 cores)
    monkeypatch.setenv("RNNLAB_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("RNNLAB_KERNEL", "reference")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.reads(_render_module().render(dst=None), as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, when a cell fails
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "same as the layer: True" in text
    assert "rnnlab's sigmoid equals the article's: True" in text
    assert "C = f ⊙ C_prev + i ⊙ C̃ : True" in text and "h = o ⊙ tanh(C)        : True" in text
    assert "step 3  input 祖国" in text and "test MSE" in text
    assert "unclipped runs diverged: [True]" in text
    assert images == 10  # 5 before the lessons, one figure per lesson
