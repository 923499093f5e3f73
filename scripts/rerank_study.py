"""The retrieve-and-rerank study behind notebook 15: does a cross-encoder, trained on this CPU,
improve what a fine-tuned retriever puts first? 5 seeds.

For each seed:

1. The retriever: all-MiniLM-L6-v2 fine-tuned with MultipleNegativesRankingLoss for 13 optimizer steps
   of 32 question-answer pairs at 1e-4 (the queries_documents study's `plain MNRL` arm, through
   experiments.train).
2. Two rerankers, each a `CrossEncoder` from the same bundled weights with a new one-score head
   (inputs cut to 64 tokens), trained with `CrossEncoderTrainer` at equal budgets: 75 optimizer steps
   (3 epochs of the 392 training questions), 64 (question, answer) pairs scored per step, learning
   rate 5e-5 for the encoder and 1e-3 for the new head (`learning_rate_mapping`), 10% warmup:
   - `listwise`: the cross-encoder `MultipleNegativesRankingLoss` on (question, answer, mined answer)
     rows in batches of 16 questions: each question's answer against its mined answer and 2 answers of
     other questions in the batch (a softmax over 4 candidates);
   - `BCE`: `BinaryCrossEntropyLoss` on labeled pairs, each question with its answer (label 1) and 3
     mined answers (label 0), `pos_weight` 3, in batches of 64 pairs.
   Mined answers: the off-the-shelf model's top answers other than the question's own
   (`mine_hard_negatives`, relative_margin 0.05), as recipes/train_reranker.py mines them.
3. Scoring, question by question on dev, test and the held-out intents: a retriever ranks all 64
   answers; the reranker reorders its top k (2, 3 or 5) and the rest keep the retriever's order.
   Rows: the retriever alone (`fine-tuned retriever`; `off the shelf` once), each reranker on the
   fine-tuned retriever's candidates, and, on dev only, each reranker on the off-the-shelf
   retriever's candidates (the reranker's own quality, where chance is 1/k).

Rows go to results/rerank.csv with the columns of scripts/experiments.py plus `retriever`,
`reranker`, `k`, the reranker's first and last logged training loss, and per split the reciprocal
rank of every question (`<split>_reciprocal_ranks`, for paired intervals on MRR@10). Read them with
st_cookbook.load_study. Latency is not measured here (it does not depend on the weights): notebook
15 measures it live. The plot goes to results/rerank.png.

    python scripts/rerank_study.py                # 5 seeds (about 55 minutes on a 2-core CPU)
    python scripts/rerank_study.py --seeds 2
    python scripts/rerank_study.py --plots-only   # redraw the plot from the CSV

Resumable: the rows of a finished reranker (or retriever) are in the CSV and never repeated. Delete the
CSV to rerun the study.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPLITS = ("dev", "test", "held_out")
TOP_K = (2, 3, 5)  # candidates the reranker reorders; the top 5 are scored once and cut to 2 and 3
DEPTH = 10  # MRR@10
STEPS = 75
MAX_LENGTH = 64
CANDIDATES = 4  # per question and step: its answer and 3 others
RERANKERS = {
    "listwise": "MultipleNegativesRankingLoss, 16 questions x (answer + 1 mined + 2 in-batch)",
    "BCE": "BinaryCrossEntropyLoss, 16 questions x (answer + 3 mined), pos_weight 3",
}
BUDGET = (
    f"rerankers: {STEPS} optimizer steps (3 epochs) of 16 questions x {CANDIDATES} candidate answers, "
    f"max_length {MAX_LENGTH}, lr 5e-5 (head 1e-3), warmup 0.1; retriever: MultipleNegativesRankingLoss, "
    "13 steps of 32 pairs at 1e-4"
)


sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/experiments.py, the runner of the other studies
import experiments  # noqa: E402


def columns() -> list[str]:
    metrics = []
    for split in SPLITS:
        metrics += [f"{split}_accuracy@1", f"{split}_mrr@10"]
    metrics += [f"{split}_hits" for split in SPLITS] + [f"{split}_reciprocal_ranks" for split in SPLITS]
    extra = ["retriever", "reranker", "k", "reranker_loss_first", "reranker_loss_last"]
    return experiments.META + extra + metrics


def arm_name(retriever: str, reranker: str | None, k: int | None) -> str:
    if reranker is None:
        return "off the shelf" if retriever == "off the shelf" else retriever
    return f"{retriever} + {reranker} reranker, top {k}"


# The retriever and its candidates -------------------------------------------------------


def retriever_arm():
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return experiments.Arm(
        "fine-tuned retriever",
        data=experiments.answer_pairs,
        loss=MultipleNegativesRankingLoss,
        rows_cost=0.066,
        batch_size=32,
        steps=13,
    )


def ranked_answers(retriever) -> dict[str, tuple[list[str], list[str], object]]:
    """Per split: the questions, their intents, and the indices of all 64 answers in the retriever's
    order (cosine similarity, as the library's InformationRetrievalEvaluator ranks them)."""
    import numpy as np

    from st_cookbook import load_support_answers, load_support_corpus

    answers = load_support_answers()
    documents = retriever.encode_document(
        list(answers["answer"]), batch_size=64, convert_to_tensor=True, show_progress_bar=False
    )
    ranked = {}
    for split in SPLITS:
        corpus = load_support_corpus(split)
        queries = retriever.encode_query(
            list(corpus["question"]), batch_size=64, convert_to_tensor=True, show_progress_bar=False
        )
        scores = retriever.similarity(queries, documents).cpu().numpy()
        ranked[split] = (list(corpus["question"]), list(corpus["intent"]), np.argsort(-scores, axis=1, kind="stable"))
    return ranked


def outcomes(order, gold: list[str], intents: list[str]) -> dict:
    """hit@1 and reciprocal rank within the top 10 of each question, from the answers' order."""
    hits, ranks = [], []
    for row, intent in zip(order, gold):
        top = [intents[j] for j in row[:DEPTH]]
        hits.append(float(top[0] == intent))
        ranks.append(1 / (top.index(intent) + 1) if intent in top else 0.0)
    return {"hits": hits, "reciprocal_ranks": ranks}


def metrics(by_split: dict[str, dict]) -> dict:
    row = {}
    for split, outcome in by_split.items():
        row |= {
            f"{split}_accuracy@1": sum(outcome["hits"]) / len(outcome["hits"]),
            f"{split}_mrr@10": sum(outcome["reciprocal_ranks"]) / len(outcome["reciprocal_ranks"]),
            f"{split}_hits": experiments.bits(outcome["hits"]),
            f"{split}_reciprocal_ranks": " ".join(f"{r:.4g}" for r in outcome["reciprocal_ranks"]),
        }
    return row


def retriever_rows(ranked) -> dict:
    from st_cookbook import load_support_answers

    intents = list(load_support_answers()["intent"])
    return metrics({split: outcomes(order, gold, intents) for split, (_, gold, order) in ranked.items()})


def reranked_rows(reranker, ranked) -> dict[int, dict]:
    """Per k: the metrics when the reranker reorders the retriever's top k of every question."""
    import numpy as np

    from st_cookbook import load_support_answers

    answers = load_support_answers()
    texts, intents = list(answers["answer"]), list(answers["intent"])
    depth = max(TOP_K)
    by_k = {k: {} for k in TOP_K}
    for split, (questions, gold, order) in ranked.items():
        pairs = [(q, texts[j]) for q, row in zip(questions, order) for j in row[:depth]]
        scores = np.asarray(reranker.predict(pairs, batch_size=64, show_progress_bar=False)).reshape(-1, depth)
        for k in TOP_K:
            reordered = []
            for row, score in zip(order, scores):
                top = row[:k][np.argsort(-score[:k], kind="stable")]
                reordered.append(np.concatenate([top, row[k:]]))
            by_k[k][split] = outcomes(reordered, gold, intents)
    return {k: metrics(by_split) for k, by_split in by_k.items()}


# The rerankers ----------------------------------------------------------------------------


@cache
def mined(num_negatives: int, output_format: str):
    """The training questions with their answers and the off-the-shelf model's hardest other answers."""
    from sentence_transformers.util import mine_hard_negatives

    return mine_hard_negatives(
        experiments.answer_pairs(),
        experiments.base_model(),
        num_negatives=num_negatives,
        relative_margin=0.05,
        sampling_strategy="top",
        output_format=output_format,
        verbose=False,
    )


def train_reranker(kind: str, seed: int):
    """A CrossEncoder with a new head, trained with one of the two losses; (model, budget columns)."""
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss, MultipleNegativesRankingLoss
    from transformers.trainer_callback import PrinterCallback

    from st_cookbook import DEFAULT_MODEL, pick_precision, seed_everything

    seed_everything(seed)  # the new head's initial weights
    model = CrossEncoder(DEFAULT_MODEL, num_labels=1, max_length=MAX_LENGTH)
    if kind == "listwise":
        data = mined(1, "triplet")
        loss = MultipleNegativesRankingLoss(model, num_negatives=CANDIDATES - 2)
        batch_size = 16
        sampler = "no_duplicates"  # a repeated answer in the batch would be scored as a wrong one
    else:
        data = mined(CANDIDATES - 1, "labeled-pair")
        loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(CANDIDATES - 1)))
        batch_size = 16 * CANDIDATES
        sampler = "batch_sampler"  # each question appears 8 times by design, and there are only 64 answers
    with tempfile.TemporaryDirectory() as output_dir:
        args = CrossEncoderTrainingArguments(
            output_dir=output_dir,
            max_steps=STEPS,
            per_device_train_batch_size=batch_size,
            learning_rate=5e-5,
            learning_rate_mapping={"classifier": 1e-3},  # the new head starts from random weights
            warmup_steps=0.1,
            batch_sampler=sampler,
            seed=seed,
            save_strategy="no",
            logging_steps=5,
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
            **pick_precision(),
        )
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=loss)
        trainer.remove_callback(PrinterCallback)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return model, {
        "max_steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
        "batch_size": batch_size,
        "gradient_accumulation": 1,
        "examples_seen": trainer.state.global_step * 16,  # questions, each scored against CANDIDATES answers
        "learning_rate": 5e-5,
        "train_seconds": round(seconds, 1),
        "load_average": round(load, 2),
        "reranker_loss_first": round(losses[0], 4) if losses else "",
        "reranker_loss_last": round(losses[-1], 4) if losses else "",
    }


