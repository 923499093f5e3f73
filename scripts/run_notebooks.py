"""Execute the notebooks headlessly, in order, and summarise what each one measured.

    python scripts/run_notebooks.py --out build             # `make run`
    python scripts/run_notebooks.py --out build --in-place  # refresh committed outputs

Executed copies go to OUT/notebooks/, the metrics each notebook reported with
`st_cookbook.report_metrics` to OUT/results.jsonl, and a readable summary with
each notebook's run time to OUT/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from st_cookbook.results import NOTEBOOK_ENV, RESULTS_FILE_ENV

ROOT = Path(__file__).resolve().parent.parent
KERNEL_STARTUP = Path(__file__).resolve().parent / "headless_kernel.py"


def execute(path: Path, timeout: int) -> tuple[nbformat.NotebookNode, float, str | None]:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # keeps timestamps out of committed notebooks
        startup_timeout=300,  # a kernel can take over a minute to start on a busy 2-core machine
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as failure:
        error = f"{failure.ename}: {failure.evalue}"
    return notebook, time.perf_counter() - start, error


def summarise(runs: list[dict], results: list[dict]) -> str:
    lines = ["# Notebook run", "", "| notebook | seconds | status |", "| --- | ---: | --- |"]
    for run in runs:
        lines.append(f"| {run['notebook']} | {run['seconds']:.0f} | {run['status']} |")
    for run in runs:
        reported = [r for r in results if r["notebook"] == run["notebook"]]
        if not reported:
            continue
        lines += ["", f"## {run['notebook']}"]
        for record in reported:
            lines += ["", f"**{record['title']}**", "", "| metric | value |", "| --- | ---: |"]
            lines += [f"| {name} | {value} |" for name, value in record["metrics"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb, in order")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="folder for executed notebooks and results")
    parser.add_argument("--in-place", action="store_true", help="also write the outputs back into the notebooks")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds one cell may run")
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    executed_dir = args.out / "notebooks"
    executed_dir.mkdir(parents=True, exist_ok=True)
    results_file = (args.out / "results.jsonl").resolve()
    results_file.unlink(missing_ok=True)
    results_file.touch()
    os.environ[RESULTS_FILE_ENV] = str(results_file)
    os.environ["PYTHONSTARTUP"] = str(KERNEL_STARTUP)  # every kernel runs it first: no progress widgets, no log dicts

    runs = []
    for path in paths:
        os.environ[NOTEBOOK_ENV] = path.stem
        print(f"running {path.name} ...", flush=True)
        notebook, seconds, error = execute(path.resolve(), args.timeout)
        nbformat.write(notebook, executed_dir / path.name)
        if args.in_place and error is None:
            nbformat.write(notebook, path)
        status = "ok" if error is None else f"FAILED: {error}"
        runs.append({"notebook": path.stem, "seconds": seconds, "status": status})
        print(f"  {seconds:.0f} s, {status}", flush=True)

    results = [json.loads(line) for line in results_file.read_text(encoding="utf-8").splitlines() if line]
    summary = summarise(runs, results)
    (args.out / "results.md").write_text(summary, encoding="utf-8")
    print()
    print(summary)
    print(f"executed notebooks: {executed_dir}/, summary: {args.out / 'results.md'}")
    return 0 if all(run["status"] == "ok" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
