"""Fine-tune a Sentence Transformer on pairs of texts with a similarity label.

Dataset case 1: rows of (sentence1, sentence2, label).
  float label, a graded similarity score ...... CoSENTLoss (default), AnglELoss,
                                                CosineSimilarityLoss (scores in [-1, 1])
  int label 0/1, "similar or not" ............. ContrastiveLoss, OnlineContrastiveLoss
  int label, class ids (e.g. NLI) ............. SoftmaxLoss

The label is the column named label, labels, score or scores (the library's rule) and the
other two columns are the texts, in file order; map other names with --sentence1-column,
--sentence2-column and --label-column. Evaluation: EmbeddingSimilarityEvaluator (Spearman)
for scores, BinaryClassificationEvaluator (average precision) for 0/1 labels. Every
SentenceTransformerTrainingArguments field is an option too. The last line of stdout is
one JSON object with the metrics before and after training.

Without --num_train_epochs or --max_steps the budget follows the data: one epoch of a
large file, more of a small one (at least recipe_io.MIN_STEPS optimizer steps, at most
recipe_io.MAX_EPOCHS epochs); the first lines of output say what was chosen.

To use it in your project, copy this file and recipe_io.py (the options, data checks and
report it shares with the other recipes) into one folder.

examples:
  python train_labeled_pairs.py            # bundled help-desk pairs, CoSENTLoss
  python train_labeled_pairs.py --train-data pairs.csv --eval-data test.csv --num_train_epochs 4
  python train_labeled_pairs.py --train-data sentence-transformers/stsb --eval-split test
  torchrun --nproc_per_node=2 train_labeled_pairs.py --per_device_train_batch_size 16
  python train_labeled_pairs.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python train_labeled_pairs.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import (
    BinaryClassificationEvaluator,
    EmbeddingSimilarityEvaluator,
)
from transformers import set_seed

import recipe_io

# Loss -> the label it needs: "score" (any number; only the order matters), "unit" (the
# target cosine similarity, in [-1, 1]), "binary" (0/1) or "class" (ids 0..n-1).
LOSSES = {
    "CoSENTLoss": "score",
    "AnglELoss": "score",
    "CosineSimilarityLoss": "unit",
    "ContrastiveLoss": "binary",
    "OnlineContrastiveLoss": "binary",
    "SoftmaxLoss": "class",
}


@dataclass
class Options(recipe_io.DataOptions):
    sentence1_column: str | None = field(default=None, metadata={"help": "Column holding the first text."})
    sentence2_column: str | None = field(default=None, metadata={"help": "Column holding the second text."})
    label_column: str | None = field(
        default=None, metadata={"help": "Column holding the label (without it: label, labels, score or scores)."}
    )
    loss: str = field(default="CoSENTLoss", metadata={"help": "Loss to train with.", "choices": list(LOSSES)})


def main(argv: list[str] | None = None) -> None:
    options, args = recipe_io.parse_args(
        Options, SentenceTransformerTrainingArguments, __doc__, argv, output_dir="models/train_labeled_pairs"
    )
    checkpoint = recipe_io.resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)

    # 1. Data: (sentence1, sentence2, label) rows. Bad data stops here, before anything loads or is written.
    columns = {
        "sentence1": options.sentence1_column,
        "sentence2": options.sentence2_column,
        "label": options.label_column,
    }
    train_dataset, eval_dataset, train_source, _ = recipe_io.load_data(
        options, recipe_io.SHAPES["labeled-pairs"], columns, bundled="labeled_pairs", seed=args.seed
    )
    recipe_io.check_labels(train_dataset, LOSSES[options.loss], options.loss, train_source)

    # 2. The model to fine-tune.
    set_seed(args.seed)
    model = recipe_io.load_model(options.model, device=str(args.device))

    # 3. The loss: SoftmaxLoss trains a classifier head over the pair, the others compare the two embeddings.
    if options.loss == "SoftmaxLoss":
        num_labels = int(max(train_dataset["label"])) + 1
        loss = losses.SoftmaxLoss(model, model.get_sentence_embedding_dimension(), num_labels)
    else:
        loss = getattr(losses, options.loss)(model)

    # 4. The evaluator: 0/1 labels ask whether the similarity separates the pairs (average precision);
    #    graded scores whether it ranks them like the scores (Spearman).
    texts = {"sentences1": eval_dataset["sentence1"], "sentences2": eval_dataset["sentence2"]}
    labels = eval_dataset["label"]
    if not eval_dataset.features["label"].dtype.startswith("float") and set(labels) <= {0, 1}:
        evaluator = BinaryClassificationEvaluator(
            **texts, labels=[int(v) for v in labels], batch_size=args.per_device_eval_batch_size
        )
    else:
        evaluator = EmbeddingSimilarityEvaluator(
            **texts, scores=[float(v) for v in labels], batch_size=args.per_device_eval_batch_size
        )

    # 5. Train. Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = args.process_index == 0
    if is_main_process:
        before = recipe_io.evaluate(evaluator, model)
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
        after = recipe_io.evaluate(evaluator, model)
        recipe_io.report(
            trainer, options, evaluator, before, after, train_dataset, train_seconds, checkpoint, callbacks
        )


if __name__ == "__main__":
    recipe_io.run(main)
