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

import io
import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from datasets import ClassLabel  # noqa: E402

import recipe_io  # noqa: E402
from recipe_io import RecipeError  # noqa: E402

# sentence-transformers, scikit-learn and umap (which compiles with numba on first use) take seconds
# to import: the functions that need them import them, once the input has passed its checks.


@dataclass
class Options:
    model: str = field(
        default="all-MiniLM-L6-v2",
        metadata={"help": "Hub id or local folder of the model to draw (all-MiniLM-L6-v2: the bundled copy)."},
    )
    model_after: str | None = field(
        default=None,
        metadata={
            "help": "A second model, drawn beside the first: e.g. the folder a training recipe saved "
            "(models/train_labeled_sentences), for a before/after figure."
        },
    )
    data: str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
            "(without it: the bundled recipes/data/labeled_sentences_test.csv, labeled by intent)."
        },
    )
    split: str = field(default="test", metadata={"help": "Split of a Hub dataset to draw."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    text_column: str | None = field(default=None, metadata={"help": "Column holding the text."})
    label_column: str | None = field(
        default=None,
        metadata={"help": "Column holding the label the points are coloured by (without it: the column `label`)."},
    )
    output: str = field(default="umap.png", metadata={"help": "PNG file to write (its folder must exist)."})
    seed: int = field(default=42, metadata={"help": "UMAP random_state: the same seed draws the same map."})
    n_neighbors: int = field(
        default=15,
        metadata={
            "help": "UMAP n_neighbors: small values show local detail, large ones the overall "
            "layout (at most the number of texts - 1 is used)."
        },
    )
    min_dist: float = field(default=0.1, metadata={"help": "UMAP min_dist, 0 to 1: how tightly points may pack."})
    max_labels: int = field(
        default=20, metadata={"help": "Most labels named in the legend (the most frequent; all are coloured)."}
    )
    batch_size: int = field(default=64, metadata={"help": "Texts per encoding batch."})
    device: str | None = field(
        default=None, metadata={"help": "cpu, cuda, cuda:1, mps, ... (without it: a GPU if there is one)."}
    )


def check_options(options: Options) -> None:
    if options.n_neighbors < 2:
        raise RecipeError(
            f"--n-neighbors {options.n_neighbors}: UMAP needs 2 or more. Fix: pass e.g. --n-neighbors 15."
        )
    if not 0 <= options.min_dist <= 1:
        raise RecipeError(
            f"--min-dist {options.min_dist:g}: expected 0 to 1 (UMAP's spread is 1). Fix: pass e.g. --min-dist 0.1."
        )
    for option, value, example in (("--max-labels", options.max_labels, 20), ("--batch-size", options.batch_size, 64)):
        if value < 1:
            raise RecipeError(f"{option} {value}: expected 1 or more. Fix: pass e.g. {option} {example}.")
    recipe_io.check_device(options.device)


def load_labeled_texts(options: Options) -> tuple[list[str], list, str]:
    """(texts, labels, where they come from); a Hub dataset's class ids become their names, for the legend."""
    source = options.data or str(recipe_io.BUNDLED_DATA / "labeled_sentences_test.csv")  # read like any file of yours
    dataset = recipe_io.load_table(source, options.split, options.subset)
    flags = {"text": options.text_column, "label": options.label_column}
    dataset = recipe_io.pick_columns(dataset, recipe_io.SHAPES["labeled-sentences"], flags, source)
    feature, labels = dataset.features["label"], dataset["label"]
    if isinstance(feature, ClassLabel):
        labels = feature.int2str(labels)
    elif feature.dtype.startswith("float"):  # whole numbers, as pick_columns checked
        labels = [int(label) for label in labels]
    if len(set(labels)) < 2:
        raise RecipeError(
            f"{source}: every row has the label {labels[0]!r}. Expected at least 2 different labels: "
            "the map colours texts by label, and the silhouette score compares labels. Fix: add texts "
            "of other labels, or pick another column with --label-column."
        )
    if len(set(labels)) == len(labels):
        raise RecipeError(
            f"{source}: each of the {len(labels)} texts has a label of its own. Expected at least one "
            "label shared by 2+ texts: the silhouette score compares texts of a label with the others. "
            "Fix: add texts per label, or pick another column with --label-column."
        )
    return dataset["text"], labels, source


def silhouette(embeddings: np.ndarray, labels: list) -> float:
    """Silhouette score by label with cosine distance, on the full embeddings: how much closer each
    text is to its own label than to the nearest other label, from -1 to 1."""
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(embeddings, [str(label) for label in labels], metric="cosine"))


def umap_2d(embeddings: np.ndarray, options: Options) -> np.ndarray:
    import umap

    with warnings.catch_warnings():
        # Tiny data: "n_neighbors is larger than the dataset size", "spectral initialisation failed" (UMAP
        # falls back to a seeded random start); neither changes what the map shows.
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(options.n_neighbors, len(embeddings) - 1),
            min_dist=options.min_dist,
            metric="cosine",
            random_state=options.seed,
            n_jobs=1,
        )  # a seed makes UMAP single-threaded anyway; saying so silences its warning
        return reducer.fit_transform(embeddings)


