"""The static site (`make site`): its link checker on small built trees, the staging step that rewrites
the pages' links, and every relative link of the real pages at source level. None of this needs the
site's tools; the real build and the browser check run only where requirements-site.txt (and, for the
browser, Debian's chromium) are installed, and are skipped cleanly elsewhere."""

import base64
import hashlib
import html
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import check_site  # noqa: E402

GITHUB = build_site.REPOSITORY + "/blob/main/"
# A 1x1 PNG, so that fixture images are real images.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a3d4b3c40000000049454e44ae426082"
)


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def good_site(root: Path) -> Path:
    return write(
        root,
        {
            "index.html": f"""<html><head><title>Home</title><link rel="stylesheet" href="_static/style.css?digest=1">
                <script src="_static/app.js"></script><link href="https://fonts.example.com/x.css" rel="stylesheet">
                </head><body><h1 id="top">Home</h1>
                <a href="notebooks/a.html">a</a> <a href="notebooks/a.html#plot">a's plot</a>
                <a href="#top">top</a> <a href="#">nothing</a> <a href="?q=1">query</a> <a href="guide/">guide</a>
                <a href="/notebooks/a.html">absolute</a> <a href="notebooks/a%20b.html">space</a>
                <a href="https://example.com/missing.html">external</a> <a href="mailto:x@example.com">mail</a>
                <a href="//cdn.example.com/lib.js">protocol-relative</a>
                <img src="data:image/png;base64,{base64.b64encode(PNG).decode()}">
                <form action="search.html"></form></body></html>""",
            "search.html": "<html><head><title>Search</title></head><body>search</body></html>",
            "notebooks/a.html": """<html><head><title>A</title></head><body>
                <section id="plot"><img src="../_images/plot.png" srcset="../_images/plot.png 1x, ../_images/plot@2x.png 2x">
                </section><a href="../index.html#top">home</a> <a name="old-anchor"></a>
                <a href="../index.html?v=2">home again</a></body></html>""",
            "notebooks/a b.html": "<html><head><title>A B</title></head><body>spaces</body></html>",
            "guide/index.html": '<html><head><title>Guide</title></head><body><a href="../notebooks/a.html#old-anchor">a</a></body></html>',
            "_static/style.css": "body {}",
            "_static/app.js": "",
            "_images/plot.png": PNG,
            "_images/plot@2x.png": PNG,
        },
    )


# --- the built-site checker ----------------------------------------------------------------------


def test_a_good_tree_passes_with_anchors_queries_folders_and_external_links(tmp_path):
    problems, counts = check_site.check_site(good_site(tmp_path))
    assert problems == []
    assert counts["pages"] == 5
    assert counts["images"] == 3  # the plot, its 2x version (srcset), and nothing for the data: URL
    # every relative URL with a path counts; "#top", "#", "?q=1", http:, mailto:, // and data: do not
    assert counts["internal links"] == 14


@pytest.mark.parametrize(
    "page, html, reason",
    [
        ("index.html", '<a href="notebooks/missing.html">x</a>', "notebooks/missing.html is not in the site"),
        ("index.html", '<img src="_images/gone.png">', "_images/gone.png is not in the site"),
        ("index.html", '<a href="notebooks/missing.html#plot">x</a>', "notebooks/missing.html is not in the site"),
        (
            "index.html",
            '<a href="notebooks/a.html#no-such-heading">x</a>',
            "no id 'no-such-heading' on notebooks/a.html",
        ),
        ("index.html", '<a href="#nowhere">x</a>', "no id 'nowhere' on this page"),
        ("index.html", '<a href="_static/">x</a>', "_static/index.html is not in the site"),
        ("index.html", '<a href="../outside.html">x</a>', "points outside the site"),
        (
            "notebooks/a.html",
            '<script src="../_static/missing.js?v=1"></script>',
            "_static/missing.js is not in the site",
        ),
        ("guide/index.html", '<img srcset="../_images/plot.png 1x, ../_images/plot@3x.png 3x">', "plot@3x.png"),
    ],
)
def test_a_broken_internal_link_is_named_with_its_page(tmp_path, page, html, reason):
    site = good_site(tmp_path / "site")
    (tmp_path / "outside.html").write_text("<html></html>")  # exists, but not in the site
    path = site / page
    path.write_text(path.read_text().replace("</body>", html + "</body>"))
    problems, _ = check_site.check_site(site)
    assert len(problems) == 1, problems
    assert problems[0].page == page
    assert reason in problems[0].reason
    assert problems[0].link in html


