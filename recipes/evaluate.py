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
  one text and a `label` column ............... labeled sentences -> leave_one_out_1nn_accuracy (does each
                                                text's nearest other text share its label?) and
                                                TripletEvaluator on triplets built from the labels (seeded)
  three texts, no label ....................... triplets (anchor, positive, negative) -> TripletEvaluator
                                                (is each anchor closer to its positive than to its negative?)
Texts are read in file order; map other names with the column flags of the training
recipes, which also tell the format apart: --sentence1-column and --sentence2-column
(labeled pairs), --anchor-column and --positive-column (positive pairs; with
--negative-column, triplets), --text-column (labeled sentences), --label-column (both
labeled shapes).

The same data and seed give the same numbers as the training recipes report for it, but
for one: the main metric of train_labeled_sentences.py, knn_from_train_accuracy, classifies
the eval texts by a vote of the training texts, which this script does not have. Its main
metric for labeled sentences, leave_one_out_1nn_accuracy, uses the given texts alone, so it
is not the same number.

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

import json
import time
from collections import Counter
from dataclasses import dataclass, field

import recipe_io
from recipe_io import SHAPES, RecipeError

# sentence-transformers takes seconds to import: evaluate() imports it, once the input has passed its checks.

FORMATS = ("auto", *SHAPES)
# Every column flag by role: sentence1, sentence2, label, anchor, positive, text, negative.
ROLES = tuple(dict.fromkeys(role for shape in SHAPES.values() for role in (*shape.texts, "label")))
# (a label column?, number of text columns) -> format.
BY_COLUMNS = {
    (True, 1): "labeled-sentences",
    (True, 2): "labeled-pairs",
    (False, 2): "positive-pairs",
    (False, 3): "triplets",
}


@dataclass
class Options:
    model: str = field(
        default="all-MiniLM-L6-v2",
        metadata={
            "help": "Hub id or local folder of the model to evaluate, e.g. one a training recipe saved "
            "(all-MiniLM-L6-v2: the bundled copy)."
        },
    )
    data: str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
            "(without it: the bundled recipes/data/triplets_test.csv)."
        },
    )
    split: str = field(default="test", metadata={"help": "Split of a Hub dataset to evaluate on."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    format: str = field(
        default="auto",
        metadata={
            "help": "Shape of the data; auto: told apart by the columns and the column flags.",
            "choices": FORMATS,
        },
    )
    sentence1_column: str | None = field(default=None, metadata={"help": "Labeled pairs: the first text."})
    sentence2_column: str | None = field(default=None, metadata={"help": "Labeled pairs: the second text."})
    label_column: str | None = field(
        default=None,
        metadata={
            "help": "Labeled pairs and labeled sentences: the label (without it: the column `label` or `score`)."
        },
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


def roles(fmt: str) -> list[str]:
    """The column flags a format reads: its texts, in order, and its label if it has one."""
    shape = SHAPES[fmt]
    return [*shape.texts, "label"] if shape.label else list(shape.texts)


def detect_format(dataset, options: Options, source: str) -> str:
    """--format, else the one format that reads every column flag given, else the Trainer's convention:
    a column named label or score is the label, and the number of other text columns tells pairs from
    sentences and from triplets."""
    given = {role: getattr(options, f"{role}_column") for role in ROLES if getattr(options, f"{role}_column")}
    flags = [recipe_io.column_flag(role) for role in given]
    if options.format != "auto":
        foreign = [flag for role, flag in zip(given, flags) if role not in roles(options.format)]
        if foreign:
            reads = ", ".join(recipe_io.column_flag(role) for role in roles(options.format))
            raise RecipeError(
                f"{foreign[0]} does not apply to --format {options.format}, which reads {reads}. "
                f"Fix: drop {foreign[0]}, or pass the --format it belongs to."
            )
        return options.format
    for flag, column in zip(flags, given.values()):
        if column not in dataset.column_names:
            raise RecipeError(
                f"{source}: {flag} {column}: no such column; found {dataset.column_names}. "
                "Fix: the column flags must name columns of the file."
            )
    fitting = [fmt for fmt in SHAPES if set(given) <= set(roles(fmt))]
    if not fitting:
        raise RecipeError(
            f"{' and '.join(flags)} belong to different formats: no format reads all of them. "
            "Fix: pass the column flags of one format, and --format to make it explicit."
        )
    if len(fitting) == 1 or fitting == ["positive-pairs", "triplets"]:  # --anchor/--positive-column alone: pairs
        return fitting[0]
    label = given.get("label") or next((c for c in recipe_io.LABEL_COLUMNS if c in dataset.column_names), None)
    texts = [
        column
        for column in dataset.column_names
        if column != label and column not in recipe_io.LABEL_COLUMNS and recipe_io.is_text(dataset, column)
    ]
    fmt = BY_COLUMNS.get((label is not None, len(texts)))
    if fmt is None:
        found = f"a label column {label!r} and" if label else "no label column and"
        shapes = "; ".join(f"{shape.example} ({shape.name})" for shape in SHAPES.values())
        raise RecipeError(
            f"{source}: could not tell the format from the columns {dataset.column_names}: {found} "
            f"{len(texts)} text column(s). Expected one of: {shapes}. Fix: keep only those columns, or "
            "pass --format and the column flags (e.g. --format labeled-sentences --text-column body "
            "--label-column queue)."
        )
    return fmt


def load_data(options: Options):
    """The rows in their format's columns (labeled sentences: class ids), the format, where they come from."""
    source = options.data or str(recipe_io.BUNDLED_DATA / "triplets_test.csv")  # read like any file of yours
    dataset = recipe_io.load_table(source, options.split, options.subset)
    fmt = detect_format(dataset, options, source)
    flags = {role: getattr(options, f"{role}_column") for role in roles(fmt)}
    dataset = recipe_io.pick_columns(dataset, SHAPES[fmt], flags, source)
    counts = Counter(dataset["label"]) if SHAPES[fmt].label else {}
    if fmt == "labeled-pairs" and len(counts) < 2:
        raise RecipeError(
            f"{source}: every label is {dataset[0]['label']!r}. Expected at least two different labels: "
            "a ranking or a precision needs both better and worse pairs. Fix: add pairs with other "
            "labels."
        )
    if fmt == "labeled-sentences":
        if len(counts) < 2 or max(counts.values()) < 2:
            raise RecipeError(
                f"{source}: triplets from labels need at least 2 classes, one of them with 2+ texts; "
                f"found {len(counts)} class(es), the largest with {max(counts.values())} text(s). "
                "Fix: add texts per class, or classes."
            )
        dataset, _ = recipe_io.number_classes(dataset, dataset)  # class names -> ids 0..n-1
    return dataset, fmt, source


def evaluate(model, dataset, fmt: str, batch_size: int, seed: int) -> tuple[str, dict[str, float]]:
    """(main metric, every metric) of the evaluator of the format's training recipe."""
    from sentence_transformers.sentence_transformer.evaluation import (
        BinaryClassificationEvaluator,
        EmbeddingSimilarityEvaluator,
        InformationRetrievalEvaluator,
        TripletEvaluator,
    )

    if fmt == "labeled-pairs":
        # 0/1 integers: can the similarity separate the pairs (average precision)? Otherwise scores:
        # does the similarity rank the pairs like the scores (Spearman)?
        texts, labels = {"sentences1": dataset["sentence1"], "sentences2": dataset["sentence2"]}, dataset["label"]
        if not dataset.features["label"].dtype.startswith("float") and set(labels) <= {0, 1}:
            evaluator = BinaryClassificationEvaluator(**texts, labels=[int(v) for v in labels], batch_size=batch_size)
        else:
            evaluator = EmbeddingSimilarityEvaluator(**texts, scores=[float(v) for v in labels], batch_size=batch_size)
    elif fmt == "positive-pairs":
        retrieval = recipe_io.retrieval_inputs(dataset["anchor"], dataset["positive"])
        evaluator = InformationRetrievalEvaluator(**retrieval, batch_size=batch_size)
    elif fmt == "labeled-sentences":
        triplets = recipe_io.triplets_from_labels(dataset["text"], dataset["label"], seed=seed)
        evaluator = TripletEvaluator(*triplets, batch_size=batch_size)
        accuracy = recipe_io.leave_one_out_1nn_accuracy(model, dataset, batch_size=batch_size)
        return "leave_one_out_1nn_accuracy", recipe_io.evaluate(evaluator, model, leave_one_out_1nn_accuracy=accuracy)
    else:
        evaluator = TripletEvaluator(dataset["anchor"], dataset["positive"], dataset["negative"], batch_size=batch_size)
    metrics = recipe_io.evaluate(evaluator, model)
    return evaluator.primary_metric, metrics  # named by the evaluator's first run


def main(argv: list[str] | None = None) -> None:
    options = recipe_io.parse_options(Options, __doc__, argv)
    if options.batch_size < 1:
        raise RecipeError(f"--batch-size {options.batch_size}: expected 1 or more. Fix: pass e.g. --batch-size 64.")
    recipe_io.check_device(options.device)
    output = None if options.output is None else recipe_io.check_output(options.output, "results.json")

    # Bad data stops here, before the model loads and before anything is written.
    dataset, fmt, source = load_data(options)
    model = recipe_io.load_model(options.model, options.device)

    start = time.perf_counter()
    main_metric, metrics = evaluate(model, dataset, fmt, options.batch_size, options.seed)
    line = json.dumps(
        {
            "main_metric": main_metric,
            "metrics": metrics,
            "model": options.model,
            "data": source,
            "format": fmt,
            "rows": dataset.num_rows,
            "seconds": round(time.perf_counter() - start, 2),
        }
    )
    if output is not None:
        recipe_io.write_whole(output, line + "\n")
    print(line)


if __name__ == "__main__":
    recipe_io.run(main)
