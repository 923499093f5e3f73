"""The package's column rules (st_cookbook.check_columns_for_loss) and the recipes' own
(recipes/recipe_io.py, which must not import the package) agree: each bad dataset is rejected
by both, each good one accepted by both."""

import pytest
from conftest import load_recipe
from datasets import Dataset

from st_cookbook import DatasetFormatError, check_columns_for_loss

TEXT = ["how do I reset it", "I forgot my password", "change my email", "the app crashes", "no heat", "track my order"]
OTHER = TEXT[::-1]


def pairs(**columns) -> Dataset:
    return Dataset.from_dict({"sentence1": TEXT, "sentence2": OTHER, **columns})


def recipe_check(dataset: Dataset, shape: str, loss: str) -> None:
    """What the recipe for `shape` checks before training, with --loss `loss`."""
    recipe_io = load_recipe("labeled_pairs").recipe_io
    picked = recipe_io.pick_columns(dataset, recipe_io.SHAPES[shape], {}, "data")
    if shape == "labeled-pairs":
        recipe_io.check_labels(picked, load_recipe("labeled_pairs").LOSSES[loss], loss, "data")


# (dataset, the package's loss, the recipe's shape, what the package says, what the recipe says)
REJECTED = {
    "no label column": (lambda: pairs(), "CoSENTLoss", "labeled-pairs", "no label column", "no label column"),
    "one score for every pair": (
        lambda: pairs(score=[1.0] * 6),
        "CoSENTLoss",
        "labeled-pairs",
        "Every row has the score 1.0",
        "every row has the score 1.0",
    ),
    "text labels": (
        lambda: pairs(label=["high", "low"] * 3),
        "CoSENTLoss",
        "labeled-pairs",
        "holds strings",
        "Expected a number",
    ),
    "label and score both": (
        lambda: pairs(label=[0, 1] * 3, score=[0.5] * 6),
        "CoSENTLoss",
        "labeled-pairs",
        "both 'label' and 'score'",
        "could each be the label",
    ),
    "scores outside [-1, 1]": (
        lambda: pairs(score=[0.0, 2.5, 5.0] * 2),
        "CosineSimilarityLoss",
        "labeled-pairs",
        "[-1, 1]",
        "[-1, 1]",
    ),
    "0/1 loss with graded labels": (
        lambda: pairs(label=[0, 1, 2] * 2),
        "ContrastiveLoss",
        "labeled-pairs",
        "not only 0 and 1",
        "expects labels 0 (dissimilar) and 1 (similar)",
    ),
    "three text columns for a labeled pairs loss": (
        lambda: pairs(third=TEXT, score=[0.5] * 6),
        "CoSENTLoss",
        "labeled-pairs",
        "got 3 text columns",
        "keep only those columns",
    ),
    "columns in the wrong order": (
        lambda: Dataset.from_dict({"positive": OTHER, "anchor": TEXT}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
        "'anchor' must come first",
        "wrong order",
    ),
    "a text column empty in every row": (
        lambda: Dataset.from_dict({"anchor": [None] * 6, "positive": OTHER}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
        "'anchor' is empty in every row",
        "'anchor' is empty in every row",
    ),
    # The package counts dataset rows from 0, the recipes data rows of a file from 1.
    "an empty string cell": (
        lambda: Dataset.from_dict({"anchor": [*TEXT[:5], " "], "positive": OTHER}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
        "'anchor' is empty in row 5",
        "'anchor' is empty in data row 6",
    ),
    "a missing text cell": (
        lambda: Dataset.from_dict({"anchor": [*TEXT[:5], None], "positive": OTHER}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
        "'anchor' is empty in row 5",
        "'anchor' is empty in data row 6",
    ),
    "a label column given to positive pairs": (
        lambda: Dataset.from_dict({"anchor": TEXT, "positive": OTHER, "label": [1] * 6}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
        "which this loss does not use",
        "which these losses do not use",
    ),
    "three text columns for a pairs loss": (
        lambda: Dataset.from_dict({"a": TEXT, "b": OTHER, "c": TEXT}),
        "MegaBatchMarginLoss",
        "positive-pairs",
        "got 3 text columns",
        "For triplets use recipes/train_triplets.py",
    ),
    "a number column as a text": (
        lambda: Dataset.from_dict({"id": list(range(6)), "anchor": TEXT, "positive": OTHER}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
        "instead of text",
        "keep only those columns",
    ),
    "fractional class ids": (
        lambda: Dataset.from_dict({"text": TEXT, "label": [0.5, 1.0] * 3}),
        "BatchHardTripletLoss",
        "labeled-sentences",
        "non-integer values",
        "holds fractions",
    ),
    "a class column empty in every row": (
        lambda: Dataset.from_dict({"text": TEXT, "label": [None] * 6}),
        "BatchHardTripletLoss",
        "labeled-sentences",
        "'label' is empty in every row",
        "'label' is empty in every row",
    ),
    "triplet columns in the wrong order": (
        lambda: Dataset.from_dict({"anchor": TEXT, "negative": OTHER, "positive": TEXT}),
        "TripletLoss",
        "triplets",
        "'negative' last",
        "wrong order",
    ),
}


@pytest.mark.parametrize("case", REJECTED)
def test_the_package_and_the_recipes_reject_the_same_dataset(case):
    make, loss, shape, package_says, recipe_says = REJECTED[case]
    with pytest.raises(DatasetFormatError) as package:
        check_columns_for_loss(make(), loss)
    with pytest.raises(load_recipe("labeled_pairs").recipe_io.RecipeError) as recipe:
        recipe_check(make(), shape, loss)
    for error, expected in ((package, package_says), (recipe, recipe_says)):
        assert expected in str(error.value) and "Fix:" in str(error.value), str(error.value)


ACCEPTED = {
    **{
        f"{name} as the label of pairs": (
            lambda name=name: pairs(**{name: [0.2, 0.9] * 3}),
            "CoSENTLoss",
            "labeled-pairs",
        )
        for name in ("label", "labels", "score", "scores")
    },
    **{
        f"{name} as the class of sentences": (
            lambda name=name: Dataset.from_dict({"text": TEXT, name: [0, 1] * 3}),
            "BatchHardTripletLoss",
            "labeled-sentences",
        )
        for name in ("label", "labels", "score", "scores")
    },
    "0/1 labels for a contrastive loss": (lambda: pairs(labels=[0, 1] * 3), "ContrastiveLoss", "labeled-pairs"),
    "positive pairs": (
        lambda: Dataset.from_dict({"anchor": TEXT, "positive": OTHER}),
        "MultipleNegativesRankingLoss",
        "positive-pairs",
    ),
    "triplets": (
        lambda: Dataset.from_dict({"anchor": TEXT, "positive": OTHER, "negative": TEXT}),
        "TripletLoss",
        "triplets",
    ),
}


@pytest.mark.parametrize("case", ACCEPTED)
def test_the_package_and_the_recipes_accept_the_same_dataset(case):
    make, loss, shape = ACCEPTED[case]
    checked = check_columns_for_loss(make(), loss)
    recipe_io = load_recipe("labeled_pairs").recipe_io
    picked = recipe_io.pick_columns(make(), recipe_io.SHAPES[shape], {}, "data")
    recipe_check(make(), shape, loss)
    # Both read the same columns as the inputs and the label, in the same order.
    assert picked.column_names == [*recipe_io.SHAPES[shape].texts, *(["label"] if checked.label else [])]
    source = make().select_columns([*checked.inputs, *([checked.label] if checked.label else [])])
    assert picked.to_dict() == source.rename_columns(dict(zip(source.column_names, picked.column_names))).to_dict()


def test_both_read_the_label_names_the_library_reads():
    from sentence_transformers.base.data_collator import DEFAULT_LABEL_COLUMNS

    import st_cookbook.validation as validation

    recipe_io = load_recipe("labeled_pairs").recipe_io
    assert tuple(recipe_io.LABEL_COLUMNS) == tuple(validation.LABEL_COLUMNS) == tuple(DEFAULT_LABEL_COLUMNS)
