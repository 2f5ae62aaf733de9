"""Profiles: named, inheriting bundles of settings, the one home of every run setting.

A profile is a YAML file in this folder (``tiny``, ``cpu``, ``paper``) or anywhere on disk::

    description: ...
    extends: _base          # optional: start from another profile, then change what differs
    minutes: 25             # optional: measured minutes of `lotus book` from scratch
    settings:               # what `lotus run` and every chapter use
      dataset: cifar10
      data: {max_train_per_class: 500}
      model: small_cnn
      ...
    chapters:               # per chapter: overrides of settings and the chapter's own parameters
      05_forget_50: {forget: 0.5}
    tune:                   # optional: the hyper-parameter search of `lotus tune` (:mod:`lotus.tune`)
      seed: 100
      grid: {lotus: {alpha: [2, 4, 8, 16], lr: [0.0003, 0.001, 0.003]}}

:func:`resolve` merges, in order: the ``settings`` of every profile of the ``extends`` chain
(parents first), the chapter's entries of that chain, then the caller's overrides. A key
replaces the inherited value, except ``hparams`` (merged per method) and ``unlearn`` (merged
per key). Changing ``dataset`` (or ``model``) without giving ``data`` (or ``model_kwargs``)
drops the inherited options, which belong to the inherited data set (model).

The settings (:data:`SETTINGS`):

``dataset``, ``data``, ``data_root``
    :func:`lotus.load_splits` name, its options, and where the data lie (``None``:
    ``$LOTUS_DATA``; not part of any result's identity).
``model``, ``model_kwargs``, ``train``
    :func:`lotus.create_model` name and options; :class:`lotus.train.TrainRecipe` overrides on
    top of the model's registered recipe.
``forget``, ``seeds``, ``methods``
    forget specification, seeds and methods (``"all"``: every method of the benchmark).
``unlearn``, ``hparams``
    hyper-parameters given to every unlearning method that has them (the shared budget, e.g.
    ``{epochs: 3}``), then per-method overrides ``{lotus: {alpha: 8}}``.
``eval``, ``device``, ``results_dir``, ``cache_dir``, ``force``
    :func:`lotus.evaluate` options, the device (``None``: CUDA if available), the results
    store (relative to the project folder; ``None``: ``$LOTUS_CACHE/results``), the checkpoint
    cache (``None``: ``$LOTUS_CACHE/checkpoints``), and whether stored results are re-run.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from ..utils import LotusError, read_yaml_mapping

__all__ = ["SETTINGS", "TUNE", "PROFILE_DIR", "list_profiles", "load_profile", "resolve", "chapter_parameters"]

PROFILE_DIR = Path(__file__).resolve().parent

#: every setting a profile may hold, with its value when no profile sets it
SETTINGS = {
    "dataset": "digits",
    "data": {},
    "data_root": None,
    "model": "small_cnn",
    "model_kwargs": {},
    "train": {},
    "forget": 0.1,
    "seeds": [0],
    "methods": ["lotus"],
    "unlearn": {},
    "hparams": {},
    "eval": {},
    "device": None,
    "results_dir": "results/runs",
    "cache_dir": None,
    "force": False,
}

#: the ``tune`` section (:mod:`lotus.tune`), with its values when no profile sets them:
#: ``seed``, the tuning seed (never among the seeds of the reported tables); ``chapter``, whose
#: settings the search runs under (its forget set, budget and methods' other hyper-parameters);
#: ``max_test_drop``, the most a chosen setting may lower test accuracy below the original
#: model's; ``grid``, per method the values of each hyper-parameter searched (all
#: combinations). ``grid`` merges per method and then per hyper-parameter, like ``hparams``.
TUNE = {
    "seed": 100,
    "chapter": "04_benchmark",
    "max_test_drop": 0.10,
    "grid": {},
}

#: ``minutes``: the measured time of ``lotus book`` from scratch (the profile's comments say where)
_SECTIONS = ("description", "extends", "minutes", "settings", "chapters", "tune")
#: settings merged key by key (``hparams`` per method) instead of replaced
_MERGED = ("hparams", "unlearn")
#: a setting whose options belong to another setting's choice
_DEPENDENT = {"dataset": "data", "model": "model_kwargs"}


def _path_of(name: str | os.PathLike) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise LotusError(f"unknown profile {str(name)!r}; valid: {', '.join(list_profiles())} "
                         "(or a path to a .yaml file)")
    return path


def _load_raw(name, seen: tuple = ()) -> list[tuple[Path, dict]]:
    """The profile and its ``extends`` chain, parents first, each checked."""
    path = _path_of(name)
    if path in seen:
        raise LotusError(f"profile {path} extends itself (through {' -> '.join(str(p) for p in seen)})")
    prof = read_yaml_mapping(path, "profile")
    unknown = sorted(set(prof) - set(_SECTIONS))
    if unknown:
        raise LotusError(f"profile {path}: unknown section(s) {unknown}; valid: {', '.join(_SECTIONS)}")
    for sec in ("settings", "chapters"):
        if not isinstance(prof.get(sec) or {}, dict):
            raise LotusError(f"profile {path}: section {sec!r} must be a mapping")
    bad = sorted(set(prof.get("settings") or {}) - set(SETTINGS))
    if bad:
        raise LotusError(f"profile {path}: unknown setting(s) {bad}; valid: {', '.join(SETTINGS)}")
    for ch, entry in (prof.get("chapters") or {}).items():
        if not isinstance(entry or {}, dict):
            raise LotusError(f"profile {path}: chapter {ch!r} must map settings to values")
    _check_tune(path, prof.get("tune"))
    parent = prof.get("extends")
    if parent is not None:
        base = path.parent if Path(str(parent)).suffix else None
        ref = base / str(parent) if base is not None and not Path(str(parent)).is_absolute() else parent
        return _load_raw(ref, seen + (path,)) + [(path, prof)]
    return [(path, prof)]


def _check_tune(path: Path, tune) -> None:
    if tune is None:
        return
    if not isinstance(tune, dict):
        raise LotusError(f"profile {path}: section 'tune' must be a mapping")
    bad = sorted(set(tune) - set(TUNE))
    if bad:
        raise LotusError(f"profile {path}: unknown tune key(s) {bad}; valid: {', '.join(TUNE)}")
    grid = tune.get("grid") or {}
    if not isinstance(grid, dict):
        raise LotusError(f"profile {path}: tune.grid must map methods to {{hyper-parameter: [values]}}")
    for method, space in grid.items():
        if not isinstance(space or {}, dict):
            raise LotusError(f"profile {path}: tune.grid.{method} must map hyper-parameters to lists of values")
        for name, values in (space or {}).items():
            if not isinstance(values, list) or not values:
                raise LotusError(f"profile {path}: tune.grid.{method}.{name} must be a non-empty list, got {values!r}")


def _merge_tune(into: dict, new: dict | None) -> dict:
    for key, value in (new or {}).items():
        if key == "grid":
            grid = copy.deepcopy(into.get("grid") or {})
            for method, space in (value or {}).items():
                grid[method] = {**(grid.get(method) or {}), **copy.deepcopy(space or {})}
            into["grid"] = grid
        else:
            into[key] = copy.deepcopy(value)
    return into


def _merge(into: dict, new: dict) -> dict:
    for key, value in (new or {}).items():
        value = copy.deepcopy(value)
        if key in _DEPENDENT and _DEPENDENT[key] not in new and into.get(key) not in (None, value):
            into[_DEPENDENT[key]] = {}
        if key == "hparams" and isinstance(value, dict) and isinstance(into.get(key), dict):
            merged = copy.deepcopy(into[key])
            for method, hp in value.items():
                merged[method] = {**(merged.get(method) or {}), **(hp or {})}
            into[key] = merged
        elif key in _MERGED and isinstance(value, dict) and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        else:
            into[key] = value
    return into


def list_profiles() -> list[str]:
    """Names of the profiles shipped with the package (``_``-prefixed bases excluded)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def load_profile(name: str | os.PathLike) -> dict:
    """A profile by name (``tiny``, ``cpu``, ``paper``) or YAML path, with its ``extends``
    chain applied: ``{"name", "path", "description", "minutes", "settings", "chapters", "tune"}``."""
    chain = _load_raw(name)
    settings = copy.deepcopy(SETTINGS)
    tune = copy.deepcopy(TUNE)
    chapters: dict[str, dict] = {}
    description = ""
    minutes = None
    for _, prof in chain:
        minutes = prof.get("minutes", minutes)
        _merge(settings, prof.get("settings") or {})
        _merge_tune(tune, prof.get("tune"))
        for ch, entry in (prof.get("chapters") or {}).items():
            chapters[str(ch)] = _merge(chapters.get(str(ch), {}), entry or {})
        description = " ".join(str(prof.get("description") or description).split())
    path, _ = chain[-1]
    return {"name": path.stem, "path": str(path), "description": description, "minutes": minutes,
            "settings": settings, "chapters": chapters, "tune": tune}


