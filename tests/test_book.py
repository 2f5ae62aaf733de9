"""The executable book: ``lotus book --profile tiny`` end to end, then a real browser.

The ``slow`` tests build the whole book once per session (a session fixture runs
``python -m lotus.cli book --profile tiny`` into the repository's ``_build/``) and check
that every notebook of the table of contents was executed with the profile's parameters,
produced the figures and glued values its metadata promises, and that every page renders
offline in headless Chromium, driven by Playwright (``scripts/browser_check.py``). Set
``LOTUS_BOOK_REUSE=1`` to check an existing ``_build/`` without rebuilding.

The other tests check ``scripts/browser_check.py`` itself on small synthetic sites, so a
broken checker, or a Playwright release that cannot drive the installed Chromium, cannot
make the book tests pass.

Without Chromium (``/usr/bin/chromium`` or ``$LOTUS_CHROMIUM``) or Playwright (the ``dev``
extra) the browser tests are skipped, except in CI (``CI=true``) where they fail: install the
browser with ``bash scripts/install_browser.sh`` (never ``playwright install``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "_build"
STAGING = BUILD / "book-src"
SITE = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
CHECKER = REPO / "scripts" / "browser_check.py"
CHROMIUM = os.environ.get("LOTUS_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _load_checker():
    spec = importlib.util.spec_from_file_location("browser_check", CHECKER)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("browser_check", module)
    spec.loader.exec_module(module)
    return module


bc = _load_checker()


def _chromium() -> str:
    """The Chromium binary; skip (outside CI) or fail (in CI) when it or Playwright is missing."""
    has_playwright = importlib.util.find_spec("playwright") is not None
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK) and has_playwright:
        return CHROMIUM
    message = (f"Chromium not found at {CHROMIUM} (install it with `bash scripts/install_browser.sh` or set LOTUS_CHROMIUM)"
               if has_playwright else "Playwright is not installed (the dev extra: pip install -e '.[dev]')")
    if IN_CI:
        pytest.fail(message + "; the browser check is required in CI")
    pytest.skip(message + "; browser check skipped outside CI")


# -----------------------------------------------------------------------------------------
# The table of contents
# -----------------------------------------------------------------------------------------


def _toc_files(node) -> list[str]:
    out = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(str(node["file"]))
        if "root" in node:
            out.append(str(node["root"]))
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                out.extend(_toc_files(child))
    return out


def toc_files() -> list[str]:
    return _toc_files(yaml.safe_load((REPO / "book" / "_toc.yml").read_text(encoding="utf-8")))


def toc_notebooks() -> list[str]:
    """Stems of the notebooks listed in book/_toc.yml, in book order."""
    return [Path(f).name for f in toc_files() if f.startswith("notebooks/")]


def toc_part_first_notebook(caption: str) -> str:
    toc = yaml.safe_load((REPO / "book" / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc["parts"]:
        if part.get("caption") == caption:
            files = [f for f in _toc_files(part) if f.startswith("notebooks/")]
            if files:
                return Path(files[0]).name
    raise AssertionError(f"book/_toc.yml has no part {caption!r} with a notebook")


def test_toc_matches_the_sources():
    """Every TOC entry exists in the repository and every notebook is in the TOC."""
    files = toc_files()
    assert files[0] == "book/intro", "the book must open on book/intro"
    missing = []
    for f in files:
        folder, name = f.split("/", 1)
        suffix = ".ipynb" if folder == "notebooks" else ".md"
        if not (REPO / folder / (name + suffix)).is_file():
            missing.append(f + suffix)
    assert not missing, f"book/_toc.yml lists files that do not exist: {missing}"
    on_disk = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    assert sorted(toc_notebooks()) == on_disk, "notebooks/ and book/_toc.yml disagree"
    assert len(set(files)) == len(files), "a page is listed twice in book/_toc.yml"


# -----------------------------------------------------------------------------------------
# scripts/browser_check.py on synthetic sites (fast)
# -----------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_image_validation(tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(_png(4, 3))
    assert bc.image_problem(good) is None
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(_png(4, 3)[:20])
    assert "truncated" in bc.image_problem(truncated)
    svg = tmp_path / "fig.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2"/></svg>')
    assert bc.image_problem(svg) is None
    broken_svg = tmp_path / "broken.svg"
    broken_svg.write_text("<svg><rect></svg>")
    assert "invalid SVG" in bc.image_problem(broken_svg)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert "not a PNG" in bc.image_problem(text)
    assert "does not exist" in bc.image_problem(tmp_path / "absent.png")


def test_link_checker_reports_only_broken_internal_links(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "fig.png").write_bytes(_png(2, 2))
    (tmp_path / "sub" / "index.html").write_text("<h1 id='top'>x</h1>")
    (tmp_path / "index.html").write_text(
        '<meta http-equiv="refresh" content="0; url=page.html">')
    (tmp_path / "page.html").write_text(
        '<a href="sub/">dir</a> <a href="sub/index.html#top">anchor ok</a> <a href="#local">local</a>'
        '<a href="https://example.org/x.html">external page</a> <a href="mailto:a@b.c">mail</a>'
        '<img src="fig.png"> <img src="missing.png"> <a href="gone.html#x">gone</a>'
        '<a href="sub/index.html#nowhere">bad anchor</a> <a href="../outside.html">outside</a>'
        '<script src="data:text/javascript,1"></script>')
    # theme template files in _static are not pages
    (tmp_path / "_static" / "macros.html").write_text("<link href=\"{{ pathto('x.css', 1) }}\">")
    errors, n_pages, n_links = bc.check_links(tmp_path)
    assert n_pages == 3
    assert len(errors) == 3, errors
    assert any("missing.png" in e for e in errors)
    assert any("gone.html" in e for e in errors)
    assert any("outside.html" in e and "outside the site" in e for e in errors)
    anchor_errors, _, _ = bc.check_links(tmp_path, check_anchors=True)
    assert len(anchor_errors) == 5, anchor_errors  # + '#nowhere' and the local '#local'
    assert any("nowhere" in e for e in anchor_errors)


def test_external_resource_scan(tmp_path):
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/css">'
        '<link rel="next" href="https://example.org/next.html">'       # navigation, not a resource
        '<a href="https://example.org/">a plain link</a>'
        '<img src="local.png"><div style="background: url(https://img.example.org/bg.png)"></div>')
    (tmp_path / "theme.css").write_text(
        '/* see https://example.org/licence */\n'
        '@import url("https://fonts.example.org/font.css");\n'
        '.icon { background: url("data:image/svg+xml;utf8,<svg xmlns=\'http://www.w3.org/2000/svg\'/>"); }\n'
        '.ok { background: url(img/local.svg); }\n')
    errors = bc.check_external_resources(tmp_path)
    joined = "\n".join(errors)
    assert len(errors) == 4, errors
    for url in ("cdn.example.org/mathjax.js", "fonts.example.org/css", "img.example.org/bg.png",
                "fonts.example.org/font.css"):
        assert url in joined


def _mathjax_dir() -> Path | None:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    return path if (path / "tex-chtml.js").is_file() else None


def _synthetic_site(root: Path, *, good: bool) -> Path:
    """A one-chapter site with local MathJax and a figure; the broken variant adds one fault for
    each check of the browser run (see ``test_browser_check_fails_a_broken_page``)."""
    mathjax = _mathjax_dir()
    if mathjax is None:
        pytest.skip("sphinx-mathjax-offline (the book extra) is not installed")
    shutil.copytree(mathjax, root / "_static" / "mathjax")
    (root / "_images").mkdir(parents=True)
    (root / "_images" / "fig.png").write_bytes(_png(40, 30))
    img = "../_images/fig.png" if good else "../_images/missing.png"
    head, extra = "", ""
    if not good:
        head = "<link rel='stylesheet' href='https://fonts.example.org/face.css'>"
        extra = ("<pre>Traceback (most recent call last):</pre>"
                 # a dollar pair the Markdown parser split, and TeX that MathJax cannot typeset
                 r"<p>Avg Gap $<span class='math notranslate nohighlight'>\(x^2\)</span>$ here</p>"
                 r"<p><span class='math notranslate nohighlight'>\(\frac{1}\)</span></p>"
                 "<div class='output error'>ZeroDivisionError</div>"
                 "<div style='width: 900px'>a block too wide for a phone</div>"
                 # requests and errors that only the browser can see
                 "<script>fetch('http://cdn.example.org/data.json').catch(() => null);</script>"
                 "<script>console.error('a console complaint');</script>"
                 "<script>throw new Error('boom in the page');</script>")
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/page.html" />')
    (root / "book").mkdir()
    (root / "book" / "page.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Demo chapter &#8212; Test book</title>{head}"
        "<script defer src='../_static/mathjax/tex-chtml.js'></script></head><body>"
        "<article class='bd-article'><h1>Demo chapter<a class='headerlink' href='#'>#</a></h1>"
        r"<p>Inline <span class='math notranslate nohighlight'>\(\tau_d = e^{\alpha x}\)</span>.</p>"
        f"<img src='{img}' alt='figure'>{extra}</article></body></html>")
    return root


def _png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_browser_check_passes_a_good_page(tmp_path):
    chromium = _chromium()
    site = _synthetic_site(tmp_path / "site", good=True)
    out = tmp_path / "shots"
    rc = bc.main([str(site), str(out), "--chromium", chromium, "--pages", "index.html",
                  "--expect-title", "index.html=Demo chapter", "--timeout", "60"])
    report = json.loads((out / "report.json").read_text())
    assert rc == 0, report
    assert report["pages"][0]["loaded"] == "book/page.html"  # the redirect was followed
    # Playwright drove the system's Chromium, not a browser of its own
    assert report["browser"]["executable"] == str(Path(chromium).resolve()) or report["browser"]["executable"] == chromium
    for shot in ("book_page.png", "book_page.figure.png", "book_page.mobile.png"):
        assert bc.image_problem(out / shot) is None, shot
    assert _png_size(out / "book_page.png")[0] == 1280
    assert _png_size(out / "book_page.mobile.png")[0] == 375
    assert report["mobile"]["loaded"] == "book/page.html" and report["mobile"]["scrollWidth"] <= 375 + 2
    dom = (out / "book_page.dom.html").read_text()
    assert "mjx-container" in dom  # MathJax ran from the local copy


def test_browser_check_fails_a_broken_page(tmp_path):
    """Each fault of the broken site is reported by its own check: removing a check fails this test."""
    chromium = _chromium()
    site = _synthetic_site(tmp_path / "site", good=False)
    out = tmp_path / "shots"
    rc = bc.main([str(site), str(out), "--chromium", chromium, "--pages", "book/page.html",
                  "--expect-title", "book/page.html=Another chapter", "--timeout", "60"])
    assert rc == 1
    failures = json.loads((out / "report.json").read_text())["failures"]
    text = "\n".join(failures)

    def reported(*needles: str) -> bool:
        return any(all(n in f for n in needles) for f in failures)

    # static scans
    assert reported("broken link:", "missing.png"), text
    assert reported("external resource:", "https://fonts.example.org/face.css", "loads an external resource"), text
    # content
    assert reported("missing.png", "naturalWidth = 0"), text
    assert reported("0 rendered figure(s)"), text
    assert reported("expected 'Another chapter'"), text
    assert reported("shows a 'Traceback'"), text
    assert reported("1 notebook error output(s)"), text
    assert reported("math not typeset: a '$' next to the formula"), text
    assert reported("MathJax error(s)"), text
    # network: routing blocked both external requests, the missing figure was a 404
    assert reported("blocked a request to another host: https://fonts.example.org/face.css"), text
    assert reported("blocked a request to another host: http://cdn.example.org/data.json"), text
    assert reported("failed request: HTTP 404", "/_images/missing.png"), text
    assert reported("the local server answered >= 400 for: /_images/missing.png"), text
    # JavaScript
    assert reported("uncaught JavaScript exception", "boom in the page"), text
    assert reported("console error: a console complaint"), text
    # mobile viewport: the 900-px block overflows a 375-px screen
    assert reported("book/page.html at 375 px: the page is", "overflows horizontally", "div reaches x ="), text
    assert bc.image_problem(out / "book_page.mobile.png") is None


def test_browser_check_without_chromium_cannot_run(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<title>x</title><h1>x</h1>")
    assert bc.main([str(site), str(tmp_path / "out"), "--chromium", str(tmp_path / "no-chromium")]) == 2


# -----------------------------------------------------------------------------------------
# book/_ext/lotus_sphinx.py (the -W -n build must not fail on correct docstrings)
# -----------------------------------------------------------------------------------------

_DEMO_PKG = {
    "__init__.py": '"""Demo package."""\nfrom .core import run\n\n__all__ = ["run"]\n',
    "core.py": (
        '"""Core module; see :func:`demo_pkg.run` and :data:`demo_pkg.core._HIDDEN`."""\n\n'
        "#: modes handled by the runner itself: fast and slow\n"
        'MODES = ("fast", "slow")\n\n'
        '_HIDDEN = 1\n\n\n'
        "def run(x: int) -> int:\n"
        '    """Run; returns :class:`Report` objects elsewhere, see :func:`demo_pkg.no_such_thing`."""\n'
        "    return x\n\n\n"
        "class Report:\n"
        '    """A report."""\n'
    ),
}


def test_sphinx_extension_resolves_reexports_and_keeps_real_errors(tmp_path, monkeypatch):
    from io import StringIO

    from sphinx.application import Sphinx

    pkg = tmp_path / "lib" / "demo_pkg"
    pkg.mkdir(parents=True)
    for name, text in _DEMO_PKG.items():
        (pkg / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'book' / '_ext')!r})\n"
        "extensions = ['lotus_sphinx']\nlotus_api_packages = ['demo_pkg']\nnitpicky = True\n")
    (src / "index.rst").write_text(
        "Demo\n====\n\n.. automodule:: demo_pkg.core\n   :members:\n\n"
        "Top-level spelling: :func:`demo_pkg.run`; missing: :func:`demo_pkg.missing_function`.\n")
    warnings = StringIO()
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=warnings, freshenv=True)
    app.build()
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    log = warnings.getvalue()
    # re-exported name -> link to the definition; undocumented private constant -> no warning
    assert page.count('href="#demo_pkg.core.run"') >= 2, page
    assert "demo_pkg.run" not in log and "_HIDDEN" not in log and "Report" not in log, log
    # names that do not exist are still reported
    assert "demo_pkg.missing_function" in log and "demo_pkg.no_such_thing" in log, log
    # the constant's comment is prose, not "type: description"
    assert "modes handled by the runner itself: fast and slow" in page
    assert "reference target not found: modes handled" not in log, log


# -----------------------------------------------------------------------------------------
# The book, built once per session with the tiny profile (slow)
# -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def built_book():
    """Run ``lotus book --profile tiny`` into ``<repo>/_build`` (once per test session)."""
    if os.environ.get("LOTUS_BOOK_REUSE") and (SITE / "index.html").is_file():
        return SITE
    # start from empty outputs so that files left by an earlier build cannot pass the tests
    for stale in (STAGING, SITE, SCREENSHOTS):
        shutil.rmtree(stale, ignore_errors=True)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernels must use the inline backend to embed figures
    env.setdefault("HF_HUB_OFFLINE", "1")
    timeout = int(os.environ.get("LOTUS_BOOK_TIMEOUT", "3600"))
    BUILD.mkdir(exist_ok=True)
    log = BUILD / "book-test.log"
    cmd = [sys.executable, "-m", "lotus.cli", "book", "--profile", "tiny"]
    with open(log, "w", encoding="utf-8") as fh:
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(cmd[1:])}` did not finish within {timeout} s; see {log}")
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-60:])
        pytest.fail(f"`lotus book --profile tiny` failed with exit status {proc.returncode}; last lines of {log}:\n{tail}")
    return SITE


def _read_notebook(stem: str):
    import nbformat

    path = STAGING / "notebooks" / f"{stem}.ipynb"
    assert path.is_file(), f"notebook {stem} was not executed: {path} is missing"
    return nbformat.read(path, as_version=4)


def _expectations(stem: str, nb) -> dict:
    """The figures and glue names a notebook promises in its ``lotus`` metadata."""
    meta = nb.metadata.get("lotus")
    assert meta, f"notebook {stem} declares no expected figures/glue (metadata 'lotus')"
    return {"figures": list(meta.get("figures") or []), "glue": list(meta.get("glue") or [])}


@pytest.mark.slow
@pytest.mark.parametrize("stem", toc_notebooks())
def test_notebook_executed_with_the_profile(built_book, stem):
    nb = _read_notebook(stem)
    assert "papermill" in nb.metadata, f"{stem} was not executed by papermill"
    assert not nb.metadata["papermill"].get("exception"), f"{stem} raised during execution"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{stem} has no code cells"
    not_run = [i for i, c in enumerate(code) if c.get("execution_count") is None and c.source.strip()]
    assert not not_run, f"{stem}: code cells {not_run} were not executed"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{stem}: error output {errors[0].get('ename')}: {errors[0].get('evalue')}"
    injected = [c for c in code if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected, f"{stem}: papermill injected no parameters (no `parameters` cell?)"
    assert re.search(rf"output_dir\s*=\s*['\"]figures/{re.escape(stem)}['\"]", injected[0].source), \
        f"{stem}: output_dir was not set to figures/{stem}"


@pytest.mark.slow
@pytest.mark.parametrize("stem", toc_notebooks())
def test_notebook_figures_exist(built_book, stem):
    nb = _read_notebook(stem)
    figures = _expectations(stem, nb)["figures"]
    folder = STAGING / "notebooks" / "figures" / stem
    problems = []
    for name in figures:
        path = folder / (name if Path(name).suffix else f"{name}.png")
        problem = bc.image_problem(path)
        if problem:
            problems.append(problem)
    assert not problems, f"{stem}: expected figures missing or invalid: {problems}"


@pytest.mark.slow
@pytest.mark.parametrize("stem", toc_notebooks())
def test_notebook_glued_values_exist(built_book, stem):
    nb = _read_notebook(stem)
    expected = _expectations(stem, nb)["glue"]
    glued = {o.get("metadata", {}).get("scrapbook", {}).get("name")
             for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])}
    missing = [g for g in expected if g not in glued]
    assert not missing, f"{stem}: values not glued (myst_nb.glue): {missing}"


@pytest.mark.slow
def test_site_has_every_page(built_book):
    assert (SITE / "index.html").is_file()
    missing = [f for f in toc_files() if not (SITE / f"{f}.html").is_file()]
    assert not missing, f"pages missing from the site: {missing}"
    intro = (SITE / "book" / "intro.html").read_text(encoding="utf-8")
    assert re.search(r"profile(?:\W|<[^>]*>)+tiny", intro), "the footer does not name the profile the book was built with"
    assert (SITE / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not served from the site"


@pytest.mark.slow
def test_site_links_resolve_and_need_no_network(built_book):
    errors, n_pages, n_links = bc.check_links(SITE)
    assert n_pages >= len(toc_files()) and n_links > 0
    assert not errors, "broken internal links:\n" + "\n".join(errors[:30])
    external = bc.check_external_resources(SITE)
    assert not external, "pages load external resources:\n" + "\n".join(external[:30])


@pytest.mark.slow
@pytest.mark.parametrize("stem", toc_notebooks())
def test_chapter_page_offers_the_executed_notebook_and_how_to_rerun_it(built_book, stem):
    """The download menu links the notebook Sphinx copied from the staging folder, which is
    the executed copy (outputs and the rerun note included); the page shows the note."""
    page = (SITE / "notebooks" / f"{stem}.html").read_text(encoding="utf-8")
    link = re.search(r'href="(\.\./_sources/notebooks/[^"]+\.ipynb)"[^>]*\n?[^>]*download-source-button', page)
    assert link, f"{stem}: the page has no download link to its .ipynb"
    served = (SITE / "notebooks" / link.group(1)).resolve()
    assert served == (SITE / "_sources" / "notebooks" / f"{stem}.ipynb").resolve() and served.is_file()
    assert served.read_bytes() == (STAGING / "notebooks" / f"{stem}.ipynb").read_bytes()
    nb = _read_notebook(stem)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{stem}: the download has no outputs"
    text = re.sub(r"<[^>]+>", "", page)
    number = stem.split("_", 1)[0]
    assert "Rerun this chapter" in text and f"lotus book --only {number} --profile" in text, \
        f"{stem}: the page does not say how to rerun it"
    assert "executed with the profile tiny" in text


def _heading(stem: str) -> str | None:
    """The notebook's title (its first ``# `` heading) when it is plain text."""
    nb = _read_notebook(stem)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    title = line[2:].strip()
                    return title if re.fullmatch(r"[\w\s:,.'’()%+/&-]+", title) else None
    return None


