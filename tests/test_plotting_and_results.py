"""Plots draw what they are given; report_metrics feeds `make run`'s summary."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import st_cookbook as cb

ROOT = Path(__file__).resolve().parent.parent

HISTORY = [
    {"loss": 2.0, "step": 5, "epoch": 0.2},
    {"loss": 1.5, "step": 10, "epoch": 0.4},
    {"eval_loss": 1.4, "step": 10, "epoch": 0.4},
    {"loss": 1.1, "step": 15, "epoch": 0.6},
    {"train_runtime": 3.0, "step": 15, "epoch": 0.6},
]


def test_loss_curves_plot_train_and_eval_loss_by_step():
    ax = cb.plot_loss_curves(HISTORY)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["train"].get_xdata()) == [5, 10, 15]
    assert list(lines["train"].get_ydata()) == [2.0, 1.5, 1.1]
    assert list(lines["eval"].get_ydata()) == [1.4]


def test_loss_curves_compare_runs():
    ax = cb.plot_loss_curves({"A": HISTORY, "B": HISTORY[:2]})
    assert sorted(line.get_label() for line in ax.get_lines()) == ["A eval", "A train", "B train"]


def test_loss_curves_without_logged_loss_say_how_to_fix():
    with pytest.raises(ValueError, match="logging_steps"):
        cb.plot_loss_curves([{"train_runtime": 1.0, "step": 3}])


def test_umap_is_seeded_and_plots_one_group_per_label():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32)) * 5
    points = np.vstack([c + rng.normal(size=(20, 32)) for c in centres])
    labels = ["a"] * 20 + ["b"] * 20 + ["c"] * 20
    first, second = cb.umap_2d(points, seed=1), cb.umap_2d(points, seed=1)
    np.testing.assert_allclose(first, second)
    ax = cb.plot_umap(points, labels, title="t", highlight=["b"])
    assert [c.get_label() for c in ax.collections] == ["a", "b", "c"]
    assert ax.get_title() == "t"
    with pytest.raises(ValueError, match="one label per embedding"):
        cb.plot_umap(points, labels[:-1])
    # A precomputed layout is drawn as given: two colourings of the same map line up.
    by_group = cb.plot_umap(points, labels, coords=first)
    by_half = cb.plot_umap(points, ["x"] * 30 + ["y"] * 30, coords=first)
    drawn = lambda ax: np.vstack([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(np.sort(drawn(by_group), axis=0), np.sort(first, axis=0))
    np.testing.assert_allclose(np.sort(drawn(by_half), axis=0), np.sort(first, axis=0))
    with pytest.raises(ValueError, match="one point per embedding"):
        cb.plot_umap(points, labels, coords=first[:-1])


def test_report_metrics_prints_and_records(tmp_path, monkeypatch, capsys):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("COOKBOOK_RESULTS_FILE", str(results))
    monkeypatch.setenv("COOKBOOK_NOTEBOOK", "99_demo")
    cb.report_metrics("Demo", {"accuracy@1": 0.123456, "pairs": 10, "silhouette": np.float32(0.25)})
    printed = capsys.readouterr().out
    assert "Demo" in printed and "0.1235" in printed and "10" in printed
    record = json.loads(results.read_text())
    assert record == {
        "notebook": "99_demo",
        "title": "Demo",
        "metrics": {"accuracy@1": 0.1235, "pairs": 10, "silhouette": 0.25},
    }


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_run_notebooks_executes_and_summarises(tmp_path):
    good = _notebook(
        tmp_path / "01_good.ipynb",
        "from tqdm.auto import tqdm\nfrom st_cookbook import report_metrics\n"
        "total = sum(tqdm(range(3), desc='a notebook progress widget'))\nreport_metrics('Scores', {'gain': 0.25})",
    )
    bad = _notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('broken on purpose')")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), str(good), str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary = (out / "results.md").read_text()
    assert "| 01_good | " in summary and "| ok |" in summary
    assert "FAILED: RuntimeError: broken on purpose" in summary
    assert "| gain | 0.25 |" in summary
    executed = nbformat.read(out / "notebooks" / "01_good.ipynb", as_version=4)
    assert "gain" in executed.cells[0].outputs[0]["text"]
    # Headless runs (TQDM_DISABLE=1) leave no progress widget in the executed notebook.
    assert [o.output_type for o in executed.cells[0].outputs] == ["stream"]
