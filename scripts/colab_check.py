"""Run notebook 00's own setup cell in a Colab-like runtime and report what its install changed.

    python scripts/colab_check.py            # `make colab-check`; about 4 minutes, needs the package registries

Colab comes with torch and with older transformers, sentence-transformers and datasets already
installed, and its kernel has imported `google.colab`. This script builds such a runtime in a
fresh virtual environment, clones the repository's HEAD, points the setup cell's pinned
`%pip install` at that clone (the same cell, only the URL changed) and then:

1. executes notebook 00 headlessly: the cell installs the cookbook and the notebook must run;
2. runs the setup cell again: the release is present, so it must install nothing;
3. puts the old transformers back, imports it before the cell (as if a learner had used it),
   and runs the cell: it must install and then ask for a restart, naming transformers.

It prints what the install upgraded and how long each step took, writes the same to
build/colab-check.json, and exits 1 if any step did not behave.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pin_colab  # noqa: E402

from st_cookbook.doctor import QUIET_ENV  # noqa: E402

ROOT = pin_colab.ROOT
# What a Colab runtime already has (versions from the Colab-like check recorded in the issue tracker).
PREINSTALLED = [
    "torch==2.13.0",
    "transformers==4.57.1",
    "sentence-transformers==5.1.2",
    "datasets==4.4.1",
    "matplotlib",
    "scikit-learn",
    "pandas",
    "ipykernel",
    "nbclient",
    "nbformat",
]
QUIET = {**QUIET_ENV, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
# Executed inside the Colab-like environment, so that its kernel is that environment's Python.
RUNNER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source, target = sys.argv[1], sys.argv[2]
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", startup_timeout=300, record_timing=True)
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as failure:
        error = f"{failure.ename}: {failure.evalue}"
    seconds = time.perf_counter() - start
    timing = next(cell for cell in nb.cells if cell.cell_type == "code").metadata.get("execution", {})
    began, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    setup = (datetime.fromisoformat(ended) - datetime.fromisoformat(began)).total_seconds() if began and ended else None
    nbformat.write(nb, target)
    print(json.dumps({"seconds": seconds, "setup_seconds": setup, "error": error}))
    """
)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs)


def packages(python: Path) -> dict[str, str]:
    listed = json.loads(run([str(python), "-m", "pip", "list", "--format=json"]).stdout)
    return {item["name"].lower(): item["version"] for item in listed}


def execute(python: Path, notebook, work: Path, name: str, startup: Path) -> dict:
    """Execute a notebook in a fresh kernel of the Colab-like environment; its outputs and time."""
    import nbformat

    source, target = work / f"{name}.ipynb", work / f"{name}.out.ipynb"
    nbformat.write(notebook, source)
    env = {**os.environ, **QUIET, "PYTHONSTARTUP": str(startup)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    finished = subprocess.run(
        [str(python), str(work / "runner.py"), str(source), str(target)],
        text=True,
        capture_output=True,
        env=env,
        cwd=source.parent,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the runner failed:\n{finished.stderr[-3000:]}")
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    executed = nbformat.read(target, as_version=4)
    setup = next(cell for cell in executed.cells if cell.cell_type == "code")
    result["setup_output"] = "".join(
        output.get("text", "") + output.get("evalue", "") for output in setup.get("outputs", [])
    )
    return result


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", default="00_how_a_sentence_transformer_works.ipynb")
    parser.add_argument("--keep", action="store_true", help="keep the temporary environment and clone")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "colab-check.json")
    args = parser.parse_args(argv)

    if run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT).stdout.strip():
        print("note: uncommitted changes are not checked; the check installs the committed HEAD")
    work = Path(tempfile.mkdtemp(prefix="colab-check-"))
    report: dict = {"notebook": args.notebook, "steps": {}}
    failures = []
    try:
        clone = work / "clone"
        run(["git", "clone", "--quiet", str(ROOT), str(clone)])
        commit = run(["git", "rev-parse", "HEAD"], cwd=clone).stdout.strip()
        report["commit"] = commit

        start = time.perf_counter()
        run([sys.executable, "-m", "venv", str(work / "colab")])
        python = work / "colab" / "bin" / "python"
        run([str(python), "-m", "pip", "install", "--quiet", *PREINSTALLED])
        report["steps"]["Colab-like runtime built (s)"] = round(time.perf_counter() - start, 1)
        site = Path(
            run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
        )
        (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
        (site / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab: its kernel imports this."""\n')
        (work / "runner.py").write_text(RUNNER)
        colab_start = work / "startup.py"
        colab_start.write_text("import google.colab\n")
        before = packages(python)

        pin = pin_colab.read_pin(clone)
        notebook = nbformat.read(clone / "notebooks" / args.notebook, as_version=4)
        setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
        if pin.source not in setup.source:
            raise RuntimeError(f"the setup cell does not install {pin.source}; run `make pin`")
        # pip accepts a file URL in "name @ url" only with a host: file://localhost/...
        setup.source = setup.source.replace(pin.source, f"git+file://localhost{clone}@{commit}")

        first = execute(python, notebook, work, "first", colab_start)
        report["steps"]["setup cell: the install (s)"] = round(first["setup_seconds"] or -1, 1)
        report["steps"]["notebook 00 with the install (s)"] = round(first["seconds"], 1)
        if first["error"] or "Successfully installed" not in first["setup_output"]:
            failures.append(f"first run: {first['error'] or 'the setup cell installed nothing'}")
        after = packages(python)
        report["upgraded"] = {
            name: f"{before[name]} -> {version}"
            for name, version in sorted(after.items())
            if name in before and before[name] != version
        }
        report["added"] = sorted(f"{name}=={version}" for name, version in after.items() if name not in before)

        only_setup = nbformat.v4.new_notebook(cells=[setup], metadata=notebook.metadata)
        again = execute(python, only_setup, work, "again", colab_start)
        report["steps"]["setup cell with the release present (s)"] = round(again["setup_seconds"] or -1, 1)
        if again["error"] or "pip" in again["setup_output"].lower() or packages(python) != after:
            failures.append(f"second run installed again or failed: {again['error'] or again['setup_output'][-500:]}")

        run([str(python), "-m", "pip", "uninstall", "--quiet", "-y", pin_colab.PACKAGE])
        run([str(python), "-m", "pip", "install", "--quiet", "transformers==4.57.1"])
        imported_first = work / "startup_with_transformers.py"
        imported_first.write_text("import google.colab\nimport transformers\n")
        stale = execute(python, only_setup, work, "stale", imported_first)
        report["steps"]["setup cell after transformers was imported (s)"] = round(stale["setup_seconds"] or -1, 1)
        report["restart_message"] = stale["error"]
        if not (stale["error"] and "Restart session" in stale["error"] and "transformers" in stale["error"]):
            failures.append(f"no restart request after upgrading an imported transformers: {stale['error']}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report["passed"] = not failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for step, seconds in report["steps"].items():
        print(f"{step}: {seconds}")
    print("the install upgraded:", ", ".join(f"{k} {v}" for k, v in report.get("upgraded", {}).items()) or "nothing")
    print("and added:", len(report.get("added", [])), "packages")
    print("restart request:", report.get("restart_message"))
    for failure in failures:
        print("FAIL:", failure)
    print("PASS" if not failures else "FAIL", f"(report: {args.out.relative_to(ROOT)})")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
