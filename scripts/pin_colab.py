"""Point every Colab badge, link and install line at the release named in pyproject.toml.

    python scripts/pin_colab.py          # rewrite notebooks and README from the setting (`make pin`)
    python scripts/pin_colab.py --check  # list what disagrees with it; exit 1 if anything does

The one setting is `[tool.st-cookbook]` in pyproject.toml: `repository` (owner/name on GitHub)
and `ref` (a release tag such as v0.2.0, or a commit). A badge opens the notebook at that ref
and the notebook's setup cell installs the cookbook's package from the same ref, so what a
learner runs in Colab is what was tested together. To point Colab at a fork, change the two
values, run this script, commit, then tag and push the ref.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "st-finetuning-cookbook"
# The setup cell's Colab part ends where the offline default begins; everything above it is generated.
SETUP_TAIL = 'os.environ.setdefault("HF_HUB_OFFLINE", "1")'
# Modules whose upgrade after import needs a fresh Python process (compiled parts, cached classes).
RESTART_MODULES = ("numpy", "torch", "transformers", "sentence_transformers", "datasets")
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"']+?/notebooks/(?=[0-9]{2}_)")
INSTALL_LINE = re.compile(r"git\+https://github\.com/[^\s\"'@]+(?:@[^\s\"']+)?")


@dataclass(frozen=True)
class Pin:
    repository: str
    ref: str
    version: str

    @property
    def colab_prefix(self) -> str:
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.ref}/notebooks/"

    @property
    def source(self) -> str:
        return f"git+https://github.com/{self.repository}@{self.ref}"

    def setup_header(self) -> str:
        """The top of every notebook's setup cell: in Colab, install this release once."""
        modules = ", ".join(f'"{name}"' for name in RESTART_MODULES)
        return f"""# NBVAL_IGNORE_OUTPUT
import os
import sys

if "google.colab" in sys.modules:  # Colab: install the cookbook release these notebooks were tested with, once
    from importlib.metadata import PackageNotFoundError, version

    def cookbook_version():
        try:
            return version("{PACKAGE}")
        except PackageNotFoundError:
            return None

    if cookbook_version() != "{self.version}":
        loaded = {{
            name: sys.modules[name].__version__
            for name in ({modules})
            if name in sys.modules
        }}
        %pip install "{PACKAGE} @ {self.source}"
        if cookbook_version() != "{self.version}":
            raise RuntimeError("pip did not install {PACKAGE} {self.version}: its error is printed above.")
        stale = [name for name, seen in loaded.items() if version(name.replace("_", "-")) != seen]
        if stale:
            raise RuntimeError(
                f"The install changed {{', '.join(stale)}}, already imported in this runtime: "
                "Runtime > Restart session, then run this notebook again from the top."
            )
"""


def read_pin(root: Path = ROOT) -> Pin:
    project = tomllib.loads((root / "pyproject.toml").read_text())
    setting = project["tool"]["st-cookbook"]
    return Pin(setting["repository"], setting["ref"], project["project"]["version"])


def notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _setup_cell(nb) -> nbformat.NotebookNode:
    return next(cell for cell in nb.cells if cell.cell_type == "code")


def pinned_setup(source: str, pin: Pin) -> str:
    """A setup cell's source with its generated Colab part replaced by the pinned one."""
    if SETUP_TAIL not in source:
        raise ValueError(f"the setup cell has no line starting with {SETUP_TAIL!r}")
    return pin.setup_header() + source[source.index(SETUP_TAIL) :]


def _pin_links(text: str, pin: Pin) -> str:
    return COLAB_LINK.sub(pin.colab_prefix, text)


def problems(root: Path = ROOT, pin: Pin | None = None) -> list[str]:
    """Every place where a badge, a Colab link or an install line disagrees with the setting."""
    pin = pin or read_pin(root)
    found = []
    if not (pin.ref == f"v{pin.version}" or re.fullmatch(r"[0-9a-f]{40}", pin.ref)):
        found.append(
            f"pyproject.toml: ref {pin.ref!r} is neither the release tag v{pin.version} nor a full commit hash"
        )
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        name = path.relative_to(root)
        if pin.colab_prefix + path.name not in nb.cells[0].source:
            found.append(f"{name}: the first cell lacks the badge {pin.colab_prefix + path.name}")
        for index, cell in enumerate(nb.cells):
            for link in COLAB_LINK.findall(cell.source) if cell.cell_type == "markdown" else []:
                if link != pin.colab_prefix:
                    found.append(f"{name} cell {index}: Colab link {link} is not {pin.colab_prefix}")
            for url in INSTALL_LINE.findall(cell.source):
                if url != pin.source:
                    found.append(f"{name} cell {index}: installs {url}, not {pin.source}")
        setup = _setup_cell(nb).source
        if not setup.startswith(pin.setup_header()):
            found.append(f"{name}: the setup cell's Colab install is not the pinned one (run scripts/pin_colab.py)")
    for path in [root / "README.md", *sorted(root.glob("docs/**/*.md"))]:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for link in COLAB_LINK.findall(line):
                if link != pin.colab_prefix:
                    found.append(f"{path.relative_to(root)}:{number}: Colab link {link} is not {pin.colab_prefix}")
            for url in INSTALL_LINE.findall(line):
                if url != pin.source:
                    found.append(f"{path.relative_to(root)}:{number}: installs {url}, not {pin.source}")
    return found


def apply(root: Path = ROOT, pin: Pin | None = None) -> list[Path]:
    """Rewrite badges, links and setup cells from the setting; return the files that changed."""
    pin = pin or read_pin(root)
    changed = []
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = _pin_links(cell.source, pin)
        setup = _setup_cell(nb)
        setup.source = pinned_setup(setup.source, pin)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    for path in [root / "README.md", *sorted(root.glob("docs/**/*.md"))]:
        if path.is_file():
            text = path.read_text()
            pinned = INSTALL_LINE.sub(pin.source, _pin_links(text, pin))
            if pinned != text:
                path.write_text(pinned)
                changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report disagreements; exit 1 if there are any")
    args = parser.parse_args(argv)
    pin = read_pin()
    if args.check:
        found = problems(ROOT, pin)
        for problem in found:
            print(problem, file=sys.stderr)
        print(f"{len(found)} disagreement(s) with {pin.repository}@{pin.ref}")
        return 1 if found else 0
    for path in apply(ROOT, pin):
        print(f"pinned {path.relative_to(ROOT)}")
    print(f"Colab badges and installs point at {pin.repository}@{pin.ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