def test_the_command_exits_1_naming_page_and_link(tmp_path, capsys):
    site = good_site(tmp_path)
    (site / "search.html").write_text('<html><body><a href="gone.html#x">gone</a></body></html>')
    assert check_site.main([str(site)]) == 1
    err = capsys.readouterr().err
    assert "search.html: 'gone.html#x' -> gone.html is not in the site" in err
    assert "1 broken internal link" in err
    (site / "gone.html").write_text('<html><body><p id="x">here</p></body></html>')
    assert check_site.main([str(site)]) == 0
    assert "no broken internal link" in capsys.readouterr().out


def test_the_command_says_to_build_first_without_a_site(tmp_path, capsys):
    assert check_site.main([str(tmp_path / "site")]) == 1
    assert "make site" in capsys.readouterr().err


# --- markdown links ------------------------------------------------------------------------------


def targets(text: str) -> list[tuple[str, bool]]:
    return [(link.target, link.image) for link in check_site.markdown_links(text)]


def test_markdown_links_outside_code():
    text = """# Title

See [the recipe](recipes/train.py) and [`evaluate.py`](../recipes/evaluate.py "a title"),
![a plot](results/x.png) and [![badge](img/b.svg)](https://example.com/x).
A link with parentheses [wiki](https://en.wikipedia.org/wiki/Foo_(bar)) and <a href="docs/a.md">a</a>
<img src='results/y.png' alt="y"> and an [angle](<my file.md>) link; [](#anchor) and [text] alone.

`[not a link](in/code.py)` and ``[nor](this.py)``

```python
x = "[nor this](inside/fence.py)"
```

~~~
[nor](tilde/fence.py)
~~~
<!-- [nor](comment.py) -->
[ref]: notebooks/02.ipynb
"""
    assert targets(text) == [
        ("recipes/train.py", False),
        ("../recipes/evaluate.py", False),
        ("results/x.png", True),
        ("img/b.svg", True),
        ("https://example.com/x", False),
        ("https://en.wikipedia.org/wiki/Foo_(bar)", False),
        ("docs/a.md", False),
        ("results/y.png", True),
        ("my file.md", False),
        ("#anchor", False),
        ("notebooks/02.ipynb", False),
    ]


def test_an_interval_that_starts_a_line_is_no_reference_definition():
    text = (
        "Mean pooling is ahead by +0.375\n[+0.308, +0.440]: both intervals lie far from zero.\n\n[a]: x.md\n[b]: y.md\n"
    )
    assert targets(text) == [("x.md", False), ("y.md", False)]


def test_source_problems_name_the_file_and_the_missing_target(tmp_path):
    write(
        tmp_path,
        {
            "recipes/train.py": "",
            "docs/a.md": "[ok](../recipes/train.py) [gone](../recipes/gone.py#L3) [root](/recipes/train.py)",
        },
    )
    notebook = {"cells": [{"cell_type": "markdown", "source": ["[next](02.ipynb)\n", "[up](../README.md#x)"]}]}
    write(tmp_path, {"notebooks/01.ipynb": json.dumps(notebook), "README.md": "[web](https://example.com/gone)"})
    problems, checked = check_site.source_problems(
        tmp_path, [tmp_path / "docs/a.md", tmp_path / "notebooks/01.ipynb", tmp_path / "README.md"]
    )
    assert checked == 5
    assert [(p.page, p.link) for p in problems] == [
        ("docs/a.md", "../recipes/gone.py#L3"),
        ("notebooks/01.ipynb", "02.ipynb"),
    ]


# --- staging: the pages' links rewritten for the site ---------------------------------------------


def small_repo(root: Path) -> Path:
    notebook = {
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": ["Next: [02](02_b.ipynb), [recipes](../README.md#recipes), "],
            },
            {"cell_type": "markdown", "metadata": {}, "source": "[the script](../recipes/train.py) `[code](x.py)`"},
            {"cell_type": "code", "metadata": {}, "source": "1", "outputs": [], "execution_count": 1},
        ],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return write(
        root,
        {
            "README.md": "# Book\n\n[first](notebooks/01_a.ipynb) [recipes](recipes/README.md) [data](recipes/data/)\n"
            "![plot](results/x.png) [csv](results/x.csv#L2) [workshop](docs/workshop.md)\n\n## Recipes\n",
            "notebooks/01_a.ipynb": json.dumps(notebook),
            "notebooks/02_b.ipynb": json.dumps({**notebook, "cells": []}),
            "recipes/README.md": "[train](train.py) [home](../README.md) [nb](../notebooks/02_b.ipynb#top) [root](/results/x.csv)",
            "recipes/train.py": "",
            "recipes/data/pairs.csv": "",
            "results/README.md": "# Results\n",
            "results/x.png": PNG,
            "results/x.csv": "a\n",
            "docs/workshop.md": "# Workshop\n[solution 1](solutions/01.md)",
            "docs/solutions/01.md": "# One\n[back](../workshop.md) [home](../../README.md)",
            "docs/solutions/02.md": "# Two\n",
            "docs/.hidden/skip.md": "",
            "notebooks/.ipynb_checkpoints/01_a-checkpoint.ipynb": "{}",
        },
    )


