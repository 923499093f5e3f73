"""Per-question outcomes agree with the library's evaluators; intervals behave as intervals should."""

import copy

import numpy as np
import pytest
import torch

import st_cookbook as cb
from st_cookbook import Interval, bootstrap_mean, paired_bootstrap, seed_spread


def test_interval_is_written_the_same_way_everywhere():
    assert str(Interval(0.036, 0.012, 0.06)) == "+0.036 [+0.012, +0.060]"
    assert str(Interval(0.65, 0.6, 0.7, signed=False)) == "0.650 [0.600, 0.700]"
    assert Interval(0.03, 0.01, 0.05).verdict() == "higher"
    assert Interval(-0.03, -0.05, -0.01).verdict() == "lower"
    assert Interval(0.01, -0.01, 0.03).verdict() == "indistinguishable at this budget"


def test_identical_models_differ_by_exactly_zero():
    outcomes = np.random.default_rng(0).integers(0, 2, size=200)
    interval = paired_bootstrap(outcomes, outcomes)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_a_true_zero_difference_is_covered_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        ability = rng.random(150)  # how easy each question is, shared by both models: paired data
        a = (rng.random(150) < ability).astype(float)
        b = (rng.random(150) < ability).astype(float)
        interval = paired_bootstrap(a, b, resamples=1000, seed=int(rng.integers(1 << 30)))
        covered += interval.low <= 0 <= interval.high
    assert 0.90 <= covered / 200 <= 0.99


def test_a_real_difference_is_found():
    rng = np.random.default_rng(2)
    a = (rng.random(400) < 0.6).astype(float)
    b = np.maximum(a, (rng.random(400) < 0.3).astype(float))  # b fixes some of a's misses, breaks none
    interval = paired_bootstrap(a, b)
    assert interval.low > 0 and interval.verdict() == "higher"


def test_whole_groups_widen_the_interval_when_a_group_succeeds_or_fails_together():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(40), 8)
    hard = rng.random(40) < 0.4  # a hard intent fails for most of its questions
    scores = (rng.random(320) < np.where(hard[groups], 0.2, 0.9)).astype(float)
    clustered = bootstrap_mean(scores, groups=groups)
    independent = bootstrap_mean(scores)
    assert clustered.estimate == independent.estimate
    assert (clustered.high - clustered.low) > 1.3 * (independent.high - independent.low)


def test_seeds_that_disagree_widen_the_interval():
    """Same per-question average over 5 seeds; only how much the seeds disagree differs."""
    rng = np.random.default_rng(4)
    base = (rng.random(300) < 0.6).astype(float)
    noisy = np.stack([np.where(rng.random(300) < flips, 1.0, base) for flips in (0.0, 0.1, 0.2, 0.3, 0.4)])
    steady = np.repeat(noisy.mean(axis=0, keepdims=True), 5, axis=0)
    other = (rng.random(300) < 0.6).astype(float)
    width = lambda i: i.high - i.low  # noqa: E731
    assert paired_bootstrap(other, noisy).estimate == pytest.approx(paired_bootstrap(other, steady).estimate)
    assert width(paired_bootstrap(other, noisy)) > 1.1 * width(paired_bootstrap(other, steady))


def test_comparisons_need_the_same_questions():
    with pytest.raises(ValueError, match="same questions"):
        paired_bootstrap(np.ones(10), np.ones(11))
    with pytest.raises(ValueError, match="groups"):
        bootstrap_mean(np.ones(10), groups=np.arange(9))


def test_seed_spread():
    spread = seed_spread([0.70, 0.72, 0.68, 0.71, 0.69])
    assert spread.n == 5 and spread.low == 0.68 and spread.high == 0.72
    assert spread.mean == pytest.approx(0.70)
    assert spread.std == pytest.approx(np.std([0.70, 0.72, 0.68, 0.71, 0.69], ddof=1))
    assert str(spread).startswith("0.700 ± 0.016 (0.680-0.720, 5 seeds)")


def test_retrieval_outcomes_are_the_evaluators_own_decisions(bundled_model):
    outcomes = cb.retrieval_outcomes(bundled_model, "held_out")
    metrics = outcomes.attrs["metrics"]
    assert len(outcomes) == len(cb.load_support_corpus("held_out"))
    assert outcomes["hit@1"].mean() == pytest.approx(metrics["support-held_out_cosine_accuracy@1"])
    assert outcomes["reciprocal_rank"].mean() == pytest.approx(metrics["support-held_out_cosine_mrr@10"])
    assert ((outcomes["retrieved"] == outcomes["intent"]) == (outcomes["hit@1"] == 1)).all()


def test_triplet_outcomes_match_the_triplet_evaluator(bundled_model):
    outcomes = cb.triplet_outcomes(bundled_model, "held_out")
    accuracy = cb.support_triplet_evaluator("held_out")(bundled_model)["support-held_out_cosine_accuracy"]
    assert outcomes["correct"].mean() == pytest.approx(accuracy)
    assert set(outcomes["intent"]) == set(cb.load_support_corpus("held_out")["intent"])


