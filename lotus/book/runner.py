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
3. ``jupyter-book build _build/book-src --path-output <repo> -W -n --keep-going --all``
   writes the site to ``<repo>/_build/html/`` (warnings are errors, every page is rebuilt).

A failing notebook stops the run with a message naming the notebook and the cell; the
executed copy, with the traceback, stays in ``_build/book-src/notebooks/``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..profiles import PROFILE_DIR, load_profile
from ..results import provenance
from ..utils import LotusError, read_yaml_mapping

__all__ = ["BookError", "NotebookError", "run_book", "list_notebooks", "find_repo", "notebook_parameters", "BookReport",
           "NotebookRun", "PROJECT_ENV"]

STAGING = Path("_build") / "book-src"
#: environment variable naming the project folder to the executed chapters
PROJECT_ENV = "LOTUS_PROJECT_DIR"


class BookError(LotusError):
    """Executing the notebooks or building the site failed (not a usage error)."""


class NotebookError(BookError):
    """A notebook raised while being executed (the message names the notebook and the cell)."""


@dataclass
class NotebookRun:
    name: str
    seconds: float
    ok: bool
    output: str
    parameters: dict = field(default_factory=dict)
    error: str | None = None


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


def _execute(notebook: Path, output: Path, params: dict, cwd: Path, kernel: str) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=params, kernel_name=kernel,
                                   cwd=str(cwd), progress_bar=False, log_output=False)
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


def build_site(repo: Path, staging: Path, *, log: Callable = print) -> Path:
    """Run Jupyter Book 1 on ``staging``; the site lands in ``<repo>/_build/html``.

    Every page is rebuilt (``--all``): an incremental Sphinx build would not repeat the
    warnings of unchanged pages, and warnings must fail the build.
    """
    cmd = [_jupyter_book(), "build", str(staging), "--path-output", str(repo), "-W", "-n", "--keep-going", "--all"]
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=str(repo))
    if proc.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit status {proc.returncode}); the warnings above name the pages")
    return repo / "_build" / "html"


def run_book(profile: str = "cpu", *, only=None, build: bool = True, execute: bool = True, force: bool = False,
             keep_going: bool = False, repo=None, kernel: str = "python3", log: Callable = print) -> BookReport:
    """Execute the notebooks with ``profile`` and build the book (see the module docstring).

    ``only``: notebook names (or unique prefixes) to execute; ``build=False`` stops after
    execution; ``execute=False`` builds from the copies executed earlier; ``force`` starts
    from an empty staging folder and passes ``force=True`` to notebooks that declare it;
    ``keep_going`` executes the remaining notebooks after a failure (the run still fails).
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
        log(f"warning: profile {prof['name']!r} has overrides for unknown notebook(s) {stray}")
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
        log(f"executing {len(chosen)} notebook(s) with profile {prof['name']!r} into {nb_dir}")
        t_all = time.perf_counter()
        with _kernel_environment(root):
            for i, nb in enumerate(chosen, 1):
                params = notebook_parameters(prof, nb, force=force)
                out = nb_dir / nb.name
                t0 = time.perf_counter()
                try:
                    _execute(nb, out, params, nb_dir, kernel)
                    err = None
                except NotebookError as exc:
                    err = str(exc)
                seconds = time.perf_counter() - t0
                runs.append(NotebookRun(nb.stem, seconds, err is None, str(out), params, err))
                status = "ok" if err is None else "FAILED"
                log(f"[{i}/{len(chosen)}] {nb.stem}: {status} in {seconds:.1f} s")
                if err is not None:
                    failures.append(err)
                    if not keep_going:
                        break
        log(f"notebooks: {time.perf_counter() - t_all:.1f} s in total")
    (staging / "book-provenance.json").write_text(json.dumps({
        "profile": prof["name"], "date": date, **prov,
        "notebooks": [{"name": r.name, "seconds": round(r.seconds, 2), "ok": r.ok, "parameters": r.parameters}
                      for r in runs],
    }, indent=2, default=str) + "\n", encoding="utf-8")
    if failures:
        raise NotebookError("\n".join(failures))
    html = None
    if build:
        missing = [nb for nb in notebooks if not (nb_dir / nb.name).is_file()]
        if missing:
            log("warning: not executed yet, copied without outputs: " + ", ".join(nb.stem for nb in missing))
            for nb in missing:
                shutil.copy2(nb, nb_dir / nb.name)
        stage_book(root, staging, _footer(prof["name"], prov, date))
        html = build_site(root, staging, log=log)
        log(f"book written to {html / 'index.html'}")
    return BookReport(prof["name"], runs, build, str(html) if html else None, prov)
