"""Link checks for the static site (`make site`) and for the markdown it is built from.

    python scripts/check_site.py site     # every internal href/src of every page resolves

In a built site, every href, src, srcset and form action of every .html page that is not external
(no scheme such as http: or mailto:, not protocol-relative) must name a file in the site: the query
string is dropped, a folder needs an index.html, and a #fragment into a page of the site must name
an id (or <a name>) on that page. Each broken link is printed with the page it is on, and the exit
status is 1.

At source level, `markdown_links` finds the links of a markdown text (inline links and images,
reference definitions, and <a href>/<img src> tags, outside code), and `source_problems` checks that
every relative one points to a file or folder that exists. scripts/build_site.py rewrites the same
links when it stages the pages; tests/test_site.py runs both checks without the site tools.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = ("href", "src", "action")


@dataclass(frozen=True)
class Problem:
    page: str  # the page (site-relative) or source file (repository-relative) the link is on
    link: str  # the link as written
    reason: str

    def __str__(self) -> str:
        return f"{self.page}: {self.link!r} {self.reason}"


def is_external(url: str) -> bool:
    """http:, https:, mailto:, data:, javascript: ... and //host/path: nothing to find on disk."""
    return bool(urlsplit(url).scheme) or url.startswith("//")


# --- built HTML ----------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in LINK_ATTRIBUTES:
                self.links.append((tag, value.strip()))
            elif name == "srcset":
                self.links += [(tag, part.split()[0]) for part in value.split(",") if part.strip()]
            elif name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)

    handle_startendtag = handle_starttag


def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser


def html_pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".html", ".htm") and p.is_file())


def check_site(root: Path) -> tuple[list[Problem], dict[str, int]]:
    """Every internal link of every page of the built site at root: the problems, and counts of
    pages and of the internal links checked (images among them)."""
    root = root.resolve()
    parsed: dict[Path, _PageParser] = {}

    def page(path: Path) -> _PageParser:
        if path not in parsed:
            parsed[path] = _parse(path)
        return parsed[path]

    problems: list[Problem] = []
    counts = {"pages": 0, "internal links": 0, "images": 0}
    for path in html_pages(root):
        counts["pages"] += 1
        name = path.relative_to(root).as_posix()
        for tag, link in page(path).links:
            if not link or is_external(link):
                continue
            parts = urlsplit(link)
            if not parts.path:  # "#anchor" or "?query" on the page itself
                target = path
            else:
                counts["internal links"] += 1
                counts["images"] += tag == "img"
                base = root if parts.path.startswith("/") else path.parent
                joined = posixpath.normpath(posixpath.join(base.as_posix(), unquote(parts.path).lstrip("/")))
                target = Path(joined)
                if target != root and root not in target.parents:
                    problems.append(Problem(name, link, "points outside the site"))
                    continue
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    missing = target.relative_to(root).as_posix()
                    problems.append(Problem(name, link, f"-> {missing} is not in the site"))
                    continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix in (".html", ".htm") and fragment not in page(target).ids:
                where = "this page" if target == path else target.relative_to(root).as_posix()
                problems.append(Problem(name, link, f"-> no id {fragment!r} on {where}"))
    return problems, counts


