"""The forgetting study behind notebook 14 (part of `make experiments`): what fine-tuning on the
help desk costs the model elsewhere, and what each remedy keeps.

Every run fine-tunes all-MiniLM-L6-v2 on the 392 (question, answer) training pairs with
MultipleNegativesRankingLoss, batch 32, a constant learning rate and no warmup, and is scored on
the task (answer retrieval on dev, test and held-out intents, per question) and off the domain (the
cosine similarity of every pair of the package's general-domain probe, dev and test, and of the STS
Benchmark's test pairs where `load_stsb` finds them). One CSV row per evaluated model and seed in
results/forgetting.csv, with the per-question hits and per-pair similarities the notebook turns into
paired intervals.

The arms:
- `lr L, E epochs`: the learning rate L for 4 epochs (52 optimizer steps), scored after epochs 1, 2
  and 4 of the same run (with a constant rate, epoch 2 of a 4-epoch run is a 2-epoch run);
- remedies at the reference budget, 52 steps at learning rate REFERENCE_LR unless the arm says:
  `lower lr + early stopping` (REFERENCE_LR / 10, scored every epoch on a dev set that mixes the
  task and the probe, the best epoch kept), `+ general pairs` (the probe's training pairs with
  CoSENTLoss beside the answers, one multi-dataset run, same steps), `LoRA` (an adapter of rank 8
  on the attention, the base weights frozen; its learning rate 10x, as adapters need), and
  `interpolated w` (the reference run's weights averaged with the base model's,
  `SentenceTransformer.merge`, w of the fine-tuned model).

    python scripts/forgetting_study.py            # all arms, 5 seeds, 2 processes; resumable
    python scripts/forgetting_study.py --list     # the arms
    python scripts/forgetting_study.py --plots-only
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import experiments  # noqa: E402  (the studies' shared plumbing: environment, base model, CSV rows)

NAME = "forgetting"
NOTEBOOK = "14_keep_what_the_base_model_knew"
SEEDS = 5
BATCH = 32
EPOCHS = 4
STEPS = 52  # 4 epochs of the 392 pairs at batch 32
LEARNING_RATES = (1e-4, 3e-4, 1e-3)
REFERENCE_LR = 3e-4
LOWER_LR = 3e-5  # a tenth of the reference
LORA_LR = 3e-3  # ten times: adapters need a higher rate to move at all
CHECKPOINTS = (1, 2, 4)
INTERPOLATION = (0.5, 0.25)
BUDGET = (
    f"{STEPS} optimizer steps of {BATCH} pairs (4 epochs of the 392 question-answer pairs; the early-stopped arm "
    f"keeps its best epoch, the multi-dataset arm shares the steps with the general pairs), constant learning rate, "
    f"no warmup, MultipleNegativesRankingLoss"
)


@dataclass
class Run:
    """One training run and the rows (arms) it is scored as."""

    name: str
    rows: list[str]
    learning_rate: float = REFERENCE_LR
    kind: str = "plain"  # plain | early stopping | general pairs | lora
    args: dict = field(default_factory=dict)


def rate(learning_rate: float) -> str:
    """3e-4, not 0.0003: how the notebooks write learning rates."""
    return f"{learning_rate:.0e}".replace("e-0", "e-")


def runs() -> list[Run]:
    plan = [
        Run(
            f"lr {rate(lr)}",
            [f"lr {rate(lr)}, {epochs} epoch{'s' * (epochs > 1)}" for epochs in CHECKPOINTS]
            + ([f"interpolated {w:g}" for w in INTERPOLATION] if lr == REFERENCE_LR else []),
            learning_rate=lr,
        )
        for lr in LEARNING_RATES
    ]
    plan += [
        Run("lower lr + early stopping", ["lower lr + early stopping"], LOWER_LR, "early stopping"),
        Run("+ general pairs", ["+ general pairs"], REFERENCE_LR, "general pairs"),
        Run("LoRA", ["LoRA"], LORA_LR, "lora"),
    ]
    return plan


COLUMNS = [
    *experiments.META,
    "test_accuracy@1",
    "held_out_accuracy@1",
    "probe_dev_spearman",
    "probe_test_spearman",
    "stsb_test_spearman",
    "trainable_parameters",
    "test_hits",
    "held_out_hits",
    "probe_dev_scores",
    "probe_test_scores",
    "stsb_test_scores",
]


@cache
def off_domain_sets() -> dict:
    from st_cookbook import STSBenchmarkMissing, load_general_pairs, load_stsb

    sets = {"probe_dev": load_general_pairs("dev"), "probe_test": load_general_pairs("test")}
    try:
        sets["stsb_test"] = load_stsb("test")
    except STSBenchmarkMissing as missing:
        print(f"skipping the STS Benchmark: {missing}")
    return sets


def evaluate(model, off_domain: dict) -> dict:
    from scipy.stats import spearmanr

    from st_cookbook import pair_similarities, retrieval_outcomes

    row = {}
    for split in ("test", "held_out"):  # the dev split chooses inside the early-stopped run only
        hits = retrieval_outcomes(model, split)["hit@1"]
        row |= {f"{split}_accuracy@1": round(hits.mean(), 4), f"{split}_hits": experiments.bits(hits)}
    for name, pairs in off_domain.items():
        scores = pair_similarities(model, pairs)
        row |= {
            f"{name}_spearman": round(float(spearmanr(pairs["score"], scores)[0]), 4),
            f"{name}_scores": " ".join(f"{s:.4f}" for s in scores),
        }
    return row


def mixed_dev_evaluator():
    """Task and probe in one dev score: the mean of answer retrieval NDCG@10 (the retrieval evaluator's
    primary metric) and probe Spearman."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator

    from st_cookbook import load_general_pairs, support_retrieval_evaluator

    probe = load_general_pairs("dev")
    return SequentialEvaluator(
        [
            support_retrieval_evaluator("dev", accuracy_at_k=[1], precision_recall_at_k=[1], mrr_at_k=[10]),
            EmbeddingSimilarityEvaluator(probe["sentence1"], probe["sentence2"], probe["score"], name="probe-dev"),
        ],
        main_score_function=lambda scores: sum(scores) / len(scores),
    )