@pytest.mark.slow
def test_browser_check(built_book):
    """Every page of the table of contents opens in the browser (chapters with their headings
    and figures), and the first chapter fits a 375-px phone screen."""
    chromium = _chromium()
    titles = [f"notebooks/{stem}.html={t}" for stem in toc_notebooks() if (t := _heading(stem))]
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    cmd = [sys.executable, str(CHECKER), str(SITE), str(SCREENSHOTS), "--chromium", chromium]
    if titles:
        cmd += ["--expect-title", *titles]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"browser check failed:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads((SCREENSHOTS / "report.json").read_text(encoding="utf-8"))
    checked = {r["loaded"] for r in report["pages"]}
    missing = sorted({f"{f}.html" for f in toc_files()} - checked)
    assert not missing, f"pages of the table of contents not opened in the browser: {missing}"
    chapters = [r for r in report["pages"] if r["loaded"].startswith("notebooks/")]
    assert len(chapters) == len(toc_notebooks())
    for r in report["pages"]:
        assert bc.image_problem(SCREENSHOTS / r["screenshot"]) is None, r["screenshot"]
    for r in chapters:
        assert r["min_figures"] >= 1 and bc.image_problem(SCREENSHOTS / r["figure_screenshot"]) is None, r["loaded"]
    mobile = report["mobile"]
    assert mobile["loaded"].startswith("notebooks/")
    assert mobile["scrollWidth"] <= 375 + bc.MOBILE_TOLERANCE_PX
    assert _png_size(SCREENSHOTS / mobile["screenshot"])[0] == 375