# --- markdown sources ----------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)", re.MULTILINE)
_TAG = re.compile(r"<(a|img|source)\b[^>]*?\s(href|src)\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE)


@dataclass(frozen=True)
class MarkdownLink:
    start: int  # the target's span in the text, for rewriting
    end: int
    target: str
    image: bool


def _mask_code(text: str) -> str:
    """The text with fenced code, code spans and HTML comments blanked out (same length, newlines kept)."""
    lines = text.splitlines(keepends=True)
    fence = None
    for i, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            lines[i] = "\n" if line.endswith("\n") else ""
            lines[i] = " " * (len(line) - len(lines[i])) + lines[i]
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            lines[i] = re.sub(r"[^\n]", " ", line)
    masked = "".join(lines)

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    masked = _COMMENT.sub(blank, masked)
    return _CODE_SPAN.sub(blank, masked)


def _destination(text: str, start: int) -> tuple[int, int] | None:
    """The span of an inline link's destination that starts at text[start] (just after "](")."""
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "<":
        end = text.find(">", i)
        return None if end == -1 or "\n" in text[i:end] else (i + 1, end)
    depth, j = 0, i
    while j < len(text) and not text[j].isspace():
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            if depth == 0:
                break
            depth -= 1
        j += 1
    return (i, j) if j > i else None


def _opening_bracket(text: str, close: int) -> int | None:
    depth = 0
    for i in range(close, -1, -1):
        if text[i] == "]" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "[" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i
    return None


def markdown_links(text: str) -> list[MarkdownLink]:
    """Every link target written in a markdown text, outside code, in order."""
    masked = _mask_code(text)
    found: list[MarkdownLink] = []
    for match in re.finditer(r"\]\(", masked):
        span = _destination(masked, match.end())
        opening = _opening_bracket(masked, match.start())
        if span is None or opening is None:
            continue
        image = opening > 0 and masked[opening - 1] == "!"
        found.append(MarkdownLink(span[0], span[1], text[span[0] : span[1]], image))
    for match in _REFERENCE.finditer(masked):
        before = masked[: match.start()].rstrip(" \t").rsplit("\n", 2)
        if len(before) > 1 and before[-2].strip() and not _REFERENCE.match(before[-2] + "\n"):
            continue  # a definition cannot interrupt a paragraph: "[0.1, 0.3]: both ..." is text
        start, end = match.span(1)
        if masked[start] == "<":
            start, end = start + 1, end - 1
        found.append(MarkdownLink(start, end, text[start:end], False))
    for match in _TAG.finditer(masked):
        start, end = match.start(3) + 1, match.end(3) - 1
        found.append(MarkdownLink(start, end, text[start:end], match.group(1).lower() == "img"))
    return sorted(found, key=lambda link: link.start)


def notebook_markdown(path: Path) -> list[str]:
    """The markdown cells' sources of a notebook file."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c.get("cell_type") == "markdown"
    ]


def source_problems(root: Path, files: list[Path]) -> tuple[list[Problem], int]:
    """Every relative link in the given markdown files and notebooks (markdown cells) must point to a
    file or folder that exists under root; returns the problems and the number of links checked."""
    root = root.resolve()
    problems: list[Problem] = []
    checked = 0
    for path in files:
        path = path.resolve()
        name = path.relative_to(root).as_posix()
        texts = notebook_markdown(path) if path.suffix == ".ipynb" else [path.read_text(encoding="utf-8")]
        for text in texts:
            for link in markdown_links(text):
                target = link.target
                if not target or is_external(target) or target.startswith("#"):
                    continue
                checked += 1
                relative = unquote(urlsplit(target).path)
                folder = root if relative.startswith("/") else path.parent  # "/x" is from the root, as on GitHub
                resolved = Path(posixpath.normpath((folder / relative.lstrip("/")).as_posix()))
                if resolved != root and root not in resolved.parents:
                    problems.append(Problem(name, target, "points outside the repository"))
                elif not resolved.exists():
                    problems.append(Problem(name, target, "-> no such file in the repository"))
    return problems, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("site"), help="the built site (default: site)")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"check_site: no {args.site}/index.html; build the site first (make site)", file=sys.stderr)
        return 1
    problems, counts = check_site(args.site)
    summary = ", ".join(f"{value} {key}" for key, value in counts.items())
    if problems:
        for problem in problems:
            print(f"broken link: {problem}", file=sys.stderr)
        print(f"check_site: {len(problems)} broken internal link(s) in {args.site}/ ({summary})", file=sys.stderr)
        return 1
    print(f"check_site: {args.site}/ has no broken internal link ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
