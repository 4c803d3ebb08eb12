"""Every python block of README.md and docs/*.md runs as written (docs/training.md has its own test).

A file's blocks run in order in one namespace, as a reader goes down the page. The files a block
names as its input (a corpus, a model written by `rnnlab text train`) are made small beforehand.
"""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ["README.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")) if not p.endswith("training.md")
)
# Debian's fortunes and fortunes-zh (apt-get install fortunes fortunes-zh), the corpora docs/TEXT.md prepares;
# where they are not installed, the blocks that read them are left out and the next ones read _inputs' texts
CORPORA = "/usr/share/games/fortunes"
ENGLISH = "The cat sat on the mat. A dog sat on the log.\n-- Anonymous\n" * 40
CHINESE = (
    "《静夜思》\n作者：李白\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n\n"
    "《春晓》\n春眠不觉晓，处处闻啼鸟。\n\n"  # 春: the character docs/TEXT.md samples from
) * 30


def blocks(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        return re.findall(r"```python\n(.*?)```", fh.read(), flags=re.S)


def _inputs(folder):
    """The input files the docs' blocks name, small."""
    from rnnlab import text

    (folder / "fortunes-en.txt").write_text(ENGLISH, encoding="utf-8")
    (folder / "poems-zh.txt").write_text(CHINESE, encoding="utf-8")
    lm, _ = text.train(ENGLISH, hidden=8, seq_len=16, batch_size=4, epochs=1, seed=0)
    lm.save(folder / "fortunes-en.rnnlab")


def test_the_docs_have_blocks():
    assert sum(len(blocks(path)) for path in DOCS) >= 8


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p)])
def test_every_block_runs(path, tmp_path, monkeypatch, reference_kernels):
    pytest.importorskip("keras")
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    namespace = {"__name__": "__doc__"}  # a block's `if __name__ == "__main__":` part is not run
    for k, block in enumerate(blocks(path), start=1):
        if CORPORA in block and not os.path.isdir(CORPORA):
            continue  # test_the_corpus_blocks_run_and_write_their_corpora runs it where they are
        exec(compile(block, f"{path} python block {k}", "exec"), namespace)


@pytest.mark.skipif(not os.path.isdir(CORPORA), reason=f"needs Debian's fortunes and fortunes-zh in {CORPORA}")
def test_the_corpus_blocks_run_and_write_their_corpora(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus_blocks = [(path, block) for path in DOCS for block in blocks(path) if CORPORA in block]
    assert corpus_blocks
    for path, block in corpus_blocks:
        exec(compile(block, f"{path} corpus block", "exec"), {"__name__": "__doc__"})
    written = sorted(tmp_path.glob("*.txt"))
    assert written and all(p.stat().st_size > 10_000 for p in written), written
