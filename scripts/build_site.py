"""Build the cookbook as a static site: the README, the notebooks with their committed outputs (never
re-run), recipes/README.md, results/README.md, the bundled data's two notes and every docs/**/*.md.

    python scripts/build_site.py --out site      # `make site` (then scripts/check_site.py site)

Step 1 stages the pages into --stage with the repository's layout (README.md becomes index.md, the
home page) and rewrites each relative link on the way:
  - to another page: kept (to README.md: to index.md), #anchors included;
  - an image (![...](...), <img src>) of the repository: the image is copied along and shown;
  - to any other file or folder of the repository (recipes/train_triplets.py, results/x.csv):
    its GitHub URL (blob/ for a file, tree/ for a folder), since the site holds pages, not sources;
  - to nothing: the build stops and names the page and the link.
The navigation is generated here too, from the files found: a hidden table of contents on the home
page with the notebooks, the recipes and results, the data notes, and docs/ (one section for its
top-level files and one per subfolder, e.g. docs/solutions/), so new docs appear without editing.
Unchanged staged files keep their times, so Sphinx rebuilds only what changed.

Step 2 runs Sphinx with MyST-NB (settings in book/conf.py: execution off, sphinx-book-theme) with
warnings as errors, so a link MyST cannot resolve (a missing #anchor) stops the build as well.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import tomllib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_site import Problem, is_external, markdown_links  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "book"


def _repository(root: Path) -> str:
    settings = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {})
    return settings.get("st-cookbook", {}).get("repository", "st-cookbook/sentence-transformers-finetuning-cookbook")


# Links to repository files that are not pages go to GitHub: the repository named in pyproject.toml's
# [tool.st-cookbook] (as for the Colab badges), at the branch the site is built from.
REPOSITORY = f"https://github.com/{_repository(ROOT)}"
BRANCH = "main"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")

# (section caption, repository paths or glob patterns), in the navigation's order
SECTIONS = [
    ("Notebooks", ["notebooks/*.ipynb"]),
    ("Recipes and results", ["recipes/README.md", "results/README.md"]),
    ("The bundled data", ["utils/st_cookbook/data/CORPUS.md", "utils/st_cookbook/data/probe/PROBE.md"]),
]


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def sections(root: Path) -> list[tuple[str, list[str]]]:
    """The navigation: each caption with the repository paths of its pages, docs/ included."""
    found = []
    for caption, patterns in SECTIONS:
        paths = []
        for pattern in patterns:
            paths += sorted(p.relative_to(root).as_posix() for p in root.glob(pattern) if _visible(p, root))
        if paths:
            found.append((caption, paths))
    docs = root / "docs"
    if docs.is_dir():
        markdown = sorted(p for p in docs.rglob("*.md") if p.is_file() and _visible(p, root))
        top = [p.relative_to(root).as_posix() for p in markdown if p.parent == docs]
        if top:
            found.append(("Docs", top))
        for folder in sorted({p.relative_to(docs).parts[0] for p in markdown if p.parent != docs}):
            paths = [p.relative_to(root).as_posix() for p in markdown if p.relative_to(docs).parts[0] == folder]
            found.append((folder.replace("_", " ").replace("-", " ").capitalize(), paths))
    return found


def pages(root: Path) -> dict[str, str]:
    """Repository path of each page -> its path in the staged source (and so in the site)."""
    staged = {"README.md": "index.md"}
    for _, paths in sections(root):
        staged.update({path: path for path in paths})
    return staged


def github_url(path: str, is_dir: bool) -> str:
    return f"{REPOSITORY}/{'tree' if is_dir else 'blob'}/{BRANCH}/{quote(path)}"


def rewrite_links(
    text: str, source: str, root: Path, staged: dict[str, str], images: set[str], problems: list[Problem]
) -> str:
    """text (markdown of the page at repository path `source`) with its relative links rewritten for
    the staged site; images to copy are added to `images`, links to nothing to `problems`."""
    here = posixpath.dirname(staged[source])
    pieces, last = [], 0
    for link in markdown_links(text):
        target = link.target
        if not target or is_external(target) or target.startswith("#"):
            continue
        parts = urlsplit(target)
        # "/recipes/x.py" is from the repository's root, as on GitHub
        folder = "" if parts.path.startswith("/") else posixpath.dirname(source)
        path = posixpath.normpath(posixpath.join(folder, unquote(parts.path).lstrip("/")))
        suffix = (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
        if path == ".." or path.startswith("../") or not (root / path).exists():
            problems.append(Problem(source, target, "-> no such file in the repository"))
            continue
        if path in staged:
            new = posixpath.relpath(staged[path], here or ".") + suffix
        elif link.image and path.lower().endswith(IMAGE_SUFFIXES):
            images.add(path)
            new = posixpath.relpath(path, here or ".") + suffix
        else:
            raw = "?raw=true" if link.image else ""
            new = github_url(path, (root / path).is_dir()) + raw + (f"#{parts.fragment}" if parts.fragment else "")
        if new != target:
            pieces += [text[last : link.start], new]
            last = link.end
    return "".join(pieces) + text[last:]


def navigation(root: Path, staged: dict[str, str]) -> str:
    """The home page's hidden tables of contents, one per section."""
    blocks = []
    for caption, paths in sections(root):
        entries = "\n".join(posixpath.splitext(staged[path])[0] for path in paths)
        blocks.append(f"\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n{entries}\n```\n")
    return "".join(blocks)


