"""load_user_dataset: every local format gives the same rows; bad sources say what to do."""

import json

import pytest

from st_cookbook import LOCAL_FORMATS, DatasetFormatError, load_user_dataset

ROWS = [
    {"sentence1": 'The "smart" schedule ignores me', "sentence2": "My schedule is not followed", "score": 0.9},
    {"sentence1": "Track my order", "sentence2": "Cancel my order", "score": 0.2},
    {"sentence1": "Reset my password", "sentence2": "I forgot my password", "score": 1.0},
]


def write(path, rows):
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        sep = "," if suffix == ".csv" else "\t"
        quote = (lambda v: '"' + str(v).replace('"', '""') + '"') if suffix == ".csv" else str
        lines = [sep.join(rows[0])] + [sep.join(quote(v) for v in row.values()) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif suffix == ".parquet":
        from datasets import Dataset

        Dataset.from_list(rows).to_parquet(str(path))
    return path


@pytest.mark.parametrize("suffix", sorted(LOCAL_FORMATS))
def test_every_local_format_loads_the_same_rows_in_column_order(tmp_path, suffix):
    dataset = load_user_dataset(write(tmp_path / f"pairs{suffix}", ROWS))
    assert dataset.column_names == ["sentence1", "sentence2", "score"]
    for column in ("sentence1", "sentence2"):
        assert dataset[column] == [row[column] for row in ROWS]
    assert dataset["score"] == pytest.approx([row["score"] for row in ROWS])


def test_tsv_quotes_are_text_not_quoting(tmp_path):
    path = tmp_path / "stray.tsv"
    path.write_text('a\tb\n"He said\tok\nsecond\trow\n', encoding="utf-8")
    dataset = load_user_dataset(path)
    assert dataset.num_rows == 2 and dataset["a"][0] == '"He said'


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such file"),
        ("data.xlsx", "x", "unsupported file type '.xlsx'"),
        ("empty.csv", "", "the file is empty"),
        ("header_only.csv", "sentence1,sentence2,label\n", "no data rows"),
        ("broken.json", "{not json", "could not be read as JSON"),
        ("broken.parquet", "not parquet at all", "could not be read as PARQUET"),
    ],
)
def test_bad_local_sources(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=message):
        load_user_dataset(path)


def test_unreachable_hub_id_explains_itself(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetFormatError, match="could not be loaded from the Hugging Face Hub"):
        load_user_dataset("someone/no-such-dataset-for-the-cookbook")