def train(run: Run, seed: int, checkpoint_rows) -> dict:
    """Train one run; `checkpoint_rows(model, epoch)` is called at each scored epoch. Returns the budget."""
    import copy

    import torch
    from datasets import DatasetDict
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss
    from transformers import EarlyStoppingCallback, TrainerCallback
    from transformers.trainer_callback import PrinterCallback

    from st_cookbook import load_general_pairs, load_positive_pairs, pick_precision, seed_everything

    seed_everything(seed)
    model = copy.deepcopy(experiments.base_model())
    train_dataset = load_positive_pairs("train", positive="answer")
    loss = MultipleNegativesRankingLoss(model)
    extra: dict = {}
    if run.kind == "general pairs":
        train_dataset = DatasetDict(
            {
                "answers": train_dataset,
                "general": load_general_pairs("train").select_columns(["sentence1", "sentence2", "score"]),
            }
        )
        loss = {"answers": loss, "general": CoSENTLoss(model)}
    if run.kind == "lora":
        from peft import LoraConfig, TaskType

        model.add_adapter(LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=8, lora_alpha=16, lora_dropout=0.1))
    if run.kind == "early stopping":
        extra = {
            "eval_strategy": "epoch",
            "save_strategy": "epoch",
            "load_best_model_at_end": True,
            "metric_for_best_model": "eval_sequential_score",
            "save_total_limit": 2,
        }

    clock = {"start": 0.0, "scoring": 0.0}

    class ScoreEpochs(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            clock["start"] = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            epoch = round(state.epoch)
            if run.kind == "plain" and epoch in CHECKPOINTS:
                started = time.perf_counter()
                training = started - clock["start"] - clock["scoring"]
                checkpoint_rows(model, epoch, state.global_step, training)
                clock["scoring"] += time.perf_counter() - started
                model.train()

    with tempfile.TemporaryDirectory() as output_dir:
        args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            seed=seed,
            max_steps=STEPS,
            per_device_train_batch_size=BATCH,
            learning_rate=run.learning_rate,
            lr_scheduler_type="constant",
            warmup_steps=0,
            batch_sampler="no_duplicates",
            save_strategy=extra.pop("save_strategy", "no"),
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
            **pick_precision(),
            **extra,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=train_dataset,
            loss=loss,
            evaluator=mixed_dev_evaluator() if run.kind == "early stopping" else None,
            callbacks=[ScoreEpochs()]
            + ([EarlyStoppingCallback(early_stopping_patience=1)] if run.kind == "early stopping" else []),
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        seconds = time.perf_counter() - clock["start"] - clock["scoring"]
        best_step = trainer.state.global_step
        if run.kind == "early stopping" and trainer.state.best_model_checkpoint:
            best_step = int(trainer.state.best_model_checkpoint.rsplit("-", 1)[1])
    if run.kind != "plain":
        checkpoint_rows(model, None, best_step, seconds)
    return {
        "train_seconds": round(seconds, 1),
        "steps_run": trainer.state.global_step,
    }


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def append(path: Path, row: dict) -> None:
    """One row, appended under a lock: the two worker processes share the CSV."""
    with open(path, "a", newline="", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        new = handle.tell() == 0
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({c: row.get(c, "") for c in COLUMNS})
        handle.flush()
        os.fsync(handle.fileno())
        fcntl.flock(handle, fcntl.LOCK_UN)


def pending(out: Path, seeds: int, chosen: list[Run]) -> list[tuple[Run | None, int]]:
    from st_cookbook.studies import BASELINE

    done = experiments.completed(out / f"{NAME}.csv")
    todo: list[tuple[Run | None, int]] = [] if (BASELINE, 0) in done else [(None, 0)]
    for seed in range(seeds):  # seed by seed: a partial study has every arm at equal seeds
        todo += [(run, seed) for run in chosen if any((row, seed) not in done for row in run.rows)]
    return todo


def do_run(run: Run | None, seed: int, out: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from st_cookbook.studies import BASELINE

    path = out / f"{NAME}.csv"
    done = experiments.completed(path)
    off_domain = off_domain_sets()
    base = experiments.base_model()
    common = {
        "study": NAME,
        "seed": seed,
        "budget": BUDGET,
        "batch_size": BATCH,
        "gradient_accumulation": 1,
        "load_average": round(os.getloadavg()[0], 2),
        **experiments.environment(),
    }
    if run is None:
        row = common | {"arm": BASELINE, "max_steps": 0, "examples_seen": 0, "trainable_parameters": 0}
        append(path, row | {"date": now()} | evaluate(base, off_domain))
        return

    def checkpoint_rows(model, epoch, steps, seconds):
        if epoch is not None:
            names = [name for name in run.rows if name.startswith(f"lr {rate(run.learning_rate)}, {epoch} epoch")]
        else:
            names = [name for name in run.rows if not name.startswith("interpolated")]
        for name in names:
            if (name, seed) in done:
                continue
            row = common | {
                "arm": name,
                "group": run.name,
                "learning_rate": run.learning_rate,
                "max_steps": steps,
                "epochs": round(steps / STEPS * EPOCHS, 2),
                "examples_seen": steps * BATCH,
                "train_seconds": round(seconds, 1),
                "trainable_parameters": trainable_parameters(model),
                "date": now(),
            }
            append(path, row | evaluate(model, off_domain))
        if epoch == EPOCHS:
            for weight in INTERPOLATION:
                name = f"interpolated {weight:g}"
                if name in run.rows and (name, seed) not in done:
                    merged = SentenceTransformer.merge([model, base], parameters={"weight": [weight, 1 - weight]})
                    row = common | {
                        "arm": name,
                        "group": run.name,
                        "learning_rate": run.learning_rate,
                        "max_steps": steps,
                        "epochs": EPOCHS,
                        "examples_seen": steps * BATCH,
                        "train_seconds": round(seconds, 1),
                        "trainable_parameters": trainable_parameters(model),
                        "date": now(),
                    }
                    append(path, row | evaluate(merged, off_domain))

    result = train(run, seed, checkpoint_rows)
    print(f"{run.name} seed {seed}: {result}", flush=True)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tradeoffs(runs, column: str) -> dict:
    """{arm: (test accuracy@1 gain, Spearman change on `column`)}, each over the off-the-shelf model."""
    from st_cookbook.studies import BASELINE, compare, compare_spearman

    arms = [arm for arm in dict.fromkeys(runs["arm"]) if arm != BASELINE]
    return {
        arm: (compare(runs, BASELINE, arm, "test_hits"), compare_spearman(runs, BASELINE, arm, column)) for arm in arms
    }


def draw_plot(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from st_cookbook import plot_tradeoff
    from st_cookbook.studies import load_study

    runs = load_study(NAME, folder=out)
    columns = [c for c in ("probe_test_scores", "stsb_test_scores") if runs[c].notna().all()]
    fig, axes = plt.subplots(1, len(columns), figsize=(7 * len(columns), 5), squeeze=False)
    for ax, column in zip(axes[0], columns):
        plot_tradeoff(
            tradeoffs(runs, column),
            ax=ax,
            title=f"{column.removesuffix('_test_scores')} test pairs",
            xlabel="test accuracy@1 minus off the shelf",
            ylabel="Spearman minus off the shelf",
        )
    fig.suptitle(f"{NAME}: {BUDGET}", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"drew {out / f'{NAME}.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds per arm (default {SEEDS})")
    parser.add_argument("--run", action="append", help="only this run (repeatable; see --list)")
    parser.add_argument("--out", type=Path, default=experiments.ROOT / "results")
    parser.add_argument("--workers", type=int, default=None, help="processes (default 2 on a CPU, 1 on a GPU)")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true", help="list the runs and the arms each is scored as")
    parser.add_argument("--plots-only", action="store_true", help="only redraw results/forgetting.png")
    args = parser.parse_args(argv)
    experiments.headless()
    chosen = [run for run in runs() if not args.run or run.name in args.run]
    if args.run and len(chosen) != len(set(args.run)):
        parser.error(f"unknown run; choose from {', '.join(run.name for run in runs())}")
    if args.list:
        for run in runs():
            print(f"{run.name} (learning rate {run.learning_rate:g}): {', '.join(run.rows)}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.plots_only:
        todo = pending(args.out, args.seeds, chosen)
        if args.worker is not None:
            for number, (run, seed) in enumerate(todo):
                if number % args.workers == args.worker:
                    do_run(run, seed, args.out)
            return 0
        workers = args.workers or experiments.default_workers()
        print(f"{len(todo)} runs to do in {workers} processes")
        if workers == 1:
            for run, seed in todo:
                do_run(run, seed, args.out)
        else:
            if todo and todo[0][0] is None:  # the baseline first, alone, so that workers do not both write it
                do_run(None, 0, args.out)
            threads = str(max(1, (os.cpu_count() or 1) // workers))
            command = [sys.executable, __file__, "--seeds", str(args.seeds), "--out", str(args.out)]
            command += [part for run in chosen for part in ("--run", run.name)] if args.run else []
            children = [
                subprocess.Popen(
                    [*command, "--workers", str(workers), "--worker", str(n)],
                    env={**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
                )
                for n in range(workers)
            ]
            if any(child.wait() for child in children):
                return 1
    draw_plot(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
