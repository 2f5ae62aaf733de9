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

__all__ = ["SETTINGS", "PROFILE_DIR", "list_profiles", "load_profile", "resolve", "chapter_parameters",
           "check_settings"]

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

#: ``minutes``: the measured time of ``lotus book`` from scratch (the profile's comments say where)
_SECTIONS = ("description", "extends", "minutes", "settings", "chapters")
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
    parent = prof.get("extends")
    if parent is not None:
        base = path.parent if Path(str(parent)).suffix else None
        ref = base / str(parent) if base is not None and not Path(str(parent)).is_absolute() else parent
        return _load_raw(ref, seen + (path,)) + [(path, prof)]
    return [(path, prof)]


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
    chain applied: ``{"name", "path", "description", "settings", "chapters"}``."""
    chain = _load_raw(name)
    settings = copy.deepcopy(SETTINGS)
    chapters: dict[str, dict] = {}
    description = ""
    minutes = None
    for _, prof in chain:
        minutes = prof.get("minutes", minutes)
        _merge(settings, prof.get("settings") or {})
        for ch, entry in (prof.get("chapters") or {}).items():
            chapters[str(ch)] = _merge(chapters.get(str(ch), {}), entry or {})
        description = " ".join(str(prof.get("description") or description).split())
    path, _ = chain[-1]
    return {"name": path.stem, "path": str(path), "description": description, "minutes": minutes,
            "settings": settings, "chapters": chapters}


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
    return check_settings(_merge(settings, overrides), where=(prof or {}).get("path") or "settings")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_settings(settings: dict, where: str = "settings") -> dict:
    """Check the types of resolved settings (:data:`SETTINGS`) and return them.

    Names (data set, model, methods) and values (hyper-parameters, the recipe, the device)
    are checked when the configurations are built (:meth:`lotus.experiment.ExperimentConfig.validate`);
    here each setting must have the right shape: ``seeds`` integers >= 0, ``methods`` a name
    or a list of names, the option settings mappings, ``force`` true/false, folders text.
    A :class:`LotusError` names the setting, the value and ``where`` (the profile file).
    """
    def bad(name, want):
        return LotusError(f"{where}: setting {name} must be {want}, got {settings[name]!r}")

    for name in ("dataset", "model"):
        if not isinstance(settings.get(name), str) or not settings[name].strip():
            raise bad(name, "a name")
    for name in ("data", "model_kwargs", "train", "unlearn", "hparams", "eval"):
        if settings.get(name) is None:
            settings[name] = {}
        if not isinstance(settings[name], dict):
            raise bad(name, "a mapping (key: value)")
    for method, hp in settings["hparams"].items():
        if not isinstance(hp or {}, dict):
            raise LotusError(f"{where}: hparams of {method!r} must be a mapping (name: value), got {hp!r}")
    seeds = settings.get("seeds")
    seed_list = seeds if isinstance(seeds, (list, tuple)) else [seeds]
    if not seed_list or not all(_is_int(s) and s >= 0 for s in seed_list):
        raise bad("seeds", "an integer >= 0 or a list of them (e.g. [0, 1, 2])")
    methods = settings.get("methods")
    if not (isinstance(methods, str) or (isinstance(methods, (list, tuple)) and methods
                                         and all(isinstance(m, str) for m in methods))):
        raise bad("methods", "a method name, a list of names, or all")
    forget = settings.get("forget")
    forgets = forget if isinstance(forget, (list, tuple)) else [forget]
    if not forgets or not all(isinstance(f, (str, float, int)) and not isinstance(f, bool) for f in forgets):
        raise bad("forget", "a forget spec (0.1, count:5, class:cat) or a list of them")
    for name in ("data_root", "results_dir", "cache_dir", "device"):
        if settings.get(name) is not None and not isinstance(settings[name], (str, os.PathLike)):
            raise bad(name, "text (or null)")
    if not isinstance(settings.get("force"), bool):
        raise bad("force", "true or false")
    return settings
