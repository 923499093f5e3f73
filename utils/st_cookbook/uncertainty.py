"""How sure is a measured number? Per-question outcomes and bootstrap intervals.

A score on the test split is a mean over its questions, and a difference between
two models is a mean of per-question differences. These helpers keep what a model
got right on each question — from the library's own `InformationRetrievalEvaluator`
where it records that — and put a 95% interval next to a score or a difference:
a paired bootstrap that resamples whole intents, because the questions of one
intent share an answer and tend to succeed or fail together.

With several seeds per setting (arrays of shape seeds x questions), the bootstrap
resamples seeds too, so the interval covers both the choice of test questions and
the run-to-run noise of training.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

CONFIDENCE = 0.95
RESAMPLES = 10_000


@dataclass(frozen=True)
class Interval:
    """An estimate with a bootstrap interval, written `+0.036 [+0.012, +0.060]`."""

    estimate: float
    low: float
    high: float
    signed: bool = True

    def __str__(self) -> str:
        fmt = "+.3f" if self.signed else ".3f"
        return f"{self.estimate:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def verdict(self, better: str = "higher", worse: str = "lower") -> str:
        """`better` or `worse` where the interval excludes zero, else 'indistinguishable at this budget'."""
        if self.low > 0:
            return better
        if self.high < 0:
            return worse
        return "indistinguishable at this budget"


def _as_runs(values) -> np.ndarray:
    """(runs, questions) float array from one run's values or a list of runs."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"Expected per-question values of shape (questions,) or (runs, questions), got {array.shape}.")
    return array


