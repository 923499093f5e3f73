"""Load a user's dataset from the Hub or from a local file into a `datasets.Dataset`."""

from __future__ import annotations

import csv
from pathlib import Path

from datasets import Dataset, load_dataset

from .validation import DatasetFormatError

# suffix -> (datasets builder, builder options)
LOCAL_FORMATS = {
    ".csv": ("csv", {}),
    # Tabs separate the fields; quotes inside sentences are text, not CSV quoting
    # (with quoting on, a stray quote silently merges rows).
    ".tsv": ("csv", {"delimiter": "\t", "quoting": csv.QUOTE_NONE}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}


def _looks_local(source: str) -> bool:
    return Path(source).suffix.lower() in LOCAL_FORMATS or source.startswith((".", "/", "~")) or Path(source).exists()


def _count_lines(path: Path, enough: int = 2) -> int:
    count = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            count += bool(line.strip())
            if count >= enough:
                break
    return count


def load_user_dataset(source: str | Path, split: str = "train", subset: str | None = None) -> Dataset:
    """A Dataset from a local .csv/.tsv/.json/.jsonl/.parquet file (header row
    required for CSV/TSV) or from a Hub dataset id (`split` and `subset` apply
    there). Raises DatasetFormatError, saying what to do, for a missing,
    unsupported, unreadable or empty source.
    """
    source = str(source)
    if _looks_local(source):
        path = Path(source).expanduser()
        suffix = path.suffix.lower()
        if suffix not in LOCAL_FORMATS:
            raise DatasetFormatError(
                f"{source}: unsupported file type {suffix or '(none)'!r}. "
                f"Use one of {', '.join(LOCAL_FORMATS)}, or a Hub dataset id such as sentence-transformers/stsb."
            )
        if not path.is_file():
            raise DatasetFormatError(
                f"{source}: no such file. Check the path (relative paths start from {Path.cwd()})."
            )
        if path.stat().st_size == 0:
            raise DatasetFormatError(f"{source}: the file is empty. Expected a header row and at least one data row.")
        builder, options = LOCAL_FORMATS[suffix]
        if builder == "csv" and _count_lines(path) < 2:
            raise DatasetFormatError(f"{source}: no data rows. Expected a header row and at least one row under it.")
        try:
            dataset = load_dataset(builder, data_files=str(path), split="train", **options)
        except Exception as error:  # the builders raise many types; all mean "cannot parse"
            raise DatasetFormatError(
                f"{source}: could not be read as {suffix[1:].upper()} ({type(error).__name__}: {error}). "
                f"Check that it is valid {suffix[1:].upper()}" + (" with a header row." if builder == "csv" else ".")
            ) from None
    else:
        try:
            dataset = load_dataset(source, subset, split=split)
        except Exception as error:
            raise DatasetFormatError(
                f"{source!r} is not a local file and could not be loaded from the Hugging Face Hub "
                f"({type(error).__name__}: {error}). Check the id, split ({split!r}) and subset, and that the Hub "
                "is reachable (HF_HUB_OFFLINE=1 turns it off)."
            ) from None
    if dataset.num_rows == 0:
        raise DatasetFormatError(f"{source}: no data rows. Expected at least one row under the header.")
    return dataset
