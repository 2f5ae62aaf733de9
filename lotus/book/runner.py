"""``lotus book``: execute the notebooks with a profile, then build the Jupyter Book.

Steps (all under ``<repo>/_build/``):

1. every notebook of ``notebooks/`` (sorted by name) is executed with papermill into
   ``_build/book-src/notebooks/``, with that folder as working directory and the parameters
   ``profile``, ``output_dir=figures/<notebook>`` and, with ``--force``, ``overrides={"force":
   True}`` (each only if the notebook declares it in its ``parameters`` cell). The chapter
   reads everything else from the profile through :func:`lotus.book.chapter`; relative paths
   of the profile are taken relative to the project folder, which the kernels receive as
   ``$LOTUS_PROJECT_DIR``;
2. ``_config.yml``, ``book/`` (its ``_toc.yml`` also goes to the staging root) and
   ``references.bib`` are copied into ``_build/book-src/``; the provenance (profile, git
   commit, device, date) is appended to the page footer, and notebook execution is switched
   off (they are already executed);
3. ``jupyter-book build _build/book-src --path-output <repo>/_build/.site-build -W -n --keep-going --all``
   builds the site, which then replaces ``<repo>/_build/html/`` (warnings are errors, every
   page is rebuilt, no page of an earlier build is left behind; a failed build keeps the old site).

Each executed copy ends with a short Markdown cell (:func:`add_rerun_note`) naming the
profile it was executed with and how to execute that chapter alone again; the page's
download button offers that executed copy (Sphinx serves the staged source under
``_sources/``).

Progress goes to the ``lotus.book.runner`` logger (the ``lotus`` command line shows its INFO
messages; ``-q`` hides them): the chapter before it runs, its status and time after, and
at the end a table of every chapter's time (:meth:`BookReport.time_table`). A cell-level
progress bar (papermill's tqdm bar) is drawn only when stderr is a terminal.

A failing notebook stops the run with a message naming the notebook and the cell; the
executed copy, with the traceback, stays in ``_build/book-src/notebooks/``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..profiles import PROFILE_DIR, load_profile
from ..results import provenance
from ..utils import LotusError, read_yaml_mapping

__all__ = ["BookError", "NotebookError", "run_book", "list_notebooks", "find_repo", "notebook_parameters", "BookReport",
           "NotebookRun", "PROJECT_ENV", "add_rerun_note", "time_table", "RERUN_NOTE_TAG"]

logger = logging.getLogger(__name__)

STAGING = Path("_build") / "book-src"
#: environment variable naming the project folder to the executed chapters
PROJECT_ENV = "LOTUS_PROJECT_DIR"


class BookError(LotusError):
    """Executing the notebooks or building the site failed (not a usage error)."""


class NotebookError(BookError):
    """A notebook raised while being executed (the message names the notebook and the cell)."""


@dataclass
class NotebookRun:
    """One chapter of a ``lotus book`` run: ``seconds`` of execution (``None`` when it was
    not run because an earlier chapter failed), ``ok``, the executed copy's path."""

    name: str
    seconds: float | None
    ok: bool
    output: str
    parameters: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def status(self) -> str:
        """``"ok"``, ``"FAILED"`` or ``"not run"``."""
        if self.seconds is None:
            return "not run"
        return "ok" if self.ok else "FAILED"


@dataclass
class BookReport:
    profile: str
    notebooks: list[NotebookRun]
    built: bool
    html_dir: str | None
    provenance: dict

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.notebooks)

    def time_table(self) -> str:
        """The chapters' status and execution time as a text table (:func:`time_table`)."""
        return time_table(self.notebooks)


