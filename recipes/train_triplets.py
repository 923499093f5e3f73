"""Fine-tune a Sentence Transformer on triplets: (anchor, positive, negative) texts.

Dataset case 4: rows of (anchor, positive, negative); the positive belongs with the
anchor, the negative looks similar but does not (a hard negative). No label.
  MultipleNegativesRankingLoss (default) ...... the negative plus every other text in
                                                the batch as negatives
  TripletLoss ................................. the anchor closer to the positive than
                                                to the negative, by a margin
The NO_DUPLICATES batch sampler is on by default: a repeated text in a batch would be
a false negative for its own anchor. TripletLoss uses cosine distance with a margin of
0.3 by default (--distance, --margin); the library's own default, Euclidean with margin
5, can never be met on a model that normalises its embeddings (distances at most 2).

The text columns are read in file order (anchor, positive, negative); map other names
with --anchor-column, --positive-column and --negative-column. Evaluation:
TripletEvaluator (is each anchor closer to its positive than to its negative?). Every
SentenceTransformerTrainingArguments field is an option too. The last line of stdout
is one JSON object with the metrics before and after training.

Without --num_train_epochs or --max_steps the budget follows the data: one epoch of a
large file, more of a small one (at least recipe_io.MIN_STEPS optimizer steps, at most
recipe_io.MAX_EPOCHS epochs); the first lines of output say what was chosen.

To use it in your project, copy this file and recipe_io.py (the options, data checks and
report it shares with the other recipes) into one folder.

examples:
  python train_triplets.py                 # bundled help-desk triplets (sibling-intent negatives)
  python train_triplets.py --train-data triplets.csv --eval-data triplets_test.csv --loss TripletLoss
  python train_triplets.py --train-data sentence-transformers/all-nli --subset triplet --eval-split dev
  torchrun --nproc_per_node=2 train_triplets.py
  python train_triplets.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python train_triplets.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
  python train_triplets.py --matryoshka-dims 384,256,128,64
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator
from transformers import set_seed

import recipe_io

LOSSES = ("MultipleNegativesRankingLoss", "TripletLoss")
DISTANCES = ("cosine", "euclidean", "manhattan")


@dataclass
class Options(recipe_io.DataOptions):
    anchor_column: str | None = field(default=None, metadata={"help": "Column holding the anchor."})
    positive_column: str | None = field(default=None, metadata={"help": "Column holding the positive."})
    negative_column: str | None = field(default=None, metadata={"help": "Column holding the negative."})
    loss: str = field(
        default="MultipleNegativesRankingLoss", metadata={"help": "Loss to train with.", "choices": LOSSES}
    )
    distance: str = field(
        default="cosine", metadata={"help": "TripletLoss only: the distance it compares.", "choices": DISTANCES}
    )
    margin: float = field(
        default=0.3,
        metadata={
            "help": "TripletLoss only: how much farther than the positive the negative must be, in "
            "units of --distance (cosine: 0-2)."
        },
    )
    matryoshka_dims: str | None = recipe_io.matryoshka_dims_field()


def main(argv: list[str] | None = None) -> None:
    options, args = recipe_io.parse_args(
        Options,
        SentenceTransformerTrainingArguments,
        __doc__,
        argv,
        output_dir="models/train_triplets",
        batch_sampler=BatchSamplers.NO_DUPLICATES.value,
    )
    checkpoint = recipe_io.resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
    dims = recipe_io.parse_dims(options.matryoshka_dims)

    # 1. Data: (anchor, positive, negative) rows. Bad data stops here, before anything loads or is written.
    columns = {
        "anchor": options.anchor_column,
        "positive": options.positive_column,
        "negative": options.negative_column,
    }
    train_dataset, eval_dataset, _, _ = recipe_io.load_data(
        options, recipe_io.SHAPES["triplets"], columns, bundled="triplets", seed=args.seed
    )

    # 2. The model to fine-tune.
    set_seed(args.seed)
    model = recipe_io.load_model(options.model, device=str(args.device))
    recipe_io.check_dims(dims, model)

    # 3. The loss; with --matryoshka-dims wrapped in MatryoshkaLoss, so that embeddings cut to each size work too.
    if options.loss == "TripletLoss":
        distance = getattr(losses.TripletDistanceMetric, options.distance.upper())
        loss = losses.TripletLoss(model, distance_metric=distance, triplet_margin=options.margin)
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
    if dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=dims)

    # 4. The evaluator: is each anchor closer to its positive than to its negative?
    triplets = (eval_dataset["anchor"], eval_dataset["positive"], eval_dataset["negative"])
    evaluator = TripletEvaluator(*triplets, batch_size=args.per_device_eval_batch_size)
    dim_evaluators = {
        dim: TripletEvaluator(*triplets, batch_size=args.per_device_eval_batch_size, truncate_dim=dim) for dim in dims
    }

    # 5. Train. Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = args.process_index == 0
    if is_main_process:
        before = {**recipe_io.evaluate(evaluator, model), **recipe_io.evaluate_dims(dim_evaluators, model)}
    recipe_io.default_budget(args, argv, train_dataset.num_rows)  # epochs follow the data unless given
    callbacks = recipe_io.early_stopping(options, args, argv, evaluator, model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=callbacks,
    )
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds = time.perf_counter() - start

    # 6. Evaluate the fine-tuned model on the same rows, save it, report.
    trainer.save_model(args.output_dir)
    if is_main_process:
        after = {**recipe_io.evaluate(evaluator, model), **recipe_io.evaluate_dims(dim_evaluators, model)}
        recipe_io.report(
            trainer, options, evaluator, before, after, train_dataset, train_seconds, checkpoint, callbacks
        )


if __name__ == "__main__":
    recipe_io.run(main)
