"""Sphinx settings of the static site. scripts/build_site.py stages the pages (README.md as index.md,
the notebooks, docs/ ...) and runs Sphinx with this folder as its configuration folder; see there."""

from pathlib import Path

import tomllib

# The repository named in pyproject.toml's [tool.st-cookbook], as for the Colab badges.
_settings = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
REPOSITORY = (
    _settings.get("tool", {})
    .get("st-cookbook", {})
    .get("repository", "st-cookbook/sentence-transformers-finetuning-cookbook")
)

project = "Sentence Transformers fine-tuning cookbook"
html_title = "ST fine-tuning cookbook"
author = "the cookbook's authors"
root_doc = "index"

extensions = ["myst_nb"]

# The notebooks are shown with their committed outputs; nothing is executed.
nb_execution_mode = "off"
nb_merge_streams = True  # one output block per cell, as in JupyterLab
# "#which-loss-when" style anchors, as GitHub makes them, for links into a page's headings.
myst_heading_anchors = 4

# scripts/build_site.py runs Sphinx with warnings as errors, so that a link MyST cannot resolve (a
# missing #anchor, myst.xref_missing) stops the build. Two warnings about looks, not links, do not:
# a heading level skipped (# then ###) and a code block its named lexer cannot parse (shown plain).
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": "main",
    "use_repository_button": True,
    "use_download_button": True,  # the page's source: a notebook downloads as .ipynb
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
# Without a stored choice the theme starts in light mode (an empty one logs a console error).
html_context = {"default_mode": "light"}
html_copy_source = True
html_show_sourcelink = False
html_last_updated_fmt = None
