"""Render docs/tutorial.py (percent format) into docs/tutorial.ipynb: `python docs/render_tutorial.py`.

Cells start at a line `# %%` (code) or `# %% [markdown]` (text, each line's
leading "# " removed). The notebook is written without outputs, with
stable cell ids, so that the same script always gives the same file.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def cells(source):
    """[(kind, text)] of the percent-format source; kind is "code" or "markdown"."""
    out, kind, lines = [], None, []
    for line in source.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                out.append((kind, lines))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            continue
        if kind is None:  # the file's header (module docstring) is not part of the notebook
            continue
        if kind == "markdown":
            line = line[2:] if line.startswith("# ") else line.lstrip("#")
        lines.append(line)
    if kind is not None:
        out.append((kind, lines))
    return [(k, "\n".join(ls).strip("\n")) for k, ls in out if "".join(ls).strip()]


def notebook(source):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for k, (kind, text) in enumerate(cells(source)):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(text, id=f"cell-{k:02d}"))
    nbformat.validate(nb)
    return nb


SOURCE = os.path.join(HERE, "tutorial.py")
NOTEBOOK = os.path.join(HERE, "tutorial.ipynb")


def render(src=SOURCE, dst=NOTEBOOK):
    """Write dst from src atomically (dst=None: write nothing); returns the notebook's JSON text."""
    import nbformat

    with open(src, encoding="utf-8") as fh:
        text = nbformat.writes(notebook(fh.read())) + "\n"
    if dst is not None:
        from rnnlab.io import atomic

        atomic.write_text(dst, text)
    return text


if __name__ == "__main__":
    render(*sys.argv[1:3])
    print("wrote", sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "tutorial.ipynb"))