def test_staging_keeps_page_links_copies_images_and_sends_other_files_to_github(tmp_path):
    repo = small_repo(tmp_path / "repo")
    staged, problems = build_site.stage(repo, tmp_path / "src")
    assert problems == []
    assert staged["README.md"] == "index.md"
    assert sorted(staged) == [
        "README.md",
        "docs/solutions/01.md",
        "docs/solutions/02.md",
        "docs/workshop.md",
        "notebooks/01_a.ipynb",
        "notebooks/02_b.ipynb",
        "recipes/README.md",
        "results/README.md",
    ]
    src = tmp_path / "src"
    index = (src / "index.md").read_text()
    assert "[first](notebooks/01_a.ipynb) [recipes](recipes/README.md)" in index
    assert f"[data]({build_site.REPOSITORY}/tree/main/recipes/data)" in index
    assert "![plot](results/x.png)" in index and (src / "results/x.png").read_bytes() == PNG
    assert f"[csv]({GITHUB}results/x.csv#L2)" in index
    assert (
        (src / "recipes/README.md").read_text()
        == f"[train]({GITHUB}recipes/train.py) [home](../index.md) [nb](../notebooks/02_b.ipynb#top) [root]({GITHUB}results/x.csv)"
    )
    assert (src / "docs/solutions/01.md").read_text() == "# One\n[back](../workshop.md) [home](../../index.md)"
    notebook = json.loads((src / "notebooks/01_a.ipynb").read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert cells[0] == "Next: [02](02_b.ipynb), [recipes](../index.md#recipes), "
    assert cells[1] == f"[the script]({GITHUB}recipes/train.py) `[code](x.py)`"
    assert "widgets" not in notebook["metadata"]  # no output shows a widget: no CDN scripts for it
    assert not (src / "recipes/train.py").exists() and not (src / "docs/.hidden").exists()


def test_the_navigation_is_generated_from_the_files_found_docs_included(tmp_path):
    repo = small_repo(tmp_path / "repo")
    assert build_site.sections(repo) == [
        ("Notebooks", ["notebooks/01_a.ipynb", "notebooks/02_b.ipynb"]),
        ("Recipes and results", ["recipes/README.md", "results/README.md"]),
        ("Docs", ["docs/workshop.md"]),
        ("Solutions", ["docs/solutions/01.md", "docs/solutions/02.md"]),
    ]
    build_site.stage(repo, tmp_path / "src")
    index = (tmp_path / "src/index.md").read_text()
    assert ":caption: Solutions\n\ndocs/solutions/01\ndocs/solutions/02\n```" in index
    assert ":caption: Notebooks\n\nnotebooks/01_a\nnotebooks/02_b\n```" in index


def test_staging_again_keeps_unchanged_files_and_drops_pages_that_are_gone(tmp_path):
    repo = small_repo(tmp_path / "repo")
    src = tmp_path / "src"
    build_site.stage(repo, src)
    before = (src / "recipes/README.md").stat().st_mtime_ns
    shutil.rmtree(repo / "docs/solutions")
    build_site.stage(repo, src)
    assert (src / "recipes/README.md").stat().st_mtime_ns == before
    assert not (src / "docs/solutions").exists()
    assert "docs/solutions" not in (src / "index.md").read_text()


def test_a_link_to_nothing_stops_the_build_naming_page_and_link(tmp_path, monkeypatch, capsys):
    repo = small_repo(tmp_path / "repo")
    (repo / "docs/solutions/02.md").write_text("[the old name](../../recipes/train_old.py)")
    _, problems = build_site.stage(repo, tmp_path / "src")
    assert [(p.page, p.link) for p in problems] == [("docs/solutions/02.md", "../../recipes/train_old.py")]
    monkeypatch.setattr(build_site, "ROOT", repo)
    out = tmp_path / "site"
    assert build_site.main(["--out", str(out), "--stage", str(tmp_path / "src"), "--work", str(tmp_path / "w")]) == 1
    assert "docs/solutions/02.md: '../../recipes/train_old.py' -> no such file" in capsys.readouterr().err
    assert not out.exists()


# --- the real pages ------------------------------------------------------------------------------


def test_every_relative_link_of_the_real_pages_points_to_a_repository_file():
    pages = build_site.pages(ROOT)
    for required in (
        "README.md",
        "recipes/README.md",
        "results/README.md",
        "notebooks/00_how_a_sentence_transformer_works.ipynb",
    ):
        assert required in pages
    assert all(path in pages for path in (p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")))
    problems, checked = check_site.source_problems(ROOT, [ROOT / path for path in pages])
    assert checked > 50
    assert problems == [], "broken links:\n" + "\n".join(map(str, problems))


def test_the_real_pages_stage_without_a_broken_link(tmp_path):
    staged, problems = build_site.stage(ROOT, tmp_path)
    assert problems == [], "\n".join(map(str, problems))
    assert (tmp_path / "index.md").read_text().count("{toctree}") >= 3
    assert len(list(tmp_path.glob("notebooks/*.ipynb"))) == len(list((ROOT / "notebooks").glob("*.ipynb")))


def test_the_site_tools_are_pinned_exactly():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements-site.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    assert {"sphinx", "myst-nb", "sphinx-book-theme", "selenium"} <= {line.split("==")[0] for line in requirements}
    assert all("==" in line for line in requirements), requirements


# --- where the site's tools are installed --------------------------------------------------------

SITE_TOOLS = all(importlib.util.find_spec(name) for name in ("sphinx", "myst_nb", "sphinx_book_theme"))


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    if not SITE_TOOLS:
        pytest.skip("the site's tools are not installed (make site installs requirements-site.txt)")
    work = tmp_path_factory.mktemp("site")
    argv = ["--out", str(work / "site"), "--stage", str(work / "src"), "--work", str(work / "work")]
    assert build_site.main(argv) == 0
    return work / "site"


def test_the_real_site_builds_with_no_broken_internal_link(built_site):
    problems, counts = check_site.check_site(built_site)
    assert problems == [], "\n".join(map(str, problems))
    assert counts["pages"] >= len(build_site.pages(ROOT))


def test_every_notebook_page_shows_its_committed_plots_and_printed_output(built_site):
    """Each plot is the committed PNG, byte for byte; the first printed line of each notebook is there."""
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        outputs = [o for cell in json.loads(notebook.read_text())["cells"] for o in cell.get("outputs", [])]
        page = (built_site / "notebooks" / f"{notebook.stem}.html").read_text()
        shown = {
            hashlib.sha256((built_site / "notebooks" / src).read_bytes()).hexdigest()
            for src in re.findall(r'<img [^>]*src="(\.\./_images/[^"]+)"', page)
        }
        plots = [base64.b64decode(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
        assert {hashlib.sha256(png).hexdigest() for png in plots} <= shown, notebook.name
        printed = "".join(line for o in outputs if o["output_type"] == "stream" for line in o["text"]).strip()
        if printed:
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
            assert " ".join(printed.splitlines()[0].split()) in text, notebook.name


@pytest.mark.skipif(
    not (
        Path("/usr/bin/chromium").is_file()
        and Path("/usr/bin/chromedriver").is_file()
        and importlib.util.find_spec("selenium")
    ),
    reason="needs Debian's chromium and chromium-driver and selenium (requirements-site.txt)",
)
def test_the_browser_check_passes_a_good_site_and_fails_a_missing_image_and_a_404(tmp_path, capsys):
    import browser_check

    site = good_site(tmp_path / "site")
    shots = tmp_path / "shots"
    assert browser_check.main([str(site), "--screenshots", str(shots)]) == 0
    out = capsys.readouterr().out
    assert "5 pages, 2 images drawn (+0 on other hosts, not loaded), 9 same-site URLs answering 200" in out
    assert "https://fonts.example.com/x.css" in out  # listed, not counted
    assert (shots / "home.png").read_bytes()[:4] == PNG[:4]
    (site / "_images/plot.png").write_bytes(b"not a png")
    (site / "search.html").write_text(
        '<html><head><title>S</title></head><body>s <a href="gone.html">x</a></body></html>'
    )
    assert browser_check.main([str(site), "--screenshots", str(shots)]) == 1
    err = capsys.readouterr().err
    assert "notebooks/a.html: image not drawn" in err
    assert "search.html: link gone.html answered 404" in err
