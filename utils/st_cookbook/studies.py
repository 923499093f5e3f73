"""Read the multi-seed studies of `make experiments` and summarise them with intervals.

Each study is one CSV under `results/` with one row per training run: the arm (the
setting compared), the seed, the budget, when and where it ran, the metrics, and the
per-question outcomes as strings of 0/1 (`test_hits`: did question n of the test
split retrieve its answer first?). Keeping the outcomes lets every comparison carry a
paired, intent-level bootstrap interval (see `uncertainty`) over seeds and questions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .uncertainty import Interval, bootstrap_mean, paired_bootstrap, paired_spearman, seed_spread

BASELINE = "off the shelf"
RESULTS_ENV = "COOKBOOK_RESULTS_DIR"
# Where the studies live: $COOKBOOK_RESULTS_DIR, else results/ of the repository this
# package was installed from (editable install), else results/ below the working directory.
_REPO_RESULTS = Path(__file__).resolve().parents[2] / "results"
RESULTS_URL = "https://raw.githubusercontent.com/st-cookbook/sentence-transformers-finetuning-cookbook/main/results/"


def results_dir() -> Path:
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    for candidate in (_REPO_RESULTS, Path.cwd() / "results", Path.cwd().parent / "results"):
        if candidate.is_dir():
            return candidate
    return _REPO_RESULTS


def load_study(name: str, folder: Path | str | None = None) -> pd.DataFrame:
    """One study's runs as a DataFrame, one row per run (see the module docstring).

    Looks in `folder`, else `results_dir()`; where the repository is not at hand (a
    notebook opened on its own in Colab), it reads the committed CSV from GitHub.
    """
    path = Path(folder or results_dir()) / f"{name}.csv"
    if path.is_file():
        return pd.read_csv(path, dtype={c: str for c in _outcome_columns(path.read_text(encoding="utf-8"))})
    if folder is None:
        import io
        import urllib.request

        try:
            with urllib.request.urlopen(RESULTS_URL + f"{name}.csv", timeout=20) as response:
                text = response.read().decode("utf-8")
            return pd.read_csv(io.StringIO(text), dtype={c: str for c in _outcome_columns(text)})
        except OSError:
            pass
    raise FileNotFoundError(
        f"No study {name!r} at {path}. Run it with `make experiments`, or point {RESULTS_ENV} at the results/ "
        "folder of a clone of the repository."
    )


def _outcome_columns(text: str) -> list[str]:
    """Per-question outcome columns (strings of 0/1 that must not be read as numbers)."""
    return [c for c in text.split("\n", 1)[0].split(",") if c.endswith("_hits")]


def outcomes(runs: pd.DataFrame, arm: str, column: str = "test_hits") -> np.ndarray:
    """Per-question outcomes of every run (seed) of one arm: an array of shape (runs, questions)."""
    strings = runs.loc[runs["arm"] == arm, column].dropna()
    if strings.empty:
        raise KeyError(f"No runs of arm {arm!r} with {column!r}; arms: {sorted(runs['arm'].unique())}")
    return np.array([[int(c) for c in s] for s in strings], dtype=float)


def split_of(column: str) -> str:
    """The corpus split a `<split>[@dim]_hits` or `<split>_triplet_hits` column was scored on."""
    return column.split("_hits")[0].split("@")[0].removesuffix("_triplet")


def question_groups(column: str) -> list[str]:
    """The intent of each question (or triplet) behind an outcome column, in its order."""
    from .corpus import load_support_corpus

    return load_support_corpus(split_of(column))["intent"]


def compare(runs: pd.DataFrame, before: str, after: str, column: str = "test_hits", **kwargs):
    """Interval of `after` minus `before` on one outcome column, over all their seeds."""
    return paired_bootstrap(
        outcomes(runs, before, column), outcomes(runs, after, column), question_groups(column), **kwargs
    )


def similarities(runs: pd.DataFrame, arm: str, column: str = "probe_test_scores") -> np.ndarray:
    """Per-pair similarities of every run (seed) of one arm, from a `<set>_scores` column (numbers
    separated by spaces): an array of shape (runs, pairs)."""
    strings = runs.loc[runs["arm"] == arm, column].dropna()
    if strings.empty:
        raise KeyError(f"No runs of arm {arm!r} with {column!r}; arms: {sorted(runs['arm'].unique())}")
    return np.array([s.split() for s in strings], dtype=float)


def gold_scores(column: str) -> list[float]:
    """The gold similarity of each pair behind a `probe_<split>_scores` or `stsb_<split>_scores` column."""
    from .probe import load_general_pairs, load_stsb

    source, split = column.removesuffix("_scores").split("_", 1)
    return (load_general_pairs(split) if source == "probe" else load_stsb(split))["score"]


def compare_spearman(runs: pd.DataFrame, before: str, after: str, column: str = "probe_test_scores") -> Interval:
    """Interval of `after`'s Spearman minus `before`'s on the same pairs, over all their seeds."""
    return paired_spearman(gold_scores(column), similarities(runs, before, column), similarities(runs, after, column))


def summarize(runs: pd.DataFrame, column: str = "test_hits", against: str = BASELINE, arms=None) -> pd.DataFrame:
    """One row per arm: seeds, the score's mean with its interval, its spread over seeds, and the
    difference from `against` with its paired interval and what that interval allows one to say."""
    groups = question_groups(column)
    reference = outcomes(runs, against, column)
    rows = []
    for arm in arms or list(dict.fromkeys(runs["arm"])):
        scores = outcomes(runs, arm, column)
        score = bootstrap_mean(scores, groups)
        spread = seed_spread(scores.mean(axis=1))
        row = {
            "arm": arm,
            "seeds": len(scores),
            "mean": score.estimate,
            "low": score.low,
            "high": score.high,
            "seed sd": spread.std,
        }
        if arm != against:
            delta = paired_bootstrap(reference, scores, groups)
            row |= {
                "difference": delta.estimate,
                "difference low": delta.low,
                "difference high": delta.high,
                "verdict": delta.verdict(f"above {against}", f"below {against}"),
            }
        rows.append(row)
    return pd.DataFrame(rows).set_index("arm")


def format_summary(summary: pd.DataFrame, against: str = BASELINE) -> str:
    """The summary as a text table, each number written with its interval."""
    width = max(len(arm) for arm in summary.index)
    lines = [f"{'':<{width}}  seeds  score [95% interval]    vs {against} [95% interval]"]
    for arm, row in summary.iterrows():
        line = f"{arm:<{width}}  {row['seeds']:>5}  {row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
        if isinstance(row.get("verdict"), str):
            line += f"  {row['difference']:+.3f} [{row['difference low']:+.3f}, {row['difference high']:+.3f}]  {row['verdict']}"
        lines.append(line)
    return "\n".join(lines)
