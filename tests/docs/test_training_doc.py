"""Every python block of docs/training.md, and the README's marked one, runs as written."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def blocks(path, marker=None):
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        found = re.findall(r"```python\n(.*?)```", fh.read(), flags=re.S)
    return [b for b in found if marker is None or marker in b]


TRAINING = blocks("docs/training.md")


def test_the_doc_has_its_blocks():
    assert len(TRAINING) >= 3 and any("optimizer.step(model)" in b for b in TRAINING)


@pytest.mark.parametrize("index", range(len(TRAINING)))
def test_training_md_block_runs(index, tmp_path, monkeypatch, reference_kernels):
    monkeypatch.chdir(tmp_path)
    exec(compile(TRAINING[index], f"docs/training.md block {index + 1}", "exec"), {"__name__": "__doc__"})


def test_readme_data_block_runs(tmp_path, monkeypatch, reference_kernels):
    """The README's data block, after the set-up of the training block before it (data, model, compile)."""
    found = blocks("README.md", marker="rl.data.bucket")
    first = blocks("README.md", marker="the adding problem")
    assert len(found) == 1 and len(first) == 1 and "history = model.fit" in first[0]
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc__"}
    exec(compile(first[0].split("history = model.fit")[0], "README.md training block", "exec"), namespace)
    exec(compile(found[0], "README.md data block", "exec"), namespace)
    assert namespace["model"].optimizer.iterations == 2 and namespace["clf"].optimizer.iterations == 20
