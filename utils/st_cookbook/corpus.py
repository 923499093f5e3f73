"""The bundled help-desk corpus and the four dataset formats built from it.

The corpus is the customer help desk of Hearthly, a fictional smart thermostat:
8 topics, 8 intents per topic, 20 differently worded user questions and one
reference answer per intent. Every intent names sibling intents of the same topic
that share its vocabulary but mean something else ("reset my password" vs "change
my password"): they are the hard negatives that make fine-tuning matter.

Splits are deterministic. One intent per topic is held out entirely (its 20
questions form the `held_out` split and never appear in any training format). Of
every other intent, 7 of its 12 `questions` train, 2 go to `dev` and 3 to `test`;
its 8 `eval_questions`, written later to make the evaluation splits large enough
to measure differences between models, add 3 to `dev` and 5 to `test`. So the
training data is what it was with 12 questions, and each evaluation split holds
5 (dev) or 8 (test) questions per intent.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

from datasets import ClassLabel, Dataset, Features, Value

SPLITS = ("train", "dev", "test", "held_out")
QUESTIONS_PER_SPLIT = {"train": 7, "dev": 2, "test": 3}  # of an intent's 12 `questions`
EVAL_QUESTIONS_PER_SPLIT = {"dev": 3, "test": 5}  # of its 8 `eval_questions`
SPLIT_SEED = 13

# Graded similarity of two questions for the float-labelled pairs: how much of the
# user's meaning they share. Same intent: the same request. Sibling intent: the same
# subject and words, a different request. Same topic: the same area of the product.
GRADE = {"same_intent": 1.0, "sibling": 0.5, "same_topic": 0.25, "other_topic": 0.0}

Split = Literal["train", "dev", "test", "held_out"]


@dataclass(frozen=True)
class Intent:
    name: str
    topic: str
    siblings: tuple[str, ...]
    answer: str
    questions: tuple[str, ...]
    eval_questions: tuple[str, ...]
    held_out: bool


@dataclass(frozen=True)
class Question:
    text: str
    intent: str
    topic: str


def _read_topic_files() -> list[dict]:
    folder = resources.files("st_cookbook") / "data" / "corpus"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def _pick_held_out(topic: dict) -> str:
    """One intent per topic, chosen by a fixed seed, whose removal leaves every
    other intent of the topic with at least one sibling to learn from."""
    intents = topic["intents"]
    candidates = [
        it["intent"]
        for it in intents
        if all(set(other["siblings"]) - {it["intent"]} for other in intents if other is not it)
    ]
    return random.Random(f"{SPLIT_SEED}-{topic['topic']}").choice(sorted(candidates))


@lru_cache(maxsize=1)
def load_intents() -> tuple[Intent, ...]:
    """Every intent of the corpus, with its siblings, answer and questions."""
    intents = []
    for topic in _read_topic_files():
        held_out = _pick_held_out(topic)
        for it in topic["intents"]:
            intents.append(
                Intent(
                    name=it["intent"],
                    topic=topic["topic"],
                    siblings=tuple(it["siblings"]),
                    answer=it["answer"],
                    questions=tuple(it["questions"]),
                    eval_questions=tuple(it["eval_questions"]),
                    held_out=it["intent"] == held_out,
                )
            )
    return tuple(intents)


@cache
def _questions(split: str) -> tuple[Question, ...]:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    out = []
    for intent in load_intents():
        if intent.held_out:
            chosen = list(intent.questions + intent.eval_questions) if split == "held_out" else []
        elif split == "held_out":
            chosen = []
        else:
            chosen = _take(intent.questions, QUESTIONS_PER_SPLIT, split, f"{SPLIT_SEED}-{intent.name}")
            if split in EVAL_QUESTIONS_PER_SPLIT:
                chosen += _take(
                    intent.eval_questions, EVAL_QUESTIONS_PER_SPLIT, split, f"{SPLIT_SEED}-{intent.name}-eval"
                )
        out.extend(Question(q, intent.name, intent.topic) for q in chosen)
    return tuple(out)


def _take(questions: tuple[str, ...], sizes: dict[str, int], split: str, seed: str) -> list[str]:
    """The share of `questions` that `sizes` gives to `split`, after a seeded shuffle."""
    order = list(questions)
    random.Random(seed).shuffle(order)
    names = list(sizes)
    start = sum(sizes[s] for s in names[: names.index(split)])
    return order[start : start + sizes[split]]


def _partner_pool(split: str) -> tuple[Question, ...]:
    """Questions that may stand opposite a question of `split` in a pair or triplet.

    Held-out intents are evaluated against unseen test questions of the other
    intents, so nothing from training leaks into their pairs either.
    """
    if split == "held_out":
        return _questions("held_out") + _questions("test")
    return _questions(split)


def _by_intent(questions) -> dict[str, list[Question]]:
    grouped: dict[str, list[Question]] = {}
    for q in questions:
        grouped.setdefault(q.intent, []).append(q)
    return grouped


def _siblings_of(intent_name: str) -> tuple[str, ...]:
    return next(i.siblings for i in load_intents() if i.name == intent_name)


def load_support_corpus(split: Split = "train") -> Dataset:
    """The questions of one split: columns `question`, `intent`, `topic`."""
    qs = _questions(split)
    return Dataset.from_dict(
        {
            "question": [q.text for q in qs],
            "intent": [q.intent for q in qs],
            "topic": [q.topic for q in qs],
        }
    )


def load_support_answers() -> Dataset:
    """One reference answer per intent, all intents: columns `intent`, `topic`, `answer`."""
    intents = load_intents()
    return Dataset.from_dict(
        {
            "intent": [i.name for i in intents],
            "topic": [i.topic for i in intents],
            "answer": [i.answer for i in intents],
        }
    )


def _paraphrase_of(q: Question, same_intent: list[Question], rng: random.Random) -> Question:
    others = [o for o in same_intent if o.text != q.text]
    return rng.choice(others)


def load_labeled_pairs(split: Split = "train", label: Literal["binary", "graded"] = "binary", seed: int = 0) -> Dataset:
    """Case 1, pairs with a label: columns `sentence1`, `sentence2`, `label`.

    Each question of the split is paired with a paraphrase (same intent), a
    question of a sibling intent and a question of another topic; `graded` adds a
    question of the same topic. `binary` labels are ints (1 = same intent); `graded`
    labels are floats from GRADE.
    """
    if label not in ("binary", "graded"):
        raise ValueError(f"label must be 'binary' or 'graded', not {label!r}.")
    rng = random.Random(f"{seed}-{split}-pairs-{label}")
    pool = _by_intent(_partner_pool(split))
    s1, s2, labels = [], [], []

    def add(a: Question, b: Question, kind: str) -> None:
        s1.append(a.text)
        s2.append(b.text)
        labels.append(GRADE[kind] if label == "graded" else int(kind == "same_intent"))

    for q in _questions(split):
        add(q, _paraphrase_of(q, pool[q.intent], rng), "same_intent")
        siblings = [s for s in _siblings_of(q.intent) if s in pool]
        add(q, rng.choice(pool[rng.choice(siblings)]), "sibling")
        if label == "graded":
            same_topic = sorted(
                i for i, qs in pool.items() if qs[0].topic == q.topic and i != q.intent and i not in siblings
            )
            if same_topic:
                add(q, rng.choice(pool[rng.choice(same_topic)]), "same_topic")
        other_topic = sorted(i for i, qs in pool.items() if qs[0].topic != q.topic)
        add(q, rng.choice(pool[rng.choice(other_topic)]), "other_topic")

    features = Features(
        {
            "sentence1": Value("string"),
            "sentence2": Value("string"),
            "label": Value("float32" if label == "graded" else "int64"),
        }
    )
    return Dataset.from_dict({"sentence1": s1, "sentence2": s2, "label": labels}, features=features)


def load_positive_pairs(
    split: Split = "train", positive: Literal["answer", "paraphrase"] = "answer", seed: int = 0
) -> Dataset:
    """Case 2, positive pairs: columns `anchor`, `positive`.

    `answer`: (question, the intent's reference answer) — the answer repeats once
    per question of its intent, which is why in-batch-negative losses want the
    NO_DUPLICATES batch sampler. `paraphrase`: (question, another question of the
    same intent).
    """
    if positive not in ("answer", "paraphrase"):
        raise ValueError(f"positive must be 'answer' or 'paraphrase', not {positive!r}.")
    answers = {i.name: i.answer for i in load_intents()}
    pool = _by_intent(_partner_pool(split))
    rng = random.Random(f"{seed}-{split}-positive-{positive}")
    questions = _questions(split)
    if positive == "answer":
        partners = [answers[q.intent] for q in questions]
    else:
        partners = [_paraphrase_of(q, pool[q.intent], rng).text for q in questions]
    return Dataset.from_dict({"anchor": [q.text for q in questions], "positive": partners})


def intent_names() -> list[str]:
    """All intent names, in the order of the `intent` class label."""
    return sorted(i.name for i in load_intents())


def topic_names() -> list[str]:
    """All topic names, in the order of the `topic` class label."""
    return sorted({i.topic for i in load_intents()})


def load_labeled_sentences(split: Split = "train", label: Literal["intent", "topic"] = "intent") -> Dataset:
    """Case 3, single sentences with a class label: columns `sentence`, `label`.

    The label is a ClassLabel over all intents (or topics) of the corpus, so class
    ids mean the same thing in every split.
    """
    if label not in ("intent", "topic"):
        raise ValueError(f"label must be 'intent' or 'topic', not {label!r}.")
    names = intent_names() if label == "intent" else topic_names()
    questions = _questions(split)
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=names)})
    return Dataset.from_dict(
        {
            "sentence": [q.text for q in questions],
            "label": [names.index(getattr(q, label)) for q in questions],
        },
        features=features,
    )


def load_triplets(split: Split = "train", seed: int = 0) -> Dataset:
    """Case 4, triplets: columns `anchor`, `positive`, `negative`.

    anchor: a question; positive: another question of the same intent; negative:
    a question of a sibling intent — the hard negative.
    """
    pool = _by_intent(_partner_pool(split))
    rng = random.Random(f"{seed}-{split}-triplets")
    anchors, positives, negatives = [], [], []
    for q in _questions(split):
        siblings = [s for s in _siblings_of(q.intent) if s in pool]
        anchors.append(q.text)
        positives.append(_paraphrase_of(q, pool[q.intent], rng).text)
        negatives.append(rng.choice(pool[rng.choice(siblings)]).text)
    return Dataset.from_dict({"anchor": anchors, "positive": positives, "negative": negatives})


def support_retrieval_evaluator(split: Split = "test", name: str | None = None, **kwargs):
    """InformationRetrievalEvaluator: each question of `split` retrieves its
    intent's reference answer among the answers of all intents."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    questions = _questions(split)
    return InformationRetrievalEvaluator(
        queries={f"q{n}": q.text for n, q in enumerate(questions)},
        corpus={i.name: i.answer for i in load_intents()},
        relevant_docs={f"q{n}": {q.intent} for n, q in enumerate(questions)},
        name=name or f"support-{split}",
        **kwargs,
    )


def support_triplet_evaluator(split: Split = "test", name: str | None = None, **kwargs):
    """TripletEvaluator on `load_triplets(split)`: is each question closer to a
    paraphrase than to a sibling intent's question?"""
    from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

    triplets = load_triplets(split)
    return TripletEvaluator(
        anchors=triplets["anchor"],
        positives=triplets["positive"],
        negatives=triplets["negative"],
        name=name or f"support-{split}",
        **kwargs,
    )
