"""recipes/train_reranker.py: its options, its checks of bad input, and two tiny training runs, one
per data shape (labeled pairs, and relevant pairs with mined negatives).

As in tests/test_recipes.py, main(argv) runs in this process, so the imports are paid once; the
one subprocess is a torchrun run with two processes, where the process is the point. Cross-encoders
read each (query, document) pair in full, so the runs are kept tiny: two optimizer steps, 12 eval
questions, the retriever's top 3 documents reranked.
"""

import ast
import sys

import pytest
from conftest import (
    RECIPES,
    TINY,
    assert_rejected,
    bundled_rows,
    help_text,
    last_json,
    load_recipe,
    run_all,
    run_recipe,
    write_lines,
    write_table,
)

RECIPE = "reranker"
RERANKED = {"map", "mrr@10", "ndcg@10"}
METRICS = RERANKED | {f"base_{name}" for name in RERANKED}
TOP_K = ["--rerank-top-k", "3"]


def labeled_rows(split: str, count: int) -> list[dict]:
    """(question, its answer, 1) and (question, the next question's answer, 0): one question per intent
    (every 7th row), so the next answer is another intent's."""
    rows = bundled_rows("positive_pairs", split, count + 1, 7)
    labeled = []
    for row, other in zip(rows, rows[1:]):
        labeled.append({"query": row["anchor"], "document": row["positive"], "label": 1})
        labeled.append({"query": row["anchor"], "document": other["positive"], "label": 0})
    return labeled


