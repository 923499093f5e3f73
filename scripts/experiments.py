"""The cookbook's multi-seed studies: `make experiments`.

Each study trains all-MiniLM-L6-v2 once per arm (the setting compared) and seed, at one
budget stated in optimizer steps or examples seen, scores every run on the same
held-out questions, and appends one row per run to results/<study>.csv: the arm, the
seed, the budget, the date, the machine, the library versions and the commit, the
metrics, and the per-question outcomes that the notebooks turn into intervals. A plot
per study is drawn from the CSV into results/<study>.png.

    python scripts/experiments.py                        # every study, 5 seeds (about 2¼ hours on 2 CPU cores, in 2 processes)
    python scripts/experiments.py --study hard_negatives # one study (--arm NAME: one arm of it)
    python scripts/experiments.py --plots-only           # redraw the plots from the CSVs
    EXPERIMENTS_SCALE=8 python scripts/experiments.py    # 8x the steps and examples (a GPU), into results/scale-8/

Resumable: a finished run is a row in its CSV and is never repeated, so an interrupted
run goes on where it stopped. Delete a CSV to rerun its study.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 5


@dataclass
class Arm:
    """One setting of a study: its training data, loss and arguments."""

    name: str
    data: Callable[[], object]  # a Dataset, or a dict of them
    loss: Callable[[object], object]  # model -> loss
    rows_cost: float  # estimated seconds per training row on the 2-core CPU, for the progress bar's ETA
    batch_size: int = 16
    steps: int | None = None  # optimizer steps; None: `epochs` over the data
    epochs: float = 1.0
    learning_rate: float = 1e-4
    sampler: str = "no_duplicates"
    args: dict = field(default_factory=dict)  # any other SentenceTransformerTrainingArguments field
    group: str = ""
    build: Callable[[], object] | None = None  # the model to train; None: a copy of the base model


@dataclass
class Study:
    name: str
    notebook: str
    budget: str  # in words: what is held equal across arms
    arms: list[Arm]
    splits: tuple[str, ...] = ("test", "held_out")
    triplets: bool = False
    dims: tuple[int, ...] = ()


# Data ---------------------------------------------------------------------------------


@cache
def base_model():
    from sentence_transformers import SentenceTransformer

    from st_cookbook import DEFAULT_MODEL, register_bundled_model

    register_bundled_model()
    return SentenceTransformer(DEFAULT_MODEL)


@cache
def answer_pairs():
    from st_cookbook import load_positive_pairs

    return load_positive_pairs("train", positive="answer")


@cache
def paraphrase_pairs():
    from st_cookbook import load_positive_pairs

    return load_positive_pairs("train", positive="paraphrase")


@cache
def with_negatives(kind: str):
    """The answer pairs with a third column: a random other answer, or one mined with the base model."""
    from sentence_transformers.util import mine_hard_negatives

    from st_cookbook import load_intents

    pairs = answer_pairs()
    if kind == "random":
        answers = sorted({intent.answer for intent in load_intents()} & set(pairs["positive"]))
        rng = random.Random(0)
        return pairs.add_column("negative", [rng.choice([a for a in answers if a != p]) for p in pairs["positive"]])
    margin = {"mined": None, "mined, margin": 0.05}[kind]
    return mine_hard_negatives(
        pairs, base_model(), num_negatives=1, sampling_strategy="top", relative_margin=margin, verbose=False
    )


def shaped(name: str):
    from st_cookbook import load_labeled_pairs, load_labeled_sentences, load_triplets

    return {
        "pairs, 0/1 label": lambda: load_labeled_pairs("train", "binary"),
        "pairs, graded label": lambda: load_labeled_pairs("train", "graded"),
        "positive pairs": answer_pairs,
        "labeled sentences": lambda: load_labeled_sentences("train", label="intent"),
        "triplets": lambda: load_triplets("train"),
    }[name]


# Notebook 10's datasets, built as its cells build them (section 3-6): no intent labels except the
# 56 labeled pairs. Kept in step with the notebook by tests/test_studies.py.
SYNONYMS = {  # words that never decide the intent in this help desk
    "thermostat": ["device"],
    "app": ["application"],
    "phone": ["mobile"],
    "house": ["home"],
    "home": ["house"],
    "heating": ["heat"],
    "temperature": ["temp"],
    "wifi": ["wireless"],
    "wi-fi": ["wireless"],
    "router": ["modem"],
    "email": ["e-mail"],
    "subscription": ["plan"],
    "bought": ["purchased"],
    "screen": ["display"],
    "display": ["screen"],
    "problem": ["issue"],
    "won't": ["will not"],
    "can't": ["cannot"],
    "doesn't": ["does not"],
    "wife": ["partner"],
    "husband": ["partner"],
    "see": ["view"],
    "how": ["in what way"],
    "want": ["would like"],
    "need": ["want"],
    "help": ["assist"],
    "get": ["receive"],
    "fix": ["solve"],
    "broken": ["faulty"],
    "package": ["parcel"],
}


def augment(question, rng, word_dropout=0.1, swap=0.5):
    words = []
    for word in question.split():
        bare = word.lower().strip(".,?!")
        if bare in SYNONYMS and rng.random() < swap:
            word = word.lower().replace(bare, rng.choice(SYNONYMS[bare]))
        elif rng.random() < word_dropout:
            continue
        words.append(word)
    return " ".join(words) or question


@cache
def little_data(kind: str):
    import re

    from datasets import Dataset

    from st_cookbook import load_intents, load_support_corpus

    questions = load_support_corpus("train")["question"]
    if kind == "document pairs (ICT)":
        anchors, positives = [], []
        for document in [intent.answer for intent in load_intents() if not intent.held_out]:
            sentences = re.split(r"(?<=[.!?])\s+", document.strip())
            for i, sentence in enumerate(sentences):
                anchors.append(sentence)
                positives.append(" ".join(sentences[:i] + sentences[i + 1 :]))
        return Dataset.from_dict({"anchor": anchors, "positive": positives})
    if kind == "augmented questions":
        rng = random.Random(42)
        return Dataset.from_dict({"anchor": questions, "positive": [augment(q, rng) for q in questions]})
    if kind == "SimCSE":
        return Dataset.from_dict({"anchor": questions, "positive": questions})
    intent_of_question = load_support_corpus("train")["intent"]
    answer_of = {intent.name: intent.answer for intent in load_intents()}
    first_rows = [intent_of_question.index(intent) for intent in dict.fromkeys(intent_of_question)]
    return Dataset.from_dict(
        {
            "anchor": [questions[row] for row in first_rows],
            "positive": [answer_of[intent_of_question[row]] for row in first_rows],
        }
    )


LITTLE_DATA = ["document pairs (ICT)", "augmented questions", "SimCSE", "56 labeled questions"]


# Studies ------------------------------------------------------------------------------


def studies() -> list[Study]:
    from sentence_transformers.sentence_transformer import losses

    cosine = losses.SiameseDistanceMetric.COSINE_DISTANCE
    batch_cosine = losses.BatchHardTripletLossDistanceFunction.cosine_distance
    mnrl = losses.MultipleNegativesRankingLoss

    def softmax(model):
        return losses.SoftmaxLoss(
            model,
            model.get_embedding_dimension(),
            num_labels=2,
            concatenation_sent_rep=False,
            concatenation_sent_difference=True,
            concatenation_sent_multiplication=True,
        )

    pairs_cost, short_cost, single_cost, triplet_cost = 0.066, 0.031, 0.018, 0.047
    contenders = [
        (
            "ContrastiveLoss",
            "pairs, 0/1 label",
            lambda m: losses.ContrastiveLoss(m, distance_metric=cosine, margin=1.0),
            "batch_sampler",
            short_cost,
        ),
        (
            "OnlineContrastiveLoss",
            "pairs, 0/1 label",
            lambda m: losses.OnlineContrastiveLoss(m, distance_metric=cosine, margin=1.0),
            "batch_sampler",
            short_cost,
        ),
        ("SoftmaxLoss", "pairs, 0/1 label", softmax, "batch_sampler", short_cost),
        (
            "CosineSimilarityLoss",
            "pairs, graded label",
            lambda m: losses.CosineSimilarityLoss(m),
            "batch_sampler",
            short_cost,
        ),
        ("CoSENTLoss", "pairs, graded label", lambda m: losses.CoSENTLoss(m), "batch_sampler", short_cost),
        ("AnglELoss", "pairs, graded label", lambda m: losses.AnglELoss(m), "batch_sampler", short_cost),
        ("MultipleNegativesRankingLoss", "positive pairs", lambda m: mnrl(m), "no_duplicates", pairs_cost),
        (
            "CachedMultipleNegativesRankingLoss",
            "positive pairs",
            lambda m: losses.CachedMultipleNegativesRankingLoss(m, mini_batch_size=8),
            "no_duplicates",
            1.35 * pairs_cost,
        ),
        (
            "MegaBatchMarginLoss",
            "positive pairs",
            lambda m: losses.MegaBatchMarginLoss(m, use_mini_batched_version=False),
            "no_duplicates",
            pairs_cost,
        ),
        (
            "BatchAllTripletLoss",
            "labeled sentences",
            lambda m: losses.BatchAllTripletLoss(m, distance_metric=batch_cosine, margin=0.2),
            "group_by_label",
            single_cost,
        ),
        (
            "BatchHardTripletLoss",
            "labeled sentences",
            lambda m: losses.BatchHardTripletLoss(m, distance_metric=batch_cosine, margin=0.2),
            "group_by_label",
            single_cost,
        ),
        (
            "BatchSemiHardTripletLoss",
            "labeled sentences",
            lambda m: losses.BatchSemiHardTripletLoss(m, distance_metric=batch_cosine, margin=0.2),
            "group_by_label",
            single_cost,
        ),
        (
            "BatchHardSoftMarginTripletLoss",
            "labeled sentences",
            lambda m: losses.BatchHardSoftMarginTripletLoss(m, distance_metric=batch_cosine),
            "group_by_label",
            single_cost,
        ),
        (
            "TripletLoss",
            "triplets",
            lambda m: losses.TripletLoss(m, distance_metric=losses.TripletDistanceMetric.COSINE, triplet_margin=0.3),
            "batch_sampler",
            triplet_cost,
        ),
        ("MNRL + hard negative", "triplets", lambda m: mnrl(m), "no_duplicates", triplet_cost),
    ]
    leaderboard = Study(
        name="loss_leaderboard",
        notebook="08_loss_leaderboard",
        budget="40 optimizer steps of 16 rows for every loss (equal steps and rows; a row is 1-3 texts by shape), learning rate 1e-4, no warmup",
        arms=[
            Arm(
                name,
                shaped(shape),
                make,
                cost,
                steps=40,
                sampler=sampler,
                group=shape,
                args={"learning_rate_mapping": {r"^classifier\.": 1e-3}} if name == "SoftmaxLoss" else {},
            )
            for name, shape, make, sampler, cost in contenders
        ],
        triplets=True,
    )

    def cmnrl(m):
        return losses.CachedMultipleNegativesRankingLoss(m, mini_batch_size=8)

    batch = Study(
        name="batch_size_and_scale",
        notebook="02_positive_pairs",
        budget="1 epoch of the 392 question-answer pairs for every arm (equal examples seen; a bigger batch takes fewer steps), MultipleNegativesRankingLoss, learning rate 1e-4, no warmup",
        arms=[
            Arm(f"batch {size}", answer_pairs, lambda m: mnrl(m), pairs_cost, batch_size=size, group="batch size")
            for size in (8, 16, 32, 56)
        ]
        + [
            Arm(
                f"scale {scale}, batch 32",
                answer_pairs,
                lambda m, s=scale: mnrl(m, scale=s),
                pairs_cost,
                batch_size=32,
                group="scale",
            )
            for scale in (5, 50)
        ]
        + [
            Arm(
                "batch 8 x 4 accumulation steps",
                answer_pairs,
                lambda m: mnrl(m),
                pairs_cost,
                batch_size=8,
                args={"gradient_accumulation_steps": 4},
                group="32 pairs per optimizer step",
            ),
            Arm(
                "CMNRL batch 32, mini-batch 8",
                answer_pairs,
                cmnrl,
                1.35 * pairs_cost,
                batch_size=32,
                group="32 pairs per optimizer step",
            ),
        ],
    )

    negatives = Study(
        name="hard_negatives",
        notebook="09_hard_negatives",
        budget="13 optimizer steps of 32 rows for every arm (equal steps; about one epoch of the 392 question-answer pairs), MultipleNegativesRankingLoss, learning rate 1e-4, no warmup",
        arms=[
            Arm("in-batch negatives only", answer_pairs, lambda m: mnrl(m), pairs_cost, batch_size=32, steps=13),
            *(
                Arm(
                    name,
                    lambda kind=kind: with_negatives(kind),
                    lambda m: mnrl(m),
                    1.6 * pairs_cost,
                    batch_size=32,
                    steps=13,
                )
                for name, kind in {
                    "+ random negative": "random",
                    "+ mined negative": "mined",
                    "+ mined negative, relative_margin=0.05": "mined, margin",
                }.items()
            ),
        ],
    )

    from st_cookbook import load_triplets

    def gist(m):
        return losses.GISTEmbedLoss(m, guide=base_model())

    triplets = Study(
        name="triplet_false_negatives",
        notebook="06_triplets",
        budget="25 optimizer steps of 16 triplets (about one epoch of the 392 training triplets), learning rate 1e-4, no warmup",
        arms=[
            Arm(
                "MNRL, (anchor, positive) only",
                lambda: load_triplets("train").select_columns(["anchor", "positive"]),
                lambda m: mnrl(m),
                short_cost,
                steps=25,
            ),
            Arm("MNRL + hard negative", lambda: load_triplets("train"), lambda m: mnrl(m), triplet_cost, steps=25),
            Arm(
                "GISTEmbedLoss, base model as guide", lambda: load_triplets("train"), gist, 1.4 * triplet_cost, steps=25
            ),
            Arm(
                "TripletLoss (cosine, margin 0.3)",
                lambda: load_triplets("train"),
                lambda m: losses.TripletLoss(
                    m, distance_metric=losses.TripletDistanceMetric.COSINE, triplet_margin=0.3
                ),
                triplet_cost,
                steps=25,
                sampler="batch_sampler",
            ),
        ],
        triplets=True,
    )

    def knob(name, **kwargs):
        lr = kwargs.pop("learning_rate", 1e-4)
        return Arm(
            name,
            answer_pairs,
            lambda m: mnrl(m),
            pairs_cost,
            batch_size=32,
            learning_rate=lr,
            args=kwargs,
            group="learning rate" if name.startswith("learning rate") else "at learning rate 1e-4",
        )

    knobs = Study(
        name="hyperparameters",
        notebook="11_hyperparameters_and_training_hygiene",
        budget="1 epoch of the 392 question-answer pairs at batch 32 (13 optimizer steps) for every arm, MultipleNegativesRankingLoss; unless the arm says otherwise: learning rate 1e-4, weight decay 0.01, gradient clipping at 1.0, no warmup",
        arms=[knob(f"learning rate {lr:g}", learning_rate=lr) for lr in (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)]
        + [
            knob("weight decay 0.1", weight_decay=0.1),
            knob("no gradient clipping", max_grad_norm=0.0),
            knob("warmup 3 steps", warmup_steps=3),
        ],
        splits=("dev", "test", "held_out"),
    )

    def mixed():
        return {"answer": answer_pairs(), "paraphrase": paraphrase_pairs()}

    def matryoshka(m):
        return losses.MatryoshkaLoss(m, mnrl(m), matryoshka_dims=[384, 256, 128, 64, 32])

    mixing = Study(
        name="multi_dataset_matryoshka",
        notebook="12_multi_dataset_and_matryoshka",
        budget="25 optimizer steps of 16 pairs for every arm (equal steps and examples seen), MultipleNegativesRankingLoss, learning rate 1e-4, no warmup",
        arms=[
            Arm("question-answer pairs", answer_pairs, lambda m: mnrl(m), pairs_cost, steps=25),
            Arm(
                "+ paraphrase pairs, ROUND_ROBIN",
                mixed,
                lambda m: mnrl(m),
                0.7 * pairs_cost,
                steps=25,
                args={"multi_dataset_batch_sampler": "round_robin"},
            ),
            Arm(
                "+ paraphrase pairs, PROPORTIONAL",
                mixed,
                lambda m: mnrl(m),
                0.7 * pairs_cost,
                steps=25,
                args={"multi_dataset_batch_sampler": "proportional"},
            ),
            Arm("MatryoshkaLoss on question-answer pairs", answer_pairs, matryoshka, 1.1 * pairs_cost, steps=25),
        ],
        dims=(256, 128, 64, 32),
    )
    little = Study(
        name="little_data",
        notebook="10_little_or_no_labeled_data",
        budget="6 optimizer steps of 32 pairs for every arm (equal steps), MultipleNegativesRankingLoss, no warmup, no weight decay; learning rate chosen on dev",
        arms=[
            Arm(
                f"{kind}, lr {rate:g}",
                lambda kind=kind: little_data(kind),
                lambda m: mnrl(m),
                pairs_cost,
                batch_size=32,
                steps=6,
                learning_rate=rate,
                args={"weight_decay": 0.0},
                group=kind,
            )
            for kind in LITTLE_DATA
            for rate in (1e-5, 1e-4)
        ],
        splits=("dev", "test", "held_out"),
    )
    return [leaderboard, batch, negatives, triplets, knobs, mixing, little]


# Running ------------------------------------------------------------------------------

META = [
    "study",
    "arm",
    "group",
    "seed",
    "max_steps",
    "epochs",
    "batch_size",
    "gradient_accumulation",
    "examples_seen",
    "learning_rate",
    "train_seconds",
    "load_average",
    "date",
    "machine",
    "torch",
    "sentence_transformers",
    "transformers",
    "commit",
    "budget",
]


def metric_columns(study: Study) -> list[str]:
    columns = []
    for split in study.splits:
        columns += [f"{split}_accuracy@1", f"{split}_mrr@10"]
    if study.triplets:
        columns.append("test_triplet_accuracy")
    columns += [f"test@{dim}_accuracy@1" for dim in study.dims]
    columns += [f"{split}_hits" for split in study.splits]
    if study.triplets:
        columns.append("test_triplet_hits")
    columns += [f"test@{dim}_hits" for dim in study.dims]
    return columns


@cache
def default_workers() -> int:
    """1 on a GPU; on a CPU with 2 cores or more, 2 processes, each with half the cores' threads."""
    import torch

    return 1 if torch.cuda.is_available() else min(2, os.cpu_count() or 1)


