"""Shared helpers of the Sentence Transformers fine-tuning cookbook.

They hide boilerplate (the bundled corpus, user-data loading, dataset checks,
seeding, hardware choice, plots) so that the notebooks can show the library's own
API in the cells a learner copies.
"""

from .corpus import (
    GRADE,
    SPLITS,
    intent_names,
    load_intents,
    load_labeled_pairs,
    load_labeled_sentences,
    load_positive_pairs,
    load_support_answers,
    load_support_corpus,
    load_triplets,
    support_retrieval_evaluator,
    support_triplet_evaluator,
    topic_names,
)
from .data_loading import LOCAL_FORMATS, load_user_dataset
from .hardware import describe_hardware, pick_device, pick_precision, seed_everything
from .models import DEFAULT_MODEL, resolve_model_name
from .plotting import plot_loss_curves, plot_umap, umap_2d
from .results import report_metrics
from .validation import (
    LOSS_SPECS,
    ColumnCheck,
    DatasetFormatError,
    check_columns_for_loss,
    recommend_losses,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "GRADE",
    "LOCAL_FORMATS",
    "LOSS_SPECS",
    "SPLITS",
    "ColumnCheck",
    "DatasetFormatError",
    "check_columns_for_loss",
    "describe_hardware",
    "intent_names",
    "load_intents",
    "load_labeled_pairs",
    "load_labeled_sentences",
    "load_positive_pairs",
    "load_support_answers",
    "load_support_corpus",
    "load_triplets",
    "load_user_dataset",
    "pick_device",
    "pick_precision",
    "plot_loss_curves",
    "plot_umap",
    "recommend_losses",
    "report_metrics",
    "resolve_model_name",
    "seed_everything",
    "support_retrieval_evaluator",
    "support_triplet_evaluator",
    "topic_names",
    "umap_2d",
]
