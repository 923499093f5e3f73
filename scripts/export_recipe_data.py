"""Write the bundled corpus as the CSV files the recipes train and evaluate on by default.

The recipes must not import st_cookbook, so they read these files through the same
local-file path a user's own file takes. One file per dataset shape and split:

    recipes/data/labeled_pairs_{train,test}.csv      sentence1,sentence2,score  (graded float)
    recipes/data/positive_pairs_{train,test}.csv     anchor,positive            (question, answer)
    recipes/data/labeled_sentences_{train,test}.csv  text,label                 (label = intent name)
    recipes/data/triplets_{train,test}.csv           anchor,positive,negative   (negative: sibling intent)

The output is deterministic: rerun after changing the corpus and commit the result
(tests/test_recipes.py fails when the committed files drift from this script's output).

    python scripts/export_recipe_data.py [--out recipes/data]
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from st_cookbook import load_labeled_pairs, load_labeled_sentences, load_positive_pairs, load_triplets

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "recipes" / "data"
SPLITS = ("train", "test")


def _labeled_pairs(split: str) -> tuple[list[str], list[list]]:
    pairs = load_labeled_pairs(split, "graded")
    rows = [[row["sentence1"], row["sentence2"], float(row["label"])] for row in pairs]
    return ["sentence1", "sentence2", "score"], rows


def _positive_pairs(split: str) -> tuple[list[str], list[list]]:
    pairs = load_positive_pairs(split, "answer")
    return ["anchor", "positive"], [[row["anchor"], row["positive"]] for row in pairs]


def _labeled_sentences(split: str) -> tuple[list[str], list[list]]:
    sentences = load_labeled_sentences(split, "intent")
    names = sentences.features["label"].names
    return ["text", "label"], [[row["sentence"], names[row["label"]]] for row in sentences]


def _triplets(split: str) -> tuple[list[str], list[list]]:
    triplets = load_triplets(split)
    return ["anchor", "positive", "negative"], [[row["anchor"], row["positive"], row["negative"]] for row in triplets]


SHAPES = {
    "labeled_pairs": _labeled_pairs,
    "positive_pairs": _positive_pairs,
    "labeled_sentences": _labeled_sentences,
    "triplets": _triplets,
}


def build_files() -> dict[str, str]:
    """File name -> CSV text, for every shape and split."""
    files = {}
    for shape, build in SHAPES.items():
        for split in SPLITS:
            header, rows = build(split)
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            files[f"{shape}_{split}.csv"] = text.getvalue()
    return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write the CSV files into")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    for name, text in build_files().items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name} ({text.count(chr(10)) - 1} rows)")


if __name__ == "__main__":
    main()
