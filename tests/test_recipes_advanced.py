"""The training recipes' advanced options on tiny data, in this process (like tests/test_recipes.py):
resuming from a checkpoint, early stopping, hard negative mining (positive pairs) and Matryoshka
embeddings (positive pairs, triplets).
"""

import json

import pytest
from conftest import RECIPE_NAMES, TINY, assert_rejected, assert_trained, data_args, help_text, load_recipe, run_recipe

# case: (recipe, extra arguments ({folder}: the case's folder, which holds an empty checkpoint-2/), message part)
BAD_INPUTS = {
    "resume-missing-folder": (
        "labeled_pairs",
        ["--resume_from_checkpoint", "{folder}/no-such-checkpoint"],
        "no such folder",
    ),
    "resume-incomplete-checkpoint": (
        "positive_pairs",
        ["--resume_from_checkpoint", "{folder}/checkpoint-2"],
        "not a complete checkpoint",
    ),
    "resume-last-without-checkpoints": ("triplets", ["--resume_from_checkpoint", "last"], "no checkpoint-N folder"),
    "patience-zero": ("positive_pairs", ["--early-stopping-patience", "0"], "1 or more"),
    "patience-without-evaluation": (
        "labeled_sentences",
        ["--early-stopping-patience", "2", "--eval_strategy", "no"],
        "drop --eval_strategy no",
    ),
    # TrainingArguments' own multi-line message, folded into the one line.
    "patience-with-unaligned-checkpoints": (
        "labeled_pairs",
        ["--early-stopping-patience", "2", "--eval_steps", "3", "--save_steps", "4"],
        "invalid training options",
    ),
    "negative-mining-count": ("positive_pairs", ["--mine-hard-negatives", "-1"], "0 (off) or more"),
    "mining-with-megabatch": (
        "positive_pairs",
        ["--mine-hard-negatives", "1", "--loss", "MegaBatchMarginLoss"],
        "MegaBatchMarginLoss reads",
    ),
    "matryoshka-not-numbers": ("triplets", ["--matryoshka-dims", "384,abc"], "positive whole numbers"),
    "matryoshka-zero": ("positive_pairs", ["--matryoshka-dims", "128,0"], "positive whole numbers"),
    "matryoshka-repeated": ("triplets", ["--matryoshka-dims", "128,128"], "repeated"),
    # Only the loaded model knows its size: this one fails after loading it, still before writing.
    "matryoshka-too-large": ("triplets", ["--matryoshka-dims", "768,64"], "exceed the model's embedding size 384"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_option_stops_with_its_fix_and_writes_nothing(tmp_path, capsys, case):
    name, extra, expected = BAD_INPUTS[case]
    (tmp_path / "checkpoint-2").mkdir()
    assert_rejected(name, [arg.format(folder=tmp_path) for arg in extra], expected, tmp_path / "model", capsys)


@pytest.mark.parametrize("name", RECIPE_NAMES)
def test_help_lists_the_advanced_options(name, capsys):
    output = help_text(name, capsys)
    options = ["--early-stopping-patience", "--resume_from_checkpoint", "`last`"]
    options += ["--mine-hard-negatives"] if name == "positive_pairs" else []
    options += ["--matryoshka-dims"] if name in ("positive_pairs", "triplets") else []
    for option in options:
        assert option in output, f"{name} --help lacks {option}"
    if name in ("labeled_pairs", "labeled_sentences"):
        assert "--matryoshka-dims" not in output and "--mine-hard-negatives" not in output


class Interrupted(Exception):
    """Stands for the kill: raised right after the Trainer has saved checkpoint-2."""


def test_resumed_run_ends_like_an_uninterrupted_one(tmp_path, monkeypatch):
    """4 steps with a checkpoint every 2 (32 rows, batch 8: checkpoint-2 is mid-epoch). One run goes
    through; a second one stops once checkpoint-2 is saved and is resumed from that folder."""
    from transformers import Trainer

    argv = [
        *data_args(tmp_path, "labeled_pairs", 32),
        *TINY,
        "--max_steps",
        "4",
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
    ]
    through, interrupted = tmp_path / "through", tmp_path / "interrupted"
    uninterrupted, _ = run_recipe("labeled_pairs", [*argv, "--output_dir", str(through)])

    save_checkpoint = Trainer._save_checkpoint

    def save_then_stop(trainer, *args, **kwargs):
        save_checkpoint(trainer, *args, **kwargs)
        if trainer.state.global_step == 2:
            raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_save_checkpoint", save_then_stop)
        with pytest.raises(Interrupted):
            run_recipe("labeled_pairs", [*argv, "--output_dir", str(interrupted)])
    json.loads((interrupted / "checkpoint-2" / "trainer_state.json").read_text(encoding="utf-8"))
    assert not (interrupted / "checkpoint-4").exists(), "the interrupted run got to its last checkpoint"
    assert not (interrupted / "model.safetensors").exists(), "the interrupted run saved its final model"

    resumed, _ = run_recipe(
        "labeled_pairs",
        [*argv, "--output_dir", str(interrupted), "--resume_from_checkpoint", str(interrupted / "checkpoint-2")],
    )
    # `last`: the newest checkpoint in --output_dir; the finished run's checkpoint-4 leaves no step to train.
    last, _ = run_recipe("labeled_pairs", [*argv, "--output_dir", str(through), "--resume_from_checkpoint", "last"])

    assert resumed["resumed_from"] == str(interrupted / "checkpoint-2")
    assert resumed["before"] == uninterrupted["before"]
    # Exact on this CPU so far; a tolerance keeps the test about resuming, not float summation order.
    assert resumed["after"] == pytest.approx(uninterrupted["after"], abs=1e-6)
    assert last["resumed_from"] == str(through / "checkpoint-4")
    assert last["after"] == pytest.approx(uninterrupted["after"], abs=1e-6)


@pytest.fixture(scope="module")
def option_runs(tmp_path_factory):
    """Early stopping, mining and Matryoshka runs in this process: {run: (report, stdout)}, folders."""
    folder = tmp_path_factory.mktemp("options")
    # One question per intent (every 7th row), so the answers differ: no false negatives in a batch.
    pairs = data_args(folder, "positive_pairs", 16, 7, 3)
    runs = {
        # Learning rate 0: every evaluation equals the first, none improves, so patience 1 stops after step 2.
        "stop-positive_pairs": [
            "positive_pairs",
            *pairs,
            "--early-stopping-patience",
            "1",
            "--learning_rate",
            "0",
            "--max_steps",
            "6",
        ],
        # No warmup: the recipes' default 10% would make step 1 a learning-rate-0 step, whose checkpoint is the
        # base model; the test needs every checkpoint to be a trained one.
        "stop-labeled_pairs": [
            "labeled_pairs",
            *data_args(folder, "labeled_pairs", 32),
            "--early-stopping-patience",
            "1",
            "--max_steps",
            "4",
            "--warmup_steps",
            "0",
        ],
        "mine-positive_pairs": ["positive_pairs", *pairs, "--mine-hard-negatives", "1"],
        "matryoshka-positive_pairs": ["positive_pairs", *pairs, "--matryoshka-dims", "384,64"],
        "matryoshka-triplets": [
            "triplets",
            *data_args(folder, "triplets", 16, suffix=".parquet"),
            "--matryoshka-dims",
            "64,384",
        ],
    }
    outputs = {run: folder / f"model-{run}" for run in runs}
    results = {
        run: run_recipe(name, [*TINY, *args, "--output_dir", str(outputs[run])]) for run, (name, *args) in runs.items()
    }
    return results, outputs


def check_early_stopping_report(report: dict, max_steps: int) -> None:
    main = report["main_metric"]
    assert 1 <= report["best_step"] <= report["train_steps"] <= max_steps
    assert report["stopped_early"] or report["train_steps"] == max_steps
    # The best checkpoint is loaded at the end, so the final evaluation measures it again.
    assert report["after"][main] == pytest.approx(report["best_metric"], abs=1e-6)


def test_early_stopping_stops_when_the_metric_stops_improving(option_runs):
    results, outputs = option_runs
    report, _ = results["stop-positive_pairs"]
    assert report["main_metric"] == "cosine_ndcg@10"
    check_early_stopping_report(report, 6)
    assert report["stopped_early"] is True and report["train_steps"] == 2 and report["best_step"] == 1
    assert report["after"] == report["before"]
    assert (outputs["stop-positive_pairs"] / "checkpoint-1").is_dir(), "the best checkpoint is kept"


def test_early_stopping_keeps_the_best_checkpoint(option_runs, bundled_model):
    results, outputs = option_runs
    report, _ = results["stop-labeled_pairs"]
    assert report["main_metric"] == "spearman_cosine"
    check_early_stopping_report(report, 4)
    assert (outputs["stop-labeled_pairs"] / f"checkpoint-{report['best_step']}").is_dir()
    assert_trained(outputs["stop-labeled_pairs"], bundled_model)


def test_hard_negative_mining_trains_on_mined_rows(option_runs, bundled_model):
    results, outputs = option_runs
    report, printed = results["mine-positive_pairs"]
    assert 0 < report["mined_negatives"] == report["train_examples"] <= 16, report
    assert f"Hard negatives: {report['train_examples']} of 16 training rows got 1 each" in printed
    assert set(report["before"]) == set(report["after"])
    assert_trained(outputs["mine-positive_pairs"], bundled_model)


@pytest.mark.parametrize("name, metric", [("positive_pairs", "cosine_ndcg@10"), ("triplets", "cosine_accuracy")])
def test_matryoshka_reports_the_main_metric_at_each_size(option_runs, bundled_model, name, metric):
    results, outputs = option_runs
    report, _ = results[f"matryoshka-{name}"]
    assert report["main_metric"] == metric
    for metrics in (report["before"], report["after"]):
        assert {f"{metric}@dim384", f"{metric}@dim64"} <= set(metrics)
        # Cut to the full size, the embeddings are the full ones.
        assert metrics[f"{metric}@dim384"] == pytest.approx(metrics[metric], abs=1e-6)
    assert_trained(outputs[f"matryoshka-{name}"], bundled_model)


def test_matryoshka_sizes_are_parsed_largest_first():
    recipe_io = load_recipe("triplets").recipe_io
    assert recipe_io.parse_dims("64,384,128") == [384, 128, 64]
    assert recipe_io.parse_dims(None) == []
