"""The bundled corpus: sizes, siblings, disjoint splits, and no held-out leakage."""

from collections import Counter

import pytest
from datasets import ClassLabel

import st_cookbook as cb
from st_cookbook import corpus

TRAINING_FORMATS = {
    "labeled pairs (binary)": lambda: cb.load_labeled_pairs("train", "binary"),
    "labeled pairs (graded)": lambda: cb.load_labeled_pairs("train", "graded"),
    "positive pairs (answer)": lambda: cb.load_positive_pairs("train", "answer"),
    "positive pairs (paraphrase)": lambda: cb.load_positive_pairs("train", "paraphrase"),
    "labeled sentences (intent)": lambda: cb.load_labeled_sentences("train", "intent"),
    "labeled sentences (topic)": lambda: cb.load_labeled_sentences("train", "topic"),
    "triplets": lambda: cb.load_triplets("train"),
}


def intents_by_name():
    return {i.name: i for i in cb.load_intents()}


def test_sizes():
    intents = cb.load_intents()
    assert len({i.topic for i in intents}) >= 8
    assert len(intents) >= 60
    assert all(len(i.questions) == 12 and len(i.eval_questions) == 8 for i in intents)
    assert all(30 <= len(i.answer.split()) <= 80 for i in intents)


def test_every_question_is_unique():
    questions = [q.strip().lower() for i in cb.load_intents() for q in i.questions + i.eval_questions]
    assert len(questions) == len(set(questions))


def test_every_intent_has_a_symmetric_sibling_in_its_topic():
    by_name = intents_by_name()
    for intent in by_name.values():
        assert intent.siblings, f"{intent.name} has no sibling"
        for sibling in intent.siblings:
            assert by_name[sibling].topic == intent.topic
            assert intent.name in by_name[sibling].siblings, f"{sibling} does not list {intent.name} back"


def test_siblings_share_vocabulary():
    """Siblings are hard negatives: their questions share content words."""
    by_name = intents_by_name()
    stop = {
        "the",
        "a",
        "an",
        "i",
        "my",
        "to",
        "and",
        "it",
        "is",
        "of",
        "in",
        "for",
        "on",
        "do",
        "how",
        "can",
        "me",
        "what",
    }

    def words(intent):
        return {w.strip("?.,!'\"").lower() for q in intent.questions for w in q.split()} - stop

    for intent in by_name.values():
        shared = max(len(words(intent) & words(by_name[s])) for s in intent.siblings)
        assert shared >= 5, f"{intent.name} shares only {shared} words with its closest sibling"


def test_splits_are_disjoint_and_cover_every_question():
    splits = {s: cb.load_support_corpus(s)["question"] for s in cb.SPLITS}
    seen = Counter(q for questions in splits.values() for q in questions)
    assert max(seen.values()) == 1, "a question appears in two splits"
    assert sum(seen.values()) == sum(len(i.questions) + len(i.eval_questions) for i in cb.load_intents())
    n_train_intents = sum(not i.held_out for i in cb.load_intents())
    assert {s: len(q) for s, q in splits.items()} == {
        "train": 7 * n_train_intents,
        "dev": 5 * n_train_intents,
        "test": 8 * n_train_intents,
        "held_out": 20 * (len(cb.load_intents()) - n_train_intents),
    }


def test_evaluation_questions_never_train():
    """The 8 `eval_questions` of an intent only ever reach dev, test and held_out."""
    eval_only = {q for i in cb.load_intents() for q in i.eval_questions}
    train = set(cb.load_support_corpus("train")["question"])
    assert not eval_only & train
    for make in TRAINING_FORMATS.values():
        dataset = make()
        texts = {t for column in dataset.column_names if column != "label" for t in dataset[column]}
        assert not texts & eval_only


def test_one_held_out_intent_per_topic_and_siblings_left_to_learn_from():
    intents = cb.load_intents()
    held = [i for i in intents if i.held_out]
    assert sorted(i.topic for i in held) == sorted({i.topic for i in intents})
    held_names = {i.name for i in held}
    for intent in intents:
        if not intent.held_out:
            assert set(intent.siblings) - held_names, f"{intent.name} has no sibling left in training"


def test_splits_are_deterministic():
    before = {s: cb.load_support_corpus(s)["question"] for s in cb.SPLITS}
    corpus.load_intents.cache_clear()
    corpus._questions.cache_clear()
    after = {s: cb.load_support_corpus(s)["question"] for s in cb.SPLITS}
    assert before == after
    assert cb.load_triplets("train")["negative"] == cb.load_triplets("train")["negative"]