def _duration(seconds: float | None) -> str:
    """``12.3 s``, ``4 min 05 s``, ``1 h 02 min``; ``-`` for ``None``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def time_table(runs: list[NotebookRun]) -> str:
    """A text table with one row per chapter (name, status, time) and a total row."""
    rows = [(r.name, r.status, _duration(r.seconds)) for r in runs]
    total = sum(r.seconds for r in runs if r.seconds is not None)
    rows.append(("total", f"{sum(r.ok for r in runs)}/{len(runs)} ok", _duration(total)))
    head = ("chapter", "status", "time")
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in (head, *rows)]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)


def project_folder() -> Path | None:
    """The project folder relative settings refer to: ``$LOTUS_PROJECT_DIR``, else the
    checkout holding the current folder (one with ``notebooks/``, :func:`find_repo`), else
    ``None``."""
    env = os.environ.get(PROJECT_ENV)
    if env:
        return Path(env).expanduser()
    try:
        return find_repo()
    except LotusError:
        return None


def find_repo(repo: str | os.PathLike | None = None) -> Path:
    """The project folder: ``repo`` if given, else the current folder or the nearest folder
    above it that has ``notebooks/`` (never the installed package's folder: a book is built
    from the checkout the user is in)."""
    if repo is not None:
        path = Path(repo).expanduser().resolve()
        if not (path / "notebooks").is_dir():
            raise LotusError(f"no notebooks/ folder in {path}")
        return path
    here = Path.cwd().resolve()
    for cand in (here, *here.parents):
        if (cand / "notebooks").is_dir():
            return cand
    raise LotusError(f"no notebooks/ folder in {here} or above; run `lotus book` from the project folder "
                     "(a clone of the repository) or pass --repo DIR")


def list_notebooks(repo: str | os.PathLike | None = None) -> list[Path]:
    """The chapters of ``<repo>/notebooks`` in execution order (sorted by name)."""
    root = find_repo(repo) / "notebooks"
    return sorted(p for p in root.glob("*.ipynb") if not p.name.startswith((".", "_")))


def _select(notebooks: list[Path], only) -> list[Path]:
    if not only:
        return notebooks
    chosen = []
    for want in only:
        stem = Path(want).stem
        hits = [nb for nb in notebooks if nb.stem == stem] or [nb for nb in notebooks if nb.stem.startswith(stem)]
        if len(hits) != 1:
            what = "matches several notebooks" if hits else "matches no notebook"
            raise LotusError(f"--only {want!r} {what}; notebooks: {', '.join(nb.stem for nb in notebooks)}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return [nb for nb in notebooks if nb in chosen]


def declared_parameters(notebook: Path) -> dict:
    """``{name: default text}`` of the notebook's ``parameters`` cell (papermill's inspection)."""
    import papermill

    try:
        info = papermill.inspect_notebook(str(notebook))
    except Exception as exc:  # noqa: BLE001 - reported with the notebook named
        raise LotusError(f"cannot inspect the parameters of {notebook.name}: {type(exc).__name__}: {exc}") from exc
    return {k: v.get("default") for k, v in info.items()}


def notebook_parameters(profile: dict, notebook: Path, declared: dict | None = None, *, force: bool = False) -> dict:
    """The papermill parameters of ``notebook`` under ``profile`` (see the module docstring)."""
    declared = declared_parameters(notebook) if declared is None else declared
    shipped = Path(profile["path"]).resolve() == (PROFILE_DIR / f"{profile['name']}.yaml").resolve()
    params = {"profile": profile["name"] if shipped else profile["path"], "output_dir": f"figures/{notebook.stem}"}
    if force:
        params["overrides"] = {"force": True}
    return {k: v for k, v in params.items() if k in declared}


@contextlib.contextmanager
def _kernel_environment(repo: Path):
    """Environment the kernels inherit: the project folder, inline figures (no
    MPLBACKEND=Agg left over from a test run), no tqdm progress bars in the pages, and no
    tqdm warning about the missing ipywidgets (progress bars are off anyway)."""
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", "TQDM_DISABLE", "PYTHONWARNINGS", PROJECT_ENV)}
    os.environ.pop("MPLBACKEND", None)
    os.environ["TQDM_DISABLE"] = "1"
    os.environ[PROJECT_ENV] = str(repo)
    quiet = "ignore:IProgress not found"
    os.environ["PYTHONWARNINGS"] = ",".join(w for w in (saved["PYTHONWARNINGS"], quiet) if w)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _execute(notebook: Path, output: Path, params: dict, cwd: Path, kernel: str, progress: bool = False) -> None:
    """Execute ``notebook`` into ``output`` with papermill; ``progress`` draws papermill's
    cell-level tqdm bar on stderr (it disappears when the notebook is done)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    # disable=False: the kernels' TQDM_DISABLE (set while they run) must not hide this bar
    bar = {"desc": notebook.stem, "leave": False, "file": sys.stderr, "disable": False} if progress else False
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=params, kernel_name=kernel,
                                   cwd=str(cwd), progress_bar=bar, log_output=False)
    except PapermillExecutionError as exc:
        src = "\n".join("      " + line for line in str(exc.source).strip().splitlines()[:8])
        cell = _source_cell_index(notebook, exc.source, exc.cell_index)
        raise NotebookError(
            f"notebook {notebook.name} failed in cell {cell} (counting from 0; In [{exc.exec_count}]): "
            f"{exc.ename}: {exc.evalue}\n    cell source:\n{src}\n    the executed copy with the full traceback "
            f"is {output}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - kernel missing, kernel died, bad notebook JSON...
        raise NotebookError(f"notebook {notebook.name} could not be executed: {type(exc).__name__}: {exc}") from exc


def _source_cell_index(notebook: Path, source: str, index: int) -> int:
    """The position (from 0) of the failing cell in the *source* notebook: the cell whose
    code is ``source``; papermill's ``index`` counts its injected-parameters cell too."""
    import nbformat

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:  # noqa: BLE001 - fall back to papermill's index
        return index
    hits = [i for i, c in enumerate(nb.cells) if c.get("source", "").strip() == str(source).strip()]
    if not hits:
        return index
    return min(hits, key=lambda i: abs(i - index))


#: tag of the Markdown cell :func:`add_rerun_note` appends to an executed chapter
RERUN_NOTE_TAG = "lotus-rerun-note"


def _chapter_number(stem: str) -> str:
    """``"05"`` for ``05_forget_50``: the prefix ``lotus book --only`` accepts (the whole
    name when it has no numeric prefix)."""
    head = stem.split("_", 1)[0]
    return head if head.isdigit() else stem


def _rerun_text(stem: str, profile: str | None) -> str:
    other = "cpu" if profile == "tiny" else "tiny"
    number = _chapter_number(stem)
    if profile is None:
        built = "This page was **not executed** in this build of the book (it shows no outputs)."
    else:
        built = (f"This page was executed with the profile `{profile}` (`lotus book --profile {profile}`); "
                 "the notebook the download button at the top of the page offers is this executed copy, "
                 "with its outputs.")
    return "\n".join([
        "## Rerun this chapter",
        "",
        built,
        "",
        f"To execute only this chapter again, here with the profile `{other}`, run from the project folder",
        "",
        "```bash",
        f"lotus book --only {number} --profile {other}",
        "```",
        "",
        "or, with papermill, from `notebooks/`, choosing where the executed copy goes and changing settings "
        "through `overrides`:",
        "",
        "```bash",
        f"papermill {stem}.ipynb ../_build/my-runs/{stem}.ipynb \\",
        f"    -p profile {other} -p output_dir ../_build/my-runs/figures/{stem} \\",
        "    -y 'overrides: {seeds: [0, 1, 2]}'",
        "```",
        "",
        "[The profiles page](../book/profiles.md) lists the profiles and the settings `overrides` accepts.",
    ])


def add_rerun_note(path: str | os.PathLike, *, profile: str | None) -> None:
    """Append to the notebook at ``path`` (an executed chapter under ``_build/book-src``) a
    Markdown cell naming the ``profile`` it was executed with (``None``: not executed) and
    how to execute this chapter alone again (``lotus book --only NN`` or papermill). The
    cell is tagged :data:`RERUN_NOTE_TAG`; a note added earlier is replaced, not repeated."""
    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if RERUN_NOTE_TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(_rerun_text(path.stem, profile))
    cell.metadata["tags"] = [RERUN_NOTE_TAG]
    nb.cells.append(cell)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)


