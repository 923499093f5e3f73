"""The off-domain probe (general-domain pairs with graded similarity) and the STS Benchmark loader:
split sizes and disjointness, score spread, no help-desk text, a sane off-the-shelf score, and the
benchmark's parsing and its clear error where the files are absent."""

import re
from pathlib import Path

import pytest

from st_cookbook.probe import STSBenchmarkMissing, load_general_pairs, load_stsb

SIZES = {"train": 120, "dev": 60, "test": 180, "all": 360}
THEME_COUNTS = {"train": 8, "dev": 4, "test": 12, "all": 24}
# Words that only the help-desk corpus (the fine-tuning domain) would use.
HELP_DESK_WORDS = re.compile(
    r"\b(thermostat|hearthly|subscription|password|billing|account|firmware|wi-?fi|router|furnace|heat pump|app)s?\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def splits():
    return {split: load_general_pairs(split) for split in SIZES}


def sentences(dataset) -> list[str]:
    return list(dataset["sentence1"]) + list(dataset["sentence2"])


def test_sizes_columns_and_themes(splits):
    for split, dataset in splits.items():
        assert dataset.column_names == ["sentence1", "sentence2", "score", "theme"]
        assert dataset.num_rows == SIZES[split], split
        assert len(set(dataset["theme"])) == THEME_COUNTS[split], split
    themes = list(splits["all"]["theme"])
    assert all(themes.count(theme) == 15 for theme in set(themes))


def test_splits_share_no_theme_and_no_sentence(splits):
    parts = ("train", "dev", "test")
    for i, first in enumerate(parts):
        for second in parts[i + 1 :]:
            assert not set(splits[first]["theme"]) & set(splits[second]["theme"]), (first, second)
            assert not set(sentences(splits[first])) & set(sentences(splits[second])), (first, second)
    assert set().union(*(splits[p]["theme"] for p in parts)) == set(splits["all"]["theme"])


def test_no_sentence_is_repeated(splits):
    every = [s.strip().lower() for s in sentences(splits["all"])]
    assert len(every) == len(set(every)) == 720


def test_scores_are_halves_of_the_sts_scale_and_spread_over_every_fifth(splits):
    for split, dataset in splits.items():
        scores = list(dataset["score"])
        assert all(0.0 <= s <= 1.0 for s in scores), split
        assert all(abs(s * 10 - round(s * 10)) < 1e-9 for s in scores), "0-5 in steps of 0.5, divided by 5"
        fifths = {min(int(s * 5), 4) for s in scores}
        assert fifths == {0, 1, 2, 3, 4}, (split, fifths)
        assert {0.0, 1.0} <= set(scores), split


def test_pairs_are_off_the_help_desk_domain(splits):
    from st_cookbook import load_intents, load_support_answers

    corpus = {q for i in load_intents() for q in i.questions + i.eval_questions} | set(load_support_answers()["answer"])
    probe = sentences(splits["all"])
    assert not [s for s in probe if HELP_DESK_WORDS.search(s)]
    assert not set(probe) & corpus


def test_every_sentence_is_a_plain_sentence_of_5_to_30_words(splits):
    for sentence in sentences(splits["all"]):
        assert 5 <= len(sentence.split()) <= 30, sentence
        assert sentence == sentence.strip() and "  " not in sentence, sentence


def test_the_documented_split_rule_gives_the_documented_themes(splits):
    """PROBE.md lists each split's themes: the loader must agree with what a reader is told."""
    text = (Path(__file__).resolve().parent.parent / "utils" / "st_cookbook" / "data" / "probe" / "PROBE.md").read_text(
        encoding="utf-8"
    )
    for split in ("train", "dev", "test"):
        line = next(line for line in text.splitlines() if line.startswith(f"- `{split}`"))
        documented = set(re.findall(r"`([a-z_]+)`", line.split(":", 1)[1]))
        assert documented == set(splits[split]["theme"]), split


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="train, dev, test, all"):
        load_general_pairs("validation")
    with pytest.raises(ValueError, match="train, dev, test"):
        load_stsb("all")


def test_off_the_shelf_model_ranks_the_test_pairs_sanely(bundled_model, splits):
    """all-MiniLM-L6-v2 scores 0.73 here (PROBE.md); a shuffled or inverted label file scores near
    zero or below, and a probe with only easy pairs would score near 1."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    test = splits["test"]
    evaluator = EmbeddingSimilarityEvaluator(test["sentence1"], test["sentence2"], test["score"], name="probe-test")
    spearman = evaluator(bundled_model)[evaluator.primary_metric]
    assert 0.65 < spearman < 0.85, spearman


def test_missing_benchmark_raises_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "no-stsb-here"
    with pytest.raises(STSBenchmarkMissing, match="STSB_DIR") as error:
        load_stsb("test", folder=missing)
    assert str(missing / "sts-test.csv") in str(error.value)
    assert isinstance(error.value, FileNotFoundError)

    monkeypatch.setenv("STSB_DIR", str(missing))
    with pytest.raises(STSBenchmarkMissing, match=r"\$STSB_DIR") as error:
        load_stsb("dev")
    assert str(missing / "sts-dev.csv") in str(error.value)


def test_benchmark_rows_parse_with_stray_quotes_and_extra_columns(tmp_path, monkeypatch):
    """A double quote in the benchmark is text: read as CSV quoting, it would swallow the rows
    after it into one field without an error."""
    rows = [
        'main-captions\tMSRvid\t2012test\t0001\t5.000\t"A stray quote opens this one.\tA man plays the guitar.',
        "main-news\theadlines\t2013\t0002\t1.5\tShe said no.\tThe talks ended.\tsource\tattribution",
        'main-forums\tanswers\t2015\t0003\t0.0\tOne "quoted" word.\tSomething else entirely.',
    ]
    (tmp_path / "sts-test.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setenv("STSB_DIR", str(tmp_path))
    pairs = load_stsb("test")
    assert pairs.column_names == ["sentence1", "sentence2", "score"]
    assert pairs.to_dict() == {
        "sentence1": ['"A stray quote opens this one.', "She said no.", 'One "quoted" word.'],
        "sentence2": ["A man plays the guitar.", "The talks ended.", "Something else entirely."],
        "score": [1.0, 0.3, 0.0],
    }
