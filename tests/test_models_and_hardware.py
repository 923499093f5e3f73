"""Model name resolution, seeding and the hardware-derived training precision."""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

import st_cookbook as cb
from st_cookbook import hardware, models


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "ALL-MINILM-L6-V2"])
def test_default_model_resolves_to_the_bundled_copy(name):
    path = Path(cb.resolve_model_name(name))
    assert path.is_dir() and (path / "modules.json").is_file()


@pytest.mark.parametrize("name", ["sentence-transformers/all-mpnet-base-v2", "./my-finetuned-model", "/abs/path"])
def test_other_names_pass_through(name):
    assert cb.resolve_model_name(name) == name


def test_without_the_package_the_hub_id_is_used(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    assert cb.resolve_model_name("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"


def test_bundled_model_encodes_offline(bundled_model):
    vectors = bundled_model.encode(["reset my password", "I forgot my password", "track my parcel"])
    assert vectors.shape == (3, 384)
    similarity = bundled_model.similarity(vectors, vectors)
    assert similarity[0, 1] > similarity[0, 2]


def test_off_the_shelf_baseline_leaves_headroom(bundled_model):
    """The README's numbers: the corpus must stay hard enough for fine-tuning to matter."""
    scores = cb.support_retrieval_evaluator("test")(bundled_model)
    assert 0.5 < scores["support-test_cosine_accuracy@1"] < 0.85


def test_seed_everything_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    cb.seed_everything(7)
    first = draw()
    cb.seed_everything(7)
    assert draw() == first
    cb.seed_everything(8)
    assert draw() != first


@pytest.mark.parametrize(
    "cuda, bf16, expected",
    [
        (False, False, {"bf16": False, "fp16": False}),
        (True, True, {"bf16": True, "fp16": False}),
        (True, False, {"bf16": False, "fp16": True}),
    ],
)
def test_precision_follows_the_hardware(monkeypatch, cuda, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert cb.pick_precision() == expected
    assert cb.pick_device() == ("cuda" if cuda else hardware.pick_device())


def test_this_machine_trains_in_fp32_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert cb.pick_precision() == {"bf16": False, "fp16": False}
    assert "precision=fp32" in cb.describe_hardware()
