"""README.md and docs/: what a newcomer reads is short, runs as written, and its tables are the card's and the
benchmark's own figures."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = ROOT / "README.md"


def python_blocks(path):
    """The examples of EmotionCam's API (not, say, the Slurm example: no Slurm here)."""
    return [b for b in re.findall(r"```python\n(.*?)```", path.read_text(), re.S) if "import emotion_cam" in b]


def test_the_readme_is_short_and_opens_with_the_two_commands():
    text = README.read_text()
    assert len(text.encode()) <= 12_000
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
    (lang1, install), (lang2, tests) = blocks[:2]
    assert (lang1, lang2) == ("bash", "bash") and text.index("```") < text.index("\n## ")
    assert install.strip().endswith(".venv/bin/emotion-cam") and tests.strip().endswith("python -m pytest")
    assert tests.strip() in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command


def test_the_readme_tables_are_generated_from_the_card_and_the_newest_bench_run():
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "tables.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, "README.md's tables are stale: run python docs/tables.py"


def test_every_doc_the_readme_links_to_exists():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        assert (ROOT / target).exists(), target


@pytest.mark.parametrize("doc", ["README.md", "docs/python.md"])
def test_the_python_examples_run_as_written(doc, faces_dir, videos_dir):
    blocks = python_blocks(ROOT / doc)
    assert blocks
    for block in blocks:
        run = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert run.returncode == 0 and "Traceback" not in run.stderr, (block, run.stderr)
