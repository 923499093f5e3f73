"""The multi-seed studies: the runner resumes and writes what the notebooks read; summaries carry intervals."""

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.inputtransformer2 import TransformerManager

import st_cookbook as cb
from st_cookbook import compare, load_study, summarize

ROOT = Path(__file__).resolve().parent.parent


def _fake_study(folder: Path, gain: float) -> Path:
    """A study CSV with an untrained baseline and two arms over the held-out questions: one
    `gain` better than the baseline, one the same. Outcome strings start with a 0 on purpose."""
    n = len(cb.load_support_corpus("held_out"))
    rng = np.random.default_rng(0)
    base = (rng.random(n) < 0.6).astype(int)
    base[0] = 0
    rows = [{"study": "fake", "arm": "off the shelf", "seed": 0, "held_out_hits": "".join(map(str, base))}]
    for seed in range(5):
        better = np.where(rng.random(n) < gain, 1, base)
        same = np.where(rng.random(n) < 0.05, 1 - base, base)
        rows.append({"study": "fake", "arm": "better", "seed": seed, "held_out_hits": "".join(map(str, better))})
        rows.append({"study": "fake", "arm": "same", "seed": seed, "held_out_hits": "".join(map(str, same))})
    path = folder / "fake.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_summaries_say_what_the_intervals_allow(tmp_path):
    _fake_study(tmp_path, gain=0.5)
    runs = load_study("fake", folder=tmp_path)
    assert runs["held_out_hits"].str.len().eq(len(cb.load_support_corpus("held_out"))).all(), "outcomes kept as text"
    summary = summarize(runs, "held_out_hits")
    assert summary.loc["better", "seeds"] == 5 and summary.loc["off the shelf", "seeds"] == 1
    assert summary.loc["better", "verdict"] == "above off the shelf"
    assert summary.loc["same", "verdict"] == "indistinguishable at this budget"
    assert compare(runs, "same", "better", "held_out_hits").low > 0
    table = cb.format_summary(summary)
    assert "better" in table and "indistinguishable at this budget" in table
    figure = cb.plot_study(runs, ["held_out_hits"])
    assert len(figure.axes) == 1


def test_a_missing_study_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make experiments"):
        load_study("no_such_study", folder=tmp_path)