def test_recipe_imports_only_public_libraries_and_recipe_io():
    source = (RECIPES / "train_reranker.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    public = {"sentence_transformers", "datasets", "transformers", "torch", "recipe_io"}
    assert "recipe_io" in imported and imported <= set(sys.stdlib_module_names) | public, imported
    assert "st_cookbook" not in source and "fp16=True" not in source


def test_help_lists_recipe_and_training_options(capsys):
    output = help_text(RECIPE, capsys)
    for option in [
        "--model",
        "--retriever",
        "--train-data",
        "--eval-data",
        "--query-column",
        "--document-column",
        "--label-column",
        "--num-negatives",
        "--rerank-top-k",
        "--early-stopping-patience",
        "--resume_from_checkpoint",
        "--learning_rate",
        "--num_train_epochs",
        "--per_device_train_batch_size",
        "--seed",
        "--bf16",
        "--output_dir",
    ]:
        assert option in output, f"--help lacks {option}"
    assert "CrossEncoderRerankingEvaluator" in output


# case: ({file name: lines}, arguments ({folder}: the case's folder), what the message must say).
# train.csv and test.csv are good files unless the case gives its own.
GOOD_TRAIN = ["query,document", *(f"q{n},d{n}" for n in range(8))]  # 8 documents: enough to mine 5 negatives
BAD_INPUTS = {
    "misnamed-column-flag": ({}, ["--query-column", "question"], "'question' is not one"),
    "misordered-columns": ({"train.csv": ["document,query", "d1,q1", "d2,q2"]}, [], "wrong order"),
    "three-text-columns": ({"train.csv": ["query,document,other", "q1,d1,x", "q2,d2,y"]}, [], "keep only those"),
    "labels-not-0-or-1": (
        {"train.csv": ["query,document,label", "q1,d1,2", "q1,d2,0"]},
        [],
        "reads the label as relevance",
    ),
    "text-labels": ({"train.csv": ["query,document,label", "q1,d1,yes", "q1,d2,no"]}, [], "Expected a number"),
    "labels-all-1": ({"train.csv": ["query,document,label", "q1,d1,1", "q2,d2,1"]}, [], "every row has the label 1"),
    "empty-file": ({"train.csv": []}, [], "the file is empty"),
    "unreadable-file": ({"train.json": ['{"query": "q", "document": ']}, [], "could not be read as JSON"),
    "too-few-documents-to-mine": (
        {"train.csv": ["query,document", "q1,d1", "q2,d1", "q3,d2"]},
        ["--num-negatives", "2"],
        "2 distinct documents are too few to mine 2 hard negatives",
    ),
    "zero-negatives": ({}, ["--num-negatives", "0"], "1 or more"),
    "eval-without-relevant-rows": (
        {"test.csv": ["query,document,label", "q1,d1,0", "q2,d2,0"]},
        [],
        "no row is labeled 1",
    ),
    "eval-with-one-document": ({"test.csv": ["query,document", "q1,d1", "q2,d1"]}, [], "nothing to rerank"),
    "rerank-one": ({}, ["--rerank-top-k", "1"], "expected 2 or more"),
    "unknown-option": ({}, ["--num-negative", "3"], "unrecognized arguments"),
    "missing-retriever-folder": ({}, ["--retriever", "./no/such/retriever"], "no such folder"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_stops_with_its_fix_and_writes_nothing(tmp_path, capsys, case):
    files, extra, expected = BAD_INPUTS[case]
    write_lines(tmp_path, {"train.csv": GOOD_TRAIN, "test.csv": GOOD_TRAIN, **files})
    train = tmp_path / ("train.json" if "train.json" in files else "train.csv")
    argv = ["--train-data", str(train), "--eval-data", str(tmp_path / "test.csv"), *extra]
    assert_rejected(RECIPE, argv, expected, tmp_path / "model", capsys)


def test_bad_input_as_a_script_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    """What recipe_io.run makes of the error when the script runs: exit code 2, one line on stderr."""
    (train,) = write_lines(tmp_path, {"train.csv": ["query,document,label", "q1,d1,1", "q1,d2,0.5"]})
    output = tmp_path / "model"
    argv = ["--train-data", train, "--eval-data", train, "--output_dir", str(output)]
    monkeypatch.setattr(sys, "argv", [str(RECIPES / "train_reranker.py"), *argv])
    recipe = load_recipe(RECIPE)
    with pytest.raises(SystemExit) as exit_:
        recipe.recipe_io.run(recipe.main)
    assert exit_.value.code == 2
    printed = capsys.readouterr()
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train_reranker: error: "), printed.err
    assert "reads the label as relevance" in lines[0] and "Fix:" in lines[0]
    assert printed.out.strip() == "" and not output.exists()


def test_runs_under_torchrun_with_two_cpu_processes(tmp_path):
    """The one subprocess: DDP over gloo, each process training on its share; only the first one evaluates
    and prints. (With DDP's default search for unused parameters a CrossEncoder fails here.)"""
    rows = [
        {"question": row["anchor"], "answer": row["positive"]} for row in bundled_rows("positive_pairs", "train", 16, 7)
    ]
    test = [
        {"question": row["anchor"], "answer": row["positive"]} for row in bundled_rows("positive_pairs", "test", 12, 3)
    ]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(RECIPES / "train_reranker.py"),
        "--train-data",
        write_table(tmp_path / "train.csv", rows),
        "--eval-data",
        write_table(tmp_path / "test.csv", test),
        "--num-negatives",
        "2",
        *TINY,
        *TOP_K,
        "--per_device_train_batch_size",
        "4",
        "--output_dir",
        str(tmp_path / "model"),
    ]
    (result,) = run_all([command], workers=1, threads=1)
    report = last_json(result)
    reports = [line for line in result.stdout.splitlines() if line.startswith('{"main_metric"')]
    assert len(reports) == 1, "one report: only the first of the two processes evaluates and prints"
    assert report["train_steps"] == 2 and report["train_examples"] == 16 + report["mined_negatives"]
    assert_reranks(tmp_path / "model")


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Both shapes once, in this process. Mined: 16 (question, answer) rows of 16 intents under other
    column names, mapped by the flags; labeled: 8 questions with their answer (1) and another (0),
    evaluated on labeled rows too, so the eval queries are those with a relevant document."""
    folder = tmp_path_factory.mktemp("reranker")

    def renamed(row: dict) -> dict:
        return {"answer": row["positive"], "question": row["anchor"]}

    mined = [
        "--train-data",
        write_table(folder / "pairs.jsonl", [renamed(row) for row in bundled_rows("positive_pairs", "train", 16, 7)]),
        "--eval-data",
        write_table(
            folder / "pairs_test.jsonl", [renamed(row) for row in bundled_rows("positive_pairs", "test", 12, 3)]
        ),
        "--query-column",
        "question",
        "--document-column",
        "answer",
        "--num-negatives",
        "2",
    ]
    labeled = [
        "--train-data",
        write_table(folder / "labeled.csv", labeled_rows("train", 8)),
        "--eval-data",
        write_table(folder / "labeled_test.csv", labeled_rows("test", 6)),
    ]
    runs = {"mined": mined, "labeled": labeled}
    outputs = {name: folder / f"model-{name}" for name in runs}
    results = {
        name: run_recipe(RECIPE, [*args, *TINY, *TOP_K, "--output_dir", str(outputs[name])])
        for name, args in runs.items()
    }
    return results, outputs


@pytest.mark.parametrize("name", ["mined", "labeled"])
def test_recipe_trains_reports_json_and_saves_a_reranker(tiny_runs, name):
    results, outputs = tiny_runs
    report, _ = results[name]
    assert report["main_metric"] == "ndcg@10" and report["train_steps"] == 2
    assert set(report["before"]) == set(report["after"]) == METRICS
    for metrics in (report["before"], report["after"]):
        assert all(isinstance(value, float) and 0 <= value <= 1 for value in metrics.values()), metrics
    # The retriever's order does not change with training; the reranked one does.
    assert all(report["before"][f"base_{metric}"] == report["after"][f"base_{metric}"] for metric in RERANKED)
    assert report["rerank_top_k"] == 3
    assert_reranks(outputs[name])


def assert_reranks(folder) -> None:
    """The saved folder loads as a one-score CrossEncoder that ranks, and is not the untrained model
    (the recipe's seed, 42, gives the same new head)."""
    from sentence_transformers.cross_encoder import CrossEncoder
    from transformers import set_seed

    query = "My thermostat does not follow the schedule"
    documents = ["Open Schedule in the app and check that the program is turned on.", "Invoices are under Billing."]
    saved = CrossEncoder(str(folder), device="cpu")
    assert saved.num_labels == 1
    ranking = saved.rank(query, documents)
    assert sorted(hit["corpus_id"] for hit in ranking) == [0, 1]
    assert ranking[0]["score"] >= ranking[1]["score"]
    set_seed(42)
    untrained = load_recipe(RECIPE).recipe_io.load_cross_encoder("sentence-transformers/all-MiniLM-L6-v2", "cpu")
    pairs = [(query, document) for document in documents]
    assert abs(saved.predict(pairs) - untrained.predict(pairs)).max() > 1e-6, "the saved model is the untrained one"


def test_mined_run_trains_on_the_pairs_and_their_hard_negatives(tiny_runs):
    results, _ = tiny_runs
    report, printed = results["mined"]
    mined = report["mined_negatives"]
    assert 0 < mined <= 2 * 16 and report["train_examples"] == 16 + mined, report
    assert f"Hard negatives: {mined} for 16 (query, document) pairs, at most 2 per query" in printed
    # 12 eval questions of 4 intents (every 3rd row): every one is an eval query.
    assert report["eval_queries"] == 12


def test_labeled_run_trains_on_the_rows_as_given(tiny_runs):
    results, _ = tiny_runs
    report, printed = results["labeled"]
    assert report["train_examples"] == 16 and "mined_negatives" not in report
    assert "Hard negatives" not in printed
    # Only the 6 questions with a document labeled 1 are evaluated; their answers and the other
    # answers labeled 0 are the candidates.
    assert report["eval_queries"] == 6


def test_reranking_samples_group_each_query_with_all_its_relevant_documents():
    from datasets import Dataset

    recipe_io = load_recipe(RECIPE).recipe_io
    candidates = Dataset.from_dict(
        {
            "query": ["q1", "q1", "q2"],
            "document": ["a", "b", "c"],
            "negative_1": ["b", "b", "a"],
            "negative_2": ["c", "c", "c"],
        }
    )
    assert recipe_io.reranking_samples(candidates) == [
        {"query": "q1", "positive": ["a", "b"], "documents": ["b", "c"]},
        {"query": "q2", "positive": ["c"], "documents": ["a", "c"]},
    ]
    labeled = Dataset.from_dict({"query": ["q1", "q1", "q2"], "document": ["a", "b", "c"], "label": [1, 0, 1]})
    assert recipe_io.relevant_pairs(labeled, "data").to_dict() == {"query": ["q1", "q2"], "document": ["a", "c"]}