# The runs ---------------------------------------------------------------------------------


def completed(path: Path) -> set[tuple[str, int]]:
    return experiments.completed(path)


def pending(seeds: int, path: Path) -> list[tuple[str, int]]:
    """(what to train, seed) not yet in the CSV, seed by seed: `retriever`, `listwise`, `BCE`."""
    done = completed(path)
    work = [("off the shelf", 0)] if ("off the shelf", 0) not in done else []
    for seed in range(seeds):
        if ("fine-tuned retriever", seed) not in done:
            work.append(("retriever", seed))
        for kind in RERANKERS:
            if any(
                (arm_name(r, kind, k), seed) not in done
                for r in ("off the shelf", "fine-tuned retriever")
                for k in TOP_K
            ):
                work.append((kind, seed))
    return work


def run(seeds: int, out: Path) -> None:
    path = out / "rerank.csv"
    work = pending(seeds, path)
    if not work:
        print("every run is done; delete the CSV to run it again")
        return
    print(f"{len(work)} runs to do, into {path}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    names = columns()
    base_ranked = cache(lambda: ranked_answers(experiments.base_model()))
    tuned = {}  # seed -> (budget, ranked), retrained when the process restarts (about 30 s)

    def tuned_ranked(seed):
        if seed not in tuned:
            model, budget = experiments.train(retriever_arm(), seed, scale=1.0)
            tuned[seed] = (budget, ranked_answers(model))
        return tuned[seed]

    for number, (what, seed) in enumerate(work, 1):
        start = time.perf_counter()
        common = {
            "study": "rerank",
            "budget": BUDGET,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **experiments.environment(),
        }
        if what == "off the shelf":
            row = common | {"arm": "off the shelf", "retriever": "off the shelf", "seed": 0, "max_steps": 0}
            experiments.append(path, names, row | {"examples_seen": 0} | retriever_rows(base_ranked()))
        elif what == "retriever":
            budget, ranked = tuned_ranked(seed)
            row = common | {"arm": "fine-tuned retriever", "retriever": "fine-tuned retriever", "seed": seed}
            experiments.append(path, names, row | budget | retriever_rows(ranked))
        else:
            model, budget = train_reranker(what, seed)
            done = completed(path)
            candidates = (
                ("fine-tuned retriever", tuned_ranked(seed)[1]),
                ("off the shelf", {"dev": base_ranked()["dev"]}),
            )
            for retriever, ranked in candidates:
                for k, scores in reranked_rows(model, ranked).items():
                    name = arm_name(retriever, what, k)
                    if (name, seed) in done:
                        continue
                    row = common | {"arm": name, "group": what, "seed": seed, "retriever": retriever}
                    row |= {"reranker": what, "k": k}
                    experiments.append(path, names, row | budget | scores)
        print(f"run {number}/{len(work)} done: {what} / seed {seed} ({time.perf_counter() - start:.0f} s)", flush=True)


def draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from st_cookbook import plot_study
    from st_cookbook.studies import load_study

    runs = load_study("rerank", folder=out)
    shown = ["off the shelf", "fine-tuned retriever"] + [
        arm_name(r, kind, k) for r in ("fine-tuned retriever",) for kind in RERANKERS for k in TOP_K
    ]
    runs = runs[runs["arm"].isin(shown)]
    shown_columns = [c for c in ("test_hits", "held_out_hits") if c in runs.columns]
    fig = plot_study(runs, shown_columns, title="rerank: " + BUDGET, against="fine-tuned retriever")
    fig.savefig(out / "rerank.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"drew {out / 'rerank.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=experiments.SEEDS, help="seeds (default %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "results", help="where the CSV goes (default results/)")
    parser.add_argument("--plots-only", action="store_true", help="only redraw the plot from the CSV")
    args = parser.parse_args(argv)
    experiments.headless()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if not args.plots_only:
        run(args.seeds, args.out)
    if (args.out / "rerank.csv").is_file():
        draw(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