def chapter_parameters(profile: dict, chapter: str) -> dict:
    """The chapter's own parameters under ``profile`` (its entries that are not settings)."""
    return {k: v for k, v in profile["chapters"].get(chapter, {}).items() if k not in SETTINGS}


def resolve(profile: str | os.PathLike | dict | None = None, chapter: str | None = None, **overrides) -> dict:
    """The settings of ``profile`` (a name, a path, a :func:`load_profile` dict or ``None``
    for the package defaults), with the entries of ``chapter`` and then ``overrides`` applied.

    Returns a plain dict of every :data:`SETTINGS` key plus the chapter's own parameters.
    An override of a name that is neither a setting nor a parameter of the chapter is an error
    that lists the valid names (so a typo never passes silently).
    """
    prof = profile if isinstance(profile, dict) else (load_profile(profile) if profile is not None else None)
    settings = copy.deepcopy(prof["settings"]) if prof else copy.deepcopy(SETTINGS)
    if chapter is not None:
        if prof and chapter in prof["chapters"]:
            _merge(settings, prof["chapters"][chapter])
    valid = set(settings)
    unknown = sorted(set(overrides) - valid)
    if unknown:
        where = f" of chapter {chapter!r}" if chapter else ""
        raise LotusError(f"unknown setting(s) {unknown}{where}; valid: {', '.join(sorted(valid))}")
    return _merge(settings, overrides)
