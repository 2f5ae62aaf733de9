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

Browser checks, for the index page (following its redirect) and two chapter pages (or
``--pages``): the site is served on ``127.0.0.1`` (``http.server`` in a thread, free port)
and driven through the DevTools protocol of headless Chromium, with every host other than
127.0.0.1 made unresolvable, so a page that needs the network shows it. For each page:

* it has a title (``<title>`` and a non-empty ``<h1>`` in the article, the former
  containing the latter);
* at least ``--min-figures`` content images, each loaded by the browser
  (``naturalWidth > 0``) and each a valid PNG/SVG/JPEG/GIF file on disk;
* no ``Traceback`` text and no notebook error output;
* MathJax ran: every math element of the page holds an ``mjx-container`` and none holds a
  MathJax error, no TeX is left in the prose (a stray ``$`` next to a formula, ``$$``,
  ``\\frac``-like control sequences outside code), and at least one checked page has math;
* no request left 127.0.0.1, no local request failed (HTTP >= 400 or network error) and no
  uncaught JavaScript exception.

A full-page screenshot (``<page>.png``, capped at ``--max-height`` pixels), a screenshot
around the page's first figure (``<page>.figure.png``) and the DOM after JavaScript ran
(``<page>.dom.html``) are saved to the output folder for every checked page, with
``report.json``. The exit status is 0 when every check passed, 1 when a check failed and 2
when the checks could not run (no site, no Chromium, browser did not start). Only the
standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import html.parser
import http.server
import json
import os
import posixpath
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"
DEFAULT_CHAPTERS = ("notebooks/01_information_theory.html", "notebooks/04_benchmark.html")
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
    # offline: only the local server resolves
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
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
# A minimal WebSocket client and DevTools-protocol session (standard library only)
# -----------------------------------------------------------------------------------------

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: text frames, ping/pong, close."""

    def __init__(self, url: str, timeout: float = 30.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "ws":
            raise CheckError(f"unsupported websocket URL {url!r}")
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + (f"?{u.query}" if u.query else "")
        request = (f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CheckError("the browser closed the DevTools connection during the handshake")
            buf += chunk
        head, self._buf = buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise CheckError(f"DevTools websocket handshake failed: {status.decode(errors='replace')}")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest())
        if accept not in head:
            raise CheckError("DevTools websocket handshake: bad Sec-WebSocket-Accept")

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise CheckError("the browser closed the DevTools connection")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        if n:
            key = (mask * (n // 4 + 1))[:n]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        self.sock.sendall(header + mask + payload)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self, timeout: float) -> str:
        self.sock.settimeout(max(0.05, timeout))
        message = b""
        while True:
            b1, b2 = self._read(2)
            opcode, length = b1 & 0x0F, b2 & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._read(8))
            mask = self._read(4) if b2 & 0x80 else None
            payload = self._read(length)
            if mask:
                key = (mask * (length // 4 + 1))[:length]
                payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
            if opcode == 0x8:
                raise CheckError("the browser closed the DevTools connection")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if b1 & 0x80:
                return message.decode("utf-8", errors="replace")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, b"")
        with contextlib.suppress(OSError):
            self.sock.close()


class DevTools:
    """Synchronous calls over one page target's DevTools websocket; events are buffered."""

    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, *, timeout: float = 30.0) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckError(f"DevTools call {method} timed out after {timeout:.0f} s")
            try:
                msg = json.loads(self.ws.recv(left))
            except socket.timeout:
                continue
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CheckError(f"DevTools call {method} failed: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name: str, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if ev.get("method") == name:
                    return ev
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = json.loads(self.ws.recv(min(left, 1.0)))
            except socket.timeout:
                continue
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str, timeout: float = 60.0):
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True,
                                             "timeout": int(timeout * 1000)}, timeout=timeout + 5)
        if "exceptionDetails" in res:
            details = res["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CheckError(f"JavaScript evaluation failed: {text}")
        return res.get("result", {}).get("value")


@contextlib.contextmanager
def chromium(binary: str, timeout: float = 60.0):
    """Start headless Chromium with a DevTools port; yields a :class:`DevTools` on a page."""
    if not (Path(binary).is_file() and os.access(binary, os.X_OK)) and not shutil.which(binary):
        raise CheckError(f"Chromium not found at {binary!r}; install it with `bash scripts/install_browser.sh` "
                         f"(Debian package `chromium`) or pass --chromium")
    profile = tempfile.mkdtemp(prefix="lotus-chromium-")
    log = open(Path(profile) / "chromium.log", "wb")
    cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
           "--window-size=1280,900", "about:blank"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    ws = None
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None:
                log.flush()
                tail = (Path(profile) / "chromium.log").read_text(errors="replace")[-2000:]
                raise CheckError(f"Chromium exited with status {proc.returncode} before opening DevTools:\n{tail}")
            if time.monotonic() > deadline:
                raise CheckError(f"Chromium did not open its DevTools port within {timeout:.0f} s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        targets = []
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                targets = json.loads(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=5).read())
            targets = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
            if targets:
                break
            time.sleep(0.2)
        if not targets:
            raise CheckError("Chromium has no page target to drive")
        ws = WebSocket(targets[0]["webSocketDebuggerUrl"], timeout=timeout)
        yield DevTools(ws)
    finally:
        if ws is not None:
            ws.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


# -----------------------------------------------------------------------------------------
# Browser checks of one page
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


def check_page(dt: DevTools, base_url: str, site: Path, rel: str, out: Path, *, min_figures: int,
               max_height: int, timeout: float, expect_title: str | None = None) -> dict:
    """Load one page and return its report (``errors`` empty when it passed)."""
    final_rel, chain = _follow_refresh(site, rel)
    report: dict = {"page": rel, "loaded": final_rel, "redirects": chain[1:], "errors": []}
    errors = report["errors"]
    if not (site / final_rel).is_file():
        errors.append(f"{final_rel} does not exist in the site")
        return report
    url = urllib.parse.urljoin(base_url, urllib.parse.quote(final_rel))
    dt.events.clear()
    dt.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    nav = dt.call("Page.navigate", {"url": url}, timeout=timeout)
    if nav.get("errorText"):
        errors.append(f"navigation to {url} failed: {nav['errorText']}")
        return report
    if dt.wait_event("Page.loadEventFired", timeout) is None:
        errors.append(f"{final_rel}: the load event did not fire within {timeout:.0f} s")
    dt.evaluate(READY_JS, timeout=timeout)
    info = dt.evaluate(INFO_JS, timeout=30)
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

    # network and JavaScript
    external, failed = set(), []
    for ev in dt.events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            req_url = params.get("request", {}).get("url", "")
            host = urllib.parse.urlsplit(req_url).hostname
            if req_url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
                external.add(req_url)
        elif method == "Network.responseReceived":
            resp = params.get("response", {})
            if resp.get("status", 200) >= 400 and not _is_favicon_probe(resp.get("url", "")):
                failed.append(f"HTTP {resp.get('status')} {resp.get('url')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{params.get('errorText')} (request {params.get('requestId')})")
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            desc = d.get("exception", {}).get("description") or d.get("text", "")
            errors.append(f"{final_rel}: uncaught JavaScript exception: {desc.splitlines()[0] if desc else '?'}")
    for req_url in sorted(external):
        errors.append(f"{final_rel}: requested an external resource: {req_url}")
    for f in failed:
        errors.append(f"{final_rel}: failed request: {f}")

    # screenshot and DOM
    slug = _page_slug(rel if rel == final_rel else final_rel)
    height = max(900, min(int(info.get("height") or 900), max_height))
    dt.call("Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
    dt.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))", timeout=10)
    shot = dt.call("Page.captureScreenshot",
                   {"format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}},
                   timeout=timeout)
    png = out / f"{slug}.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    # a second, viewport-sized shot of the first figure (often below the full-page cap)
    first = next((img for img in info["imgs"] if img["naturalWidth"] > 0 and img["height"] > 0), None)
    if first is not None:
        fig_height = int(min(max(first["height"] + 240, 600), 1400))
        dt.call("Emulation.setDeviceMetricsOverride",
                {"width": 1280, "height": fig_height, "deviceScaleFactor": 1, "mobile": False})
        dt.evaluate("""new Promise((resolve) => {
            const article = document.querySelector("article.bd-article") || document.body;
            const img = Array.from(article.querySelectorAll("img")).find((i) => i.naturalWidth > 0);
            window.scrollTo(0, Math.max(0, img.getBoundingClientRect().top + window.scrollY - 120));
            requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)));
        })""", timeout=10)
        shot = dt.call("Page.captureScreenshot", {"format": "png"}, timeout=timeout)
        (out / f"{slug}.figure.png").write_bytes(base64.b64decode(shot["data"]))
        report["figure_screenshot"] = f"{slug}.figure.png"
        dt.evaluate("window.scrollTo(0, 0); true", timeout=10)
    dom = dt.evaluate("document.documentElement.outerHTML", timeout=30)
    (out / f"{slug}.dom.html").write_text(dom or "", encoding="utf-8")
    report["screenshot"] = png.name
    problem = image_problem(png)
    if problem:
        errors.append(f"screenshot of {final_rel}: {problem}")
    return report


def run_browser_checks(site: Path, out: Path, pages: list[str], *, binary: str, min_figures: int,
                       max_height: int, timeout: float, titles: dict[str, str] | None = None) -> list[dict]:
    reports = []
    with serve(site) as (base_url, server), chromium(binary, timeout=timeout) as dt:
        dt.call("Page.enable")
        dt.call("Network.enable")
        dt.call("Runtime.enable")
        for rel in pages:
            reports.append(check_page(dt, base_url, site, rel, out, min_figures=min_figures, max_height=max_height,
                                      timeout=timeout, expect_title=(titles or {}).get(rel)))
        report_math = sum(r.get("mjx", 0) for r in reports)
        if reports and report_math == 0:
            reports[0]["errors"].append("no checked page has math rendered by MathJax (mjx-container)")
        errors_404 = sorted({p for p, code in server.request_log if code >= 400 and not _is_favicon_probe(p)})
        if errors_404:
            reports[0]["errors"].append(f"the local server answered >= 400 for: {', '.join(errors_404)}")
    return reports


# -----------------------------------------------------------------------------------------
# Command line
# -----------------------------------------------------------------------------------------


def default_pages(site: Path) -> list[str]:
    pages = ["index.html"]
    for rel in DEFAULT_CHAPTERS:
        if (site / rel).is_file():
            pages.append(rel)
    if len(pages) < 3:  # fall back to the first chapters found
        for p in sorted((site / "notebooks").glob("*.html")):
            rel = p.relative_to(site).as_posix()
            if rel not in pages:
                pages.append(rel)
            if len(pages) == 3:
                break
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    ap.add_argument("out", type=Path, help="folder for screenshots, DOM dumps and report.json")
    ap.add_argument("--pages", nargs="+", default=None,
                    help="pages to open, relative to the site (default: index.html and two chapters)")
    ap.add_argument("--chromium", default=os.environ.get("LOTUS_CHROMIUM", DEFAULT_CHROMIUM),
                    help=f"Chromium binary (default $LOTUS_CHROMIUM or {DEFAULT_CHROMIUM})")
    ap.add_argument("--min-figures", type=int, default=1, help="rendered images required per page (default 1)")
    ap.add_argument("--max-height", type=int, default=4000, help="screenshot height cap in pixels")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds allowed per page load")
    ap.add_argument("--expect-title", nargs="+", default=[], metavar="PAGE=TITLE",
                    help="the heading a checked page must show, e.g. notebooks/03_training.html='Training'")
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
    if not args.no_browser:
        pages = args.pages or default_pages(site)
        try:
            reports = run_browser_checks(site, out, pages, binary=args.chromium, min_figures=args.min_figures,
                                         max_height=args.max_height, timeout=args.timeout, titles=titles)
        except CheckError as exc:
            print(f"browser_check: could not run the browser checks: {exc}", file=sys.stderr)
            return 2
        for r in reports:
            status = "FAIL" if r["errors"] else "ok"
            figs = sum(f["ok"] for f in r.get("figures", []))
            via = f" (via {r['page']})" if r["loaded"] != r["page"] else ""
            print(f"page {r['loaded']}{via}: {status}; title {r.get('h1', '')!r}, {figs} figure(s), "
                  f"{r.get('mjx', 0)} MathJax formula(s), screenshot {r.get('screenshot', '-')}")
            failures += r["errors"]

    summary = {"site": str(site), "pages_scanned": n_pages, "internal_links": n_links, "failures": failures,
               "pages": reports, "seconds": round(time.monotonic() - t0, 1)}
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
