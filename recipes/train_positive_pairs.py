"""Fine-tune a Sentence Transformer on positive pairs: (anchor, positive) texts that belong together.

Dataset case 2: rows of (anchor, positive), e.g. (question, answer), (query, passage),
(sentence, paraphrase); no label. The other positives in a batch serve as negatives:
  MultipleNegativesRankingLoss (default) ...... in-batch negatives, the usual first choice
  CachedMultipleNegativesRankingLoss .......... the same with big batches in little memory
  MegaBatchMarginLoss ......................... the hardest in-batch negative, with margins
The NO_DUPLICATES batch sampler is on by default: a repeated text in a batch would be
a false negative for its own anchor.

The first text column is the anchor and the second the positive, in file order; map
other names with --anchor-column and --positive-column. Evaluation:
InformationRetrievalEvaluator, each eval anchor retrieving its positive among all
distinct eval positives. Every SentenceTransformerTrainingArguments field is an option
too. The last line of stdout is one JSON object with the metrics before and after training.

Without --num_train_epochs or --max_steps the budget follows the data: one epoch of a
large file, more of a small one (at least recipe_io.MIN_STEPS optimizer steps, at most
recipe_io.MAX_EPOCHS epochs); the first lines of output say what was chosen.

To use it in your project, copy this file and recipe_io.py (the options, data checks and
report it shares with the other recipes) into one folder.

examples:
  python train_positive_pairs.py           # bundled help-desk (question, answer) pairs
  python train_positive_pairs.py --train-data qa.csv --eval-data qa_test.csv --per_device_train_batch_size 64
  python train_positive_pairs.py --train-data qa.jsonl --anchor-column question --positive-column answer
  torchrun --nproc_per_node=2 train_positive_pairs.py
  python train_positive_pairs.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python train_positive_pairs.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
  python train_positive_pairs.py --mine-hard-negatives 3 --loss CachedMultipleNegativesRankingLoss
  python train_positive_pairs.py --matryoshka-dims 384,256,128,64
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
from sentence_transformers.util import mine_hard_negatives
from transformers import set_seed

import recipe_io
from recipe_io import RecipeError

LOSSES = ("MultipleNegativesRankingLoss", "CachedMultipleNegativesRankingLoss", "MegaBatchMarginLoss")


@dataclass
class Options(recipe_io.DataOptions):
    anchor_column: str | None = field(default=None, metadata={"help": "Column holding the anchor (query, question)."})
    positive_column: str | None = field(
        default=None, metadata={"help": "Column holding the positive (document, answer)."}
    )
    loss: str = field(
        default="MultipleNegativesRankingLoss", metadata={"help": "Loss to train with.", "choices": LOSSES}
    )
    mine_hard_negatives: int = field(
        default=0,
        metadata={
            "help": "Before training, give each (anchor, positive) row this many hard negatives: the other "
            "training positives the model (as loaded) finds most similar to the anchor, skipping any scored "
            "within 5%% of the row's own positive (likely false negatives; sentence_transformers.util."
            "mine_hard_negatives with relative_margin=0.05, sampling_strategy='top'). Rows for which that many "
            "are not found are dropped. Not with MegaBatchMarginLoss. 0: in-batch negatives only."
        },
    )
    matryoshka_dims: str | None = recipe_io.matryoshka_dims_field()


def check_mining(options: Options) -> None:
    if options.mine_hard_negatives < 0:
        raise RecipeError(
            f"--mine-hard-negatives {options.mine_hard_negatives}: expected the number of hard "
            "negatives per row, 0 (off) or more. Fix: pass e.g. --mine-hard-negatives 1."
        )
    if options.mine_hard_negatives and options.loss == "MegaBatchMarginLoss":
        raise RecipeError(
            "--mine-hard-negatives needs a loss that takes negative columns; MegaBatchMarginLoss reads "
            "(anchor, positive) only. Expected --loss MultipleNegativesRankingLoss or "
            "CachedMultipleNegativesRankingLoss. Fix: pass one of those, or drop --mine-hard-negatives."
        )


def main(argv: list[str] | None = None) -> None:
    options, args = recipe_io.parse_args(
        Options,
        SentenceTransformerTrainingArguments,
        __doc__,
        argv,
        output_dir="models/train_positive_pairs",
        batch_sampler=BatchSamplers.NO_DUPLICATES.value,
    )
    checkpoint = recipe_io.resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
    check_mining(options)
    dims = recipe_io.parse_dims(options.matryoshka_dims)

    # 1. Data: (anchor, positive) rows. Bad data stops here, before anything loads or is written.
    columns = {"anchor": options.anchor_column, "positive": options.positive_column}
    train_dataset, eval_dataset, _, _ = recipe_io.load_data(
        options, recipe_io.SHAPES["positive-pairs"], columns, bundled="positive_pairs", seed=args.seed
    )

    # 2. The model to fine-tune.
    set_seed(args.seed)
    model = recipe_io.load_model(options.model, device=str(args.device))
    recipe_io.check_dims(dims, model)

    # Optional: hard negatives, the other training positives the model ranks highest for each anchor,
    # skipping those within 5% of the row's own positive (likely unlabeled positives).
    rows = train_dataset.num_rows
    if options.mine_hard_negatives:
        train_dataset = mine_hard_negatives(
            train_dataset,
            model,
            anchor_column_name="anchor",
            positive_column_name="positive",
            num_negatives=options.mine_hard_negatives,
            relative_margin=0.05,
            sampling_strategy="top",
            output_format="n-tuple",
            batch_size=args.per_device_eval_batch_size,
        )
        print(
            f"Hard negatives: {train_dataset.num_rows} of {rows} training rows got {options.mine_hard_negatives} "
            f"each; {rows - train_dataset.num_rows} rows without enough candidates are left out."
        )
        if train_dataset.num_rows == 0:
            raise RecipeError(
                f"--mine-hard-negatives {options.mine_hard_negatives}: no training row got that many "
                "hard negatives (too few distinct positives that score below the row's own). Expected "
                "more distinct positives than negatives per row. Fix: lower --mine-hard-negatives, or "
                "add training rows."
            )

    # 3. The loss; with --matryoshka-dims wrapped in MatryoshkaLoss, so that embeddings cut to each size work too.
    loss = getattr(losses, options.loss)(model)
    if dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=dims)

    # 4. The evaluator: each eval anchor retrieves among all distinct eval positives.
    retrieval = recipe_io.retrieval_inputs(eval_dataset["anchor"], eval_dataset["positive"])
    evaluator = InformationRetrievalEvaluator(**retrieval, batch_size=args.per_device_eval_batch_size)
    dim_evaluators = {
        dim: InformationRetrievalEvaluator(**retrieval, batch_size=args.per_device_eval_batch_size, truncate_dim=dim)
        for dim in dims
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
        mined = (
            {"mined_negatives": train_dataset.num_rows * options.mine_hard_negatives}
            if options.mine_hard_negatives
            else {}
        )
        recipe_io.report(
            trainer, options, evaluator, before, after, train_dataset, train_seconds, checkpoint, callbacks, **mined
        )


if __name__ == "__main__":
    recipe_io.run(main)