def environment() -> dict:
    import sentence_transformers
    import torch
    import transformers

    if torch.cuda.is_available():
        machine = f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    else:
        machine = f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "utils", "scripts"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        commit += "-dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "machine": machine,
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "commit": commit,
    }


def bits(values) -> str:
    return "".join(str(int(v)) for v in values)


def evaluate(model, study: Study) -> dict:
    from st_cookbook import retrieval_outcomes, triplet_outcomes

    row = {}
    for split in study.splits:
        outcome = retrieval_outcomes(model, split)
        row |= {
            f"{split}_accuracy@1": outcome["hit@1"].mean(),
            f"{split}_mrr@10": outcome["reciprocal_rank"].mean(),
            f"{split}_hits": bits(outcome["hit@1"]),
        }
    if study.triplets:
        outcome = triplet_outcomes(model, "test")
        row |= {"test_triplet_accuracy": outcome["correct"].mean(), "test_triplet_hits": bits(outcome["correct"])}
    for dim in study.dims:
        outcome = retrieval_outcomes(model, "test", truncate_dim=dim)
        row |= {f"test@{dim}_accuracy@1": outcome["hit@1"].mean(), f"test@{dim}_hits": bits(outcome["hit@1"])}
    return row


def train(arm: Arm, seed: int, scale: float) -> tuple[object, dict]:
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from st_cookbook import pick_precision, seed_everything

    seed_everything(seed)
    model = arm.build() if arm.build else copy.deepcopy(base_model())
    steps = round(arm.steps * scale) if arm.steps else -1
    with tempfile.TemporaryDirectory() as output_dir:
        settings = {
            "max_steps": steps,
            "num_train_epochs": arm.epochs * scale,
            "per_device_train_batch_size": arm.batch_size,
            "learning_rate": arm.learning_rate,
            "warmup_steps": 0,  # with any warmup the first step runs at learning rate 0: in a 13-step run that is 8% of it
            "weight_decay": 0.01,
            "max_grad_norm": 1.0,
            "batch_sampler": arm.sampler,
            **arm.args,
        }
        args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            seed=seed,
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
            **pick_precision(),
            **settings,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=arm.data(), loss=arm.loss(model))
        trainer.remove_callback(PrinterCallback)  # with progress bars off it prints each log as a raw dict
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    accumulation = args.gradient_accumulation_steps
    return model, {
        "max_steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
        "batch_size": arm.batch_size,
        "gradient_accumulation": accumulation,
        "examples_seen": trainer.state.global_step * arm.batch_size * accumulation,
        "learning_rate": arm.learning_rate,
        "train_seconds": round(seconds, 1),
        "load_average": round(load, 2),
    }


