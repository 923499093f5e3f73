"""Open every page of the built site in headless Chromium, as a reader would (`make site-check`).

    python scripts/browser_check.py site --screenshots site-check

Serves the site on 127.0.0.1 (a random free port, python's http.server in a thread) and visits each
.html page with Debian's chromium through its chromium-driver (apt-get install chromium
chromium-driver) and selenium. A page passes when it loads with a non-empty title and body text, its
console shows no error (an error about a resource on another host is listed but not counted: this
machine has no network; nor is Chrome's own request for /favicon.ico, which no page links), and
every <img> of the site is drawn (naturalWidth > 0, lazy images included; an image on another host,
such as the Colab badge, is listed but not counted). Every same-site URL that any page
links to or loads (a href, img src, link href, script src) must then answer 200. Prints the counts
and each failure; exits 1 on any failure.

Two screenshots go to --screenshots: the home page, and a notebook page scrolled to its first plot.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urldefrag, urlsplit

# Every image's state, after asking lazy images to load now.
IMAGES_JS = """
const images = Array.from(document.images);
images.forEach(img => { img.loading = "eager"; });
return images.map(img => ({src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth}));
"""
# Every URL that the page links to or loads, absolute (the browser resolves them).
URLS_JS = """
const urls = [];
document.querySelectorAll("a[href]").forEach(e => urls.push(e.href));
document.querySelectorAll("img[src]").forEach(e => urls.push(e.src));
document.querySelectorAll("link[href]").forEach(e => urls.push(e.href));
document.querySelectorAll("script[src]").forEach(e => urls.push(e.src));
return urls;
"""
FIRST_PLOT_JS = """
const img = document.querySelector(".cell_output img, .output img");
if (img) { img.scrollIntoView({block: "center"}); }
return img !== null;
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser left a page mid-download
            super().handle_error(request, client_address)


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser(chromium: str, chromedriver: str, width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_for_images(driver, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        images = driver.execute_script(IMAGES_JS)
        if all(image["complete"] for image in images) or time.monotonic() > deadline:
            return images
        time.sleep(0.1)


def console_errors(driver, base: str) -> tuple[list[str], list[str]]:
    """(errors that count, errors about other hosts or Chrome's own favicon request)."""
    counted, ignored = [], []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        url = message.split(" ", 1)[0]
        if urlsplit(url).scheme in ("http", "https") and not url.startswith(base):
            ignored.append(message)
        elif urlsplit(url).path == "/favicon.ico":
            ignored.append(message)
        else:
            counted.append(message)
    return counted, ignored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("site"), help="the built site (default: site)")
    parser.add_argument("--screenshots", type=Path, default=Path("site-check"), help="where the two screenshots go")
    parser.add_argument(
        "--plot-page", help="the notebook page to photograph at its first plot (default: the first one with a plot)"
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"browser_check: no {args.site}/index.html; run `make site` first", file=sys.stderr)
        return 1
    for program in (args.chromium, args.chromedriver):
        if not Path(program).is_file():
            print(f"browser_check: no {program}; apt-get install -y chromium chromium-driver", file=sys.stderr)
            return 1
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    failures: list[str] = []
    ignored: list[str] = []  # console errors about other hosts
    linked: dict[str, str] = {}  # same-site URL -> the first page that links to it
    images = external_images = 0
    plot_page = args.plot_page
    args.screenshots.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    server, base = serve(site)
    driver = browser(args.chromium, args.chromedriver, 1280, 900)
    start = time.perf_counter()
    try:
        for page in pages:
            driver.get(base + quote(page))
            title = driver.title.strip()
            body = driver.execute_script("return document.body ? document.body.innerText.trim().length : 0")
            if not title:
                failures.append(f"{page}: empty title")
            if not body:
                failures.append(f"{page}: empty body")
            page_images = wait_for_images(driver)
            images += len(page_images)
            for image in page_images:
                if not image["src"].startswith((base, "data:")):  # a badge on another host: no network here
                    external_images += 1
                elif not image["width"]:
                    failures.append(f"{page}: image not drawn (naturalWidth 0): {image['src']}")
            for url in driver.execute_script(URLS_JS):
                url = urldefrag(url).url
                if url.startswith(base):
                    linked.setdefault(url, page)
            counted, other = console_errors(driver, base)
            failures += [f"{page}: console error: {message}" for message in counted]
            ignored += other
            if plot_page is None and page.startswith("notebooks/") and page_images:
                plot_page = page
        driver.get(base + "index.html")
        shots.append(args.screenshots / "home.png")
        driver.save_screenshot(str(shots[-1]))
        if plot_page:
            driver.get(base + quote(plot_page))
            wait_for_images(driver)
            if driver.execute_script(FIRST_PLOT_JS):
                time.sleep(0.3)
            shots.append(args.screenshots / f"{Path(plot_page).stem}-plot.png")
            driver.save_screenshot(str(shots[-1]))
        for url, page in sorted(linked.items()):
            code = status(url)
            if code != 200:
                failures.append(f"{page}: link {url[len(base) :]} answered {code}")
    finally:
        driver.quit()
        server.shutdown()

    seconds = time.perf_counter() - start
    for message, times in sorted(Counter(ignored).items()):
        print(f"not counted, on {times} page(s) (another host, no network here; or the favicon): {message}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print(
        f"browser_check: {len(pages)} pages, {images - external_images} images drawn (+{external_images} on other "
        f"hosts, not loaded), {len(linked)} same-site URLs answering 200 checked "
        f"in {seconds:.0f} s; {len(failures)} failure(s); screenshots: {', '.join(str(s) for s in shots)}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