def _shown_profile(params: dict, prof: dict) -> str:
    """The profile as a reader would pass it: its name, or the file name of a profile file."""
    value = str(params.get("profile") or prof["name"])
    return value if value == prof["name"] else Path(value).name


def _title(notebook: Path) -> str | None:
    """The notebook's first ``# `` heading, if any (shown while it runs)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return None
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            src = cell.get("source", "")
            for line in (src if isinstance(src, str) else "".join(src)).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _copy_support_files(src: Path, dst: Path) -> None:
    """Copy the non-notebook files of ``notebooks/`` (helpers, images) next to the executed copies."""
    for p in src.iterdir():
        if p.name.startswith(".") or p.name in ("__pycache__", "figures") or p.suffix == ".ipynb":
            continue
        if p.is_dir():
            shutil.copytree(p, dst / p.name, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copy2(p, dst / p.name)


def _first_existing(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def stage_book(repo: Path, staging: Path, footer: str) -> Path:
    """Copy the book configuration, pages and bibliography into ``staging``; return the staged
    ``_config.yml``. The footer HTML is appended to ``html.extra_footer``."""
    import yaml

    config = _first_existing(repo / "_config.yml", repo / "book" / "_config.yml")
    toc = _first_existing(repo / "book" / "_toc.yml", repo / "_toc.yml")
    if config is None:
        raise LotusError(f"the book configuration is missing: expected {repo / '_config.yml'} (or book/_config.yml)")
    if toc is None:
        raise LotusError(f"the book's table of contents is missing: expected {repo / 'book' / '_toc.yml'} (or _toc.yml)")
    staging.mkdir(parents=True, exist_ok=True)
    if (repo / "book").is_dir():
        shutil.copytree(repo / "book", staging / "book", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__"))
    shutil.copy2(toc, staging / "_toc.yml")
    bib = _first_existing(repo / "references.bib", repo / "book" / "references.bib")
    if bib is not None:
        shutil.copy2(bib, staging / "references.bib")
    cfg = read_yaml_mapping(config, "book config")
    html = cfg.setdefault("html", {}) or {}
    cfg["html"] = html
    old = str(html.get("extra_footer") or "").strip()
    html["extra_footer"] = f"{old}\n{footer}".strip()
    execute = cfg.setdefault("execute", {}) or {}
    cfg["execute"] = execute
    execute["execute_notebooks"] = "off"
    staged = staging / "_config.yml"
    staged.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return staged


def _footer(profile_name: str, prov: dict, date: str) -> str:
    commit = prov.get("git_commit")
    commit_txt = f"<code>{commit[:10]}</code>" if commit else "an unknown commit"
    if prov.get("git_dirty"):
        commit_txt += " with uncommitted changes"
    return (f"<p>Executed with <code>lotus book --profile {profile_name}</code> on {date}, from {commit_txt} "
            f"(lotus {prov.get('lotus_version')}, torch {prov.get('torch_version')}), "
            f"on {prov.get('device_name')} ({prov.get('device')}).</p>")


def _jupyter_book() -> str:
    cand = Path(sys.executable).parent / "jupyter-book"
    if cand.is_file():
        return str(cand)
    found = shutil.which("jupyter-book")
    if not found:
        raise LotusError("jupyter-book is not installed; install the book extras: pip install 'lotus-unlearning[book]'")
    return found


def build_site(repo: Path, staging: Path) -> Path:
    """Run Jupyter Book 1 on ``staging``; the site lands in ``<repo>/_build/html``.

    Every page is rebuilt (``--all``): an incremental Sphinx build would not repeat the
    warnings of unchanged pages, and warnings must fail the build. The site is built in a
    folder of its own (``<repo>/_build/.site-build``) and replaces ``_build/html`` only when
    the build succeeds: a failed build leaves the previous site as it was, and a successful
    one leaves no page of an earlier build behind (Sphinx never deletes an output page, e.g.
    the source page of a module that was since renamed, with its links to anchors that no
    longer exist).
    """
    build_dir = repo / "_build"
    work, site, old = build_dir / ".site-build", build_dir / "html", build_dir / ".site-old"
    for leftover in (work, old):  # from an interrupted build
        shutil.rmtree(leftover, ignore_errors=True)
    cmd = [_jupyter_book(), "build", str(staging), "--path-output", str(work), "-W", "-n", "--keep-going", "--all"]
    logger.info("$ %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=str(repo))
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise BookError(f"jupyter-book build failed (exit status {proc.returncode}); the warnings above name the "
                        f"pages. The previous site in {site} is unchanged")
    if site.exists():
        site.rename(old)
    (work / "_build" / "html").rename(site)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return site


def run_book(profile: str = "cpu", *, only=None, build: bool = True, execute: bool = True, force: bool = False,
             keep_going: bool = False, repo=None, kernel: str = "python3", progress: bool | None = None) -> BookReport:
    """Execute the notebooks with ``profile`` and build the book (see the module docstring).

    ``only``: notebook names (or unique prefixes) to execute; ``build=False`` stops after
    execution; ``execute=False`` builds from the copies executed earlier; ``force`` starts
    from an empty staging folder and passes ``force=True`` to notebooks that declare it;
    ``keep_going`` executes the remaining notebooks after a failure (the run still fails);
    ``progress``: draw a cell-level progress bar on stderr (default: only when stderr is a
    terminal). Progress messages and the final time table go to the ``lotus.book.runner``
    logger (``logging.basicConfig(level="INFO")`` shows them outside the command line).
    Returns a :class:`BookReport`. Raises :class:`NotebookError` when a notebook fails (after
    the others with ``keep_going``), :class:`BookError` when the site build fails and
    :class:`LotusError` for bad input (unknown profile or notebook, missing book files).
    """
    prof = load_profile(profile)
    root = find_repo(repo)
    notebooks = list_notebooks(root)
    if not notebooks:
        raise LotusError(f"no notebooks in {root / 'notebooks'}")
    chosen = _select(notebooks, only)
    known = {nb.stem for nb in notebooks}
    stray = sorted(set(prof["chapters"]) - known)
    if stray:
        logger.warning("profile %r has overrides for unknown notebook(s) %s", prof["name"], stray)
    staging = root / STAGING
    if force and staging.exists():
        shutil.rmtree(staging)
    nb_dir = staging / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    _copy_support_files(root / "notebooks", nb_dir)
    try:
        prov = provenance(prof["settings"].get("device"))
    except LotusError:
        prov = provenance("cpu")
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs: list[NotebookRun] = []
    failures: list[str] = []
    if execute:
        if progress is None:
            progress = _isatty(sys.stderr)
        logger.info("executing %d notebook(s) with profile %r into %s", len(chosen), prof["name"], nb_dir)
        with _kernel_environment(root):
            for i, nb in enumerate(chosen, 1):
                params = notebook_parameters(prof, nb, force=force)
                out = nb_dir / nb.name
                if failures and not keep_going:
                    runs.append(NotebookRun(nb.stem, None, False, str(out), params, None))
                    continue
                title = _title(nb)
                logger.info("[%d/%d] %s%s: running", i, len(chosen), nb.stem, f" ({title})" if title else "")
                logger.debug("%s: parameters %s, working directory %s", nb.stem, params, nb_dir)
                t0 = time.perf_counter()
                try:
                    _execute(nb, out, params, nb_dir, kernel, progress=progress)
                    err = None
                except NotebookError as exc:
                    err = str(exc)
                seconds = time.perf_counter() - t0
                runs.append(NotebookRun(nb.stem, seconds, err is None, str(out), params, err))
                logger.info("[%d/%d] %s: %s in %.1f s", i, len(chosen), nb.stem, runs[-1].status, seconds)
                if err is None:
                    add_rerun_note(out, profile=_shown_profile(params, prof))
                else:
                    failures.append(err)
        logger.info("chapter times (profile %r):\n%s", prof["name"], time_table(runs))
    (staging / "book-provenance.json").write_text(json.dumps({
        "profile": prof["name"], "date": date, **prov,
        "notebooks": [{"name": r.name, "seconds": None if r.seconds is None else round(r.seconds, 2), "ok": r.ok,
                       "status": r.status, "parameters": r.parameters} for r in runs],
    }, indent=2, default=str) + "\n", encoding="utf-8")
    if failures:
        raise NotebookError("\n".join(failures))
    html = None
    if build:
        missing = [nb for nb in notebooks if not (nb_dir / nb.name).is_file()]
        if missing:
            logger.warning("not executed yet, copied without outputs: %s", ", ".join(nb.stem for nb in missing))
            for nb in missing:
                shutil.copy2(nb, nb_dir / nb.name)
                add_rerun_note(nb_dir / nb.name, profile=None)
        stage_book(root, staging, _footer(prof["name"], prov, date))
        html = build_site(root, staging)
        logger.info("book written to %s", html / "index.html")
    return BookReport(prof["name"], runs, build, str(html) if html else None, prov)