def _cluster_weights(
    groups, n_questions: int, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Resampling weights: how often each question is drawn, whole groups at a time.

    Returns (question_to_group index, weights of shape (resamples, groups)).
    """
    if groups is None:
        index = np.arange(n_questions)
    else:
        groups = np.asarray(groups)
        if len(groups) != n_questions:
            raise ValueError(f"groups has {len(groups)} entries for {n_questions} questions.")
        _, index = np.unique(groups, return_inverse=True)
    n_groups = index.max() + 1
    weights = rng.multinomial(n_groups, np.full(n_groups, 1 / n_groups), size=resamples).astype(float)
    return index, weights


def _resampled_means(runs: np.ndarray, index: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean score per resample: questions by group weights, runs (seeds) drawn with replacement."""
    n_groups = weights.shape[1]
    sums = np.zeros((runs.shape[0], n_groups))
    np.add.at(sums.T, index, runs.T)  # per run, the sum of its scores in each group
    counts = np.bincount(index, minlength=n_groups).astype(float)
    per_run = (sums @ weights.T) / (weights @ counts)  # (runs, resamples)
    if runs.shape[0] == 1:
        return per_run[0]
    drawn = rng.integers(runs.shape[0], size=(weights.shape[0], runs.shape[0]))
    return per_run[drawn, np.arange(weights.shape[0])[:, None]].mean(axis=1)


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(
    values, groups=None, resamples: int = RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """A score (mean over questions, and over runs if several) with its bootstrap interval.

    values: per-question scores of one run, or a (runs, questions) array for several seeds.
    groups: the intent of each question; whole intents are resampled together.
    """
    runs = _as_runs(values)
    rng = np.random.default_rng(seed)
    index, weights = _cluster_weights(groups, runs.shape[1], resamples, rng)
    low, high = _percentiles(_resampled_means(runs, index, weights, rng), confidence)
    return Interval(float(runs.mean()), low, high, signed=False)


def paired_bootstrap(
    before, after, groups=None, resamples: int = RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """Mean of `after - before` over the same questions, with a paired bootstrap interval.

    before, after: per-question scores of two models on the SAME questions in the same
    order (one run each, or (runs, questions) arrays for several seeds; the two may have
    different numbers of runs). groups: the intent of each question. Each resample draws
    intents with replacement (the same draw for both models: that is the pairing) and,
    for several runs, seeds with replacement within each model.
    """
    a, b = _as_runs(before), _as_runs(after)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"before has {a.shape[1]} questions and after {b.shape[1]}: compare on the same questions.")
    rng = np.random.default_rng(seed)
    index, weights = _cluster_weights(groups, a.shape[1], resamples, rng)
    difference = _resampled_means(b, index, weights, rng) - _resampled_means(a, index, weights, rng)
    low, high = _percentiles(difference, confidence)
    return Interval(float(b.mean() - a.mean()), low, high)


@dataclass(frozen=True)
class SeedSpread:
    """How a number varies with the seed: mean, standard deviation and range."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f} ({self.low:.3f}-{self.high:.3f}, {self.n} seeds)"


def seed_spread(values) -> SeedSpread:
    """Mean, sample standard deviation and range of one number measured with several seeds."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError("seed_spread needs at least one value.")
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return SeedSpread(float(array.mean()), std, float(array.min()), float(array.max()), int(array.size))


# Each distinct text is encoded once per model state: the outcome functions below ask for the
# same test questions and answers again and again (three measurements of one model, two splits
# sharing the 64 answers), and on a CPU encoding is most of an evaluation's time. The key is a
# digest of the model's weights and modules, so a model trained further is a new model.
_EMBEDDINGS: OrderedDict[tuple, dict] = OrderedDict()
_MODELS_KEPT = 4


def _fingerprint(model) -> str:
    digest = hashlib.blake2b(f"{model!r} {model.max_seq_length}".encode(), digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().reshape(-1).cpu().contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()


def _embed(model, texts, role=None, prompt_name=None, prompt=None, truncate_dim=None, batch_size=32):
    """`model.encode` (role None), `encode_query` or `encode_document` of `texts`, as one tensor, with
    each distinct text encoded once per model state, prompt, route and dimension."""
    if role is not None and prompt is None and prompt_name is None:  # what encode_query / encode_document do
        candidates = {"query": ["query"], "document": ["document", "passage", "corpus"]}[role]
        prompt_name = next((name for name in candidates if name in model.prompts), None)
    key = (
        _fingerprint(model),
        model._resolve_prompt(prompt, prompt_name) or "",  # the prompt encode() will prepend ("" is none)
        role if "task" in model.get_model_kwargs() else None,  # a Router sends queries and documents apart
        truncate_dim or model.truncate_dim,
    )
    known = _EMBEDDINGS.setdefault(key, {})
    _EMBEDDINGS.move_to_end(key)
    while len(_EMBEDDINGS) > _MODELS_KEPT:
        _EMBEDDINGS.popitem(last=False)
    missing = list(dict.fromkeys(text for text in texts if text not in known))
    if missing:
        encode = {None: model.encode, "query": model.encode_query, "document": model.encode_document}[role]
        vectors = encode(
            missing,
            prompt_name=prompt_name,
            prompt=prompt,
            truncate_dim=truncate_dim,
            batch_size=batch_size,
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        known.update(zip(missing, vectors))
    return torch.stack([known[text] for text in texts])


def retrieval_outcomes(model, split: str = "test", **evaluator_kwargs) -> pd.DataFrame:
    """One row per question of `split`: what the library's InformationRetrievalEvaluator ranked first.

    Columns: question, intent, topic, retrieved (the intent of the top answer), hit@1
    (1 if it is the right one) and reciprocal_rank (1/rank of the right answer within
    the top 10, else 0). Their means equal the evaluator's accuracy@1 and MRR@10; the
    evaluator's own metrics are in `.attrs["metrics"]`.
    """
    from .corpus import load_support_corpus, support_retrieval_evaluator

    evaluator = support_retrieval_evaluator(split, write_predictions=True, write_csv=False, **evaluator_kwargs)

    def embed_inputs(model, sentences, encode_fn_name=None, prompt_name=None, prompt=None):
        return _embed(
            model, sentences, encode_fn_name, prompt_name, prompt, evaluator.truncate_dim, evaluator.batch_size
        )

    evaluator.embed_inputs = embed_inputs  # the evaluator's own scoring; each text encoded once per model state
    with tempfile.TemporaryDirectory() as folder:
        metrics = evaluator(model, output_path=folder)
        predictions = {}
        for path in Path(folder).glob("*predictions*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                predictions[record["query_id"]] = [hit["corpus_id"] for hit in record["results"]]
    questions = load_support_corpus(split).to_pandas()
    ranked = [predictions[f"q{n}"] for n in range(len(questions))]
    questions["retrieved"] = [r[0] for r in ranked]
    questions["hit@1"] = (questions["retrieved"] == questions["intent"]).astype(float)
    questions["reciprocal_rank"] = [
        1 / (r[:10].index(intent) + 1) if intent in r[:10] else 0.0 for r, intent in zip(ranked, questions["intent"])
    ]
    questions.attrs["metrics"] = metrics
    return questions


def triplet_outcomes(model, split: str = "test", batch_size: int = 32) -> pd.DataFrame:
    """One row per triplet of `load_triplets(split)`: is the question closer to its paraphrase
    than to the sibling intent's question? The mean of `correct` is the TripletEvaluator's accuracy."""
    from .corpus import _questions, load_triplets

    triplets = load_triplets(split).to_pandas()
    anchors = _embed(model, triplets["anchor"].tolist(), "query", batch_size=batch_size)
    positives = _embed(model, triplets["positive"].tolist(), "document", batch_size=batch_size)
    negatives = _embed(model, triplets["negative"].tolist(), "document", batch_size=batch_size)
    positive_scores = model.similarity_pairwise(anchors, positives)
    negative_scores = model.similarity_pairwise(anchors, negatives)
    triplets["intent"] = [q.intent for q in _questions(split)]
    triplets["correct"] = (positive_scores > negative_scores).float().cpu().numpy()
    return triplets


def knn_outcomes(
    model, split: str = "test", reference: str = "train", k: int = 5, batch_size: int = 32
) -> pd.DataFrame:
    """One row per question of `split`: its intent predicted by a vote of its `k` most similar
    `reference` questions (ties go to the intent of the nearer neighbour), and whether that is right."""
    from .corpus import load_support_corpus

    questions = load_support_corpus(split).to_pandas()
    known = load_support_corpus(reference).to_pandas()
    scores = model.similarity(
        _embed(model, questions["question"].tolist(), batch_size=batch_size),
        _embed(model, known["question"].tolist(), batch_size=batch_size),
    )
    nearest = scores.topk(k, dim=1).indices.cpu().numpy()
    predicted = []
    for row in nearest:
        votes: dict[str, int] = {}
        for rank in row:  # nearest first: on a tied vote, the intent seen first wins
            votes[known["intent"].iloc[rank]] = votes.get(known["intent"].iloc[rank], 0) + 1
        predicted.append(max(votes, key=votes.get))
    questions["predicted"] = predicted
    questions["correct"] = (questions["predicted"] == questions["intent"]).astype(float)
    return questions


def pair_similarities(model, pairs, batch_size: int = 32) -> np.ndarray:
    """The model's similarity (cosine for these models) of each (sentence1, sentence2) row of `pairs`,
    in order: what the library's EmbeddingSimilarityEvaluator ranks against the gold scores."""
    first = _embed(model, list(pairs["sentence1"]), batch_size=batch_size)
    second = _embed(model, list(pairs["sentence2"]), batch_size=batch_size)
    return model.similarity_pairwise(first, second).float().cpu().numpy()


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, axis=-1)


def _weighted_correlations(x: np.ndarray, runs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation of x with each run under each row of pair weights: (runs, resamples)."""
    columns = np.concatenate([np.ones((1, len(x))), x[None], (x * x)[None], runs, runs * runs, runs * x], axis=0)
    sums = weights @ columns.T  # one pass over the weights: every weighted sum at once
    total, sum_x, sum_xx = sums[:, 0], sums[:, 1], sums[:, 2]
    n = runs.shape[0]
    sum_y, sum_yy, sum_xy = sums[:, 3 : 3 + n].T, sums[:, 3 + n : 3 + 2 * n].T, sums[:, 3 + 2 * n :].T
    covariance = sum_xy / total - sum_x * sum_y / total**2
    variance_x = sum_xx / total - (sum_x / total) ** 2
    variance_y = sum_yy / total - (sum_y / total) ** 2
    return covariance / np.sqrt(variance_x * variance_y)


def _pair_weights(index: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each pair is drawn in each resample, (resamples, pairs): whole groups of pairs
    (`index`: each pair's group number) drawn with replacement."""
    n_groups = index.max() + 1
    drawn = rng.integers(n_groups, size=(resamples, n_groups), dtype=np.int32)
    drawn += n_groups * np.arange(resamples, dtype=np.int32)[:, None]
    counts = np.bincount(drawn.ravel(), minlength=resamples * n_groups).reshape(resamples, n_groups)
    return counts[:, index].astype(float)


def _seed_means(per_run: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per resample, the mean over runs drawn with replacement (one run: itself)."""
    if per_run.shape[0] == 1:
        return per_run[0]
    drawn = rng.integers(per_run.shape[0], size=(per_run.shape[1], per_run.shape[0]))
    return per_run[drawn, np.arange(per_run.shape[1])[:, None]].mean(axis=1)


def _spearman_resamples(gold, scores, groups, resamples: int, seed: int) -> tuple[float, np.ndarray]:
    """Spearman of the runs (mean over runs) and its value on each resample of the pairs.

    A correlation is not a mean of per-pair scores, so each resample redraws the pairs and
    recomputes it: the correlation of the pairs' ranks, ranked once on all pairs (re-ranking
    every resample gives the same interval to about 0.002 and costs a hundred times more).
    The same `seed` redraws the same pairs, which is what pairs two models' resamples.
    """
    gold, runs = np.asarray(gold, dtype=float), _as_runs(scores)
    if runs.shape[1] != len(gold):
        raise ValueError(f"{len(gold)} gold scores and {runs.shape[1]} similarities: score the same pairs.")
    index = np.arange(len(gold)) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    gold_ranks, run_ranks = _ranks(gold), np.stack([_ranks(run) for run in runs])
    estimate = float(_weighted_correlations(gold_ranks, run_ranks, np.ones((1, len(gold))))[:, 0].mean())
    rng = np.random.default_rng(seed)
    per_run = np.concatenate(
        [
            _weighted_correlations(gold_ranks, run_ranks, _pair_weights(index, min(1000, resamples - start), rng))
            for start in range(0, resamples, 1000)  # in chunks: the weights of all resamples at once are large
        ],
        axis=1,
    )
    return estimate, _seed_means(per_run, np.random.default_rng([seed, len(runs)]))


def bootstrap_spearman(
    gold, scores, groups=None, resamples: int = RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """Spearman correlation of a model's similarities with the `gold` scores of the same pairs (what
    the library's EmbeddingSimilarityEvaluator reports), with a bootstrap interval.

    scores: per-pair similarities of one run (`pair_similarities`), or a (runs, pairs) array for
    several seeds (the mean of their correlations; resamples redraw the runs too). groups: resample
    whole groups of pairs together (e.g. pairs that share a sentence).
    """
    estimate, samples = _spearman_resamples(gold, scores, groups, resamples, seed)
    return Interval(estimate, *_percentiles(samples, confidence), signed=False)


def paired_spearman(
    gold, before, after, groups=None, resamples: int = RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """Spearman of `after` minus Spearman of `before` on the same pairs, with a paired bootstrap
    interval: both models are scored on the same redraws of the pairs. before, after: per-pair
    similarities of one run each, or (runs, pairs) arrays for several seeds."""
    estimate_a, samples_a = _spearman_resamples(gold, before, groups, resamples, seed)
    estimate_b, samples_b = _spearman_resamples(gold, after, groups, resamples, seed)
    return Interval(estimate_b - estimate_a, *_percentiles(samples_b - samples_a, confidence))