def estimated_seconds(study: Study, arm: Arm | None, scale: float) -> float:
    evaluation = 3.0 * len(study.splits) + 6.0 * study.triplets + 2.5 * len(study.dims)
    if arm is None:
        return evaluation
    rows = (
        arm.steps * arm.batch_size * arm.args.get("gradient_accumulation_steps", 1) if arm.steps else 392 * arm.epochs
    )
    return rows * scale * arm.rows_cost + evaluation + 2


def completed(path: Path) -> set[tuple[str, int]]:
    if not path.is_file():
        return set()
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["arm"], int(row["seed"])) for row in csv.DictReader(handle)}


def append(path: Path, columns: list[str], row: dict) -> None:
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        if new:
            writer.writeheader()
        writer.writerow({c: row.get(c, "") for c in columns})
        handle.flush()
        os.fsync(handle.fileno())


def pending_runs(chosen: list[Study], seeds: int, out: Path) -> list[tuple[Study, Arm | None, int]]:
    """The runs not yet in the CSVs, in order: each study's off-the-shelf row, then arm by arm, seed by seed."""
    from st_cookbook.studies import BASELINE

    pending = []
    for study in chosen:
        done = completed(out / f"{study.name}.csv")
        if (BASELINE, 0) not in done:
            pending.append((study, None, 0))
        pending += [(study, arm, seed) for arm in study.arms for seed in range(seeds) if (arm.name, seed) not in done]
    return pending


