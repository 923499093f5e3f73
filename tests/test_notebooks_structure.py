"""Every notebook follows the cookbook's skeleton and ships outputs from a real run."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COLAB = "https://colab.research.google.com/github/st-cookbook/sentence-transformers-finetuning-cookbook/blob/main/notebooks/"


def test_there_are_notebooks_and_they_are_numbered():
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: use NN_topic_in_snake_case.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_skeleton(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and COLAB + path.name in first.source, "first cell: Colab badge for this file"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ["What you'll do", "What you'll learn", "What you'll need", "Summary", "Exercises"]:
        assert heading in markdown, f"missing '{heading}'"
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "# NBVAL_IGNORE_OUTPUT" in setup.source and "google.colab" in setup.source and "seed_everything" in setup.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_come_from_a_clean_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "run top to bottom once (make notebooks) before committing"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any(c.outputs for c in code if "NBVAL_CHECK_OUTPUT" in c.source), "checked cells need their outputs"
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids)
    for cell in code:
        for output in cell.outputs:
            assert "it/s]" not in str(output.get("text", "")), "progress bars leaked into committed outputs"
            widget = "application/vnd.jupyter.widget-view+json" in output.get("data", {})
            assert not widget, "a progress widget leaked into committed outputs (run them with make notebooks)"
