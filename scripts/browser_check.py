#!/usr/bin/env python3
"""Check the built LoTUS book in a real (headless) browser, offline.

Usage::

    python scripts/browser_check.py _build/html _build/screenshots
    python scripts/browser_check.py SITE OUT --pages index.html notebooks/03_training.html
    python scripts/browser_check.py SITE OUT --no-browser      # static checks only

Static checks (no browser needed), over **every** HTML page of the site:

* every internal ``href``/``src`` (and ``<meta http-equiv="refresh">`` target) resolves to a
  file of the site (``--check-anchors`` also checks ``#fragment`` targets);
* no page needs an external resource to render: no ``http(s)://`` or ``//host`` URL in
  ``<script src>``, ``<link href>`` (stylesheets, preloads, icons), ``<img>``/``<source>``/
  ``<iframe>`` sources, inline ``style`` ``url()``, nor in ``url()``/``@import`` of the
  site's CSS files. Plain ``<a href>`` links to other web sites are allowed.

Browser checks: the site is served on ``127.0.0.1`` (``http.server`` in a thread, free port)
and opened with Playwright in the system's Chromium (``--chromium``, default
``$LOTUS_CHROMIUM`` or ``/usr/bin/chromium``, which ``scripts/install_browser.sh`` installs;
Playwright never downloads a browser for this script). Playwright's routing aborts every
request that is not for the local server and reports it, and Chromium is started with the
flags that keep it off the network. By default the browser opens the index page (following
its redirect), every chapter (``notebooks/*.html``) and every other page under ``book/``;
``--pages`` names others. For each page:

* it has a title (``<title>`` and a non-empty ``<h1>`` in the article, the former
  containing the latter);
* at least ``--min-figures`` content images (on the index page, the chapters and every page
  named by ``--pages``), each loaded by the browser (``naturalWidth > 0``) and each a valid
  PNG/SVG/JPEG/GIF file on disk;
* no ``Traceback`` text and no notebook error output;
* MathJax ran: every math element of the page holds an ``mjx-container`` and none holds a
  MathJax error, no TeX is left in the prose (a stray ``$`` next to a formula, ``$$``,
  ``\\frac``-like control sequences outside code), and at least one checked page has math;
* no request left 127.0.0.1, no local request failed (HTTP >= 400 or network error), no
  uncaught JavaScript exception and no error on the JavaScript console.

One page (``--mobile-page``, default the first chapter checked) is opened again in a
375-pixel-wide mobile viewport (``--mobile-width``), where nothing may overflow horizontally
(``document.documentElement.scrollWidth`` at most the viewport width plus
``MOBILE_TOLERANCE_PX``) and the same load errors are checked.

A full-page screenshot (``<page>.png``, capped at ``--max-height`` pixels), a screenshot
around the page's first figure (``<page>.figure.png``) and the DOM after JavaScript ran
(``<page>.dom.html``) are saved to the output folder for every checked page, with
``<page>.mobile.png`` for the mobile page and ``report.json``. The exit status is 0 when
every check passed, 1 when a check failed and 2 when the checks could not run (no site, no
Chromium, no Playwright, browser did not start).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html.parser
import http.server
import importlib.metadata
import json
import os
import posixpath
import re
import shutil
import struct
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Chromium's own flags: headless, and no traffic of its own (updates, sync, field trials,
# QUIC probes); every host but the local server is also made unresolvable
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
DESKTOP = {"width": 1280, "height": 900}
MOBILE_TOLERANCE_PX = 2
EXTERNAL_RE = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//", re.ASCII)
SKIP_SCHEMES = ("http:", "https:", "mailto:", "javascript:", "data:", "tel:", "ftp:", "blob:", "about:")
CSS_URL_RE = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)|@import\s+(['"])([^'"]+)\3""")
CSS_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)


class CheckError(Exception):
    """The checks could not run (exit status 2)."""


# -----------------------------------------------------------------------------------------
# Static checks
# -----------------------------------------------------------------------------------------


@dataclass
class PageLinks:
    """What one HTML page refers to."""

    refs: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, attr, url)
    resources: list[tuple[str, str, str]] = field(default_factory=list)  # needed to render
    ids: set[str] = field(default_factory=set)
    refresh: str | None = None
    inline_styles: list[str] = field(default_factory=list)