def test_the_runner_writes_one_row_per_run_and_resumes(tmp_path):
    """Two studies in two worker processes (the default on a CPU), one arm each, at a tenth of the budget."""
    command = [
        sys.executable,
        str(ROOT / "scripts" / "experiments.py"),
        "--study",
        "hard_negatives",
        "--study",
        "hyperparameters",
        "--arm",
        "in-batch negatives only",
        "--arm",
        "learning rate 0.001",
        "--seeds",
        "1",
        "--scale",
        "0.1",
        "--workers",
        "2",
        "--out",
        str(tmp_path),
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "in 2 processes" in first.stdout
    runs = load_study("hard_negatives", folder=tmp_path)
    assert list(runs["arm"]) == ["off the shelf", "in-batch negatives only"]
    trained = runs.iloc[1]
    assert trained["max_steps"] == 1 and trained["examples_seen"] == 32 and trained["seed"] == 0
    assert (
        trained["machine"].endswith("1 torch threads")
        and trained["sentence_transformers"]
        and trained["date"].endswith("Z")
    )
    assert len(trained["test_hits"]) == len(cb.load_support_corpus("test"))
    assert trained["test_accuracy@1"] == pytest.approx(np.mean([int(c) for c in trained["test_hits"]]))
    knobs = load_study("hyperparameters", folder=tmp_path)
    assert list(knobs["arm"]) == ["off the shelf", "learning rate 0.001"] and knobs.iloc[1]["learning_rate"] == 0.001
    assert (tmp_path / "hard_negatives.png").is_file() and (tmp_path / "hyperparameters.png").is_file()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "every run is done" in again.stdout
    assert (
        len(load_study("hard_negatives", folder=tmp_path)) == 2
        and len(load_study("hyperparameters", folder=tmp_path)) == 2
    )


@pytest.fixture(scope="module")
def experiments():
    spec = importlib.util.spec_from_file_location("experiments", ROOT / "scripts" / "experiments.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_studies_are_shared_out_whole_and_evenly(experiments):
    groups = experiments.share_out({"a": 50, "b": 30, "c": 25, "d": 5}, workers=2)
    assert sorted(sorted(g) for g in groups) == [["a", "d"], ["b", "c"]]
    assert experiments.share_out({"a": 10}, workers=2) == [["a"]]


def test_the_little_data_study_trains_on_the_datasets_notebook_10_builds(experiments):
    """Notebook 10 reads its learning rates off the `little_data` study: the study must build the
    notebook's four datasets exactly as the notebook's cells do (run here up to the training)."""
    notebook = json.loads((ROOT / "notebooks" / "10_little_or_no_labeled_data.ipynb").read_text(encoding="utf-8"))
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if "fine_tune(" in source and "def fine_tune" not in source:
                break  # training starts here
            if cell["cell_type"] != "code" or "base_model" in source or "retrieval_outcomes" in source:
                continue  # the data cells only: no model evaluation
            # as Jupyter runs a cell: IPython turns the setup cell's Colab-only %pip line into Python first
            exec(compile(TransformerManager().transform_cell(source), "notebook 10", "exec"), namespace)
    built = {
        "document pairs (ICT)": "document_pairs",
        "augmented questions": "augmented_pairs",
        "SimCSE": "simcse_pairs",
        "56 labeled questions": "labeled_pairs",
    }
    assert list(built) == experiments.LITTLE_DATA
    for kind, name in built.items():
        assert experiments.little_data(kind).to_dict() == namespace[name].to_dict(), kind


def test_pair_similarities_in_a_study_give_spearman_changes_with_intervals(tmp_path):
    """`<set>_scores` columns hold each run's similarity per pair; compare_spearman reads
    them against the probe's gold scores, and plot_tradeoff draws the task gain against that change."""
    gold = np.asarray(cb.load_general_pairs("test")["score"])
    rng = np.random.default_rng(0)
    base = gold + rng.normal(0, 0.25, len(gold))
    rows = [
        {"study": "fake", "arm": "off the shelf", "seed": 0, "probe_test_scores": " ".join(f"{s:.4f}" for s in base)}
    ]
    for seed in range(5):
        for arm, noise in [("forgets", 0.6), ("keeps", 0.0)]:
            scores = base + rng.normal(0, noise, len(gold)) if noise else base
            rows.append(
                {"study": "fake", "arm": arm, "seed": seed, "probe_test_scores": " ".join(f"{s:.4f}" for s in scores)}
            )
    pd.DataFrame(rows).to_csv(tmp_path / "fake.csv", index=False)
    runs = load_study("fake", folder=tmp_path)
    assert cb.studies.similarities(runs, "forgets").shape == (5, len(gold))
    kept = cb.bootstrap_spearman(gold, cb.studies.similarities(runs, "keeps"), resamples=200)
    assert kept.estimate == pytest.approx(
        cb.bootstrap_spearman(gold, cb.studies.similarities(runs, "off the shelf"), resamples=200).estimate, abs=1e-3
    )
    assert cb.compare_spearman(runs, "off the shelf", "forgets").verdict() == "lower"
    assert cb.compare_spearman(runs, "off the shelf", "keeps").estimate == pytest.approx(0, abs=1e-3)
    intervals = {
        arm: (cb.Interval(0.1, 0.05, 0.15), cb.compare_spearman(runs, "off the shelf", arm))
        for arm in ["forgets", "keeps"]
    }
    ax = cb.plot_tradeoff(intervals, title="fake")
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["forgets", "keeps"]


def test_the_forgetting_study_lists_its_arms_and_its_committed_runs_are_whole():
    listing = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "forgetting_study.py"), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr[-2000:]
    for arm in ["lr 3e-4, 4 epochs", "lower lr + early stopping", "+ general pairs", "LoRA", "interpolated 0.5"]:
        assert arm in listing.stdout
    runs = load_study("forgetting")
    gold = {
        column: len(cb.load_general_pairs(column.split("_")[1])) for column in ["probe_dev_scores", "probe_test_scores"]
    }
    for _, run in runs.iterrows():
        for column, pairs in gold.items():
            scores = np.array(run[column].split(), dtype=float)
            assert len(scores) == pairs, (run["arm"], column)
        assert len(run["test_hits"]) == len(cb.load_support_corpus("test"))
    from scipy.stats import spearmanr

    first = runs.iloc[-1]
    recorded = spearmanr(
        cb.load_general_pairs("test")["score"], np.array(first["probe_test_scores"].split(), dtype=float)
    )[0]
    assert recorded == pytest.approx(first["probe_test_spearman"], abs=1e-3)


def test_the_queries_documents_study_lists_its_arms_and_its_committed_runs_are_whole():
    listing = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "queries_documents_study.py"), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr[-2000:]
    trained = [
        "plain MNRL",
        "MNRL + prompts",
        "MNRL + prompts, none at inference",
        "Router, lr 1e-4",
        "Router, lr 3e-4",
    ]
    for arm in trained:
        assert arm in listing.stdout
    runs = load_study("queries_documents")
    seeds = runs.groupby("arm")["seed"].nunique()
    assert all(seeds[arm] == 5 for arm in trained), seeds  # notebook 16 reads 5 seeds per arm
    assert set(runs["max_steps"][runs["arm"].isin(trained)]) == {13}  # an equal budget
    for split in ["dev", "test", "held_out"]:
        questions = len(cb.load_support_corpus(split))
        assert (runs[f"{split}_hits"].str.len() == questions).all(), split


