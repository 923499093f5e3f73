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
from .hardware import describe_hardware, pick_precision, seed_everything
from .models import DEFAULT_MODEL, BundledModelError, register_bundled_model
from .plotting import plot_intervals, plot_loss_curves, plot_study, plot_tradeoff, plot_umap, umap_2d
from .probe import STSBenchmarkMissing, load_general_pairs, load_stsb
from .results import report_metrics
from .studies import compare, compare_spearman, format_summary, load_study, outcomes, summarize
from .uncertainty import (
    Interval,
    SeedSpread,
    bootstrap_mean,
    bootstrap_spearman,
    knn_outcomes,
    pair_similarities,
    paired_bootstrap,
    paired_spearman,
    retrieval_outcomes,
    seed_spread,
    triplet_outcomes,
)
from .validation import (
    LOSS_SPECS,
    ColumnCheck,
    DatasetFormatError,
    check_columns_for_loss,
    recommend_losses,
)

__version__ = "0.2.0"

__all__ = [
    "DEFAULT_MODEL",
    "BundledModelError",
    "Interval",
    "SeedSpread",
    "GRADE",
    "LOCAL_FORMATS",
    "LOSS_SPECS",
    "SPLITS",
    "STSBenchmarkMissing",
    "ColumnCheck",
    "DatasetFormatError",
    "bootstrap_mean",
    "bootstrap_spearman",
    "check_columns_for_loss",
    "compare",
    "compare_spearman",
    "format_summary",
    "describe_hardware",
    "intent_names",
    "load_general_pairs",
    "load_intents",
    "load_labeled_pairs",
    "load_labeled_sentences",
    "load_positive_pairs",
    "load_study",
    "load_stsb",
    "load_support_answers",
    "load_support_corpus",
    "load_triplets",
    "knn_outcomes",
    "load_user_dataset",
    "outcomes",
    "pair_similarities",
    "paired_bootstrap",
    "paired_spearman",
    "pick_precision",
    "plot_intervals",
    "plot_loss_curves",
    "plot_study",
    "plot_tradeoff",
    "plot_umap",
    "recommend_losses",
    "report_metrics",
    "register_bundled_model",
    "retrieval_outcomes",
    "seed_everything",
    "seed_spread",
    "summarize",
    "support_retrieval_evaluator",
    "support_triplet_evaluator",
    "topic_names",
    "triplet_outcomes",
    "umap_2d",
]
