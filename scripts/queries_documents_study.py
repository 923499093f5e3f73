"""The queries-and-documents study behind notebook 16: prompts and a Router, 5 seeds each.

Every arm trains all-MiniLM-L6-v2 with MultipleNegativesRankingLoss for 13 optimizer steps of 32
question-answer pairs (about one epoch of the 392 training pairs), no warmup, and is scored question
by question on dev, test and the held-out intents with the library's InformationRetrievalEvaluator
(questions through `encode_query`, answers through `encode_document`):

- `plain MNRL`: no prompts, one shared model, learning rate 1e-4 (the `hyperparameters` study's dev choice);
- `MNRL + prompts`: `prompts={"anchor": "query: ", "positive": "document: "}` in the training
  arguments, and the same prompts in `model.prompts` at inference; the same runs are scored a second
  time with no prompts at inference (`MNRL + prompts, none at inference`), what a model gives when its
  prompts were not saved with it;
- `Router, lr 1e-4` and `Router, lr 3e-4`: `Router.for_query_document` with a copy of the Transformer
  per route (twice the parameters) and shared pooling, trained with
  `router_mapping={"anchor": "query", "positive": "document"}`. Each tower sees only its half of the
  texts, so a higher learning rate is a candidate; the notebook picks the rate on dev.

Two rows need no training: `off the shelf`, and `off the shelf + untrained prompts` (the same model
with the prompts set at inference only). Rows go to results/queries_documents.csv with the columns of
scripts/experiments.py (read them with st_cookbook.load_study); the plot to results/queries_documents.png.

    python scripts/queries_documents_study.py                 # every arm, 5 seeds (about 16 minutes on an idle 2-core CPU)
    python scripts/queries_documents_study.py --arm "MNRL + prompts" --seeds 2
    python scripts/queries_documents_study.py --plots-only    # redraw the plot from the CSV

Resumable: a finished run is a row in the CSV and is never repeated. Delete the CSV to rerun the study.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = {"query": "query: ", "document": "document: "}
NO_PROMPTS = {"query": "", "document": ""}
TRAINING_PROMPTS = {"anchor": PROMPTS["query"], "positive": PROMPTS["document"]}
ROUTES = {"anchor": "query", "positive": "document"}


sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/experiments.py, the runner of the other studies
import experiments  # noqa: E402


def two_towers():
    """The base model with a Router in front: one Transformer copy for queries, one for documents."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Router

    transformer, pooling, normalize = copy.deepcopy(list(experiments.base_model()))
    router = Router.for_query_document(query_modules=[transformer], document_modules=[copy.deepcopy(transformer)])
    return SentenceTransformer(modules=[router, pooling, normalize])


@dataclass
class Variant(experiments.Arm):
    """An arm of this study, and the rows it is scored as (row name -> model.prompts)."""

    rows: dict[str, dict | None] = field(default_factory=dict)

    def __post_init__(self):
        self.rows = self.rows or {self.name: None}


def study() -> experiments.Study:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    common = {"data": experiments.answer_pairs, "loss": MultipleNegativesRankingLoss, "rows_cost": 0.066}
    common |= {"batch_size": 32, "steps": 13}
    return experiments.Study(
        name="queries_documents",
        notebook="16_queries_and_documents",
        budget="13 optimizer steps of 32 question-answer pairs for every arm (about one epoch of the 392 pairs), "
        "MultipleNegativesRankingLoss, no warmup, learning rate 1e-4 (the Router: 1e-4 or 3e-4, chosen on dev)",
        arms=[
            Variant("plain MNRL", group="one model, no prompts", **common),
            Variant(
                "MNRL + prompts",
                group="prompts",
                args={"prompts": TRAINING_PROMPTS},
                rows={"MNRL + prompts": PROMPTS, "MNRL + prompts, none at inference": NO_PROMPTS},
                **common,
            ),
            *(
                Variant(
                    f"Router, lr {name}",
                    group="Router: a query tower and a document tower",
                    learning_rate=rate,
                    args={"router_mapping": ROUTES},
                    build=two_towers,
                    **common,
                )
                for name, rate in {"1e-4": 1e-4, "3e-4": 3e-4}.items()
            ),
        ],
        splits=("dev", "test", "held_out"),
    )


def baselines() -> dict[str, dict | None]:
    """The rows without training: the base model as it is, and with the prompts set at inference only."""
    from st_cookbook.studies import BASELINE

    return {BASELINE: None, "off the shelf + untrained prompts": PROMPTS}


def score(model, prompts: dict | None, the_study) -> dict:
    """The experiments.py metrics of `model` with `prompts` as its model.prompts (None: as it is)."""
    if prompts is None:
        return experiments.evaluate(model, the_study)
    kept, model.prompts = model.prompts, dict(prompts)
    try:
        return experiments.evaluate(model, the_study)
    finally:
        model.prompts = kept


def run(the_study, seeds: int, out: Path) -> None:
    path = out / f"{the_study.name}.csv"
    columns = experiments.META + experiments.metric_columns(the_study)
    done = experiments.completed(path)
    pending = [(None, name, prompts) for name, prompts in baselines().items() if (name, 0) not in done]
    pending += [  # seed by seed, so that an interrupted study holds every arm at a few seeds
        (arm, seed, None)
        for seed in range(seeds)
        for arm in the_study.arms
        if any((row, seed) not in done for row in arm.rows)
    ]
    if not pending:
        print("every run is done; delete the CSV to run it again")
        return
    print(f"{len(pending)} runs to do, into {path}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    for number, (arm, seed_or_name, prompts) in enumerate(pending, 1):
        start = time.perf_counter()
        common = {
            "study": the_study.name,
            "budget": the_study.budget,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **experiments.environment(),
        }
        if arm is None:
            name = seed_or_name
            row = common | {"arm": name, "group": "", "seed": 0, "max_steps": 0, "examples_seen": 0}
            experiments.append(path, columns, row | score(experiments.base_model(), prompts, the_study))
            label = name
        else:
            seed = seed_or_name
            model, budget = experiments.train(arm, seed, scale=1.0)
            for name, row_prompts in arm.rows.items():
                if (name, seed) in done:
                    continue
                row = common | {"arm": name, "group": arm.group, "seed": seed} | budget
                experiments.append(path, columns, row | score(model, row_prompts, the_study))
            label = f"{arm.name} / seed {seed}"
        print(f"run {number}/{len(pending)} done: {label} ({time.perf_counter() - start:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=experiments.SEEDS, help="seeds per arm (default %(default)s)")
    parser.add_argument("--arm", action="append", help="train only the arm(s) with this name (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "results", help="where the CSV goes (default results/)")
    parser.add_argument("--plots-only", action="store_true", help="only redraw the plot from the CSV")
    parser.add_argument("--list", action="store_true", help="list the arms and the rows each one writes")
    args = parser.parse_args(argv)
    experiments.headless()

    the_study = study()
    if args.list:
        print(f"{the_study.name} (notebook {the_study.notebook}): {the_study.budget}")
        for name in baselines():
            print(f"  - {name} (no training)")
        for arm in the_study.arms:
            print(f"  - {arm.name}: rows {', '.join(arm.rows)}")
        return 0
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.arm:
        known = [arm.name for arm in the_study.arms]
        if set(args.arm) - set(known):
            parser.error(f"unknown arm {', '.join(sorted(set(args.arm) - set(known)))}; choose from {'; '.join(known)}")
        the_study.arms = [arm for arm in the_study.arms if arm.name in args.arm]
    if not args.plots_only:
        run(the_study, args.seeds, args.out)
    experiments.draw_plots([the_study], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
