"""What a chapter of the book needs, in one call: :func:`chapter`.

Every notebook starts with a ``parameters`` cell that papermill may override (``profile``,
``overrides``, ``output_dir``), then::

    ch = lotus.book.chapter(profile, "04_benchmark", output_dir=output_dir, **overrides)
    prep = ch.prepare()            # splits, f_orig, f_gold of the first seed (cached checkpoints)
    records = ch.run()             # every method x seed of the chapter, stored and reused

The settings come from the profile (:mod:`lotus.profiles`): its ``settings``, its entries
for this chapter, then ``overrides``. Relative paths of the profile (``results_dir``, the
chapters' extra results folders) are taken relative to the project folder: ``$LOTUS_PROJECT_DIR``
(set by ``lotus book``), else the checkout holding the current folder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from .. import plots
from ..experiment import (
    Prepared,
    benchmark_methods,
    configs_from_settings,
    load_kwargs,
    method_hparams,
    prepare,
    run_grid,
)
from ..paper import closest_benchmark
from ..profiles import CLASS_UNLEARNING, load_profile, published_reference, resolve
from ..results import ResultsStore, summarize
from ..utils import LotusError, cache_dir
from .runner import project_folder

__all__ = ["Chapter", "chapter", "project_dir"]


def project_dir() -> Path:
    """The project folder relative paths refer to (:func:`lotus.book.runner.project_folder`),
    else the current folder."""
    return project_folder() or Path.cwd()


class Chapter:
    """The resolved settings of one chapter under one profile, and the calls it makes.

    ``ch["name"]`` (or ``ch.settings["name"]``) reads a setting or a chapter parameter.
    """

    def __init__(self, profile: str, name: str, settings: dict, output_dir: str | os.PathLike,
                 reference: dict | None = None):
        self.profile = str(profile)
        self.name = name
        self.settings = settings
        self.output_dir = Path(output_dir)
        self.reference = reference

    def __getitem__(self, key: str):
        if key not in self.settings:
            raise LotusError(f"chapter {self.name!r} has no setting {key!r}; valid: {', '.join(sorted(self.settings))}")
        return self.settings[key]

    def __repr__(self) -> str:
        return f"Chapter({self.name!r}, profile={self.profile!r})"

    # -- what the chapter runs ----------------------------------------------------------

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self.settings["seeds"]]

    @property
    def seed(self) -> int:
        """The first seed (single-run illustrations use it)."""
        return self.seeds[0]

    @property
    def methods(self) -> list[str]:
        """The chapter's methods in the paper's column order (``all`` expanded)."""
        return benchmark_methods(self.settings["methods"])

    @property
    def device(self):
        return self.settings.get("device")

    @property
    def benchmark(self) -> str | None:
        """The named benchmark of the chapter (the setting ``benchmark``; ``None``: none)."""
        return self.settings.get("benchmark")

    @property
    def published_benchmark(self) -> str | None:
        """The published benchmark key (:func:`lotus.paper.list_benchmarks`) the chapter
        compares with: the named benchmark's ``published`` key when one is set (``None`` for
        class unlearning, whose results :func:`lotus.paper.published_class_unlearning` holds),
        else :func:`lotus.paper.closest_benchmark` of the chapter's data set, model and forget
        set. ``reference`` holds the named benchmark's published row and number."""
        if self.reference is not None:
            key = self.reference["published"]
            return None if key == CLASS_UNLEARNING else key
        return closest_benchmark(self.settings["dataset"], self.settings["model"], self.settings["forget"])

    def describe(self) -> str:
        s = self.settings
        return (f"profile {self.profile}: {s['dataset']} / {s['model']} / forget {s['forget']}, "
                f"seeds {self.seeds}, methods {', '.join(self.methods)}")

    def path(self, p: str | os.PathLike) -> Path:
        """``p`` with ``~`` expanded; a relative path is taken relative to :func:`project_dir`."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else project_dir() / p

    @property
    def store(self) -> ResultsStore:
        """The results store of the profile (``results_dir``; ``None``: ``$LOTUS_CACHE/results``)."""
        d = self.settings.get("results_dir")
        return ResultsStore(self.path(d) if d else cache_dir() / "results")

    @property
    def data_kwargs(self) -> dict:
        """The :func:`lotus.load_splits` options of the chapter (``data`` plus the data root)."""
        return load_kwargs(self.settings)

    def hparams(self, method: str) -> dict:
        """The hyper-parameter overrides of ``method`` (the shared budget, then its own)."""
        return method_hparams(method, self.settings)

    def configs(self, *, methods=None, seeds=None, forget=None, **changes):
        """The :class:`~lotus.experiment.ExperimentConfig` of every (forget, seed, method)."""
        settings = resolve(dict_profile(self.settings), **changes) if changes else self.settings
        return configs_from_settings(settings, methods=methods, seeds=seeds, forget=forget)

    def prepare(self, seed: int | None = None, **changes) -> Prepared:
        """Splits, original and gold models of ``seed`` (default: the first seed); trained once,
        then loaded from the checkpoint cache."""
        cfg = self.configs(methods=["original"], seeds=[self.seed if seed is None else int(seed)], **changes)[0]
        return prepare(cfg, progress=False)

    def run(self, *, methods=None, seeds=None, forget=None, always=("original", "gold", "lotus"),
            **changes) -> pd.DataFrame:
        """Every configuration of the chapter through :func:`lotus.experiment.run_grid`: stored
        records are reused (unless the setting ``force``), new ones are stored. The methods
        ``always`` are added to the chapter's (the tables compare with them).

        Records made by another lotus version are reused but reported: a warning in the
        chapter's output (one per record and one summing up), and their ``stale`` column says where they come from."""
        methods = benchmark_methods(self.settings["methods"] if methods is None else methods, always=always)
        cfgs = self.configs(methods=methods, seeds=seeds, forget=forget, **changes)
        records = run_grid(cfgs, self.store, progress=False, force=bool(self.settings.get("force")))
        stale = records.attrs.get("stale") or []
        if stale:
            example = next(v for v in records["stale"] if isinstance(v, str) and v)
            warnings.warn(f"{len(stale)} of these {len(records)} results were made by another lotus version and "
                          f"are shown as stored ({example}); with the setting force: true they are recomputed.",
                          stacklevel=2)
        return records

    # -- what the chapter shows ---------------------------------------------------------

    def summary(self, records: pd.DataFrame) -> pd.DataFrame:
        """:func:`lotus.results.summarize` of one benchmark's records, indexed by method."""
        table = summarize(records)
        return table.droplevel([n for n in table.index.names if n != "method"])

    def save(self, fig, name: str) -> Path:
        """Save ``fig`` as ``<output_dir>/<name>.png`` (the figures the book lists)."""
        return plots.save_figure(fig, self.output_dir, name)


def dict_profile(settings: dict) -> dict:
    """A :func:`lotus.profiles.load_profile`-shaped dict holding ``settings`` (to re-resolve them)."""
    return {"name": "", "path": "", "description": "", "settings": settings, "chapters": {}}


def chapter(profile: str | os.PathLike = "cpu", name: str | None = None, *, output_dir: str | os.PathLike | None = None,
            **overrides) -> Chapter:
    """The :class:`Chapter` ``name`` under ``profile``, with ``overrides`` of its settings.

    ``output_dir``: where figures go (default ``figures/<name>``). Sets the book's plot style.
    An override that is neither a setting nor a parameter of the chapter is an error naming
    the valid ones.
    """
    if not name:
        raise LotusError("chapter() needs the chapter's name, e.g. chapter('cpu', '04_benchmark')")
    prof = profile if isinstance(profile, dict) else load_profile(profile)
    settings = resolve(prof, name, **overrides)
    reference = published_reference(settings["benchmark"], prof) if settings.get("benchmark") else None
    plots.set_style()
    return Chapter(Path(str(profile)).stem, name, settings, output_dir or Path("figures") / name, reference)
