"""Fine-tune a Sentence Transformer on single texts with a class label.

Dataset case 3: rows of (text, label), e.g. (support question, intent) or (review,
product category). Triplets are mined inside each batch from texts that share a label:
  BatchHardTripletLoss (default) .............. the hardest positive and negative per anchor
  BatchAllTripletLoss ......................... every valid triplet in the batch
  BatchSemiHardTripletLoss .................... negatives farther than the positive, but within the margin
  BatchHardSoftMarginTripletLoss .............. BatchHard with a soft margin, no margin to tune
The GROUP_BY_LABEL batch sampler is on by default, so that every batch holds several
texts of several labels; the batch size must be even and at least 4. Distances are
cosine (1 - cosine similarity, what the model is used with) with a margin of 0.2 by
default; the library's own defaults, Euclidean with margin 5, suit unnormalised
embeddings only: on a model that normalises (as all-MiniLM-L6-v2 does) every
distance is at most 2, and a margin of 5 can never be met.

The label is the column named label (or labels, score, scores: the library's rule) and
the other column is the text; map other names with --text-column and --label-column.
Labels may be class names (numbered in sorted order over train and eval data) or
integer ids. Evaluation, main metric first:
  knn_from_train_accuracy ..... each eval text classified by a vote of its 5 most similar
                                training texts: what a classifier on the embeddings gets right
  leave_one_out_1nn_accuracy .. eval texts whose nearest other eval text shares their label
  TripletEvaluator ............ triplets built from the eval labels (seeded); also what
                                --early-stopping-patience watches during training
Every SentenceTransformerTrainingArguments field is an option too. The last line of
stdout is one JSON object with the metrics before and after training.

Without --num_train_epochs or --max_steps the budget follows the data: one epoch of a
large file, more of a small one (at least recipe_io.MIN_STEPS optimizer steps, at most
recipe_io.MAX_EPOCHS epochs); the first lines of output say what was chosen.

To use it in your project, copy this file and recipe_io.py (the options, data checks and
report it shares with the other recipes) into one folder.

examples:
  python train_labeled_sentences.py        # bundled help-desk questions labeled by intent
  python train_labeled_sentences.py --train-data tickets.csv --eval-data tickets_test.csv --loss BatchAllTripletLoss
  python train_labeled_sentences.py --train-data tickets.parquet --text-column body --label-column queue
  torchrun --nproc_per_node=2 train_labeled_sentences.py
  python train_labeled_sentences.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python train_labeled_sentences.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator
from transformers import set_seed

import recipe_io
from recipe_io import RecipeError

LOSSES = ("BatchHardTripletLoss", "BatchAllTripletLoss", "BatchSemiHardTripletLoss", "BatchHardSoftMarginTripletLoss")
DISTANCES = ("cosine", "euclidean")


@dataclass
class Options(recipe_io.DataOptions):
    text_column: str | None = field(default=None, metadata={"help": "Column holding the text."})
    label_column: str | None = field(
        default=None, metadata={"help": "Column holding the class (without it: label, labels, score or scores)."}
    )
    loss: str = field(default="BatchHardTripletLoss", metadata={"help": "Loss to train with.", "choices": LOSSES})
    distance: str = field(
        default="cosine", metadata={"help": "Distance the triplets are mined and scored with.", "choices": DISTANCES}
    )
    margin: float = field(
        default=0.2,
        metadata={
            "help": "How much farther than the positive a negative must be, in units of --distance "
            "(cosine: 0-2). Not used by BatchHardSoftMarginTripletLoss."
        },
    )


def check_classes(dataset, source: str, grouped_batch_size: int | None) -> None:
    """Triplets need two texts of one class and a third of another (with GROUP_BY_LABEL: in every batch)."""
    counts = Counter(dataset["label"])
    usable = sum(count >= 2 for count in counts.values())
    if len(counts) < 2 or usable < 1:
        raise RecipeError(
            f"{source}: triplets need at least 2 classes, one of them with 2+ texts; found {len(counts)} "
            f"class(es), the largest with {max(counts.values())} text(s). Fix: add texts per class, "
            "or classes."
        )
    if grouped_batch_size is not None:
        if usable < 2:
            raise RecipeError(
                f"{source}: the GROUP_BY_LABEL batch sampler needs at least 2 classes with 2+ texts "
                f"each; found {usable}. Fix: add texts per class."
            )
        if grouped_batch_size < 4 or grouped_batch_size % 2:
            raise RecipeError(
                f"the GROUP_BY_LABEL batch sampler needs an even batch size of at least 4, not "
                f"{grouped_batch_size}. Fix: pass e.g. --per_device_train_batch_size 32."
            )


def main(argv: list[str] | None = None) -> None:
    options, args = recipe_io.parse_args(
        Options,
        SentenceTransformerTrainingArguments,
        __doc__,
        argv,
        output_dir="models/train_labeled_sentences",
        batch_sampler=BatchSamplers.GROUP_BY_LABEL.value,
    )
    checkpoint = recipe_io.resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)

    # 1. Data: (text, label) rows, class names numbered alike in both splits. Bad data stops here.
    columns = {"text": options.text_column, "label": options.label_column}
    train_dataset, eval_dataset, train_source, eval_source = recipe_io.load_data(
        options, recipe_io.SHAPES["labeled-sentences"], columns, bundled="labeled_sentences", seed=args.seed
    )
    train_dataset, eval_dataset = recipe_io.number_classes(train_dataset, eval_dataset)
    grouped = args.batch_sampler == BatchSamplers.GROUP_BY_LABEL
    check_classes(train_dataset, train_source, args.per_device_train_batch_size if grouped else None)
    check_classes(eval_dataset, eval_source, None)

    # 2. The model to fine-tune.
    set_seed(args.seed)
    model = recipe_io.load_model(options.model, device=str(args.device))

    # 3. The loss: triplets mined inside each batch from the labels, with the chosen distance and margin.
    distance = getattr(losses.BatchHardTripletLossDistanceFunction, f"{options.distance}_distance")
    if options.loss == "BatchHardSoftMarginTripletLoss":
        loss = losses.BatchHardSoftMarginTripletLoss(model, distance_metric=distance)
    else:
        loss = getattr(losses, options.loss)(model, distance_metric=distance, margin=options.margin)

    # 4. The evaluators: triplets built from the eval labels (run during training too), and two
    #    nearest-neighbour accuracies that the Trainer does not compute.
    triplets = recipe_io.triplets_from_labels(eval_dataset["text"], eval_dataset["label"], seed=args.seed)
    evaluator = TripletEvaluator(*triplets, batch_size=args.per_device_eval_batch_size)

    def evaluate():
        return recipe_io.evaluate(
            evaluator,
            model,
            knn_from_train_accuracy=recipe_io.knn_from_train_accuracy(model, train_dataset, eval_dataset),
            leave_one_out_1nn_accuracy=recipe_io.leave_one_out_1nn_accuracy(model, eval_dataset),
        )

    # 5. Train. Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = args.process_index == 0
    if is_main_process:
        before = evaluate()
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
        recipe_io.report(
            trainer,
            options,
            evaluator,
            before,
            evaluate(),
            train_dataset,
            train_seconds,
            checkpoint,
            callbacks,
            main_metric="knn_from_train_accuracy",
        )


if __name__ == "__main__":
    recipe_io.run(main)
