"""The two pictures every training notebook needs: loss curves and UMAP maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_loss_curves(log_history, ax=None, title: str = "Training loss"):
    """Plot training (and evaluation) loss against the step from `trainer.state.log_history`.

    Pass one log history, or a mapping {run name: log history} to compare runs on
    one set of axes. Returns the matplotlib Axes.
    """
    runs = log_history if isinstance(log_history, Mapping) else {"": log_history}
    ax = _axes(ax, (6, 3.5))
    plotted = False
    for name, history in runs.items():
        for key, style in (("loss", "-"), ("eval_loss", "--")):
            points = [(row["step"], row[key]) for row in history if key in row and "step" in row]
            if points:
                steps, values = zip(*points)
                label = " ".join(part for part in (name, "train" if key == "loss" else "eval") if part)
                ax.plot(steps, values, style, marker="o" if len(points) < 15 else None, ms=3, label=label)
                plotted = True
    if not plotted:
        raise ValueError(
            "No 'loss' entries with a 'step' in the log history: set logging_steps in the training "
            "arguments to fewer steps than the run has."
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def umap_2d(embeddings, seed: int = 42, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """2-D UMAP projection of embeddings with cosine distance, seeded so the picture repeats."""
    import umap

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric="cosine",
        random_state=seed,
        n_jobs=1,  # a seeded UMAP runs single-threaded; saying so avoids its warning
    )
    return reducer.fit_transform(np.asarray(embeddings))


def plot_umap(
    embeddings,
    labels: Sequence,
    ax=None,
    title: str | None = None,
    highlight: Sequence | None = None,
    seed: int = 42,
    legend: bool = True,
    coords=None,
):
    """Scatter a seeded 2-D UMAP of `embeddings`, one colour per label.

    `highlight`: labels drawn larger with a black edge (e.g. a few sibling
    intents), the rest faded. `coords`: a map from `umap_2d(embeddings)` to draw
    instead of computing one, so that several colourings share one layout.
    Returns the matplotlib Axes.
    """
    labels = list(labels)
    if len(labels) != len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings but {len(labels)} labels: give one label per embedding.")
    import matplotlib.pyplot as plt

    coords = umap_2d(embeddings, seed=seed) if coords is None else np.asarray(coords)
    if coords.shape != (len(labels), 2):
        raise ValueError(f"coords has shape {coords.shape}; expected ({len(labels)}, 2), one point per embedding.")
    ax = _axes(ax, (6, 5))
    names = sorted(set(labels), key=str)
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    highlight = set(highlight or ())
    for n, name in enumerate(names):
        mask = np.array([label == name for label in labels])
        strong = not highlight or name in highlight
        ax.scatter(
            coords[mask, 0],
            coords[mask, 1],
            s=40 if highlight and strong else 14,
            color=cmap(n % cmap.N),
            alpha=0.9 if strong else 0.25,
            edgecolors="black" if highlight and strong else "none",
            linewidths=0.6,
            label=str(name),
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=7, markerscale=1.2, loc="best", frameon=False, ncol=1 if len(names) <= 10 else 2)
    return ax


def plot_intervals(
    intervals: Mapping, ax=None, title: str | None = None, xlabel: str = "difference", reference: float = 0.0
):
    """A forest plot: one row per name, its estimate as a dot and its 95% interval as a line.

    `intervals`: {name: Interval} (from `paired_bootstrap` or `bootstrap_mean`). A dashed
    line marks `reference` (0 for differences): an interval that crosses it is not a
    difference this measurement can see. The axis is wide enough to show every interval
    whole, so small gaps are not blown up. Returns the matplotlib Axes.
    """
    names = list(intervals)
    ax = _axes(ax, (6.5, 0.45 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    for row, name in zip(y, names):
        interval = intervals[name]
        clear = interval.low > reference or interval.high < reference
        colour = "C0" if clear else "grey"
        ax.plot([interval.low, interval.high], [row, row], color=colour, lw=2)
        ax.plot(interval.estimate, row, "o", color=colour, ms=6)
    ax.axvline(reference, color="black", ls="--", lw=1)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_study(runs, columns: Sequence[str] = ("test_hits",), title: str | None = None, against: str | None = None):
    """One forest plot per outcome column of a study (`load_study`): every arm's difference from
    the off-the-shelf model over all its seeds, with its paired 95% interval. Returns the Figure."""
    import matplotlib.pyplot as plt

    from .studies import BASELINE, summarize
    from .uncertainty import Interval

    against = against or BASELINE
    arms = [arm for arm in dict.fromkeys(runs["arm"]) if arm != against]
    fig, axes = plt.subplots(
        1, len(columns), figsize=(5.2 * len(columns) + 2.5, 0.42 * len(arms) + 1.6), sharey=True, squeeze=False
    )
    for ax, column in zip(axes[0], columns):
        summary = summarize(runs, column, against=against)
        intervals = {
            arm: Interval(
                summary.loc[arm, "difference"], summary.loc[arm, "difference low"], summary.loc[arm, "difference high"]
            )
            for arm in arms
        }
        base = summary.loc[against, "mean"]
        plot_intervals(
            intervals,
            ax=ax,
            title=f"{column.removesuffix('_hits')} ({against} {base:.3f})",
            xlabel=f"difference from {against}",
        )
        ax.label_outer()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_tradeoff(
    points: Mapping,
    ax=None,
    title: str | None = None,
    xlabel: str = "task gain",
    ylabel: str = "change elsewhere",
):
    """Two differences per setting, one against the other: `points` is {name: (x Interval, y
    Interval)}, e.g. the gain on the task and the change on an off-domain probe, each with its
    95% interval drawn as a cross. Dashed lines mark zero; the good corner is right and up (or
    right and level). Returns the matplotlib Axes."""
    ax = _axes(ax, (6.5, 4.5))
    for number, (name, (x, y)) in enumerate(points.items()):
        colour = f"C{number % 10}"
        ax.errorbar(
            x.estimate,
            y.estimate,
            xerr=[[x.estimate - x.low], [x.high - x.estimate]],
            yerr=[[y.estimate - y.low], [y.high - y.estimate]],
            fmt="o",
            color=colour,
            capsize=3,
            label=name,
        )
    ax.axhline(0, color="black", ls="--", lw=1)
    ax.axvline(0, color="black", ls="--", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