def progress_bar(total_seconds: float):
    from tqdm.auto import tqdm

    return tqdm(
        total=round(total_seconds),
        unit="s",
        desc="experiments",
        disable=False,
        mininterval=5,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, about {remaining} left {postfix}",
    )


def run_studies(chosen: list[Study], seeds: int, scale: float, out: Path, progress: bool = True) -> None:
    from st_cookbook.studies import BASELINE

    out.mkdir(parents=True, exist_ok=True)
    pending = pending_runs(chosen, seeds, out)
    if not pending:
        print("every run is done; delete a study's CSV to run it again")
        return
    total = sum(estimated_seconds(study, arm, scale) for study, arm, _ in pending)
    if progress:
        print(f"{len(pending)} runs to do, about {total / 60:.0f} minutes at the pace of one process on 2 CPU cores")
    bar = progress_bar(total) if progress else None
    for number, (study, arm, seed) in enumerate(pending, 1):
        if bar:
            bar.set_postfix_str(
                f"run {number}/{len(pending)}: {study.name} / {arm.name if arm else BASELINE} / seed {seed}"
            )
        row = {
            "study": study.name,
            "arm": arm.name if arm else BASELINE,
            "group": arm.group if arm else "",
            "seed": seed,
            "budget": study.budget,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **environment(),
        }
        if arm is None:
            model = base_model()
            row |= {"max_steps": 0, "examples_seen": 0}
        else:
            model, budget = train(arm, seed, scale)
            row |= budget
        row |= evaluate(model, study)
        append(out / f"{study.name}.csv", META + metric_columns(study), row)
        if bar:
            bar.update(round(estimated_seconds(study, arm, scale)))
    if bar:
        bar.close()