def test_knn_outcomes(bundled_model):
    outcomes = cb.knn_outcomes(bundled_model, "dev", reference="dev", k=1)
    assert outcomes["correct"].mean() == 1.0  # every question's nearest neighbour is itself
    outcomes = cb.knn_outcomes(bundled_model, "dev", reference="train", k=5)
    assert 0.3 < outcomes["correct"].mean() < 1.0
    assert set(outcomes["predicted"]) <= set(cb.load_support_corpus("train")["intent"])


def library_scores(model, split="held_out"):
    """accuracy@1 and triplet accuracy from the library's evaluators, run directly."""
    retrieval = cb.support_retrieval_evaluator(split)(model)[f"support-{split}_cosine_accuracy@1"]
    triplets = cb.support_triplet_evaluator(split)(model)[f"support-{split}_cosine_accuracy"]
    return retrieval, triplets


def outcome_scores(model, split="held_out"):
    return cb.retrieval_outcomes(model, split)["hit@1"].mean(), cb.triplet_outcomes(model, split)["correct"].mean()


def test_outcomes_follow_a_model_whose_weights_change_in_place(bundled_model):
    """The outcome functions encode each text once per model state: a model changed in place
    (as training changes it) must be measured afresh, never from the embeddings of its old weights."""
    model = copy.deepcopy(bundled_model)
    before = outcome_scores(model)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    after = outcome_scores(model)
    assert after != pytest.approx(before)
    assert after == pytest.approx(library_scores(model))


@pytest.mark.parametrize("document_prompt_name", ["document", "passage"])
def test_outcomes_use_the_query_and_document_prompts_like_the_evaluators(bundled_model, document_prompt_name):
    """encode_document falls back to a prompt named "passage" (or "corpus"): so must the outcomes."""
    model = copy.deepcopy(bundled_model)
    plain = outcome_scores(model)
    model.prompts = {"query": "Find the answer to this customer question: ", document_prompt_name: "An answer: "}
    prompted = outcome_scores(model)
    assert prompted != pytest.approx(plain)
    assert prompted == pytest.approx(library_scores(model))


def test_pair_similarities_give_the_similarity_evaluators_spearman(bundled_model):
    from scipy.stats import spearmanr
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    pairs = cb.load_labeled_pairs("test", label="graded").select(range(120))
    evaluator = EmbeddingSimilarityEvaluator(pairs["sentence1"], pairs["sentence2"], pairs["label"], name="probe")
    library = evaluator(bundled_model)[evaluator.primary_metric]
    ours = cb.bootstrap_spearman(pairs["label"], cb.pair_similarities(bundled_model, pairs), resamples=200)
    assert ours.estimate == pytest.approx(library, abs=1e-6)
    assert spearmanr(pairs["label"], cb.pair_similarities(bundled_model, pairs))[0] == pytest.approx(library, abs=1e-6)


def test_spearman_intervals_agree_with_reranking_every_resample():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(3)
    gold = rng.uniform(0, 5, 300)
    scores = gold + rng.normal(0, 1.5, 300)
    exact = []
    for _ in range(2000):
        rows = rng.integers(300, size=300)
        exact.append(spearmanr(gold[rows], scores[rows])[0])
    interval = cb.bootstrap_spearman(gold, scores)
    assert interval.estimate == pytest.approx(spearmanr(gold, scores)[0])
    assert np.percentile(exact, [2.5, 97.5]) == pytest.approx([interval.low, interval.high], abs=0.01)


def test_paired_spearman_is_zero_for_one_model_and_finds_a_real_difference():
    rng = np.random.default_rng(4)
    gold = rng.uniform(0, 5, 400)
    good = gold + rng.normal(0, 1.0, (5, 400))  # five seeds of each
    worse = gold + rng.normal(0, 2.0, (5, 400))
    same = cb.paired_spearman(gold, good, good, resamples=2000)
    assert same.estimate == 0 and same.low == pytest.approx(0, abs=0.02) and same.high == pytest.approx(0, abs=0.02)
    drop = cb.paired_spearman(gold, good, worse, resamples=2000)
    assert drop.high < 0 and drop.verdict() == "lower"
    groups = np.arange(400) // 40
    shifted = worse + rng.normal(0, 2.0, 10)[groups]  # the pairs of a group move together
    alone = cb.paired_spearman(gold, good, shifted, resamples=2000)
    grouped = cb.paired_spearman(gold, good, shifted, groups=groups, resamples=2000)
    assert grouped.high - grouped.low > 1.2 * (alone.high - alone.low)  # ten groups: fewer independent draws
    with pytest.raises(ValueError, match="same pairs"):
        cb.paired_spearman(gold, good[:, :399], worse)
