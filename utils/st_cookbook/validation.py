"""Check a dataset's columns and labels against a loss before any training starts.

The Trainer follows one convention, set by the library's data collator: the first
column named `label`, `labels`, `score` or `scores` (in that order of preference) is
the label, every other column is an input, passed to the loss in column order. A
dataset that breaks the loss's expectations rarely crashes: it trains on the wrong
thing. `check_columns_for_loss` stops that early with a message that names what
was expected and the one-line fix; `recommend_losses` lists the losses a dataset
fits as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Value
from sentence_transformers.util.dataset import DEFAULT_LABEL_COLUMNS

# The names the data collator reads as the label, in its order of preference.
LABEL_COLUMNS: tuple[str, ...] = tuple(DEFAULT_LABEL_COLUMNS)
_LABEL_NAMES = ", ".join(repr(c) for c in LABEL_COLUMNS)

# Column names that usually mean a label but do not follow the convention.
_LABEL_LIKE = ("similarity", "sim", "target", "class", "y", "is_duplicate", "rating", "gold")

# Column orders that carry a meaning: if a dataset has exactly these names in
# another order, the fix is a select_columns with this order.
_ROLE_ORDERS = (
    ("anchor", "positive", "negative"),
    ("query", "positive", "negative"),
    ("question", "positive", "negative"),
    ("anchor", "positive"),
    ("query", "positive"),
    ("question", "answer"),
    ("query", "answer"),
    ("query", "document"),
    ("sentence1", "sentence2"),
    ("sentence_a", "sentence_b"),
    ("premise", "hypothesis"),
    ("text1", "text2"),
)


@dataclass(frozen=True)
class LossSpec:
    """What a loss needs: how many text inputs, and which kind of label.

    label: None (no label column), "binary" (0/1), "class" (int class ids),
    "score" (any real number, only the order matters), "unit" (a target cosine
    similarity in [-1, 1]).
    """

    min_inputs: int
    max_inputs: int | None
    label: str | None
    shape: str


# In order of preference: recommend_losses lists fitting losses in this order. The
# symmetric variants of MNRL are deprecated in sentence-transformers 6.2: for them,
# MultipleNegativesRankingLoss(model, directions=("query_to_doc", "doc_to_query"),
# partition_mode="per_direction") and its cached twin.
LOSS_SPECS: dict[str, LossSpec] = {
    "MultipleNegativesRankingLoss": LossSpec(
        2, None, None, "(anchor, positive) pairs or (anchor, positive, negative, ...)"
    ),
    "CachedMultipleNegativesRankingLoss": LossSpec(
        2, None, None, "(anchor, positive) pairs or (anchor, positive, negative, ...)"
    ),
    "MegaBatchMarginLoss": LossSpec(2, 2, None, "(anchor, positive) pairs"),
    "TripletLoss": LossSpec(3, 3, None, "(anchor, positive, negative) triplets"),
    "CoSENTLoss": LossSpec(2, 2, "score", "(sentence1, sentence2) pairs with a float similarity score"),
    "AnglELoss": LossSpec(2, 2, "score", "(sentence1, sentence2) pairs with a float similarity score"),
    "CosineSimilarityLoss": LossSpec(2, 2, "unit", "(sentence1, sentence2) pairs with a similarity score in [-1, 1]"),
    "OnlineContrastiveLoss": LossSpec(2, 2, "binary", "(sentence1, sentence2) pairs with a 0/1 label"),
    "ContrastiveLoss": LossSpec(2, 2, "binary", "(sentence1, sentence2) pairs with a 0/1 label"),
    "SoftmaxLoss": LossSpec(2, 2, "class", "(sentence1, sentence2) pairs with an integer class label"),
    "BatchAllTripletLoss": LossSpec(1, 1, "class", "single sentences with an integer class label"),
    "BatchHardTripletLoss": LossSpec(1, 1, "class", "single sentences with an integer class label"),
    "BatchSemiHardTripletLoss": LossSpec(1, 1, "class", "single sentences with an integer class label"),
    "BatchHardSoftMarginTripletLoss": LossSpec(1, 1, "class", "single sentences with an integer class label"),
}

# Losses that wrap another loss and need what the inner one needs.
_WRAPPERS = ("MatryoshkaLoss", "Matryoshka2dLoss", "AdaptiveLayerLoss")


class DatasetFormatError(ValueError):
    """A dataset does not fit the chosen loss; the message says how to fix it."""


@dataclass(frozen=True)
class ColumnCheck:
    """What the Trainer will do with a dataset that passed the check."""

    loss: str
    inputs: tuple[str, ...]
    label: str | None


def loss_name(loss) -> str:
    """Name of a loss given as a name, a class or an instance (wrappers unwrapped)."""
    if isinstance(loss, str):
        name = loss
    elif isinstance(loss, type):
        name = loss.__name__
    else:
        name = type(loss).__name__
        if name in _WRAPPERS and hasattr(loss, "loss"):
            return loss_name(loss.loss)
    if name in _WRAPPERS:
        raise DatasetFormatError(
            f"{name} wraps another loss, and the dataset must fit that inner loss. Fix: check against the "
            f"inner loss, e.g. check_columns_for_loss(dataset, 'MultipleNegativesRankingLoss'), or pass the "
            f"{name} instance itself."
        )
    if name not in LOSS_SPECS:
        raise DatasetFormatError(
            f"Unknown loss {name!r}. Fix: use one of the known losses: {', '.join(sorted(LOSS_SPECS))}."
        )
    return name


def _fail(loss: str, spec: LossSpec, problem: str, fix: str) -> DatasetFormatError:
    return DatasetFormatError(f"{loss} expects {spec.shape}. {problem} Fix: {fix}")


def _split_columns(dataset: Dataset) -> tuple[list[str], str | None]:
    labels = sorted((c for c in dataset.column_names if c in LABEL_COLUMNS), key=LABEL_COLUMNS.index)
    if len(labels) > 1:
        raise DatasetFormatError(
            f"The dataset has both {labels[0]!r} and {labels[1]!r}. The Trainer reads the first of {_LABEL_NAMES} "
            f"as the label, so it would take {labels[0]!r} and feed {labels[1]!r} to the loss as an input. "
            f"Fix: keep the real label and drop the other, e.g. "
            f"dataset = dataset.remove_columns({labels[1]!r}) or dataset.remove_columns({labels[0]!r})"
        )
    inputs = [c for c in dataset.column_names if c not in LABEL_COLUMNS]
    return inputs, (labels[0] if labels else None)


def _is_text(feature) -> bool:
    return isinstance(feature, Value) and feature.dtype in ("string", "large_string")


def _is_number(feature) -> bool:
    return isinstance(feature, ClassLabel) or (
        isinstance(feature, Value) and (feature.dtype.startswith(("int", "uint", "float")) or feature.dtype == "bool")
    )


def _column(dataset: Dataset, col: str):
    """One column as an Arrow array: checks stay fast on datasets of millions of rows."""
    return dataset.with_format("arrow")[col]


def _first_empty_row(dataset: Dataset, col: str) -> int:
    values = _column(dataset, col)
    empty = pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), ""))
    return pc.index(empty, True).as_py()


def _distinct(dataset: Dataset, col: str) -> list:
    return sorted(v for v in pc.unique(_column(dataset, col)).to_pylist() if v is not None)


def _check_order(name: str, spec: LossSpec, inputs: list[str], label: str | None) -> None:
    for order in _ROLE_ORDERS:
        if len(order) == len(inputs) and set(order) == set(inputs) and tuple(inputs) != order:
            last = f" and {order[-1]!r} last" if len(order) > 2 else ""
            raise _fail(
                name,
                spec,
                f"The input columns are {inputs}, but the loss reads inputs by position, so "
                f"{order[0]!r} must come first{last}.",
                f"dataset = dataset.select_columns({list(order) + ([label] if label else [])})",
            )


def _empty_column(dataset: Dataset, col: str) -> bool:
    """True when no row has a value: a CSV column left blank is read as float64 (or null), not text."""
    values = _column(dataset, col)
    if _is_text(dataset.features[col]):
        values = pc.if_else(pc.equal(pc.utf8_trim_whitespace(values), ""), None, values)
    return pc.all(pc.is_null(values, nan_is_null=True)).as_py()


def _check_inputs(name: str, spec: LossSpec, dataset: Dataset, inputs: list[str], label: str | None, suggest) -> None:
    features = dataset.features
    for col in inputs:
        if _empty_column(dataset, col):
            raise _fail(
                name,
                spec,
                f"Column {col!r} is empty in every row.",
                f"fill in {col!r}, or drop it if it does not belong: dataset = dataset.remove_columns({col!r})",
            )
        if not _is_text(features[col]):
            lower = col.lower()
            if _is_number(features[col]) and label is None and spec.label is not None:
                fix = f"dataset = dataset.rename_column({col!r}, 'label')"
            elif _is_number(features[col]) and lower in _LABEL_LIKE and spec.label is None:
                fix = f"dataset = dataset.remove_columns({col!r}) (this loss takes no label)"
            else:
                fix = f"dataset = dataset.remove_columns({col!r}), or rename it to 'label' if it is the label"
            raise _fail(
                name,
                spec,
                f"Column {col!r} is an input (only a column named {_LABEL_NAMES} is read as the label) but holds "
                f"{features[col]!r} instead of text.",
                fix,
            )
    n = len(inputs)
    if n < spec.min_inputs:
        raise _fail(
            name,
            spec,
            f"It got {n} text column(s): {inputs}.",
            f"add the missing text column(s), or pick a loss for this shape: {suggest()}.",
        )
    if spec.max_inputs is not None and n > spec.max_inputs:
        keep = inputs[: spec.max_inputs] + ([label] if label else [])
        raise _fail(
            name,
            spec,
            f"It got {n} text columns: {inputs}; every extra column would be fed to the loss as an input.",
            f"dataset = dataset.select_columns({keep}) (keeping the columns the loss needs, in order)",
        )
    for col in inputs:
        row = _first_empty_row(dataset, col)
        if row >= 0:
            raise _fail(
                name,
                spec,
                f"Column {col!r} is empty in row {row} ({dataset[row][col]!r}).",
                f"dataset = dataset.filter(lambda row: row[{col!r}] is not None and row[{col!r}].strip())",
            )


def _check_label(name: str, spec: LossSpec, dataset: Dataset, inputs: list[str], label: str | None, suggest) -> None:
    if spec.label is None:
        if label is not None:
            raise _fail(
                name,
                spec,
                f"The dataset has a {label!r} column, which this loss does not use (the Trainer would pass it anyway).",
                f"dataset = dataset.remove_columns({label!r}), or pick a loss that uses the label: {suggest()}.",
            )
        return
    if label is None:
        guesses = [c for c in dataset.column_names if c.lower() in _LABEL_LIKE]
        fix = (
            f"dataset = dataset.rename_column({guesses[0]!r}, 'label')"
            if guesses
            else "add a 'label' column (for example with dataset.add_column('label', labels))"
        )
        raise _fail(name, spec, f"It has no label column named {_LABEL_NAMES} (columns: {dataset.column_names}).", fix)

    if _empty_column(dataset, label):
        raise _fail(
            name, spec, f"Column {label!r} is empty in every row.", f"fill in a label in every row of {label!r}."
        )
    feature = dataset.features[label]
    if isinstance(feature, Value) and feature.dtype in ("string", "large_string"):
        fix = (
            f"dataset = dataset.class_encode_column({label!r}) (turns the names into class ids)"
            if spec.label in ("class", "binary")
            else f"dataset = dataset.cast_column({label!r}, Value('float32')) if the strings are numbers"
        )
        raise _fail(name, spec, f"Column {label!r} holds strings such as {dataset[0][label]!r}, not numbers.", fix)
    if not _is_number(feature):
        raise _fail(
            name,
            spec,
            f"Column {label!r} holds {feature!r}, not one number per row.",
            "store one number per row in the label column.",
        )
    values = _column(dataset, label)
    if pc.any(pc.is_null(values, nan_is_null=True)).as_py():
        raise _fail(
            name,
            spec,
            f"Column {label!r} has missing values.",
            f"dataset = dataset.filter(lambda row: row[{label!r}] is not None and row[{label!r}] == row[{label!r}])",
        )
    found = _distinct(dataset, label)
    shown = found if len(found) <= 6 else found[:3] + ["..."] + found[-3:]
    if spec.label == "score" and len(found) < 2:
        raise _fail(
            name,
            spec,
            f"Every row has the score {found[0]}; the loss learns from the order of the scores, so it is 0 and "
            "training changes nothing.",
            "add pairs with other scores (dissimilar pairs too), or train (anchor, positive) pairs with "
            "MultipleNegativesRankingLoss.",
        )
    if spec.label == "binary" and not set(found) <= {0, 1}:
        raise _fail(
            name,
            spec,
            f"Column {label!r} has values {shown}, not only 0 and 1.",
            "map the labels to 0 (dissimilar) and 1 (similar), or use CoSENTLoss for graded scores.",
        )
    if spec.label == "class":
        if any(float(v) != int(v) for v in found):
            raise _fail(
                name,
                spec,
                f"Column {label!r} has non-integer values {shown}.",
                f"use integer class ids, e.g. dataset = dataset.class_encode_column({label!r}) on the class names.",
            )
        if found[0] < 0:
            raise _fail(name, spec, f"Column {label!r} has negative class ids {shown}.", "renumber the classes from 0.")
        if spec.min_inputs == 1:
            largest = max(pc.value_counts(values).field("counts").to_pylist())
            if len(found) < 2 or largest < 2:
                raise _fail(
                    name,
                    spec,
                    f"Triplets are built inside each batch from sentences that share a class, so it needs at least "
                    f"2 classes and classes with 2+ sentences; found {len(found)} class(es), the largest with "
                    f"{largest} sentence(s).",
                    "add more sentences per class, or use pairs with MultipleNegativesRankingLoss.",
                )
    if spec.label == "unit" and (found[0] < -1 or found[-1] > 1):
        raise _fail(
            name,
            spec,
            f"Column {label!r} ranges from {found[0]} to {found[-1]}; the loss compares it with cosine "
            "similarities, which lie in [-1, 1].",
            f"rescale, e.g. dataset = dataset.map(lambda row: {{{label!r}: row[{label!r}] / {found[-1]}}}) "
            "(STS scores 0-5: divide by 5), or use CoSENTLoss, which needs only the order of the scores.",
        )


def _require_rows(dataset, what: str) -> None:
    if isinstance(dataset, DatasetDict):
        raise DatasetFormatError(
            f"{what} It got a DatasetDict with splits {list(dataset)}, not one Dataset. "
            f"Fix: pass one split, e.g. dataset[{next(iter(dataset), 'train')!r}]."
        )
    if not isinstance(dataset, Dataset):
        raise DatasetFormatError(
            f"{what} It got a {type(dataset).__name__}, not a datasets.Dataset. Fix: build one with "
            "Dataset.from_dict({...}), Dataset.from_list([...]) or Dataset.from_pandas(df)."
        )
    if dataset.num_rows == 0:
        raise DatasetFormatError(f"{what} The dataset has no rows. Fix: check the file or the filter that produced it.")


def check_columns_for_loss(dataset, loss) -> ColumnCheck:
    """Raise DatasetFormatError unless `dataset` fits `loss` (a name, class or instance).

    Checks, in order: that it is one `datasets.Dataset` with rows; which column is
    the label (the Trainer's convention); the input columns' order, count, type and
    emptiness; the label's presence, type and range for that loss.
    """
    name = loss_name(loss)
    _require_rows(dataset, f"{name} expects {LOSS_SPECS[name].shape}.")
    return _check(dataset, name, suggest=lambda: _suggest(dataset))


def _check(dataset, name: str, suggest) -> ColumnCheck:
    spec = LOSS_SPECS[name]
    inputs, label = _split_columns(dataset)
    _check_order(name, spec, inputs, label)
    _check_inputs(name, spec, dataset, inputs, label, suggest)
    _check_label(name, spec, dataset, inputs, label, suggest)
    return ColumnCheck(loss=name, inputs=tuple(inputs), label=label)


def _fits(dataset, name: str) -> bool:
    try:
        _check(dataset, name, suggest=lambda: "")
    except DatasetFormatError:
        return False
    return True


def _suggest(dataset) -> str:
    fitting = [n for n in LOSS_SPECS if _fits(dataset, n)]
    return ", ".join(fitting) if fitting else "none as it is"


def recommend_losses(dataset) -> list[str]:
    """The losses that `dataset` fits as it is, the usual first choice first.

    Raises DatasetFormatError, with the shapes each loss family expects, when no
    loss fits.
    """
    _require_rows(dataset, "recommend_losses needs one dataset with rows.")
    fitting = [n for n in LOSS_SPECS if _fits(dataset, n)]
    label = _split_columns(dataset)[1]
    if label and _is_number(dataset.features[label]) and set(_distinct(dataset, label)) <= {0, 1}:
        # 0/1 labels say "similar or not": the losses made for that come first.
        fitting.sort(key=lambda n: LOSS_SPECS[n].label != "binary")
    if not fitting:
        shapes = sorted({spec.shape for spec in LOSS_SPECS.values()})
        raise DatasetFormatError(
            f"No loss fits a dataset with columns {dataset.column_names} as it is. The shapes losses expect are: "
            + "; ".join(shapes)
            + f". The first column named {_LABEL_NAMES} is the label; every other column is a text input, in order."
        )
    return fitting