def share_out(work: dict[str, float], workers: int) -> list[list[str]]:
    """Whole studies to `workers` processes, the biggest first to the least loaded (each CSV has one writer)."""
    groups: list[list[str]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for name in sorted(work, key=lambda n: -work[n]):
        least = load.index(min(load))
        groups[least].append(name)
        load[least] += work[name]
    return [group for group in groups if group]


def run_in_parallel(chosen: list[Study], args: argparse.Namespace, out: Path) -> None:
    """Run the studies in `args.workers` processes with CPU threads shared out, and draw one progress bar.

    On a small CPU, training these small models in several single-threaded processes gets more done
    per minute than one process using every core: each process leaves the other cores to the others.
    """
    from st_cookbook.studies import BASELINE

    out.mkdir(parents=True, exist_ok=True)
    pending = pending_runs(chosen, args.seeds, out)
    if not pending:
        print("every run is done; delete a study's CSV to run it again")
        return
    cost = {
        (study.name, arm.name if arm else None, seed): estimated_seconds(study, arm, args.scale)
        for study, arm, seed in pending
    }
    work = {study.name: sum(c for (name, _, _), c in cost.items() if name == study.name) for study in chosen}
    groups = share_out({name: seconds for name, seconds in work.items() if seconds}, args.workers)
    threads = max(1, (os.cpu_count() or 1) // len(groups))
    print(
        f"{len(pending)} runs to do in {len(groups)} processes of {threads} CPU thread(s) each: "
        + "; ".join(", ".join(group) for group in groups)
    )
    logs = Path(tempfile.mkdtemp(prefix="experiments-logs-"))
    children = []
    for number, group in enumerate(groups):
        command = [
            sys.executable,
            __file__,
            "--workers",
            "1",
            "--no-progress",
            "--seeds",
            str(args.seeds),
            "--scale",
            str(args.scale),
            "--out",
            str(out),
        ]
        command += [part for name in group for part in ("--study", name)]
        if args.arm:  # the arms chosen, of this worker's studies only
            command += [
                part for study in chosen if study.name in group for arm in study.arms for part in ("--arm", arm.name)
            ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        log_path = logs / f"worker-{number}.log"
        log = open(log_path, "w", encoding="utf-8")
        children.append(
            (subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log, log_path, group)
        )
    bar = progress_bar(sum(cost.values()))
    try:
        while True:
            running = [child for child, *_ in children if child.poll() is None]
            finished = {
                (study.name, arm, seed) for study in chosen for arm, seed in completed(out / f"{study.name}.csv")
            }
            done = [key for key in cost if (key[0], key[1] or BASELINE, key[2]) in finished]
            bar.update(round(sum(cost[key] for key in done)) - bar.n)
            bar.set_postfix_str(f"{len(done)}/{len(cost)} runs")
            if not running:
                break
            time.sleep(5)
    finally:
        for child, log, _, _ in children:
            if child.poll() is None:
                child.terminate()
            log.close()
        bar.close()
    failed = [(child, log_path, group) for child, _, log_path, group in children if child.returncode != 0]
    for child, log_path, group in failed:
        print(f"the worker for {', '.join(group)} failed (exit {child.returncode}); the end of its log {log_path}:")
        print(log_path.read_text(encoding="utf-8")[-3000:])
    if failed:
        raise SystemExit(1)


def draw_plots(chosen: list[Study], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from st_cookbook import plot_study
    from st_cookbook.studies import load_study

    for study in chosen:
        path = out / f"{study.name}.csv"
        if not path.is_file():
            continue
        runs = load_study(study.name, folder=out)
        columns = [c for c in ("test_hits", "held_out_hits", "test_triplet_hits") if c in runs.columns]
        fig = plot_study(runs, columns, title=f"{study.name}: {study.budget}")
        fig.savefig(out / f"{study.name}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"drew {out / f'{study.name}.png'}")


def headless() -> None:
    """Offline and quiet, unless the environment says otherwise: the libraries' progress bars and
    chatter off, as every study script runs."""
    for name, value in {
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_VERBOSITY": "error",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(name, value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", action="append", help="run only this study (repeatable); default: all")
    parser.add_argument("--arm", action="append", help="run only the arm(s) with this name (repeatable); default: all")
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds per arm (default {SEEDS})")
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("EXPERIMENTS_SCALE", "1")),
        help="multiply every budget (steps, epochs) by this; default $EXPERIMENTS_SCALE or 1",
    )
    parser.add_argument(
        "--out", type=Path, help="where the CSVs go (default results/, or results/scale-N/ when scaled)"
    )
    parser.add_argument("--plots-only", action="store_true", help="only redraw the plots from the CSVs")
    parser.add_argument("--list", action="store_true", help="list the studies and their arms")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("EXPERIMENTS_WORKERS", "0")) or None,
        help="processes to run studies in (default $EXPERIMENTS_WORKERS, else 1 on a GPU and 2 on a CPU "
        "with 2 or more cores); each process gets an equal share of the CPU threads",
    )
    parser.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    headless()  # this script draws one progress bar for the whole set

    every = studies()
    names = [s.name for s in every]
    unknown = sorted(set(args.study or []) - set(names))
    if unknown:
        parser.error(f"unknown study {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.seeds < 1 or args.scale <= 0:
        parser.error("--seeds must be at least 1 and --scale above 0")
    chosen = [s for s in every if not args.study or s.name in args.study]
    if args.arm:
        known = {arm.name for study in chosen for arm in study.arms}
        if set(args.arm) - known:
            parser.error(f"unknown arm {', '.join(sorted(set(args.arm) - known))}; see --list")
        for study in chosen:
            study.arms = [arm for arm in study.arms if arm.name in args.arm]
    out = args.out or (ROOT / "results" if args.scale == 1 else ROOT / "results" / f"scale-{args.scale:g}")
    if args.list:
        for study in chosen:
            print(f"{study.name} (notebook {study.notebook}): {study.budget}")
            for arm in study.arms:
                print(f"  - {arm.name}")
        return 0
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.plots_only:
        workers = args.workers or default_workers()
        if workers > 1 and len(chosen) > 1:
            run_in_parallel(chosen, argparse.Namespace(**{**vars(args), "workers": workers}), out)
        else:
            run_studies(chosen, args.seeds, args.scale, out, progress=not args.no_progress)
    if args.no_progress:
        return 0  # a worker of run_in_parallel: the parent draws the plots
    draw_plots(chosen, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
