"""check_columns_for_loss stops bad datasets before training, naming the fix."""

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

import st_cookbook as cb
from st_cookbook import DatasetFormatError, check_columns_for_loss, recommend_losses

TEXT = ["how do I reset it", "I forgot my password", "change my email", "the app crashes", "no heat", "track my order"]


def pairs(label=None, **extra):
    data = {"sentence1": TEXT, "sentence2": TEXT[::-1], **extra}
    if label is not None:
        data["label"] = label
    return Dataset.from_dict(data)


# (kind of bad input, dataset factory, loss, text the message must contain)
BAD_INPUTS = [
    (
        "a DatasetDict instead of one split",
        lambda: DatasetDict({"train": pairs([0, 1] * 3)}),
        "ContrastiveLoss",
        "dataset['train']",
    ),
    (
        "a plain list",
        lambda: [{"sentence1": "a", "sentence2": "b", "label": 1}],
        "ContrastiveLoss",
        "Dataset.from_list",
    ),
    ("no rows", lambda: pairs([0, 1] * 3).select([]), "ContrastiveLoss", "no rows"),
    ("unknown loss", lambda: pairs([0, 1] * 3), "ContrastiveLos", "known losses: AnglELoss"),
    (
        "misordered triplet columns",
        lambda: cb.load_triplets("dev").select_columns(["anchor", "negative", "positive"]),
        "TripletLoss",
        "select_columns(['anchor', 'positive', 'negative'])",
    ),
    (
        "misordered pair columns",
        lambda: pairs([0, 1] * 3).select_columns(["sentence2", "sentence1", "label"]),
        "ContrastiveLoss",
        "select_columns(['sentence1', 'sentence2', 'label'])",
    ),
    (
        "label under a non-standard name",
        lambda: pairs(similarity=[0.1, 0.9] * 3),
        "CoSENTLoss",
        "rename_column('similarity', 'label')",
    ),
    (
        "label column for a loss that takes none",
        lambda: pairs([0, 1] * 3),
        "MultipleNegativesRankingLoss",
        "remove_columns('label')",
    ),
    ("missing label", lambda: pairs(), "ContrastiveLoss", "no label column named 'label', 'labels', 'score', 'scores'"),
    ("both label and score", lambda: pairs([0, 1] * 3, score=[0.5] * 6), "CoSENTLoss", "remove_columns('score')"),
    (
        "both labels and scores",
        lambda: pairs(labels=[0, 1] * 3, scores=[0.5] * 6),
        "CoSENTLoss",
        "feed 'scores' to the loss as an input",
    ),
    (
        "too few inputs",
        lambda: Dataset.from_dict({"anchor": TEXT}),
        "MultipleNegativesRankingLoss",
        "add the missing text column",
    ),
    (
        "too many inputs for pairs",
        lambda: cb.load_triplets("dev").rename_columns({"anchor": "a", "positive": "b", "negative": "c"}),
        "MegaBatchMarginLoss",
        "select_columns(['a', 'b'])",
    ),
    (
        "a numeric id column as an input",
        lambda: Dataset.from_dict({"id": list(range(6)), "anchor": TEXT, "positive": TEXT}),
        "MultipleNegativesRankingLoss",
        "remove_columns('id')",
    ),
    (
        "empty text",
        lambda: Dataset.from_dict({"anchor": TEXT[:5] + [" "], "positive": TEXT}),
        "MultipleNegativesRankingLoss",
        "filter(",
    ),
    (
        "missing text",
        lambda: Dataset.from_dict({"anchor": TEXT[:5] + [None], "positive": TEXT}),
        "MultipleNegativesRankingLoss",
        "row 5",
    ),
    ("string labels", lambda: pairs(["yes", "no"] * 3), "ContrastiveLoss", "class_encode_column('label')"),
    ("non-binary labels for a contrastive loss", lambda: pairs([0, 1, 2] * 2), "ContrastiveLoss", "CoSENTLoss"),
    (
        "scores outside [-1, 1] for CosineSimilarityLoss",
        lambda: pairs([0.0, 2.5, 5.0] * 2),
        "CosineSimilarityLoss",
        "divide by 5",
    ),
    ("missing label values", lambda: pairs([0.5, None] * 3), "CoSENTLoss", "missing values"),
    (
        "fractional class ids",
        lambda: Dataset.from_dict({"sentence": TEXT, "label": [0.5, 1.0] * 3}),
        "BatchAllTripletLoss",
        "integer class ids",
    ),
    (
        "negative class ids",
        lambda: Dataset.from_dict({"sentence": TEXT, "label": [-1, 1] * 3}),
        "BatchHardTripletLoss",
        "renumber",
    ),
    (
        "one class only",
        lambda: Dataset.from_dict({"sentence": TEXT, "label": [3] * 6}),
        "BatchSemiHardTripletLoss",
        "at least 2 classes",
    ),
    (
        "one sentence per class",
        lambda: Dataset.from_dict({"sentence": TEXT, "label": list(range(6))}),
        "BatchHardSoftMarginTripletLoss",
        "more sentences per class",
    ),
    ("a wrapper loss named without its inner loss", lambda: pairs([0, 1] * 3), "MatryoshkaLoss", "inner loss"),
]