class _LinkParser(html.parser.HTMLParser):
    RESOURCE_TAGS = {"script": "src", "img": "src", "source": "src", "iframe": "src", "embed": "src",
                     "video": "src", "audio": "src", "track": "src", "input": "src"}
    LINK_RELS_NOT_RESOURCES = {"next", "prev", "index", "search", "canonical", "alternate", "author",
                               "license", "help", "copyright", "glossary", "top", "up", "first", "last"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = PageLinks()

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.out.ids.add(a[key])
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            m = re.search(r"url\s*=\s*(.+)$", a.get("content", ""), re.I)
            if m:
                self.out.refresh = m.group(1).strip().strip("'\"")
                self.out.refs.append((tag, "content", self.out.refresh))
        if tag in ("a", "area") and a.get("href"):
            self.out.refs.append((tag, "href", a["href"]))
        if tag == "link" and a.get("href"):
            self.out.refs.append((tag, "href", a["href"]))
            rels = set(a.get("rel", "").lower().split())
            if not rels or not rels <= self.LINK_RELS_NOT_RESOURCES:
                self.out.resources.append((tag, "href", a["href"]))
        attr = self.RESOURCE_TAGS.get(tag)
        if attr and a.get(attr):
            self.out.refs.append((tag, attr, a[attr]))
            self.out.resources.append((tag, attr, a[attr]))
        if tag == "object" and a.get("data"):
            self.out.refs.append((tag, "data", a["data"]))
            self.out.resources.append((tag, "data", a["data"]))
        if a.get("srcset"):
            for part in a["srcset"].split(","):
                url = part.strip().split(" ")[0]
                if url:
                    self.out.refs.append((tag, "srcset", url))
                    self.out.resources.append((tag, "srcset", url))
        if a.get("style") and "url(" in a["style"]:
            self.out.inline_styles.append(a["style"])

    handle_startendtag = handle_starttag


def parse_page(path: Path) -> PageLinks:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.out


def is_external(url: str) -> bool:
    return bool(EXTERNAL_RE.match(url))


def _skip(url: str) -> bool:
    low = url.strip().lower()
    return not low or low.startswith("#") or low.startswith(SKIP_SCHEMES) or low.startswith("//")


def resolve_local(site: Path, page: Path, url: str) -> tuple[Path | None, str]:
    """The file an internal URL of ``page`` points to (``None`` if it leaves the site)."""
    parts = urllib.parse.urlsplit(url.strip())
    rel = urllib.parse.unquote(parts.path)
    if rel.startswith("/"):
        target = posixpath.normpath(rel.lstrip("/"))
    else:
        base = posixpath.dirname(page.relative_to(site).as_posix())
        target = posixpath.normpath(posixpath.join(base, rel)) if rel else page.relative_to(site).as_posix()
    if target == ".." or target.startswith("../"):
        return None, parts.fragment
    p = site / target
    if p.is_dir():
        p = p / "index.html"
    return p, parts.fragment


def site_pages(site: Path) -> list[Path]:
    """Every HTML page of the site. ``_static/`` holds assets, among them the theme's Jinja
    macro files (``webpack-macros.html``), which are not pages and are skipped."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


def check_links(site: Path, check_anchors: bool = False) -> tuple[list[str], int, int]:
    """Broken internal links over every HTML page: ``(errors, n_pages, n_links)``."""
    pages = site_pages(site)
    parsed = {p: parse_page(p) for p in pages}
    errors, n_links = [], 0
    for page, info in parsed.items():
        for tag, attr, url in info.refs:
            if _skip(url):
                if check_anchors and url.startswith("#") and len(url) > 1:
                    frag = urllib.parse.unquote(url[1:])
                    if frag not in info.ids:
                        errors.append(f"{page.relative_to(site)}: <{tag} {attr}={url!r}>: no element with id {frag!r}")
                continue
            n_links += 1
            target, frag = resolve_local(site, page, url)
            if target is None:
                errors.append(f"{page.relative_to(site)}: <{tag} {attr}={url!r}> points outside the site")
                continue
            if not target.is_file():
                errors.append(f"{page.relative_to(site)}: <{tag} {attr}={url!r}> -> missing file "
                              f"{target.relative_to(site) if target.is_relative_to(site) else target}")
                continue
            if check_anchors and frag and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse_page(target).ids
                if urllib.parse.unquote(frag) not in ids:
                    errors.append(f"{page.relative_to(site)}: <{tag} {attr}={url!r}>: no element with id {frag!r} "
                                  f"in {target.relative_to(site)}")
    return errors, len(pages), n_links


def _css_urls(text: str) -> list[str]:
    text = CSS_COMMENT_RE.sub("", text)
    return [m.group(2) or m.group(4) or "" for m in CSS_URL_RE.finditer(text)]


def check_external_resources(site: Path) -> list[str]:
    """Resources a page needs that would be fetched from another host."""
    errors = []
    for page in site_pages(site):
        info = parse_page(page)
        for tag, attr, url in info.resources:
            if is_external(url):
                errors.append(f"{page.relative_to(site)}: <{tag} {attr}={url!r}> loads an external resource")
        for style in info.inline_styles:
            for url in _css_urls(style):
                if is_external(url):
                    errors.append(f"{page.relative_to(site)}: inline style loads {url!r}")
        text = page.read_text(encoding="utf-8", errors="replace")
        for block in re.findall(r"<style[^>]*>(.*?)</style>", text, re.S | re.I):
            for url in _css_urls(block):
                if is_external(url):
                    errors.append(f"{page.relative_to(site)}: <style> loads {url!r}")
    for css in sorted(site.rglob("*.css")):
        for url in _css_urls(css.read_text(encoding="utf-8", errors="replace")):
            if is_external(url):
                errors.append(f"{css.relative_to(site)}: loads {url!r}")
    return errors


def image_problem(path: Path) -> str | None:
    """``None`` if ``path`` is a valid PNG/SVG/JPEG/GIF with a non-zero size, else why not."""
    if not path.is_file():
        return f"{path} does not exist"
    data = path.read_bytes()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 33 or data[12:16] != b"IHDR":
            return f"{path}: truncated PNG"
        w, h = struct.unpack(">II", data[16:24])
        return None if w > 0 and h > 0 else f"{path}: PNG of size {w}x{h}"
    if data[:3] == b"\xff\xd8\xff":
        return None if data.rstrip(b"\x00").endswith(b"\xff\xd9") else f"{path}: truncated JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return None
    if path.suffix.lower() == ".svg" or b"<svg" in data[:2048]:
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            return f"{path}: invalid SVG ({exc})"
        return None if root.tag.split("}")[-1] == "svg" else f"{path}: root element is not <svg>"
    return f"{path}: not a PNG, SVG, JPEG or GIF file"


# -----------------------------------------------------------------------------------------
# Local web server
# -----------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    log: list[tuple[str, int]]

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def log_request(self, code="-", size="-"):
        with contextlib.suppress(Exception):
            self.server.request_log.append((self.path, int(code)))


@contextlib.contextmanager
def serve(site: Path):
    """Serve ``site`` on 127.0.0.1 (free port) in a daemon thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.request_log = []
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server
    finally:
        server.shutdown()
        server.server_close()



# -----------------------------------------------------------------------------------------
# Browser checks (Playwright)
# -----------------------------------------------------------------------------------------

READY_JS = r"""
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 400 && document.readyState !== "complete"; i++) await sleep(50);
  const hasMath = document.querySelector(".math, span.math, div.math") !== null;
  if (hasMath) {
    for (let i = 0; i < 400 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(50);
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  if (document.fonts && document.fonts.ready) await document.fonts.ready;
  await Promise.all(Array.from(document.images).map((img) => img.complete ? null :
      new Promise((r) => { img.addEventListener("load", r); img.addEventListener("error", r); })));
  await sleep(200);
  return true;
})()
"""

INFO_JS = r"""
(() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const h1 = article.querySelector("h1");
  let h1text = "";
  if (h1) {
    const c = h1.cloneNode(true);
    c.querySelectorAll(".headerlink, .section-number").forEach((e) => e.remove());
    h1text = c.textContent.replace(/\s+/g, " ").trim();
  }
  const imgs = Array.from(article.querySelectorAll("img")).map((i) => ({
    src: i.getAttribute("src"), url: i.currentSrc || i.src, naturalWidth: i.naturalWidth,
    naturalHeight: i.naturalHeight, complete: i.complete,
    top: i.getBoundingClientRect().top + window.scrollY, height: i.getBoundingClientRect().height}));
  const maths = Array.from(document.querySelectorAll(".math"));
  const unrendered = maths.filter((m) => m.querySelector("mjx-container") === null
                                        && m.closest("mjx-container") === null)
                          .map((m) => m.textContent.trim().slice(0, 80));
  const text = article.innerText || "";
  // TeX that MathJax did not typeset: a stray "$" glued to a formula (a dollar pair the
  // Markdown parser split), "$$", or control sequences left in the prose
  const stray = [];
  maths.forEach((m) => {
    const before = m.previousSibling, after = m.nextSibling;
    if ((before && before.nodeType === 3 && /\$\s*$/.test(before.textContent)) ||
        (after && after.nodeType === 3 && /^\s*\$/.test(after.textContent))) {
      stray.push("a '$' next to the formula " + m.textContent.trim().slice(0, 60));
    }
  });
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, kbd, samp, script, style, .math, mjx-container, .highlight, .cell_output, .output")
       .forEach((e) => e.remove());
  const proseText = prose.textContent || "";
  const tex = proseText.match(/\$\$|\\(?:frac|tfrac|text|mathrm|operatorname|alpha|tau|Delta|sum|left|right|qquad|quad|big|cdot|mid|overline|log|exp)\b/g);
  if (tex) stray.push("TeX left in the text: " + Array.from(new Set(tex)).slice(0, 5).join(" "));
  return {
    strayTeX: stray,
    title: document.title, h1: h1text, url: location.href, imgs,
    math: maths.length, unrenderedMath: unrendered,
    mjx: document.querySelectorAll("mjx-container").length,
    mathErrors: document.querySelectorAll("mjx-merror, [data-mjx-error]").length,
    traceback: /Traceback/.test(text),
    errorOutputs: article.querySelectorAll(".output.error, .output.traceback, .output_error").length,
    textLength: text.length,
    height: Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0),
  };
})()
"""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _is_favicon_probe(url: str) -> bool:
    """Browsers ask for ``/favicon.ico`` on their own; its absence is not a broken page."""
    return urllib.parse.urlsplit(url).path == "/favicon.ico"


def _page_slug(rel: str) -> str:
    stem = rel[:-5] if rel.endswith(".html") else rel
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_") or "index"


def _follow_refresh(site: Path, rel: str) -> tuple[str, list[str]]:
    """Follow ``<meta http-equiv=refresh>`` redirects on disk (the index page is one)."""
    chain = [rel]
    for _ in range(5):
        page = site / rel
        info = parse_page(page) if page.is_file() else None
        if info is None or not info.refresh or is_external(info.refresh):
            break
        target, _frag = resolve_local(site, page, info.refresh)
        if target is None:
            break
        rel = target.relative_to(site).as_posix()
        chain.append(rel)
    return rel, chain


# elements whose right edge passes ``limit`` (the phone's width) outside any box that scrolls or
# clips horizontally; a mobile browser zooms such a page out, so window.innerWidth grows too
OVERFLOW_JS = r"""
(limit) => {
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= limit || wide.some((w) => w.el.contains(el))) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") { clipped = true; break; }
    }
    if (!clipped) wide.push({el, right: Math.round(r.right)});
  }
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.classList.length ? "." + Array.from(el.classList).slice(0, 3).join(".") : "");
  const meta = document.querySelector("meta[name=viewport]");
  return {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
          viewportMeta: meta ? meta.content : null,
          wide: wide.slice(0, 5).map((w) => `${name(w.el)} reaches x = ${w.right} px`),
          height: Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)};
}
"""


def _first_line(text: str) -> str:
    return (text or "?").strip().splitlines()[0] if (text or "").strip() else "?"


class PageWatch:
    """What a page reported while it was open: uncaught exceptions, console errors, and
    local requests that failed (network error or HTTP >= 400). Requests that the routing of
    :func:`new_context` aborted are reported by the route (``blocked``), not here."""

    def __init__(self, page, blocked: list[str]):
        self.blocked = blocked
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(
            f"uncaught JavaScript exception: {_first_line(exc.stack or exc.message)}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, msg) -> None:
        # "Failed to load resource" repeats a failed request, reported with its URL below
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            where = msg.location.get("url", "") if msg.location else ""
            self.errors.append(f"console error: {_first_line(msg.text)}" + (f" ({where})" if where else ""))

    def _failed(self, request) -> None:
        if request.url not in self.blocked and not _is_favicon_probe(request.url):
            self.errors.append(f"failed request: {request.failure} {request.url}")

    def _response(self, response) -> None:
        if response.status >= 400 and not _is_favicon_probe(response.url):
            self.errors.append(f"failed request: HTTP {response.status} {response.url}")


def find_chromium(binary: str) -> str:
    """The path of the Chromium executable ``binary`` (a path or a name on ``$PATH``)."""
    path = binary if Path(binary).is_file() and os.access(binary, os.X_OK) else shutil.which(binary)
    if not path:
        raise CheckError(f"Chromium not found at {binary!r}; install it with `bash scripts/install_browser.sh` "
                         f"(Debian package `chromium`), or set LOTUS_CHROMIUM / pass --chromium")
    return path


def launch(playwright, path: str, timeout: float):
    """The system's headless Chromium at ``path``, started by Playwright, which is never
    allowed to use (or download) a browser of its own."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        return playwright.chromium.launch(executable_path=path, headless=True, args=list(CHROMIUM_FLAGS),
                                          timeout=timeout * 1000)
    except PlaywrightError as exc:
        raise CheckError(f"Chromium ({path}) did not start under Playwright: {exc}") from exc


def new_context(browser, base_url: str, blocked: list[str], timeout: float, **options):
    """A browser context in which every request not for ``base_url`` is aborted and recorded in
    ``blocked`` (WebSockets too); service workers, which routing cannot see, are blocked."""
    context = browser.new_context(service_workers="block", **options)
    context.set_default_timeout(timeout * 1000)

    def route(route) -> None:
        url = route.request.url
        if url.startswith(base_url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    def route_ws(ws) -> None:
        if ws.url.startswith(base_url.replace("http", "ws", 1)):
            ws.connect_to_server()
        else:
            blocked.append(ws.url)
            ws.close()

    context.route("**/*", route)
    context.route_web_socket(re.compile(".*"), route_ws)
    return context


def open_page(context, base_url: str, final_rel: str, blocked: list[str], timeout: float):
    """Open a page of the site and wait for its scripts, MathJax, fonts and images; returns
    ``(page, watch, errors)``, ``page`` being ``None`` when the navigation failed."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    blocked.clear()
    url = urllib.parse.urljoin(base_url, urllib.parse.quote(final_rel))
    page = context.new_page()
    watch = PageWatch(page, blocked)
    errors = []
    try:
        page.goto(url, wait_until="load", timeout=timeout * 1000)
    except PlaywrightTimeout:
        errors.append(f"the load event did not fire within {timeout:.0f} s")
    except PlaywrightError as exc:
        page.close()
        return None, watch, [f"navigation to {url} failed: {_first_line(exc.message)}"]
    try:
        page.evaluate(READY_JS)
    except PlaywrightError as exc:
        raise CheckError(f"{final_rel}: JavaScript evaluation failed: {_first_line(exc.message)}") from exc
    return page, watch, errors


def load_errors(label: str, watch: PageWatch, blocked: list[str]) -> list[str]:
    """The requests the routing blocked and what ``watch`` saw, each once."""
    return ([f"{label}: blocked a request to another host: {u}" for u in sorted(set(blocked))]
            + [f"{label}: {e}" for e in dict.fromkeys(watch.errors)])


def check_page(context, base_url: str, site: Path, rel: str, out: Path, blocked: list[str], *,
               min_figures: int, max_height: int, timeout: float, expect_title: str | None = None) -> dict:
    """Load one page in the desktop viewport and return its report (``errors`` empty when it passed)."""
    t0 = time.monotonic()
    final_rel, chain = _follow_refresh(site, rel)
    report: dict = {"page": rel, "loaded": final_rel, "redirects": chain[1:], "errors": []}
    errors = report["errors"]
    if not (site / final_rel).is_file():
        errors.append(f"{final_rel} does not exist in the site")
        return report
    page, watch, nav_errors = open_page(context, base_url, final_rel, blocked, timeout)
    errors += [f"{final_rel}: {e}" for e in nav_errors]
    if page is None:
        return report
    info = page.evaluate(INFO_JS)
    report.update({k: info[k] for k in ("title", "h1", "math", "mjx", "mathErrors", "textLength")})

    # title
    if not info["title"].strip():
        errors.append(f"{final_rel}: empty <title>")
    if not info["h1"]:
        errors.append(f"{final_rel}: no <h1> page title in the article")
    elif info["h1"] not in info["title"]:
        errors.append(f"{final_rel}: <title> {info['title']!r} does not contain the heading {info['h1']!r}")
    if expect_title is not None and _norm(expect_title) != _norm(info["h1"]):
        errors.append(f"{final_rel}: page heading {info['h1']!r}, expected {expect_title!r}")

    # figures
    page_dir = posixpath.dirname(final_rel)
    figures = []
    for img in info["imgs"]:
        src = img["src"] or ""
        if src.startswith("data:"):
            ok = img["naturalWidth"] > 0
            figures.append({"src": src[:40] + "...", "naturalWidth": img["naturalWidth"], "ok": ok})
            if not ok:
                errors.append(f"{final_rel}: an inline (data:) image did not render")
            continue
        if is_external(src):
            errors.append(f"{final_rel}: image {src!r} is loaded from another host")
            continue
        path = site / posixpath.normpath(posixpath.join(page_dir, urllib.parse.unquote(src.split("#")[0].split("?")[0])))
        problem = image_problem(path)
        ok = problem is None and img["naturalWidth"] > 0
        figures.append({"src": src, "naturalWidth": img["naturalWidth"], "naturalHeight": img["naturalHeight"],
                        "file": str(path.relative_to(site)) if path.is_relative_to(site) else str(path), "ok": ok})
        if problem:
            errors.append(f"{final_rel}: image {src!r}: {problem}")
        if img["naturalWidth"] <= 0:
            errors.append(f"{final_rel}: image {src!r} did not load in the browser (naturalWidth = 0)")
    report["figures"] = figures
    report["min_figures"] = min_figures
    if sum(f["ok"] for f in figures) < min_figures:
        errors.append(f"{final_rel}: {sum(f['ok'] for f in figures)} rendered figure(s), expected at least {min_figures}")

    # errors in the content
    if info["traceback"]:
        errors.append(f"{final_rel}: the page shows a 'Traceback'")
    if info["errorOutputs"]:
        errors.append(f"{final_rel}: {info['errorOutputs']} notebook error output(s)")

    # MathJax
    if info["unrenderedMath"]:
        errors.append(f"{final_rel}: {len(info['unrenderedMath'])} of {info['math']} math element(s) not rendered "
                      f"by MathJax, e.g. {info['unrenderedMath'][0]!r}")
    if info["mathErrors"]:
        errors.append(f"{final_rel}: {info['mathErrors']} MathJax error(s)")
    for item in info["strayTeX"][:5]:
        errors.append(f"{final_rel}: math not typeset: {item}")

    # screenshots (the full page up to --max-height, then around the first figure) and DOM
    slug = _page_slug(final_rel)
    page_height = max(int(info.get("height") or 0), DESKTOP["height"])
    png = out / f"{slug}.png"
    page.screenshot(path=png, full_page=True,
                    clip={"x": 0, "y": 0, "width": DESKTOP["width"], "height": min(page_height, max_height)})
    report["screenshot"] = png.name
    first = next((img for img in info["imgs"] if img["naturalWidth"] > 0 and img["height"] > 0), None)
    if first is not None:
        top = max(0, min(int(first["top"]) - 120, page_height - 600))
        height = min(max(int(first["height"]) + 240, 600), 1400, page_height - top)
        page.screenshot(path=out / f"{slug}.figure.png", full_page=True,
                        clip={"x": 0, "y": top, "width": DESKTOP["width"], "height": height})
        report["figure_screenshot"] = f"{slug}.figure.png"
    (out / f"{slug}.dom.html").write_text(page.content(), encoding="utf-8")
    problem = image_problem(png)
    if problem:
        errors.append(f"screenshot of {final_rel}: {problem}")

    # network and JavaScript, collected while the page was open
    page.close()
    errors += load_errors(final_rel, watch, blocked)
    report["seconds"] = round(time.monotonic() - t0, 2)
    return report


def check_mobile(browser, base_url: str, site: Path, rel: str, out: Path, blocked: list[str], *,
                 width: int, max_height: int, timeout: float) -> dict:
    """Open one page in a ``width``-pixel mobile viewport: nothing may overflow horizontally,
    nothing may fail to load; saves ``<page>.mobile.png``."""
    t0 = time.monotonic()
    final_rel, _chain = _follow_refresh(site, rel)
    report: dict = {"page": rel, "loaded": final_rel, "width": width, "errors": []}
    errors = report["errors"]
    if not (site / final_rel).is_file():
        errors.append(f"{final_rel} does not exist in the site")
        return report
    context = new_context(browser, base_url, blocked, timeout, viewport={"width": width, "height": 800},
                          device_scale_factor=1, is_mobile=True, has_touch=True)
    try:
        page, watch, nav_errors = open_page(context, base_url, final_rel, blocked, timeout)
        label = f"{final_rel} at {width} px"
        errors += [f"{label}: {e}" for e in nav_errors]
        if page is None:
            return report
        info = page.evaluate(OVERFLOW_JS, width + MOBILE_TOLERANCE_PX)
        report.update({"layout_width": info["width"], "scrollWidth": info["scrollWidth"], "too_wide": info["wide"]})
        if info["scrollWidth"] > width + MOBILE_TOLERANCE_PX:
            why = "; ".join(info["wide"]) or "no single element found"
            if "width=device-width" not in (info["viewportMeta"] or "").replace(" ", ""):
                why += f"; <meta name=viewport> is {info['viewportMeta']!r}, not 'width=device-width'"
            errors.append(f"{label}: the page is {info['scrollWidth']} px wide (overflows horizontally): {why}")
        png = out / f"{_page_slug(final_rel)}.mobile.png"
        page.screenshot(path=png, full_page=True,
                        clip={"x": 0, "y": 0, "width": width, "height": min(max(int(info["height"]), 800), max_height)})
        report["screenshot"] = png.name
        page.close()
        errors += load_errors(label, watch, blocked)
    finally:
        context.close()
    report["seconds"] = round(time.monotonic() - t0, 2)
    return report


def run_browser_checks(site: Path, out: Path, pages: list[tuple[str, int]], *, binary: str, max_height: int,
                       timeout: float, titles: dict[str, str] | None = None, mobile_page: str | None = None,
                       mobile_width: int = 375) -> tuple[list[dict], dict | None, dict]:
    """Open ``pages`` (``(page, figures required)``) and then ``mobile_page``; returns the page
    reports, the mobile report and what ran (browser and Playwright versions)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise CheckError(f"Playwright is not installed ({exc}); `pip install -e '.[dev]'` installs it "
                         "(the browser itself comes from scripts/install_browser.sh)") from exc
    reports, mobile, blocked = [], None, []
    path = find_chromium(binary)
    with serve(site) as (base_url, server), sync_playwright() as pw:
        browser = launch(pw, path, timeout)
        engine = {"chromium": browser.version, "executable": path, "playwright": importlib.metadata.version("playwright")}
        try:
            context = new_context(browser, base_url, blocked, timeout, viewport=DESKTOP, device_scale_factor=1)
            for rel, min_figures in pages:
                reports.append(check_page(context, base_url, site, rel, out, blocked, min_figures=min_figures,
                                          max_height=max_height, timeout=timeout,
                                          expect_title=(titles or {}).get(rel)))
            context.close()
            if mobile_page:
                mobile = check_mobile(browser, base_url, site, mobile_page, out, blocked, width=mobile_width,
                                      max_height=max_height, timeout=timeout)
        finally:
            browser.close()
        if reports and sum(r.get("mjx", 0) for r in reports) == 0:
            reports[0]["errors"].append("no checked page has math rendered by MathJax (mjx-container)")
        errors_404 = sorted({p for p, code in server.request_log if code >= 400 and not _is_favicon_probe(p)})
        if errors_404 and reports:
            reports[0]["errors"].append(f"the local server answered >= 400 for: {', '.join(errors_404)}")
    return reports, mobile, engine


# -----------------------------------------------------------------------------------------
# Command line
# -----------------------------------------------------------------------------------------


def default_pages(site: Path, min_figures: int) -> list[tuple[str, int]]:
    """The index page, every chapter (``notebooks/*.html``; both need figures) and every other
    page under ``book/`` (no figures required), skipping the page the index redirects to."""
    pages = [("index.html", min_figures)]
    seen = {_follow_refresh(site, "index.html")[0]}
    for folder, figures in (("notebooks", min_figures), ("book", 0)):
        for p in sorted((site / folder).glob("*.html")):
            rel = p.relative_to(site).as_posix()
            if rel not in seen:
                pages.append((rel, figures))
                seen.add(rel)
    return pages


def default_mobile_page(pages: list[tuple[str, int]]) -> str | None:
    """The first chapter checked, else the first page."""
    rels = [rel for rel, _ in pages]
    return next((rel for rel in rels if rel.startswith("notebooks/")), rels[0] if rels else None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    ap.add_argument("out", type=Path, help="folder for screenshots, DOM dumps and report.json")
    ap.add_argument("--pages", nargs="+", default=None,
                    help="pages to open, relative to the site (default: index.html, every chapter and book page)")
    ap.add_argument("--chromium", default=os.environ.get("LOTUS_CHROMIUM", DEFAULT_CHROMIUM),
                    help=f"Chromium binary (default $LOTUS_CHROMIUM or {DEFAULT_CHROMIUM})")
    ap.add_argument("--min-figures", type=int, default=1,
                    help="rendered images required on the index, each chapter and each --pages page (default 1)")
    ap.add_argument("--max-height", type=int, default=4000, help="screenshot height cap in pixels")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds allowed per page load")
    ap.add_argument("--expect-title", nargs="+", default=[], metavar="PAGE=TITLE",
                    help="the heading a checked page must show, e.g. notebooks/03_training.html='Training'")
    ap.add_argument("--mobile-page", default=None,
                    help="page opened in the mobile viewport (default: the first chapter checked; 'none' skips it)")
    ap.add_argument("--mobile-width", type=int, default=375, help="width of the mobile viewport in pixels")
    ap.add_argument("--check-anchors", action="store_true", help="also check #fragment targets of links")
    ap.add_argument("--no-browser", action="store_true", help="only the static checks (links, external resources)")
    args = ap.parse_args(argv)

    titles = {}
    for item in args.expect_title:
        page, sep, title = item.partition("=")
        if not sep:
            ap.error(f"--expect-title wants PAGE=TITLE, got {item!r}")
        titles[page] = title
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"browser_check: {site} has no index.html; build the book first (lotus book --profile tiny)",
              file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    failures: list[str] = []

    link_errors, n_pages, n_links = check_links(site, check_anchors=args.check_anchors)
    print(f"links: {n_pages} pages, {n_links} internal links, {len(link_errors)} broken")
    failures += [f"broken link: {e}" for e in link_errors]
    ext_errors = check_external_resources(site)
    print(f"external resources: {len(ext_errors)}")
    failures += [f"external resource: {e}" for e in ext_errors]

    reports: list[dict] = []
    mobile, engine = None, None
    if not args.no_browser:
        pages = [(rel, args.min_figures) for rel in args.pages] if args.pages else default_pages(site, args.min_figures)
        mobile_page = default_mobile_page(pages) if args.mobile_page is None else args.mobile_page
        if mobile_page in ("", "none"):
            mobile_page = None
        try:
            reports, mobile, engine = run_browser_checks(
                site, out, pages, binary=args.chromium, max_height=args.max_height, timeout=args.timeout,
                titles=titles, mobile_page=mobile_page, mobile_width=args.mobile_width)
        except CheckError as exc:
            print(f"browser_check: could not run the browser checks: {exc}", file=sys.stderr)
            return 2
        print(f"browser: Chromium {engine['chromium']} ({engine['executable']}), Playwright {engine['playwright']}")
        for r in reports:
            status = "FAIL" if r["errors"] else "ok"
            figs = sum(f["ok"] for f in r.get("figures", []))
            via = f" (via {r['page']})" if r["loaded"] != r["page"] else ""
            print(f"page {r['loaded']}{via}: {status} in {r.get('seconds', 0)} s; title {r.get('h1', '')!r}, "
                  f"{figs} figure(s), {r.get('mjx', 0)} MathJax formula(s), screenshot {r.get('screenshot', '-')}")
            failures += r["errors"]
        if mobile is not None:
            status = "FAIL" if mobile["errors"] else "ok"
            print(f"mobile {mobile['loaded']} at {mobile['width']} px: {status} in {mobile.get('seconds', 0)} s; "
                  f"page width {mobile.get('scrollWidth', '-')} px, screenshot {mobile.get('screenshot', '-')}")
            failures += mobile["errors"]

    summary = {"site": str(site), "pages_scanned": n_pages, "internal_links": n_links, "failures": failures,
               "browser": engine, "pages": reports, "mobile": mobile, "seconds": round(time.monotonic() - t0, 1)}
    (out / "report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if failures:
        print(f"\nbrowser_check: {len(failures)} problem(s):", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print(f"browser_check: all checks passed in {summary['seconds']} s; screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