def stage(root: Path, out: Path) -> tuple[dict[str, str], list[Problem]]:
    """Write the site's source tree into out; returns the staged pages and the broken links found."""
    staged = pages(root)
    problems: list[Problem] = []
    images: set[str] = set()
    contents: dict[str, bytes] = {}
    for source, target in staged.items():
        path = root / source
        if source.endswith(".ipynb"):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            for cell in notebook["cells"]:
                if cell["cell_type"] == "markdown":
                    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                    new = rewrite_links(text, source, root, staged, images, problems)
                    cell["source"] = new.splitlines(keepends=True)
            # Widget state that no output shows (left by a progress bar) would only make MyST-NB load
            # require.js and the widget manager from a CDN on that page.
            views = [o for c in notebook["cells"] for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
            if not views:
                notebook["metadata"].pop("widgets", None)
            contents[target] = (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()
        else:
            text = rewrite_links(path.read_text(encoding="utf-8"), source, root, staged, images, problems)
            if target == "index.md":
                text = text.rstrip("\n") + "\n" + navigation(root, staged)
            contents[target] = text.encode()
    for image in images:
        contents[image] = (root / image).read_bytes()

    out.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        path = out / name
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for path in sorted(out.rglob("*"), reverse=True):  # files of pages that are gone, then empty folders
        name = path.relative_to(out).as_posix()
        if path.is_file() and name not in contents:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return staged, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="where the site goes (default: site/)")
    parser.add_argument("--stage", type=Path, default=ROOT / "build" / "site-src", help="the staged source tree")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "site-work", help="Sphinx's own output and cache")
    parser.add_argument("--clean", action="store_true", help="rebuild every page, not only the changed ones")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    staged, problems = stage(ROOT, args.stage)
    if problems:
        for problem in problems:
            print(f"broken link: {problem}", file=sys.stderr)
        print(f"build_site: {len(problems)} broken link(s) in the pages' sources; nothing built", file=sys.stderr)
        return 1
    print(f"build_site: {len(staged)} pages staged in {args.stage}")
    # Sphinx builds into work/html (MyST-NB puts its output files beside it, in work/jupyter_execute),
    # incrementally; a page added or removed means a clean build, so that no old page lingers.
    html, doctrees, listing = args.work / "html", args.work / "doctrees", args.work / "pages.json"
    current = json.dumps(sorted(staged.values()))
    if args.clean or not listing.is_file() or listing.read_text() != current:
        shutil.rmtree(args.work, ignore_errors=True)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF_DIR), "-d", str(doctrees)]
    command += ["-W", "--keep-going", "-q", str(args.stage), str(html)]
    if subprocess.run(command).returncode != 0:
        print(
            f"build_site: Sphinx failed; its warnings above name the page and line in {args.stage}, the staged "
            "copy of the repository's files (index.md there is README.md)",
            file=sys.stderr,
        )
        return 1
    listing.write_text(current)
    # The themes copy two Jinja macro files (webpack-macros.html) into _static/ unrendered: not pages.
    for path in (html / "_static").glob("*.html"):
        if "{{ pathto(" in path.read_text(encoding="utf-8", errors="replace"):
            path.unlink()
    if args.out.exists() and any(args.out.iterdir()) and not (args.out / "objects.inv").is_file():
        print(f"build_site: {args.out} is not empty and not a built site; not replacing it", file=sys.stderr)
        return 1
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(html, args.out, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    print(f"build_site: {args.out}/index.html built in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
