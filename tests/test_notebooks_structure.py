"""Every notebook follows the cookbook's skeleton and ships outputs from a real run."""

import re
from pathlib import Path

import nbformat
import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_SETTING = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["st-cookbook"]
COLAB = f"https://colab.research.google.com/github/{_SETTING['repository']}/blob/{_SETTING['ref']}/notebooks/"


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
    for heading in [
        "What you'll do",
        "What you'll learn",
        "What you'll need",
        "## Summary",
        "## Exercises",
        "## Next",
        "## Further reading",
    ]:
        assert heading in markdown, f"missing '{heading}'"
    setup = next(c for c in nb.cells if c.cell_type == "code")
    for needed in [
        "# NBVAL_IGNORE_OUTPUT",
        "google.colab",
        "seed_everything",
        "register_bundled_model()",
        'os.environ.setdefault("HF_HUB_OFFLINE", "1")',
    ]:
        assert needed in setup.source, f"the setup cell lacks {needed}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_cells_load_the_model_by_its_real_id(path):
    """The line a learner copies is the real one: no project resolver, no hand-picked device."""
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert "resolve_model_name" not in code and "pick_device" not in code
    if "SentenceTransformer(" in code:
        assert '"sentence-transformers/all-MiniLM-L6-v2"' in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_next_links_to_a_notebook_that_exists(path):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    linked = set(re.findall(r"\(([0-9][0-9]_[a-z0-9_]+\.ipynb)\)", markdown))
    missing = sorted(name for name in linked if not (ROOT / "notebooks" / name).is_file())
    assert not missing, f"links to notebooks that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_come_from_a_clean_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "run top to bottom once (make notebooks) before committing"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any(c.outputs for c in code if "NBVAL_CHECK_OUTPUT" in c.source), "checked cells need their outputs"
    assert "widgets" not in nb.metadata, "stale widget state in the notebook's metadata (no output shows a widget)"
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids)
    for cell in code:
        for output in cell.outputs:
            assert "it/s]" not in str(output.get("text", "")), "progress bars leaked into committed outputs"
            widget = "application/vnd.jupyter.widget-view+json" in output.get("data", {})
            assert not widget, "a progress widget leaked into committed outputs (run them with make notebooks)"


LOG_DICT = re.compile(r"\s*\{'(loss|train_runtime|eval_loss|grad_norm|epoch|learning_rate)'")
MACHINE_PATH = re.compile(r"(?<![\w.:/~])/(?:[\w.-]+/){2,}[\w.-]*")


def _output_lines(nb):
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            yield from text.splitlines()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_hold_no_log_dicts_and_no_machine_paths(path):
    """The Trainer's raw log dicts are noise (a curve or a short table teaches); absolute paths name
    the machine that ran the notebook, not anything a reader can use."""
    lines = list(_output_lines(nbformat.read(path, as_version=4)))
    assert not [line for line in lines if LOG_DICT.match(line)], "Trainer log dicts in committed outputs"
    paths = sorted({m for line in lines for m in MACHINE_PATH.findall(line)})
    assert not paths, f"machine paths in committed outputs: {paths[:3]}"