def label_colours(labels: list, seed: int) -> dict:
    """One colour per label, the same in every panel. Beyond 20 labels: evenly spaced hues in a
    seeded order, so labels with neighbouring names (often neighbouring meanings) differ."""
    names = sorted(set(labels), key=str)
    if len(names) <= 20:
        palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
        return {name: palette(n) for n, name in enumerate(names)}
    hues = matplotlib.colormaps["turbo"](np.linspace(0.03, 0.97, len(names)))
    return dict(zip(names, hues[np.random.default_rng(seed).permutation(len(names))]))


def draw(panels: list[tuple[str, float, np.ndarray]], labels: list, options: Options, source: str) -> bytes:
    """The figure as PNG bytes: one panel per model (name, silhouette, 2-D points), one shared legend."""
    colours, counts = label_colours(labels, options.seed), Counter(labels)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 6.0), squeeze=False)
    label_array = np.array([str(label) for label in labels])
    roles = ["before: ", "after: "] if len(panels) == 2 else [""]
    for ax, role, (name, score, points) in zip(axes[0], roles, panels):
        for label, colour in colours.items():
            mask = label_array == str(label)
            ax.scatter(points[mask, 0], points[mask, 1], s=14, color=colour, alpha=0.85, linewidths=0)
        ax.set_title(f"{role}{name}\nsilhouette by label (cosine): {score:.3f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    named = sorted(sorted(counts, key=str), key=lambda label: -counts[label])[: options.max_labels]
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colours[label], label=str(label))
        for label in sorted(named, key=str)
    ]
    if len(counts) > len(named):
        handles.append(plt.Line2D([], [], linestyle="", label=f"+{len(counts) - len(named)} more labels"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle(
        f"UMAP of {len(labels)} texts from {Path(source).name}, coloured by label ({len(counts)} labels)", fontsize=11
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    options = recipe_io.parse_options(Options, __doc__, argv)
    check_options(options)
    output = recipe_io.check_output(options.output, "umap.png", suffix=".png")

    # Bad data, or a model folder that is not there, stops here: before any model loads and anything is written.
    texts, labels, source = load_labeled_texts(options)
    models = {"--model": options.model, "--model-after": options.model_after}
    sources = {option: recipe_io.resolve_model(name, option) for option, name in models.items() if name}
    if sources.get("--model-after") == sources["--model"]:
        raise RecipeError(
            f"--model-after {options.model_after} is --model again; the two panels would be the same. "
            "Fix: pass the fine-tuned model as --model-after, e.g. models/train_labeled_sentences."
        )

    panels, silhouettes = [], {}
    for option in sources:
        model = recipe_io.load_model(models[option], options.device, option)
        embeddings = model.encode(texts, batch_size=options.batch_size, convert_to_numpy=True)
        # Measured on the full embeddings: the 2-D map is for looking, not for measuring.
        silhouettes[models[option]] = silhouette(embeddings, labels)
        panels.append((models[option], silhouettes[models[option]], umap_2d(embeddings, options)))
    recipe_io.write_whole(output, draw(panels, labels, options, source))
    print(
        json.dumps({"output": str(output), "silhouette": silhouettes, "rows": len(texts), "labels": len(set(labels))})
    )


if __name__ == "__main__":
    recipe_io.run(main)
