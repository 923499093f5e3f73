"""How many epochs should a recipe train by default? The study behind the recipes' budget rule.

Each training recipe runs on a small file made from the bundled training rows (about 98 of
them, 4 optimizer steps an epoch) for 1, 2, 4 and 8 epochs, and on all of them for 1, 2 and 4
(the labeled pairs, 1568 rows and 49 steps an epoch, for 1 and 2), and is scored on the corpus's
dev split (never the test split): the recipe's own main metric before and after training. The rule in
recipes/recipe_io.py (`default_budget`) is read off these rows. Resumable: each finished run is
one row of results/recipe_budget.csv, and a rerun skips the rows that are there.

    python scripts/recipe_budget.py [--seeds 1 2 3]     # `make budget`
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
OUT = ROOT / "results" / "recipe_budget.csv"
SHAPES = ("positive_pairs", "labeled_sentences", "triplets", "labeled_pairs")
EPOCHS = (1, 2, 4, 8)
FIELDS = ("shape", "data", "rows", "epochs", "steps", "seed", "metric", "before", "after", "gain", "seconds")


def load_recipe(shape: str):
    sys.path.insert(0, str(RECIPES))
    spec = importlib.util.spec_from_file_location(f"train_{shape}", RECIPES / f"train_{shape}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def write_files(folder: Path) -> dict[tuple[str, str], tuple[str, int]]:
    """(shape, data) -> (training file, rows); plus (shape, "dev") -> (dev file, rows)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from export_recipe_data import SHAPES as BUILDERS

    files = {}
    for shape, build in BUILDERS.items():
        header, train = build("train")
        _, dev = build("dev")
        # About 98 rows (4 steps an epoch at batch 32), as a small file of yours: every 4th row, or a seeded
        # sample of the labeled pairs, whose file cycles through its 4 scores (every 16th row would hold one).
        small = random.Random(0).sample(train, 98) if shape == "labeled_pairs" else train[:: len(train) // 98]
        for data, rows in (("bundled", train), ("small", small), ("dev", dev)):
            path = folder / f"{shape}_{data}.csv"
            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows(rows)
            files[shape, data] = (str(path), len(rows))
    return files


def done() -> set[tuple]:
    if not OUT.exists():
        return set()
    with open(OUT, encoding="utf-8", newline="") as handle:
        return {(r["shape"], r["data"], int(r["epochs"]), int(r["seed"])) for r in csv.DictReader(handle)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    seeds = parser.parse_args(argv).seeds
    folder = Path(tempfile.mkdtemp(prefix="recipe-budget-"))
    files = write_files(folder)
    finished = done()
    # All the bundled rows for up to 4 epochs (52 steps; the labeled pairs, 49 steps an epoch, up to 2).
    runs = [
        (shape, data, epochs, seed)
        for seed in seeds
        for shape in SHAPES
        for data in ("small", "bundled")
        for epochs in EPOCHS
        if data == "small" or epochs <= (2 if shape == "labeled_pairs" else 4)
        if (shape, data, epochs, seed) not in finished
    ]
    print(f"{len(runs)} runs to go ({len(finished)} done) -> {OUT.relative_to(ROOT)}", flush=True)
    OUT.parent.mkdir(exist_ok=True)
    for number, (shape, data, epochs, seed) in enumerate(runs, 1):
        train_file, rows = files[shape, data]
        argv = [
            "--train-data",
            train_file,
            "--eval-data",
            files[shape, "dev"][0],
            "--num_train_epochs",
            str(epochs),
            "--seed",
            str(seed),
            "--output_dir",
            str(folder / "model"),
            "--logging_steps",
            "1000",
        ]
        captured = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(captured):
            load_recipe(shape).main(argv)
        seconds = time.perf_counter() - start
        report = json.loads(captured.getvalue().strip().splitlines()[-1])
        metric = report["main_metric"]
        batch = 32
        row = {
            "shape": shape,
            "data": data,
            "rows": rows,
            "epochs": epochs,
            "steps": epochs * -(-rows // batch),
            "seed": seed,
            "metric": metric,
            "before": round(report["before"][metric], 4),
            "after": round(report["after"][metric], 4),
            "gain": round(report["after"][metric] - report["before"][metric], 4),
            "seconds": round(seconds, 1),
        }
        new = not OUT.exists()
        with open(OUT, "a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(
            f"[{number}/{len(runs)}] {shape} {data} ({rows} rows) {epochs} epochs: {metric} "
            f"{row['before']:.3f} -> {row['after']:.3f} ({row['gain']:+.3f}) in {seconds:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