@pytest.mark.parametrize("kind, make, loss, fix", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_rejected_with_its_fix(kind, make, loss, fix):
    with pytest.raises(DatasetFormatError) as error:
        check_columns_for_loss(make(), loss)
    message = str(error.value)
    assert fix in message and "Fix:" in message, f"{kind}: {message}"


def test_a_good_dataset_reports_what_the_trainer_will_use():
    checked = check_columns_for_loss(cb.load_labeled_pairs("dev", "graded"), "CoSENTLoss")
    assert checked == cb.ColumnCheck(loss="CoSENTLoss", inputs=("sentence1", "sentence2"), label="label")
    score = Dataset.from_dict({"a": TEXT, "b": TEXT, "score": [0.2, 0.8] * 3})
    assert check_columns_for_loss(score, "CoSENTLoss").label == "score"


def test_losses_given_as_class_instance_or_wrapper(bundled_model):
    from sentence_transformers.sentence_transformer.losses import (
        MatryoshkaLoss,
        MultipleNegativesRankingLoss,
        TripletLoss,
    )

    triplets = cb.load_triplets("dev")
    assert check_columns_for_loss(triplets, TripletLoss).loss == "TripletLoss"
    inner = MultipleNegativesRankingLoss(bundled_model)
    assert check_columns_for_loss(triplets, inner).loss == "MultipleNegativesRankingLoss"
    wrapped = MatryoshkaLoss(bundled_model, inner, matryoshka_dims=[384, 128])
    assert check_columns_for_loss(triplets, wrapped).loss == "MultipleNegativesRankingLoss"


def test_class_label_feature_is_accepted_for_class_losses():
    data = Dataset.from_dict(
        {"sentence": TEXT, "label": [0, 1] * 3},
        features=Features({"sentence": Value("string"), "label": ClassLabel(names=["a", "b"])}),
    )
    assert check_columns_for_loss(data, "BatchAllTripletLoss").label == "label"


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda: pairs([0, 1] * 3),
            [
                "OnlineContrastiveLoss",
                "ContrastiveLoss",
                "CoSENTLoss",
                "AnglELoss",
                "CosineSimilarityLoss",
                "SoftmaxLoss",
            ],
        ),
        (lambda: pairs([0.0, 2.5, 5.0] * 2), ["CoSENTLoss", "AnglELoss"]),
        (lambda: pairs([0, 1, 2] * 2), ["CoSENTLoss", "AnglELoss", "SoftmaxLoss"]),
        (
            lambda: Dataset.from_dict({"sentence": TEXT, "label": [0, 1] * 3}),
            [
                "BatchAllTripletLoss",
                "BatchHardTripletLoss",
                "BatchSemiHardTripletLoss",
                "BatchHardSoftMarginTripletLoss",
            ],
        ),
    ],
)
def test_recommendations_follow_the_shape(make, expected):
    assert recommend_losses(make()) == expected


def test_recommendation_for_triplets_includes_triplet_loss_but_not_pair_only_losses():
    found = recommend_losses(cb.load_triplets("dev"))
    assert found[0] == "MultipleNegativesRankingLoss" and "TripletLoss" in found
    assert "MegaBatchMarginLoss" not in found and "ContrastiveLoss" not in found


def test_no_fitting_loss_explains_the_shapes():
    with pytest.raises(
        DatasetFormatError, match="The first column named 'label', 'labels', 'score', 'scores' is the label"
    ):
        recommend_losses(Dataset.from_dict({"text": TEXT, "label": ["x"] * 6}))


@pytest.mark.parametrize("name", ["label", "labels", "score", "scores"])
def test_every_name_the_data_collator_reads_is_a_label(name):
    """The library's data collator takes the first of label, labels, score, scores as the label."""
    from sentence_transformers.base.data_collator import DEFAULT_LABEL_COLUMNS

    assert name in DEFAULT_LABEL_COLUMNS
    dataset = Dataset.from_dict({"sentence1": TEXT, "sentence2": TEXT[::-1], name: [0.0, 1.0] * 3})
    assert check_columns_for_loss(dataset, "CoSENTLoss").label == name
    assert recommend_losses(dataset)[0] in {"OnlineContrastiveLoss", "CoSENTLoss"}


def test_recommendations_are_never_deprecated():
    """sentence-transformers marks deprecated losses (e.g. the symmetric MNRL variants in 6.2) with
    __deprecated__; nothing the cookbook recommends may be one of them."""
    from sentence_transformers.sentence_transformer import losses

    datasets = [
        cb.load_positive_pairs("dev"),
        cb.load_triplets("dev"),
        cb.load_labeled_pairs("dev", "binary"),
        cb.load_labeled_pairs("dev", "graded"),
        cb.load_labeled_sentences("dev"),
    ]
    recommended = {name for dataset in datasets for name in recommend_losses(dataset)} | set(cb.LOSS_SPECS)
    deprecated = sorted(name for name in recommended if getattr(getattr(losses, name), "__deprecated__", None))
    assert not deprecated
