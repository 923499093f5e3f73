"""Test-wide settings: offline, quiet, reproducible, and a Hugging Face cache of the
tests' own. Notebook kernels started by nbval inherit this environment, so their
outputs are quiet too, and each notebook's setup cell has to register the bundled
model into an empty cache by itself, as on a fresh machine.

Below the settings: one session-wide copy of the bundled model, and the helpers the recipe
tests share (import a recipe as a module and run its main() in this process, write tiny data
files in every format the recipes read, read a recipe's JSON report)."""

import atexit
import contextlib
import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
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

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def pytest_collection_modifyitems(items):
    """The notebooks (each one to two minutes on one worker) first, the many quick tests after them:
    pytest-xdist hands each worker whole files in this order, so both workers finish at about the
    same time instead of one waiting while the other runs a last notebook."""
    items.sort(key=lambda item: 0 if item.nodeid.startswith("notebooks/") else 1)


def pytest_configure(config):
    """`make test` runs two pytest-xdist workers (pyproject.toml), each with its notebooks' kernels:
    one thread each, so that two workers on two cores do not fight over four threads."""
    if hasattr(config, "workerinput"):
        for name, value in ONE_THREAD.items():
            os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def bundled_model():
    from sentence_transformers import SentenceTransformer

    from st_cookbook import DEFAULT_MODEL, register_bundled_model

    register_bundled_model()
    return SentenceTransformer(DEFAULT_MODEL, device="cpu")


ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
RECIPE_DATA = RECIPES / "data"
RECIPE_NAMES = ("labeled_pairs", "positive_pairs", "labeled_sentences", "triplets")


def load_recipe(name: str):
    """recipes/train_<name>.py as a module, imported once per session, with recipes/ on sys.path so
    that its `import recipe_io` finds the sibling file, as it does when the script runs."""
    if str(RECIPES) not in sys.path:
        sys.path.insert(0, str(RECIPES))
    path = RECIPES / f"train_{name}.py"
    if path.stem not in sys.modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses look their module up while the file runs
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[path.stem]
            raise
    return sys.modules[path.stem]


def run_recipe(name: str, argv: list[str]) -> tuple[dict, str]:
    """A training recipe's main(argv) in this process: (its JSON report, all it printed).

    On one thread, like the subprocess runs (ONE_THREAD): with two cores shared with other work,
    a second torch thread makes a tiny run several times slower, not faster."""
    import torch

    printed, threads = io.StringIO(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(printed):
            load_recipe(name).main(argv)
    finally:
        torch.set_num_threads(threads)
    return last_json(printed.getvalue()), printed.getvalue()


def last_json(output) -> dict:
    """The JSON object on the last line of a recipe's stdout (text, or a finished subprocess)."""
    if not isinstance(output, str):
        assert output.returncode == 0, f"exit {output.returncode}\n{output.stderr[-3000:]}"
        output = output.stdout
    lines = output.strip().splitlines()
    assert lines, "nothing printed"
    return json.loads(lines[-1])


def run_all(commands: list[list[str]], workers: int, threads: int | None = None, cwd=ROOT):
    """Subprocesses side by side (imports dominate short runs, and two cores overlap them)."""
    env = dict(os.environ)
    if threads:
        env.update({name: str(threads) for name in ONE_THREAD})

    def run(command):
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, commands))


def bundled_rows(name: str, split: str, count: int, step: int = 1) -> list[dict]:
    """`count` rows of recipes/data/<name>_<split>.csv, every `step`-th one."""
    with open(RECIPE_DATA / f"{name}_{split}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))[::step][:count]


def write_table(path: Path, rows: list[dict]) -> str:
    """Rows as a file in the format its suffix names (.csv, .tsv, .json, .jsonl, .parquet)."""
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".tsv":
        lines = ["\t".join(rows[0]), *("\t".join(str(v) for v in row.values()) for row in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        raise ValueError(f"no writer for {path.suffix}")
    return str(path)


def data_args(
    folder: Path, name: str, count: int, step: int = 1, test_step: int = 1, suffix: str = ".csv", reshape=dict
) -> list[str]:
    """--train-data and --eval-data: `count` training rows and 12 test rows of a bundled file."""
    args = []
    for flag, split, size, every in (("--train-data", "train", count, step), ("--eval-data", "test", 12, test_step)):
        rows = [reshape(row) for row in bundled_rows(name, split, size, every)]
        args += [flag, write_table(folder / f"{name}_{split}{suffix}", rows)]
    return args


def assert_trained(folder: Path, base_model) -> None:
    """The model saved in `folder` loads, embeds in 384 dimensions, and is not the base model."""
    from sentence_transformers import SentenceTransformer

    sentence = ["My thermostat does not follow the schedule"]
    embedding = SentenceTransformer(str(folder), device="cpu").encode(sentence)
    assert embedding.shape == (1, 384)
    assert abs(embedding - base_model.encode(sentence)).max() > 1e-6, "the saved model is the untrained one"


# A tiny training run: two optimizer steps of 8 rows, a log line each.
TINY = ["--max_steps", "2", "--per_device_train_batch_size", "8", "--logging_steps", "1"]


def help_text(name: str, capsys) -> str:
    """What `--help` prints: main() ends in SystemExit(0), as argparse ends the script."""
    with pytest.raises(SystemExit) as exit_:
        load_recipe(name).main(["--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def write_lines(folder: Path, files: dict[str, list[str]]) -> list[str]:
    """Files of raw lines, for the bad inputs that no table writer would produce."""
    paths = []
    for file, lines in files.items():
        (folder / file).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(str(folder / file))
    return paths


def assert_rejected(name: str, argv: list[str], expected: str, output: Path, capsys) -> str:
    """main(argv) stops with a RecipeError naming `expected` and a fix, on one line, before training
    and before writing anything to --output_dir."""
    recipe = load_recipe(name)
    with pytest.raises(recipe.recipe_io.RecipeError) as error:
        recipe.main([*argv, "--output_dir", str(output)])
    message = str(error.value)
    assert expected in message and "Fix:" in message, message
    assert "\n" not in message, "the message is one line"
    # Nothing on stdout but, when mining found too few negatives, the line that counts them.
    printed = capsys.readouterr().out.splitlines()
    assert all(line.startswith("Hard negatives: ") for line in printed), printed
    assert not output.exists() or not any(output.iterdir()), "bad input wrote files"
    return message
