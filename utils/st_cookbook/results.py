"""Print a notebook's measured numbers, and hand them to `make run`'s summary."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

RESULTS_FILE_ENV = "COOKBOOK_RESULTS_FILE"
NOTEBOOK_ENV = "COOKBOOK_NOTEBOOK"


def report_metrics(title: str, metrics: Mapping[str, float], digits: int = 4, show: bool = True) -> None:
    """Print `metrics` as an aligned two-column table under `title` (unless `show=False`,
    for numbers a notebook has already shown in a table of its own).

    When the notebook runs under `make run`, the same numbers are also appended to
    the results file that the run summarises (one JSON object per line).
    """
    # numpy and torch scalars (a silhouette score, a tensor's .mean()) become plain numbers.
    metrics = {name: value.item() if hasattr(value, "item") else value for name, value in metrics.items()}
    if show:
        width = max(len(name) for name in metrics)
        print(title)
        for name, value in metrics.items():
            shown = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
            print(f"  {name:<{width}}  {shown}")
    path = os.environ.get(RESULTS_FILE_ENV)
    if path:
        record = {
            "notebook": os.environ.get(NOTEBOOK_ENV, ""),
            "title": title,
            "metrics": {k: (round(v, digits) if isinstance(v, float) else v) for k, v in metrics.items()},
        }
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
