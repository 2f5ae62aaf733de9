"""The hyper-parameter search behind a profile's ``hparams``: ``lotus tune``.

A profile's ``tune`` section (:data:`lotus.profiles.TUNE`) names a tuning seed, the chapter
whose settings the search runs under, and per method a grid of hyper-parameter values::

    tune:
      seed: 100                      # never one of the seeds of the reported tables
      chapter: 04_benchmark          # its forget set, budget (``unlearn``) and other settings
      max_test_drop: 0.10
      grid:
        lotus: {alpha: [2, 4, 8, 16], lr: [0.0003, 0.001, 0.003]}
        ssd: {alpha: [10, 20, 50], lam: [1.0]}

:func:`tune_configs` turns it into one :class:`~lotus.experiment.ExperimentConfig` per method
and grid point (all combinations), plus the ``original`` and ``gold`` rows of the tuning seed;
:func:`run_tune` runs them through :func:`lotus.experiment.run_grid` (every record is stored,
so an interrupted search resumes) and :func:`best_settings` picks, per method, the setting
with the lowest **Avg Gap to the gold model** on the tuning seed (the paper's headline score:
the mean of the absolute differences ``|method − gold|`` over MIA, forget, retain and test accuracy), among the settings
whose test accuracy stays within ``max_test_drop`` of the original model's. A method none of
whose settings stays within that limit gets its lowest-Avg-Gap setting, flagged
(``within_limit`` False): collapse is then what the method does on this problem.

The shared budget (the profile's ``unlearn``, e.g. ``{epochs: 3, batch_size: 64}``) is not
searched: every method keeps the same number of passes over its own data.

>>> from lotus.tune import run_tune
>>> result = run_tune("tiny")                 # doctest: +SKIP
>>> result.best                               # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from .experiment import PSEUDO_METHODS, ExperimentConfig, benchmark_methods, configs_from_settings, run_grid
from .methods import get_method
from .profiles import load_profile, resolve
from .results import ResultsStore
from .utils import LotusError, cache_dir, to_plain

__all__ = ["TuneResult", "tune_plan", "tune_configs", "run_tune", "best_settings", "hparams_yaml", "CRITERION"]

#: what the search minimises, in words (printed with its winners)
CRITERION = ("Avg Gap to the gold model on the tuning seed: the mean of |method - gold| over MIA, forget, "
             "retain and test accuracy (the paper's headline score; lower is better)")

_SHOWN = ["acc_forget", "acc_retain", "acc_test", "mia", "avg_gap", "test_drop", "unlearn_seconds"]


def _profile(profile) -> dict:
    return profile if isinstance(profile, dict) else load_profile(profile)


def tune_plan(profile, *, methods: Sequence[str] | None = None) -> dict:
    """The search of ``profile`` (a name, path or :func:`~lotus.profiles.load_profile` dict):
    ``{"seed", "chapter", "max_test_drop", "grid", "settings"}`` where ``grid`` holds only
    ``methods`` (default: every method of the profile's grid) and ``settings`` are the
    chapter's resolved settings. Unknown methods or hyper-parameters are an error."""
    prof = _profile(profile)
    tune = prof["tune"]
    grid = {m: dict(space or {}) for m, space in (tune.get("grid") or {}).items()}
    if methods is not None:
        missing = sorted(set(methods) - set(grid))
        if missing:
            raise LotusError(f"no tuning grid for method(s) {missing} in profile {prof['name']!r}; "
                             f"it has: {', '.join(sorted(grid)) or '(none)'}")
        grid = {m: grid[m] for m in methods}
    if not grid:
        raise LotusError(f"profile {prof['name']!r} has no tune.grid: nothing to search")
    for m in grid:
        if m in PSEUDO_METHODS:
            raise LotusError(f"{m!r} has no hyper-parameters to search")
    settings = resolve(prof, tune["chapter"])
    for m, space in grid.items():
        known = get_method(m).default_hparams(settings["model"], settings["dataset"])
        bad = sorted(set(space) - set(known))
        if bad:
            raise LotusError(f"tune.grid.{m}: unknown hyper-parameter(s) {bad}; valid: {', '.join(sorted(known))}")
    seed = int(tune["seed"])
    if seed in [int(s) for s in settings["seeds"]]:
        raise LotusError(f"the tuning seed {seed} is one of the reported seeds {settings['seeds']}; choose another")
    return {"seed": seed, "chapter": tune["chapter"], "max_test_drop": float(tune["max_test_drop"]),
            "grid": grid, "settings": settings}


def _points(space: dict) -> list[dict]:
    names = list(space)
    return [dict(zip(names, values)) for values in itertools.product(*(space[n] for n in names))]


def tune_configs(profile, *, methods: Sequence[str] | None = None, seed: int | None = None) -> list[ExperimentConfig]:
    """One configuration per (method, grid point) of the search, after the ``original`` and
    ``gold`` rows of the tuning seed. Each point overrides the method's hyper-parameters of
    the chapter's settings (its shared budget and profile ``hparams``) for the searched names
    only."""
    plan = tune_plan(profile, methods=methods)
    seed = plan["seed"] if seed is None else int(seed)
    settings = plan["settings"]
    cfgs = configs_from_settings(settings, methods=list(PSEUDO_METHODS), seeds=[seed])
    for method in benchmark_methods(list(plan["grid"])):
        known = get_method(method).default_hparams(settings["model"], settings["dataset"])
        # the shared budget names this method has (SSD has no epochs), as the benchmark gives them
        budget = {k: v for k, v in (settings.get("unlearn") or {}).items() if k in known}
        for point in _points(plan["grid"][method]):
            own = {**(settings["hparams"].get(method) or {}), **point}
            changed = dict(settings, unlearn=budget, hparams={**settings["hparams"], method: own})
            cfgs += configs_from_settings(changed, methods=[method], seeds=[seed])
    return cfgs


@dataclass
class TuneResult:
    """Every record of a search (``records``, with ``test_drop`` and the searched values as
    columns ``hp.<name>``), the winners (``best``, one row per method) and the plan."""

    records: pd.DataFrame
    best: pd.DataFrame
    plan: dict


def _searched(records: pd.DataFrame, grid: dict) -> pd.DataFrame:
    out = records.copy()
    names = sorted({n for space in grid.values() for n in space})
    for n in names:
        out[f"hp.{n}"] = [h.get(n) if m in grid and n in grid[m] else None
                          for m, h in zip(out["method"], out["hparams"])]
    return out


def best_settings(records: pd.DataFrame, grid: dict, *, max_test_drop: float = 0.10,
                  criterion: str = "avg_gap") -> pd.DataFrame:
    """Per method of ``grid``, the searched values with the lowest ``criterion`` among its
    records whose ``test_drop`` is at most ``max_test_drop`` (else among all its records,
    ``within_limit`` False). Columns: ``method``, ``setting`` (the searched values),
    ``runs``, ``within_limit`` and the metrics of the chosen record. Ties keep grid order."""
    rows = []
    for method, space in grid.items():
        part = records[records["method"] == method]
        if len(part) == 0:
            continue
        ok = part[part["test_drop"] <= max_test_drop + 1e-12]
        pool = ok if len(ok) else part
        best = pool.loc[pool[criterion].astype(float).idxmin()]
        setting = {n: to_plain(best["hparams"].get(n)) for n in space}
        rows.append({"method": method, "setting": setting, "runs": len(part), "within_limit": bool(len(ok)),
                     **{k: float(best[k]) for k in _SHOWN if k in best}})
    return pd.DataFrame(rows).set_index("method") if rows else pd.DataFrame()


def run_tune(profile, store: ResultsStore | None = None, *, methods: Sequence[str] | None = None,
             seed: int | None = None, force: bool = False, progress: bool = True) -> TuneResult:
    """Run the search of ``profile`` (stored records are reused unless ``force``) and pick the
    winners (:func:`best_settings`). ``store`` defaults to the profile's results store
    (``results_dir``, else ``$LOTUS_CACHE/results``)."""
    plan = tune_plan(profile, methods=methods)
    if seed is not None:
        plan["seed"] = int(seed)
    if store is None:
        d = plan["settings"].get("results_dir")
        store = ResultsStore(d if d else cache_dir() / "results")
    cfgs = tune_configs(profile, methods=methods, seed=plan["seed"])
    records = run_grid(cfgs, store, force=force, progress=progress)
    orig = records[records["method"] == "original"]
    if len(orig) != 1:
        raise LotusError("the search needs exactly one original-model record")
    records["test_drop"] = float(orig["acc_test"].iloc[0]) - records["acc_test"].astype(float)
    records = _searched(records, plan["grid"])
    best = best_settings(records, plan["grid"], max_test_drop=plan["max_test_drop"])
    records.attrs["store"] = str(store.root)
    return TuneResult(records=records, best=best, plan=plan)


def hparams_yaml(result: TuneResult, *, command: str, date: str) -> str:
    """The winners as the ``hparams`` lines of a profile, with a comment naming the search.
    A method's values the search did not touch (the profile's other ``hparams``) are kept."""
    p = result.plan
    lines = [f"  # {command} (seed {p['seed']}, {p['chapter']} settings, {date}): per method the lowest",
             f"  # Avg Gap to the gold model with test accuracy at most {p['max_test_drop']:g} below the original's"]
    lines.append("  hparams:")
    current = p["settings"].get("hparams") or {}
    for method in [*result.best.index, *(m for m in current if m not in result.best.index)]:
        row = result.best.loc[method] if method in result.best.index else None
        setting = {**(current.get(method) or {}), **(row["setting"] if row is not None else {})}
        values = ", ".join(f"{k}: {to_plain(v)}" for k, v in setting.items())
        flag = "" if row is None or row["within_limit"] else "   # no setting within the test-accuracy limit"
        lines.append(f"    {method}: {{{values}}}{flag}")
    return "\n".join(lines)
