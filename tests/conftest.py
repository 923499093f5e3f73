"""Test-wide settings: offline, quiet, reproducible, and a Hugging Face cache of the
tests' own. Notebook kernels started by nbval inherit this environment, so their
outputs are quiet too, and each notebook's setup cell has to register the bundled
model into an empty cache by itself, as on a fresh machine."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_HF_HOME = tempfile.mkdtemp(prefix="st-cookbook-hf-home-")
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)

for name, value in {
    "HF_HOME": _HF_HOME,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_VERBOSITY": "error",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "MPLBACKEND": "Agg",
    # nbval's kernels run the same start-up file as `make run`'s (scripts/headless_kernel.py).
    "PYTHONSTARTUP": str(Path(__file__).resolve().parent.parent / "scripts" / "headless_kernel.py"),
}.items():
    os.environ.setdefault(name, value)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bundled_model():
    from sentence_transformers import SentenceTransformer

    from st_cookbook import DEFAULT_MODEL, register_bundled_model

    register_bundled_model()
    return SentenceTransformer(DEFAULT_MODEL, device="cpu")