@pytest.fixture(scope="module")
def rerank_study():
    spec = importlib.util.spec_from_file_location("rerank_study", ROOT / "scripts" / "rerank_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Judge:
    """A stand-in reranker that scores a pair 1 when the answer is the question's own (`right`)
    or 0; `right=False` inverts it, so the right answer goes last among the candidates."""

    def __init__(self, right=True):
        from st_cookbook import load_support_answers

        answers = load_support_answers()
        self.answer_of = dict(zip(answers["answer"], answers["intent"]))
        self.intent_of = {}
        for split in ("dev", "test", "held_out"):
            corpus = cb.load_support_corpus(split)
            self.intent_of |= dict(zip(corpus["question"], corpus["intent"]))
        self.right = right

    def predict(self, pairs, **kwargs):
        return np.array([float((self.answer_of[a] == self.intent_of[q]) == self.right) for q, a in pairs])


def test_the_rerank_study_scores_the_retriever_as_the_library_evaluator_does(rerank_study, bundled_model):
    ranked = {"held_out": rerank_study.ranked_answers(bundled_model)["held_out"]}
    row = rerank_study.retriever_rows(ranked)
    library = cb.retrieval_outcomes(bundled_model, "held_out")
    assert row["held_out_hits"] == "".join(str(int(h)) for h in library["hit@1"])
    ranks = np.array(row["held_out_reciprocal_ranks"].split(), dtype=float)
    assert ranks == pytest.approx(library["reciprocal_rank"].to_numpy(), abs=1e-4)


def test_reranking_the_top_k_moves_only_the_top_k(rerank_study, bundled_model):
    ranked = {"held_out": rerank_study.ranked_answers(bundled_model)["held_out"]}
    alone = rerank_study.retriever_rows(ranked)
    alone_ranks = np.array(alone["held_out_reciprocal_ranks"].split(), dtype=float)
    perfect = rerank_study.reranked_rows(_Judge(right=True), ranked)
    inverted = rerank_study.reranked_rows(_Judge(right=False), ranked)
    for k in rerank_study.TOP_K:
        in_top_k = (
            alone_ranks >= 1 / k - 1e-3
        )  # the right answer was among the retriever's top k (ranks kept to 4 digits)
        # A perfect judge puts the right answer first exactly when the retriever had it in the top k ...
        assert perfect[k]["held_out_hits"] == "".join(str(int(x)) for x in in_top_k)
        # ... and one that always prefers a wrong answer pushes it to place k, never further down.
        ranks = np.array(inverted[k]["held_out_reciprocal_ranks"].split(), dtype=float)
        assert ranks[in_top_k] == pytest.approx(1 / k, abs=1e-3)
        assert ranks[~in_top_k] == pytest.approx(alone_ranks[~in_top_k])


def test_the_rerank_study_committed_runs_are_whole_and_at_equal_steps(rerank_study):
    runs = load_study("rerank")
    systems = [
        rerank_study.arm_name("fine-tuned retriever", loss, k)
        for loss in rerank_study.RERANKERS
        for k in rerank_study.TOP_K
    ]
    own = [rerank_study.arm_name("off the shelf", loss, 5) for loss in rerank_study.RERANKERS]
    seeds = runs.groupby("arm")["seed"].nunique()
    assert all(seeds[arm] == 5 for arm in ["fine-tuned retriever", *systems, *own]), seeds  # notebook 15 reads 5
    assert set(runs.loc[runs["arm"].isin(systems), "max_steps"]) == {rerank_study.STEPS}  # both losses, equal steps
    for split in ["dev", "test", "held_out"]:
        questions = len(cb.load_support_corpus(split))
        scored = runs[runs[f"{split}_hits"].notna()]
        assert (scored[f"{split}_hits"].str.len() == questions).all(), split
        assert scored[f"{split}_reciprocal_ranks"].str.split().str.len().eq(questions).all(), split
        assert set(runs["arm"]) - set(scored["arm"]) <= set(runs["arm"][runs["retriever"] == "off the shelf"]), split
