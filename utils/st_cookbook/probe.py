"""General-domain sentence pairs with graded similarity: the off-domain probe and the STS Benchmark.

Fine-tuning on the help desk teaches a model what matters in questions about a
thermostat; it can also make it forget what it knew about everyday English
(catastrophic forgetting). Measuring that needs sentence pairs from outside the
domain, scored by people: the STS Benchmark is the public yardstick, but it is not
bundled (it lives beside the repository and is absent in CI and Colab), so the
package ships a small private one of its own.

The off-domain probe is 360 original pairs (24 everyday themes, 15 pairs each)
scored on the STS 0-5 scale (data/probe/PROBE.md says how they were written and
scored). Its splits go by theme: a seeded shuffle of the sorted theme names gives
8 themes to `train`, 4 to `dev` and 12 to `test`, so a model trained on probe pairs
is never tested on a theme it has seen.

Both loaders return columns `sentence1`, `sentence2` and `score` in [0, 1] (the 0-5
score divided by 5), the form CoSENTLoss, CosineSimilarityLoss and
EmbeddingSimilarityEvaluator take.
"""

from __future__ import annotations

import csv
import json
import os
import random
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from datasets import Dataset, Features, Value

PROBE_SPLITS = ("train", "dev", "test", "all")
THEMES_PER_SPLIT = {"train": 8, "dev": 4, "test": 12}
PROBE_SEED = 13
MAX_SCORE = 5.0

STSB_FILES = {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"}
# The reference data sits beside the repository (../shared/data/stsbenchmark); the
# package is installed from the repository in editable mode, so its root is two
# folders above this file.
DEFAULT_STSB_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stsbenchmark"

ProbeSplit = Literal["train", "dev", "test", "all"]
StsbSplit = Literal["train", "dev", "test"]


class STSBenchmarkMissing(FileNotFoundError):
    """The STS Benchmark files are not where the loader looked (a fresh clone, CI, Colab)."""


@lru_cache(maxsize=1)
def _read_probe() -> dict:
    path = resources.files("st_cookbook") / "data" / "probe" / "general_pairs.json"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def probe_themes(split: ProbeSplit = "test") -> tuple[str, ...]:
    """The themes whose pairs form `split`, sorted: the sorted theme names, shuffled with
    PROBE_SEED, give the first 8 to train, the next 4 to dev and the last 12 to test."""
    if split not in PROBE_SPLITS:
        raise ValueError(f"Unknown split {split!r}: choose one of {', '.join(PROBE_SPLITS)}.")
    order = sorted({pair["theme"] for pair in _read_probe()["pairs"]})
    if split == "all":
        return tuple(order)
    random.Random(PROBE_SEED).shuffle(order)
    names = list(THEMES_PER_SPLIT)
    start = sum(THEMES_PER_SPLIT[s] for s in names[: names.index(split)])
    return tuple(sorted(order[start : start + THEMES_PER_SPLIT[split]]))


def load_general_pairs(split: ProbeSplit = "test") -> Dataset:
    """The off-domain probe's pairs of one split (`all`: every pair): columns
    `sentence1`, `sentence2`, `score` (0-5 divided by 5, in [0, 1]) and `theme`."""
    themes = set(probe_themes(split))
    pairs = [pair for pair in _read_probe()["pairs"] if pair["theme"] in themes]
    features = Features(
        {
            "sentence1": Value("string"),
            "sentence2": Value("string"),
            "score": Value("float64"),
            "theme": Value("string"),
        }
    )
    return Dataset.from_dict(
        {
            "sentence1": [p["sentence1"] for p in pairs],
            "sentence2": [p["sentence2"] for p in pairs],
            "score": [p["score"] / MAX_SCORE for p in pairs],
            "theme": [p["theme"] for p in pairs],
        },
        features=features,
    )


def stsb_folder(folder: str | os.PathLike | None = None) -> Path:
    """Where the STS Benchmark is read from: `folder`, else $STSB_DIR, else
    ../shared/data/stsbenchmark beside the repository."""
    if folder is not None:
        return Path(folder)
    return Path(os.environ.get("STSB_DIR") or DEFAULT_STSB_DIR)


def load_stsb(split: StsbSplit = "test", folder: str | os.PathLike | None = None) -> Dataset:
    """One split of the STS Benchmark: columns `sentence1`, `sentence2`, `score`
    (0-5 divided by 5, in [0, 1]).

    The files are tab-separated without a header, and their double quotes are text,
    not CSV quoting: read with quoting on, a stray quote swallows the following rows
    without an error. Some rows carry extra trailing columns, which are ignored.
    Raises STSBenchmarkMissing, saying where it looked and how to point it elsewhere,
    when the file is absent.
    """
    if split not in STSB_FILES:
        raise ValueError(f"Unknown split {split!r}: choose one of {', '.join(STSB_FILES)}.")
    path = stsb_folder(folder) / STSB_FILES[split]
    if not path.is_file():
        if folder is not None:
            source = "the folder argument"
        elif os.environ.get("STSB_DIR"):
            source = "$STSB_DIR"
        else:
            source = "the default, ../shared/data/stsbenchmark beside the repository"
        raise STSBenchmarkMissing(
            f"STS Benchmark not found: no {path} (from {source}). Fix: set STSB_DIR to the folder that holds "
            f"{', '.join(STSB_FILES.values())}, or pass load_stsb(folder=...)."
        )
    sentence1, sentence2, scores = [], [], []
    with open(path, encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            sentence1.append(fields[5])
            sentence2.append(fields[6])
            scores.append(float(fields[4]) / MAX_SCORE)
    features = Features({"sentence1": Value("string"), "sentence2": Value("string"), "score": Value("float64")})
    return Dataset.from_dict({"sentence1": sentence1, "sentence2": sentence2, "score": scores}, features=features)
