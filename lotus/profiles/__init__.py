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
    benchmarks:             # named benchmarks: the settings of one experiment of the paper
      vit-cifar100-10:
        published: vit-cifar100-10      # its key in lotus/published/benchmarks.csv (lotus.paper)
        dataset: cifar100
        model: vit_b16
        forget: 0.1
    tune:                   # optional: the hyper-parameter search of `lotus tune` (:mod:`lotus.tune`)
      seed: 100
      grid: {lotus: {alpha: [2, 4, 8, 16], lr: [0.0003, 0.001, 0.003]}}

:func:`resolve` merges, in order: the ``settings`` of every profile of the ``extends`` chain
(parents first), the chapter's entries of that chain, the named benchmark's entries (when the
setting ``benchmark`` names one), then the caller's overrides. A key replaces the inherited
value, except ``hparams`` (merged per method) and ``unlearn`` (merged per key). Changing
``dataset`` (or ``model``) without giving ``data`` (or ``model_kwargs``) drops the inherited
options, which belong to the inherited data set (model).

Named benchmarks (:func:`list_benchmarks`, :func:`benchmark_table`; the ``paper`` profile
defines one per experiment of the paper) hold settings, chapter parameters (applied to the
chapters that have them, e.g. the large-scale chapter's ``pretrained_original``) and what they
compare with: ``published``, a key of :func:`lotus.paper.list_benchmarks` (or
``class_unlearning``: the authors' class-unlearning results for the benchmark's data set and
class), ``row``, the method row of that published table the benchmark reproduces (default
``lotus``), and a one-line ``description``. They state no published number: those stay in
:mod:`lotus.paper`.

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
``benchmark``
    a named benchmark of the profile (``None``: none): its entries are applied after the
    chapter's, before the caller's overrides (``resolve("paper", benchmark="vit-cifar100-10")``).
``eval``, ``device``, ``results_dir``, ``cache_dir``, ``force``
    :func:`lotus.evaluate` options, the device (``None``: CUDA if available), the results
    store (relative to the project folder; ``None``: ``$LOTUS_CACHE/results``), the checkpoint
    cache (``None``: ``$LOTUS_CACHE/checkpoints``), and whether stored results are re-run.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pandas as pd

from .. import paper
from ..data import parse_forget_spec
from ..methods import get_method, list_methods
from ..train import paper_recipe
from ..utils import LotusError, read_yaml_mapping

__all__ = ["SETTINGS", "TUNE", "PROFILE_DIR", "list_profiles", "load_profile", "resolve", "chapter_parameters",
           "check_settings", "list_benchmarks", "benchmark_definition", "benchmark_table", "published_reference",
           "CLASS_UNLEARNING"]

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
    "benchmark": None,
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
_SECTIONS = ("description", "extends", "minutes", "settings", "chapters", "benchmarks", "tune")
#: what a named benchmark holds besides settings and chapter parameters
_BENCHMARK_META = ("published", "row", "description")
#: the ``published`` value of the class-unlearning benchmarks (lotus.paper.published_class_unlearning)
CLASS_UNLEARNING = "class_unlearning"
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
    for sec in ("settings", "chapters", "benchmarks"):
        if not isinstance(prof.get(sec) or {}, dict):
            raise LotusError(f"profile {path}: section {sec!r} must be a mapping")
    for name, entry in (prof.get("benchmarks") or {}).items():
        if not isinstance(entry or {}, dict):
            raise LotusError(f"profile {path}: benchmark {name!r} must map settings to values")
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
    benchmarks: dict[str, dict] = {}
    description = ""
    minutes = None
    for _, prof in chain:
        minutes = prof.get("minutes", minutes)
        _merge(settings, prof.get("settings") or {})
        _merge_tune(tune, prof.get("tune"))
        for ch, entry in (prof.get("chapters") or {}).items():
            chapters[str(ch)] = _merge(chapters.get(str(ch), {}), entry or {})
        for bench, entry in (prof.get("benchmarks") or {}).items():
            benchmarks[str(bench)] = _merge(benchmarks.get(str(bench), {}), entry or {})
        description = " ".join(str(prof.get("description") or description).split())
    path, _ = chain[-1]
    out = {"name": path.stem, "path": str(path), "description": description, "minutes": minutes,
           "settings": settings, "chapters": chapters, "benchmarks": benchmarks,
           "tune": tune}
    for bench, entry in benchmarks.items():
        _check_benchmark_entry(out, bench, entry)
    for where, entries in [("settings", settings), *((f"chapter {c!r}", e) for c, e in chapters.items())]:
        if entries.get("benchmark") is not None and entries["benchmark"] not in benchmarks:
            raise LotusError(f"profile {path}: {where} names benchmark {entries['benchmark']!r}, which the profile "
                             f"does not define; valid: {', '.join(benchmarks) or 'none'}")
    return out


def _chapter_parameter_names(prof: dict) -> set[str]:
    return {k for entry in prof["chapters"].values() for k in entry if k not in SETTINGS}


def _check_benchmark_entry(prof: dict, name: str, entry: dict) -> None:
    """A benchmark holds settings, chapter parameters and :data:`_BENCHMARK_META`; its
    ``published`` key must exist in :mod:`lotus.paper`."""
    where = f"profile {prof['path']}: benchmark {name!r}"
    valid = (set(SETTINGS) - {"benchmark"}) | set(_BENCHMARK_META) | _chapter_parameter_names(prof)
    unknown = sorted(set(entry) - valid)
    if unknown:
        raise LotusError(f"{where}: unknown entries {unknown}; valid: settings ({', '.join(s for s in SETTINGS if s != 'benchmark')}), "
                         f"chapter parameters ({', '.join(sorted(_chapter_parameter_names(prof)))}) and "
                         f"{', '.join(_BENCHMARK_META)}")
    published = entry.get("published")
    if published is not None and published != CLASS_UNLEARNING:
        valid_keys = list(paper.list_benchmarks().index)
        if published not in valid_keys:
            raise LotusError(f"{where}: published {published!r} is not a published benchmark; valid: "
                             f"{', '.join(valid_keys)}, {CLASS_UNLEARNING}")
    if entry.get("row") is not None and published in (None, CLASS_UNLEARNING):
        raise LotusError(f"{where}: 'row' names a row of a published benchmark table; give 'published' too")


def list_benchmarks(profile: str | os.PathLike | dict = "paper") -> list[str]:
    """The names of the benchmarks ``profile`` defines (the ``paper`` profile: one per
    experiment of the paper), in the profile's order."""
    prof = profile if isinstance(profile, dict) else load_profile(profile)
    return list(prof.get("benchmarks") or {})


def _benchmark_entry(prof: dict, name: str) -> dict:
    benchmarks = prof.get("benchmarks") or {}
    if name not in benchmarks:
        raise LotusError(f"unknown benchmark {name!r} in profile {prof.get('name') or prof.get('path')!r}; "
                         f"valid: {', '.join(benchmarks) or 'none (the paper profile defines them)'}")
    return benchmarks[name]


def benchmark_definition(name: str, profile: str | os.PathLike | dict = "paper") -> dict:
    """The entries of the named benchmark ``name`` of ``profile`` as written (settings, chapter
    parameters, ``published``, ``row``, ``description``); an unknown name is an error listing
    the valid ones."""
    prof = profile if isinstance(profile, dict) else load_profile(profile)
    return copy.deepcopy(_benchmark_entry(prof, name))


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
    settings.setdefault("benchmark", None)
    if chapter is not None:
        if prof and chapter in prof["chapters"]:
            _merge(settings, prof["chapters"][chapter])
    valid = set(settings)
    unknown = sorted(set(overrides) - valid)
    if unknown:
        where = f" of chapter {chapter!r}" if chapter else ""
        raise LotusError(f"unknown setting(s) {unknown}{where}; valid: {', '.join(sorted(valid))}")
    name = overrides["benchmark"] if "benchmark" in overrides else settings.get("benchmark")
    if name is not None and (prof is None or "benchmarks" in prof):
        # a profile loaded from YAML; the dict of already resolved settings (no "benchmarks"
        # section) has had its benchmark applied
        if prof is None:
            raise LotusError(f"benchmark {name!r} needs a profile that defines it, e.g. profile 'paper' "
                             f"(valid there: {', '.join(list_benchmarks('paper'))})")
        entry = _benchmark_entry(prof, name)
        # settings, and the parameters of this chapter (a chapter without them ignores them)
        _merge(settings, {k: v for k, v in entry.items() if k in settings and k not in _BENCHMARK_META})
    elif name is not None and "benchmark" in overrides and overrides["benchmark"] != settings.get("benchmark"):
        raise LotusError(f"cannot change the benchmark of resolved settings (from {settings.get('benchmark')!r} "
                         f"to {name!r}); resolve the profile again")
    settings = _merge(settings, overrides)
    _shared_overrides_win(settings, overrides)
    return check_settings(settings, where=(prof or {}).get("path") or "settings")


def _shared_overrides_win(settings: dict, overrides: dict) -> None:
    """An override's ``unlearn`` value (shared by the methods) replaces what the profile set
    for ``name`` per method (its tuned ``hparams``), for every method that shares the unlearning
    budget, unless the overrides also give ``hparams[method][name]``: what the caller asks for
    (``--set name=value``, ``lotus.book.chapter(..., unlearn={...})``) wins over what a file says.
    The profile's own ``unlearn`` section does not override its ``hparams`` (the per-method values
    are the more specific ones)."""
    shared = overrides.get("unlearn") or {}
    if not isinstance(shared, dict) or not isinstance(settings.get("hparams"), dict):
        return
    given = overrides.get("hparams") or {}
    registered = set(list_methods())
    for method, hp in settings["hparams"].items():
        if method not in registered or not isinstance(hp, dict) or not get_method(method).shares_budget:
            continue
        mine = given.get(method) or {} if isinstance(given, dict) else {}
        for name, value in shared.items():
            if name in hp and name not in mine:
                hp[name] = copy.deepcopy(value)


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


def published_reference(name: str, profile: str | os.PathLike | dict = "paper") -> dict:
    """What the named benchmark ``name`` of ``profile`` compares with, as a dict:

    * ``published``: the :func:`lotus.paper.list_benchmarks` key, ``"class_unlearning"`` or
      ``None`` (a benchmark of the user's own);
    * ``row``: the method row of that published table the benchmark reproduces (``"lotus"``,
      or ``"lotus_cifake"`` for the synthetic unseen set);
    * ``table``: where the paper printed that row (``"cvpr2025 Table 2"``, ``"class_notebook"``);
    * ``label``: the benchmark's description, else the published label;
    * ``metric`` and ``value``: the published number of that row, ``"avg_gap"``, or
      ``"rf_jsd"`` (x1e4) for ImageNet-1k, which has no gold model.

    The numbers are read from :mod:`lotus.paper`, never stated in the profile."""
    prof = profile if isinstance(profile, dict) else load_profile(profile)
    entry = _benchmark_entry(prof, name)
    published, row = entry.get("published"), entry.get("row") or "lotus"
    out = {"published": published, "row": row, "table": None, "label": entry.get("description") or name,
           "metric": None, "value": None}
    if published is None:
        return out
    settings = resolve(prof, benchmark=name)
    if published == CLASS_UNLEARNING:
        kind, forget_class = parse_forget_spec(settings["forget"])
        if kind != "class":
            raise LotusError(f"benchmark {name!r}: published class_unlearning needs a 'class:...' forget spec, "
                             f"got {settings['forget']!r}")
        df = paper.published_class_unlearning(settings["dataset"], str(forget_class)).set_index("method")
        out.update(table=df.attrs["source"], metric="avg_gap", value=float(df.loc[row, "avg_gap"]),
                   label=entry.get("description") or f"{settings['model']} / {settings['dataset']} / class {forget_class}")
        return out
    table = paper.published_table(published)
    if row not in table.index:
        raise LotusError(f"benchmark {name!r}: the published table of {published!r} has no row {row!r}; "
                         f"valid: {', '.join(table.index)}")
    metric = "avg_gap" if table["avg_gap"].notna().any() else "rf_jsd"
    out.update(table=str(table.loc[row, "table"]), metric=metric, value=float(table.loc[row, metric]),
               label=entry.get("description") or table.attrs["label"])
    return out


def _recipe_text(model: str, train: dict) -> str:
    r = paper_recipe(model).replace(**dict(train or {}))
    return f"{r.optimizer} lr {r.lr:g}, batch {r.batch_size}, {r.epochs} epochs"


def benchmark_table(profile: str | os.PathLike | dict = "paper") -> pd.DataFrame:
    """One row per named benchmark of ``profile`` (index: its name), resolved: ``label``,
    ``model``, ``dataset``, ``forget``, ``unseen`` (the D_u folder, if it replaces the
    held-out half), ``seeds``, ``recipe`` (the training recipe in words), and what it compares
    with (:func:`published_reference`): ``published``, ``table``, ``row``, ``metric``,
    ``value``."""
    prof = profile if isinstance(profile, dict) else load_profile(profile)
    rows = []
    for name in list_benchmarks(prof):
        s = resolve(prof, benchmark=name)
        ref = published_reference(name, prof)
        rows.append({"benchmark": name, "label": ref["label"], "model": s["model"], "dataset": s["dataset"],
                     "forget": str(s["forget"]), "unseen": (s["data"] or {}).get("unseen"),
                     "seeds": ", ".join(str(x) for x in s["seeds"]), "recipe": _recipe_text(s["model"], s["train"]),
                     **{k: ref[k] for k in ("published", "table", "row", "metric", "value")}})
    return pd.DataFrame(rows).set_index("benchmark") if rows else pd.DataFrame()
