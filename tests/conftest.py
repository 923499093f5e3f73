"""Test-wide settings: offline, quiet, reproducible. Notebook kernels started by
nbval inherit this environment, so their outputs are quiet too."""

import os

for name, value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "MPLBACKEND": "Agg",
}.items():
    os.environ.setdefault(name, value)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bundled_model():
    from sentence_transformers import SentenceTransformer

    from st_cookbook import resolve_model_name

    return SentenceTransformer(resolve_model_name("all-MiniLM-L6-v2"), device="cpu")