@pytest.mark.parametrize("name", TRAINING_FORMATS)
def test_held_out_intents_never_reach_training_data(name):
    held = [i for i in cb.load_intents() if i.held_out]
    forbidden = {q for i in held for q in i.questions + i.eval_questions} | {i.answer for i in held}
    dataset = TRAINING_FORMATS[name]()
    texts = {v for col in dataset.column_names for v in dataset[col] if isinstance(v, str)}
    assert not texts & forbidden
    label = dataset.features.get("label")
    if isinstance(label, ClassLabel) and "intent" in name:
        assert not {label.int2str(v) for v in dataset["label"]} & {i.name for i in held}


def test_train_split_has_no_dev_or_test_text():
    train = {
        v
        for fmt in TRAINING_FORMATS.values()
        for d in [fmt()]
        for c in d.column_names
        for v in d[c]
        if isinstance(v, str)
    }
    evaluation = set(cb.load_support_corpus("dev")["question"]) | set(cb.load_support_corpus("test")["question"])
    assert not train & evaluation


def intent_of(text):
    return next(i.name for i in cb.load_intents() if text in i.questions + i.eval_questions)


@pytest.mark.parametrize("split", cb.SPLITS)
def test_labeled_pairs(split):
    binary = cb.load_labeled_pairs(split, "binary")
    assert binary.column_names == ["sentence1", "sentence2", "label"]
    assert binary.features["label"].dtype == "int64"
    assert set(binary["label"]) == {0, 1}
    for row in binary.select(range(0, binary.num_rows, 7)):
        assert (intent_of(row["sentence1"]) == intent_of(row["sentence2"])) == bool(row["label"])
    graded = cb.load_labeled_pairs(split, "graded")
    assert graded.features["label"].dtype == "float32"
    assert set(graded["label"]) <= set(cb.GRADE.values())
    by_name = intents_by_name()
    for row in graded.select(range(0, graded.num_rows, 5)):
        a, b = by_name[intent_of(row["sentence1"])], by_name[intent_of(row["sentence2"])]
        kind = (
            "same_intent"
            if a is b
            else "sibling"
            if b.name in a.siblings
            else "same_topic"
            if a.topic == b.topic
            else "other_topic"
        )
        assert row["label"] == cb.GRADE[kind]


@pytest.mark.parametrize("split", cb.SPLITS)
def test_positive_pairs(split):
    answers = {i.name: i.answer for i in cb.load_intents()}
    pairs = cb.load_positive_pairs(split, "answer")
    assert pairs.column_names == ["anchor", "positive"]
    assert all(answers[intent_of(q)] == a for q, a in zip(pairs["anchor"], pairs["positive"]))
    para = cb.load_positive_pairs(split, "paraphrase")
    assert all(q != p and intent_of(q) == intent_of(p) for q, p in zip(para["anchor"], para["positive"]))


@pytest.mark.parametrize("split", cb.SPLITS)
def test_labeled_sentences(split):
    intents = cb.load_labeled_sentences(split, "intent")
    assert intents.column_names == ["sentence", "label"]
    assert intents.features["label"].names == cb.intent_names()
    assert all(
        intents.features["label"].int2str(label) == intent_of(sentence)
        for sentence, label in zip(intents["sentence"], intents["label"])
    )
    topics = cb.load_labeled_sentences(split, "topic")
    assert topics.features["label"].names == cb.topic_names() and len(cb.topic_names()) >= 8


@pytest.mark.parametrize("split", cb.SPLITS)
def test_triplets_take_their_negative_from_a_sibling(split):
    by_name = intents_by_name()
    triplets = cb.load_triplets(split)
    assert triplets.column_names == ["anchor", "positive", "negative"]
    assert triplets.num_rows == cb.load_support_corpus(split).num_rows
    for a, p, n in zip(triplets["anchor"], triplets["positive"], triplets["negative"]):
        assert intent_of(a) == intent_of(p) and a != p
        assert intent_of(n) in by_name[intent_of(a)].siblings


@pytest.mark.parametrize(
    "dataset, loss",
    [
        (lambda: cb.load_labeled_pairs("train", "binary"), "OnlineContrastiveLoss"),
        (lambda: cb.load_labeled_pairs("train", "graded"), "CoSENTLoss"),
        (lambda: cb.load_positive_pairs("train"), "MultipleNegativesRankingLoss"),
        (lambda: cb.load_labeled_sentences("train"), "BatchAllTripletLoss"),
        (lambda: cb.load_triplets("train"), "MultipleNegativesRankingLoss"),
    ],
)
def test_each_format_fits_its_loss_and_is_recommended_first(dataset, loss):
    data = dataset()
    cb.check_columns_for_loss(data, loss)
    assert cb.recommend_losses(data)[0] == loss


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="held_out"):
        cb.load_support_corpus("validation")
