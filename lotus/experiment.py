"""Experiments: one configuration -> one results record, and grids of them.

An :class:`ExperimentConfig` names everything that determines one unlearning result (data
set, model, method, forget set, seed, hyper-parameters, training recipe, data and evaluation
options). :func:`run_experiment` turns it into one JSON record:

1. :func:`prepare` loads the splits and trains (or loads from the checkpoint cache) the
   original model f_orig (forget + retain) and the gold standard f_gold (retain only);
   the result is memoised in-process, so a grid over methods trains once;
2. the method unlearns a copy of f_orig (:func:`lotus.unlearn`), timed;
3. :func:`lotus.evaluate` measures the unlearned model (accuracies, MIA, RF-JSD vs f_orig,
   JSD vs f_gold) and the per-run Avg Gap to f_gold of the same seed.

Two pseudo-methods need no unlearning: ``"original"`` evaluates f_orig (time 0) and
``"gold"`` evaluates the cached gold model, its time being the gold model's training time
(the paper's "Gold Std." row). (The registered method ``"retrain"`` is different: it really
retrains a fresh model on D_r, timed, as an unlearning method.)

>>> from lotus.experiment import ExperimentConfig, run_grid, grid
>>> from lotus.results import ResultsStore, summarize
>>> cfgs = grid(methods=["original", "gold", "lotus"], seeds=[0, 1], dataset="digits",
...             model="small_cnn", model_kwargs={"width": 16}, train={"epochs": 8})
>>> df = run_grid(cfgs, ResultsStore("results/runs"))
>>> summarize(df, formatted=True)

Profiles (:mod:`lotus.profiles`) bundle such settings; :func:`configs_from_settings` turns
resolved settings into configurations.

What makes results trustworthy:

* A record's key (:func:`lotus.results.record_key`) hashes the configuration *and* what could
  change its numbers beyond it: a fingerprint of the data actually loaded (:func:`data_fingerprint`:
  content, not path), the lotus version and the global numeric settings
  (:func:`lotus.utils.numerics`). The data are therefore loaded (cheap next to training)
  before a stored record is looked up. A record of the same configuration made by another
  lotus version is reused but reported (a warning, and its ``stale`` field says "stored by
  lotus 0.1.0 at abc1234; rerun with --force"); ``force`` re-runs and replaces it.
* Every setting is checked before any training (:meth:`ExperimentConfig.validate`,
  :func:`check_splits`), and so are the output folders (:func:`lotus.utils.check_writable`).
* A record carries ``flags`` (:data:`lotus.results.FLAGS`) when its numbers cannot be read as
  a benchmark: an original or gold model near chance accuracy, a method that leaves the model
  near chance, or an original model already as close to the gold model as a method could get.
* :func:`plan_grid` says, without training, which configurations are stored or to run and
  which models are cached or to train (``lotus run --dry-run``).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from .data import canonical_forget, list_datasets, load_splits
from .distributed import decide, on_main
from .methods import get_method, list_methods, unlearn
from .methods.base import check_hparams
from .metrics import AVG_GAP_KEYS, avg_gap, evaluate, uses_channels_last
from .models import list_models, model_info
from .results import (
    ResultsStore,
    config_key,
    now_iso,
    provenance,
    record_key,
    records_to_frame,
    stale_note,
)
from .train import (
    PARTIAL_SUFFIX,
    TrainRecipe,
    _source_identity,
    checkpoint_path,
    paper_recipe,
    split_signature,
    train_original_and_gold,
)
from .utils import VERSION, LotusError, check_writable, numerics, resolve_device, stable_hash, to_plain

logger = logging.getLogger(__name__)

__all__ = [
    "ExperimentConfig",
    "Prepared",
    "PSEUDO_METHODS",
    "prepare",
    "run_experiment",
    "run_grid",
    "grid",
    "all_methods",
    "canonical_forget",
    "clear_cache",
    "configs_from_settings",
    "load_kwargs",
    "method_hparams",
    "benchmark_methods",
    "load_config_splits",
    "data_fingerprint",
    "check_splits",
    "sanity_flags",
    "plan_grid",
    "PlanItem",
]

#: methods handled by the runner itself: evaluate f_orig / the gold model
PSEUDO_METHODS = ("original", "gold")

#: load_splits kwargs that only say where/how to read the data (not part of a record's key)
_DATA_LOCATION_KEYS = ("root", "download", "num_workers", "in_memory")

_EVAL_KEYS = ("batch_size", "amp", "legacy", "rf_jsd_reference", "channels_last")


def all_methods() -> list[str]:
    """The registered unlearning methods plus the pseudo-methods ``original`` and ``gold``."""
    return sorted(set(list_methods()) | set(PSEUDO_METHODS))


def _raise():
    raise TypeError("not a plain value")


def _forget_arg(forget):
    """``forget`` as :func:`load_splits` takes it: text is passed as is, so that ``"3"`` means
    what it means in the Python API (digits' class ``3``, since the data set has a class of
    that name; a fraction text such as ``"0.1"`` is read as a fraction there)."""
    return forget


def _forget_text(forget) -> str:
    """The canonical text of ``forget`` when it can be known without the data (a bare class
    name, e.g. ``"3"``, is resolved only once the data set's classes are loaded)."""
    try:
        return canonical_forget(forget)
    except LotusError:
        return str(forget).strip()


def _check_model_kwargs(model: str, kwargs: dict) -> None:
    """Names and simple types of the model options, before anything is built: an option the
    factory does not take, or a value of another type than its default's (a size that is not
    an int >= 1, a switch that is not true/false), is a :class:`LotusError`."""
    import inspect

    params = inspect.signature(model_info(model).factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    valid = [p for p in params if p != "num_classes"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise LotusError(f"unknown option(s) {unknown} for model {model!r}; valid: {', '.join(valid) or 'none'}")
    for name, value in kwargs.items():
        default = params[name].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise LotusError(f"model option {name} of {model!r} must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise LotusError(f"model option {name} of {model!r} must be an int >= 1, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise LotusError(f"model option {name} of {model!r} must be text, got {value!r}")


@dataclass
class ExperimentConfig:
    """Everything that determines one unlearning result.

    ``hparams``: method hyper-parameters overriding the method's defaults. ``train``:
    :class:`~lotus.train.TrainRecipe` overrides on top of :func:`~lotus.train.paper_recipe`.
    ``model_kwargs``: :func:`~lotus.models.create_model` kwargs (e.g. ``{"width": 16}``).
    ``data``: extra :func:`~lotus.data.load_splits` kwargs (``root``, ``max_train_per_class``,
    ``forget_rule``, ``unseen``, ...). ``eval``: extra :func:`~lotus.metrics.evaluate` kwargs
    (``legacy``, ``rf_jsd_reference``, ``amp``, ``batch_size``). ``device``: ``None`` picks
    CUDA when available. ``cache_dir``: checkpoint folder (default ``$LOTUS_CACHE/checkpoints``).
    ``device`` and ``cache_dir`` and the data location (``data["root"]``) do not enter the key.
    """

    dataset: str = "digits"
    model: str = "small_cnn"
    method: str = "lotus"
    forget: str | float = 0.1
    seed: int = 0
    hparams: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    device: str | None = None
    eval: dict = field(default_factory=dict)
    cache_dir: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        """Build from a dict; unknown keys are an error listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise LotusError(f"unknown experiment setting(s) {unknown}; valid: {', '.join(valid)}")
        return cls(**{k: v for k, v in d.items()})

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    # -- resolution ----------------------------------------------------------------------

    def recipe(self) -> TrainRecipe:
        """The training recipe: the paper's for ``model`` with ``train`` overrides (a bad value
        is a :class:`LotusError` that says it is the recipe's)."""
        try:
            return paper_recipe(self.model).replace(**dict(self.train or {}))
        except LotusError as exc:
            raise LotusError(f"training recipe (train / --train): {exc}") from None

    def resolved_hparams(self) -> dict:
        """The method's defaults merged with ``hparams`` (unknown names are an error)."""
        if self.method in PSEUDO_METHODS:
            if self.hparams:
                raise LotusError(f"the pseudo-method {self.method!r} takes no hyper-parameters, got {sorted(self.hparams)}")
            return {}
        impl = get_method(self.method)
        return to_plain(check_hparams(self.method, impl.default_hparams(self.model, self.dataset), dict(self.hparams or {})))

    def validate(self) -> "ExperimentConfig":
        """Check names and options before anything expensive; raise :class:`LotusError`."""
        if str(self.dataset).lower() not in list_datasets():
            raise LotusError(f"unknown dataset {self.dataset!r}; valid: {', '.join(list_datasets())}")
        if self.model not in list_models():
            raise LotusError(f"unknown model {self.model!r}; valid: {', '.join(list_models())}")
        if self.method not in all_methods():
            raise LotusError(f"unknown unlearning method {self.method!r}; valid: {', '.join(all_methods())}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or self.seed < 0:
            raise LotusError(f"seed must be an integer >= 0, got {self.seed!r}")
        bad = sorted(set(self.eval or {}) - set(_EVAL_KEYS))
        if bad:
            raise LotusError(f"unknown evaluation option(s) {bad}; valid: {', '.join(_EVAL_KEYS)}")
        for name in ("hparams", "train", "model_kwargs", "data", "eval"):
            if not isinstance(getattr(self, name) or {}, dict):
                raise LotusError(f"{name} must be a dict, got {getattr(self, name)!r}")
        if "forget" in (self.data or {}) or "seed" in (self.data or {}):
            raise LotusError("set forget and seed as experiment settings, not inside data")
        for name in ("hparams", "train", "model_kwargs", "data", "eval"):
            try:
                json.dumps(getattr(self, name) or {}, default=lambda o: str(o) if isinstance(o, os.PathLike) else _raise())
            except (TypeError, ValueError):
                raise LotusError(f"{name} must hold plain values (numbers, text, paths, lists, dicts) to be "
                                 f"recorded, got {getattr(self, name)!r}") from None
        if not (isinstance(self.forget, str) and ":" not in self.forget):
            canonical_forget(_forget_arg(self.forget))  # a bare text may be a class name: checked with the data
        _check_model_kwargs(self.model, dict(self.model_kwargs or {}))
        resolve_device(self.device)
        bad_eval = {k: v for k, v in (self.eval or {}).items()
                    if (k == "batch_size" and (isinstance(v, bool) or not isinstance(v, int) or v < 1))
                    or (k in ("amp", "legacy") and not isinstance(v, bool))
                    or (k == "rf_jsd_reference" and v not in ("val", "test"))}
        if bad_eval:
            raise LotusError(f"invalid evaluation option(s) {bad_eval}: batch_size is an int >= 1, amp and legacy "
                             "true/false, rf_jsd_reference 'val' or 'test'")
        self.recipe()
        self.resolved_hparams()
        return self

    def identity(self, splits=None) -> dict:
        """The identifying fields of the record (see :data:`lotus.results.KEY_FIELDS`).

        Without ``splits``: the configuration only. With the loaded ``splits``
        (:func:`load_config_splits`): also the canonical forget spec as the data resolve it,
        the data's :func:`data_fingerprint`, the global numeric settings and the lotus
        version, i.e. everything the record's key hashes."""
        data = {k: v for k, v in sorted((self.data or {}).items()) if k not in _DATA_LOCATION_KEYS}
        ident = {
            "dataset": str(self.dataset).lower(),
            "model": self.model,
            "model_kwargs": dict(sorted((self.model_kwargs or {}).items())),
            "method": self.method,
            "hparams": self.resolved_hparams(),
            "forget": _forget_text(self.forget),
            "seed": int(self.seed),
            "train_recipe": asdict(self.recipe()),
            "data": {k: str(v) if isinstance(v, os.PathLike) else v for k, v in data.items()},
            "eval": dict(sorted((self.eval or {}).items())),
        }
        if splits is not None:
            ident.update(forget=splits.forget_spec, data_fingerprint=data_fingerprint(splits), numerics=numerics(),
                         lotus_version=VERSION)
        return ident

    def splits(self):
        """The data of this configuration (:func:`load_config_splits`, memoised)."""
        return load_config_splits(self)

    def key(self) -> str:
        """The 16-hex-digit record key: a hash of :meth:`identity` with the data loaded (so
        this reads the data set, once per process and data/forget/seed)."""
        return record_key(self.identity(self.splits()))

    def describe(self) -> str:
        return f"{self.method} on {self.dataset}/{self.model} forget={_forget_text(self.forget)} seed={self.seed}"


def grid(*, methods: Sequence[str], seeds: Sequence[int] = (0,), forget: Sequence | str | float = (0.1,),
         hparams: dict | None = None, **common) -> list[ExperimentConfig]:
    """All combinations of ``forget`` x ``seeds`` x ``methods`` (in that nesting, so the
    configurations that share trained models are adjacent).

    ``hparams`` maps a method name to its hyper-parameter overrides (entries for methods not in
    the grid are ignored, so one mapping can serve several grids); ``common`` holds the other
    :class:`ExperimentConfig` fields (``dataset``, ``model``, ``train``, ...).
    """
    if isinstance(methods, str):
        methods = [methods]
    if isinstance(forget, (str, float, int)):
        forget = [forget]
    if isinstance(seeds, int):
        seeds = [seeds]
    hparams = dict(hparams or {})
    unknown = sorted(set(hparams) - set(methods) - set(all_methods()))
    if unknown:
        raise LotusError(f"hyper-parameters given for unknown method(s) {unknown}; valid: {', '.join(all_methods())}")
    return [
        ExperimentConfig.from_dict({**common, "method": m, "forget": f, "seed": int(s), "hparams": dict(hparams.get(m, {}))})
        for f in forget for s in seeds for m in methods
    ]


# ---------------------------------------------------------------------------------------
# Data: loaded once per (data set, options, forget set, seed), fingerprinted, checked
# ---------------------------------------------------------------------------------------

_SPLITS: "collections.OrderedDict[str, Any]" = collections.OrderedDict()


def _splits_key(cfg: "ExperimentConfig") -> str:
    return stable_hash({"dataset": str(cfg.dataset).lower(), "data": {k: str(v) for k, v in sorted((cfg.data or {}).items())},
                        "forget": repr(cfg.forget), "seed": int(cfg.seed)})


def load_config_splits(cfg: "ExperimentConfig"):
    """:func:`lotus.load_splits` of ``cfg`` (data set, ``data`` options, forget set, seed),
    memoised in-process (the last ``MEMO_SIZE`` + 2) and checked with :func:`check_splits`."""
    cfg = _as_config(cfg)
    k = _splits_key(cfg)
    if k in _SPLITS:
        _SPLITS.move_to_end(k)
        return _SPLITS[k]
    splits = load_splits(cfg.dataset, forget=_forget_arg(cfg.forget), seed=int(cfg.seed), **dict(cfg.data or {}))
    check_splits(splits, cfg.data)
    _SPLITS[k] = splits
    while len(_SPLITS) > max(1, MEMO_SIZE) + 2:
        _SPLITS.popitem(last=False)
    return splits


def data_fingerprint(splits) -> str:
    """A 16-hex-digit digest of the data an experiment uses, by content: the training set
    (:func:`lotus.train.split_signature`: pixels, or files with their sizes and times), the
    forget / retain positions, val (D_u) and test, the class names and the source's
    description without its path. The same data under another path give the same
    fingerprint; other data under the same path (a changed folder, a corrupt copy) another."""
    h = hashlib.sha256()
    h.update(json.dumps({"classes": list(splits.classes), "source": _source_identity(splits.source),
                         "forget_rule": splits.forget_rule}, sort_keys=True).encode())
    h.update(split_signature(splits.train).encode())
    h.update(splits.forget_indices.numpy().tobytes())
    h.update(b"|")
    h.update(splits.retain_indices.numpy().tobytes())
    for part in (splits.val, splits.test):
        h.update(split_signature(part).encode())
    return h.hexdigest()[:16]


def source_fingerprint(splits) -> str:
    """Like :func:`data_fingerprint` but independent of the seed and the forget set (the
    training set, the class names and the held-out size): records of several seeds over the
    same data share it, so :func:`lotus.results.summarize` can tell same data from other data."""
    h = hashlib.sha256()
    h.update(json.dumps({"classes": list(splits.classes), "source": _source_identity(splits.source),
                         "heldout": len(splits.val) + len(splits.test)}, sort_keys=True).encode())
    h.update(split_signature(splits.train).encode())
    return h.hexdigest()[:16]


def check_splits(splits, data: dict | None = None) -> None:
    """Refuse splits an experiment cannot use, before anything is trained: an empty forget,
    retain, val or test set, or a class of the training set that has no image in val or test
    (an empty class folder, or a per-class cap too small to halve the held-out set)."""
    data = dict(data or {})
    caps = ", ".join(f"{k}={data[k]}" for k in ("max_train_per_class", "max_heldout_per_class", "retain_per_class")
                     if data.get(k) is not None)
    hint = f" (with {caps}: raise it)" if caps else ""
    for part in ("forget", "retain", "val", "test"):
        if len(splits[part]) == 0:
            raise LotusError(f"the {part} set of {splits.dataset} (forget {splits.forget_spec}) is empty{hint}")
    present = set(torch.bincount(splits.train.labels, minlength=splits.num_classes).nonzero().flatten().tolist())
    for part in ("val", "test"):
        have = set(torch.bincount(splits[part].labels, minlength=splits.num_classes).nonzero().flatten().tolist())
        missing = sorted(present - have)
        if missing:
            names = [splits.classes[i] for i in missing[:8]]
            raise LotusError(f"the {part} set of {splits.dataset} has no image of class(es) {names} that the training "
                             f"set has (an empty class folder, or a held-out set too small to halve){hint}")


# ---------------------------------------------------------------------------------------
# Trained models (memoised)
# ---------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """The splits and trained models an experiment needs.

    ``original``: f_orig (trained on forget + retain); ``gold``: f_gold (retain only). Each
    carries ``lotus_train_info`` (``seconds``, ``epochs``, ``history``, ``cached``, ``path``).
    """

    splits: Any
    original: torch.nn.Module
    gold: torch.nn.Module
    recipe: TrainRecipe
    device: torch.device
    _gold_scores: dict = field(default_factory=dict, repr=False)
    _references: dict = field(default_factory=dict, repr=False)
    _original_scores: dict = field(default_factory=dict, repr=False)

    def score(self, model: torch.nn.Module, eval_kwargs: dict | None = None) -> dict:
        """:func:`lotus.evaluate` of ``model`` against f_orig and f_gold (their predictions
        are computed once per evaluation options and reused)."""
        return evaluate(model, self.splits, original=self.original, gold=self.gold, device=self.device,
                        reference_cache=self._references, **dict(eval_kwargs or {}))

    def gold_scores(self, eval_kwargs: dict | None = None) -> dict:
        """:meth:`score` of the gold model, memoised per evaluation options."""
        k = stable_hash(eval_kwargs or {})
        if k not in self._gold_scores:
            self._gold_scores[k] = self.score(self.gold, eval_kwargs)
        return self._gold_scores[k]

    def original_scores(self, eval_kwargs: dict | None = None) -> dict:
        """:meth:`score` of the original model, memoised per evaluation options."""
        k = stable_hash(eval_kwargs or {})
        if k not in self._original_scores:
            self._original_scores[k] = self.score(self.original, eval_kwargs)
        return self._original_scores[k]


_PREPARED: "collections.OrderedDict[str, Prepared]" = collections.OrderedDict()
#: how many prepared (splits, original, gold) sets stay in memory
MEMO_SIZE = int(os.environ.get("LOTUS_PREPARE_MEMO", "2"))


def clear_cache() -> None:
    """Forget the in-process memos of :func:`prepare` and :func:`load_config_splits` (e.g.
    after the data changed on disk; the disk checkpoints stay)."""
    _PREPARED.clear()
    _SPLITS.clear()


def _prepare_key(cfg: ExperimentConfig, dev: torch.device) -> str:
    return stable_hash({
        "dataset": str(cfg.dataset).lower(), "data": {k: str(v) for k, v in sorted((cfg.data or {}).items())},
        "forget": _forget_text(cfg.forget), "seed": int(cfg.seed), "model": cfg.model,
        "model_kwargs": cfg.model_kwargs or {}, "recipe": asdict(cfg.recipe()), "device": str(dev),
        "cache": str(cfg.cache_dir),
    })


def prepare(cfg: ExperimentConfig, *, progress: bool = True, force_train: bool = False,
            replace_bad: bool = False) -> Prepared:
    """Load the splits of ``cfg`` and train/load f_orig and f_gold.

    Checkpoints are cached on disk (:func:`lotus.train.train_original_and_gold`) and the
    result is memoised in-process (the last ``MEMO_SIZE`` data set/seed/model
    combinations), so every method of a grid reuses the same trained models.
    ``force_train`` retrains even if checkpoints exist; ``replace_bad`` retrains only a
    corrupt or mismatched checkpoint (instead of raising :class:`lotus.train.CheckpointError`).
    """
    cfg = _as_config(cfg)
    dev = resolve_device(cfg.device)
    key = _prepare_key(cfg, dev)
    if key in _PREPARED and not force_train:
        _PREPARED.move_to_end(key)
        logger.debug("%s: original and gold models already in memory", cfg.describe())
        return _PREPARED[key]
    splits = load_config_splits(cfg)
    logger.debug("%s: splits %s (forget %s)", cfg.describe(), splits.sizes(), splits.forget_spec)
    recipe = cfg.recipe()
    original, gold = train_original_and_gold(
        splits, cfg.model, recipe, seed=int(cfg.seed), device=dev, cache=cfg.cache_dir,
        model_kwargs=dict(cfg.model_kwargs or {}), force=force_train, progress=progress, replace_bad=replace_bad)
    prep = Prepared(splits=splits, original=original, gold=gold, recipe=recipe, device=dev)
    _PREPARED[key] = prep
    while len(_PREPARED) > max(1, MEMO_SIZE):
        _PREPARED.popitem(last=False)
    return prep


def _as_config(cfg) -> ExperimentConfig:
    if isinstance(cfg, ExperimentConfig):
        return cfg
    if isinstance(cfg, dict):
        return ExperimentConfig.from_dict(cfg)
    raise LotusError(f"expected an ExperimentConfig or a dict, got {type(cfg).__name__}")


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


def _train_info(model) -> dict:
    info = dict(getattr(model, "lotus_train_info", {}) or {})
    return {"seconds": float(info.get("seconds", float("nan"))), "epochs": int(info.get("epochs", 0)),
            "cached": bool(info.get("cached", False))}


def sanity_flags(scores: dict, original: dict, gold: dict, splits, method: str) -> list[str]:
    """The :data:`lotus.results.FLAGS` that apply to a record: ``original_near_chance`` (the
    original model's accuracy on its own training data, the retain set, is near chance),
    ``gold_near_chance`` (likewise for the gold model), ``near_chance`` (the model after
    ``method`` is near chance on the retain set) and ``nothing_to_unlearn`` (the original
    model's Avg Gap to the gold model is below 0.01: no method can show a gap it closed).

    "Near chance" is at most a tenth of the way from the majority-class rate to 1."""
    counts = torch.bincount(splits.retain.labels, minlength=splits.num_classes)
    chance = float(counts.max()) / max(1, int(counts.sum()))
    limit = chance + 0.1 * (1.0 - chance)
    flags = []
    if original["acc_retain"] <= limit:
        flags.append("original_near_chance")
    if gold["acc_retain"] <= limit:
        flags.append("gold_near_chance")
    if method not in PSEUDO_METHODS and scores["acc_retain"] <= limit and not flags:
        flags.append("near_chance")
    if method != "gold" and not flags and avg_gap(original, gold) < 0.01:
        flags.append("nothing_to_unlearn")
    return flags


def run_experiment(cfg: ExperimentConfig | dict, store: ResultsStore | None = None, *, force: bool = False,
                   progress: bool = True, replace_bad: bool | None = None) -> dict:
    """Run one experiment and return its record (a JSON-ready dict).

    The data are loaded first (their fingerprint is part of the key). If ``store`` holds a
    record with the same key it is returned without running anything, unless ``force``; a
    record of the same configuration and data made by another lotus version is returned too,
    with a warning and its ``stale`` field set ("stored by lotus X at C; rerun with --force").
    ``force`` re-runs (replacing such a record) and retrains a corrupt checkpoint
    (``replace_bad``, default: ``force``).

    The record holds the configuration (``dataset, model, method, forget,
    seed, hparams, train_recipe, model_kwargs, data, eval``), the metrics (``acc_forget,
    acc_retain, acc_test, acc_val, mia, jsd, rf_jsd``, and ``jsd_legacy, rf_jsd_legacy`` with
    the authors' formulas), ``avg_gap`` (this run vs the gold
    model of the same seed), ``unlearn_seconds``, ``epochs``, ``history`` (per-epoch dicts,
    e.g. LoTUS's tau and forget accuracy), ``gold`` and ``original`` (those models' gap
    metrics), ``flags`` (:func:`sanity_flags`), ``sizes``, ``speed`` (the speed options used: unlearning ``channels_last, amp,
    teacher_cache``, ``threads``, and the evaluation's ``eval_channels_last, eval_amp,
    eval_batch_size``), the keyed context
    (``data_fingerprint, numerics, lotus_version``), provenance (``git_commit, device,
    device_name, torch_version, threads, host``...), ``created``, ``config_key`` and ``key``.
    """
    cfg = _as_config(cfg).validate()
    splits = load_config_splits(cfg)
    ident = cfg.identity(splits)
    key = record_key(ident)
    if store is not None and not force:
        # under torchrun rank 0 looks the record up for every rank (all take the same branch)
        rec = decide(lambda: store.get(key), what="looking up the results store")
        if rec is not None:
            logger.debug("%s: already stored (%s), not re-run", cfg.describe(), key)
            return rec
        rec = decide(lambda: store.other_version(ident), what="looking up the results store")
        if rec is not None:
            rec = dict(rec, stale=stale_note(rec))
            warnings.warn(f"{cfg.describe()}: {rec['stale']}", stacklevel=2)
            return rec
    prep = prepare(cfg, progress=progress, replace_bad=force if replace_bad is None else replace_bad)
    logger.debug("%s: running (key %s)", cfg.describe(), key)
    splits, dev = prep.splits, prep.device
    eval_kwargs = dict(cfg.eval or {})
    gold_scores = prep.gold_scores(eval_kwargs)
    original_scores = prep.original_scores(eval_kwargs)
    extra: dict = {}
    speed: dict = {"channels_last": None, "amp": None, "teacher_cache": None, "threads": torch.get_num_threads()}
    if cfg.method == "original":
        scores = dict(original_scores)
        seconds, epochs, history = 0.0, 0, []
    elif cfg.method == "gold":
        info = getattr(prep.gold, "lotus_train_info", {}) or {}
        scores = dict(gold_scores)
        seconds, epochs, history = float(info.get("seconds", float("nan"))), int(info.get("epochs", 0)), list(info.get("history", []))
    else:
        model, report = unlearn(prep.original, splits, cfg.method, device=dev, seed=int(cfg.seed),
                                model_name=cfg.model, **dict(cfg.hparams or {}))
        scores = prep.score(model, eval_kwargs)
        seconds, epochs, history, extra = report.seconds, report.epochs, report.history, dict(report.extra)
        speed.update(extra.pop("speed", {}))
        del model
    record = dict(ident)
    record.update({k: float(v) for k, v in scores.items()})
    record.update({
        "avg_gap": avg_gap(scores, gold_scores),
        "unlearn_seconds": float(seconds),
        "epochs": int(epochs),
        "history": history,
        "extra": extra,
        "gold": {k: float(gold_scores[k]) for k in AVG_GAP_KEYS},
        "original": {k: float(original_scores[k]) for k in ("acc_retain", *AVG_GAP_KEYS)},
        "flags": sanity_flags(scores, original_scores, gold_scores, splits, cfg.method),
        "sizes": splits.sizes(),
        "speed": {**speed, **eval_speed(prep.original, eval_kwargs)},
        "forget_rule": splits.forget_rule,
        "data_source": {k: str(v) for k, v in splits.source.items()},
        "source_fingerprint": source_fingerprint(splits),
        "train": {"original": _train_info(prep.original), "gold": _train_info(prep.gold)},
        **provenance(dev),
        "created": now_iso(),
        "config_key": config_key(ident),
        "key": key,
    })
    if store is not None:  # under torchrun rank 0 writes, the others wait for it
        on_main(lambda: (store.put(record), store.remove_other_versions(record)),
                what=f"writing the record of {cfg.describe()}")
    return record


def eval_speed(model, eval_kwargs: dict) -> dict:
    """The speed options :func:`lotus.evaluate` runs ``model`` with under ``eval_kwargs``
    (``eval_channels_last`` resolved, ``eval_amp``, ``eval_batch_size``), for a record's ``speed``."""
    return {"eval_channels_last": uses_channels_last(model, eval_kwargs.get("channels_last")),
            "eval_amp": bool(eval_kwargs.get("amp", False)), "eval_batch_size": int(eval_kwargs.get("batch_size", 512))}


def _group_for_reuse(cfgs: list[ExperimentConfig]) -> list[int]:
    """Positions of ``cfgs`` reordered so configurations sharing trained models are adjacent
    (stable: groups in order of first appearance)."""
    order: dict[str, list[int]] = {}
    for i, c in enumerate(cfgs):
        g = repr((str(c.dataset).lower(), sorted((c.data or {}).items()), _forget_text(c.forget),
                  int(c.seed), c.model, sorted((c.model_kwargs or {}).items()), sorted((c.train or {}).items()),
                  str(c.device), str(c.cache_dir)))
        order.setdefault(g, []).append(i)
    return [i for idx in order.values() for i in idx]


#: free space required before a grid starts (a floor that catches a full disk, not an estimate)
MIN_FREE_RESULTS = 1_000_000
MIN_FREE_CHECKPOINTS = 16_000_000


@dataclass
class PlanItem:
    """What :func:`run_grid` would do with one configuration (:func:`plan_grid`).

    ``status``: ``"stored"`` (its record is reused), ``"stale"`` (a record of another lotus
    version is reused and reported; ``--force`` re-runs it) or ``"to run"``. ``models``: for
    a configuration to run, one ``(kind, status, epochs, path)`` per trained model it needs,
    ``status`` being ``"cached"``, ``"to train"`` or ``"to resume"`` (a partial checkpoint
    exists) and ``epochs`` the recipe's.
    """

    cfg: ExperimentConfig
    key: str
    status: str
    record: dict | None = None
    models: list = field(default_factory=list)


def plan_grid(cfgs: Iterable[ExperimentConfig | dict], store: ResultsStore | None, *, force: bool = False
              ) -> list[PlanItem]:
    """Validate every configuration, load its data and say what :func:`run_grid` would do with it
    (:class:`PlanItem`), in the given order, without training or running anything."""
    cfgs = [_as_config(c).validate() for c in cfgs]
    plan = []
    for cfg in cfgs:
        splits = load_config_splits(cfg)
        ident = cfg.identity(splits)
        key = record_key(ident)
        status, rec = "to run", None
        if store is not None and not force:
            rec = store.get(key)
            if rec is not None:
                status = "stored"
            else:
                rec = store.other_version(ident)
                if rec is not None:
                    status, rec = "stale", dict(rec, stale=stale_note(rec))
        item = PlanItem(cfg, key, status, rec)
        if status == "to run":
            recipe = cfg.recipe()
            for kind in ("original", "gold"):
                if cfg.cache_dir is False:
                    item.models.append((kind, "to train", recipe.epochs, None))
                    continue
                path, _ = checkpoint_path(kind, splits, cfg.model, recipe, seed=int(cfg.seed), cache=cfg.cache_dir,
                                          model_kwargs=dict(cfg.model_kwargs or {}))
                partial = path.with_name(path.name + PARTIAL_SUFFIX)
                state = "cached" if path.exists() else ("to resume" if partial.exists() else "to train")
                item.models.append((kind, state, recipe.epochs, path))
        plan.append(item)
    return plan


def run_grid(cfgs: Iterable[ExperimentConfig | dict], store: ResultsStore | None, *, force: bool = False,
             progress: bool = True, on_error: str = "raise"):
    """Run every configuration (a progress bar counts them) and return their records as a
    :class:`pandas.DataFrame` in the given order.

    Finished records are written to ``store`` one by one, so an interrupted grid resumes:
    run it again and the stored configurations are skipped (unless ``force``). Before the
    first one runs, every configuration is validated and its data loaded
    (:func:`plan_grid`), and the results folder and the checkpoint cache are checked to be
    writable when something is to be written there. ``on_error="skip"`` warns about a failing
    configuration and goes on (its record is absent; ``df.attrs["failed"]`` lists
    ``(description, message)`` pairs); ``"raise"`` (default) stops. Records of another lotus
    version are reused with a warning; the frame's ``stale`` column says so.
    """
    from tqdm import tqdm

    if on_error not in ("raise", "skip"):
        raise LotusError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    cfgs = [_as_config(c) for c in cfgs]
    plan = plan_grid(cfgs, store, force=force)
    todo = [p for p in plan if p.status == "to run"]
    for root in dict.fromkeys(p.models[0][3].parent for p in todo
                              if p.models and p.models[0][3] is not None and any(m[1] != "cached" for m in p.models)):
        check_writable(root, "checkpoint cache", min_free=MIN_FREE_CHECKPOINTS)
    if todo and store is not None:
        check_writable(store.root, "results folder", min_free=MIN_FREE_RESULTS)
    records: dict[int, dict] = {}
    failed: list[tuple[str, str]] = []
    skipped = 0
    for i, item in enumerate(plan):
        if item.status != "to run":
            records[i] = item.record
            skipped += 1
            if item.status == "stale":
                warnings.warn(f"{item.cfg.describe()}: {item.record['stale']}", stacklevel=2)
    order = [i for i in _group_for_reuse([p.cfg for p in plan]) if plan[i].status == "to run"]
    bar = tqdm(order, desc="experiments", disable=not progress or not order, unit="run")
    for i in bar:
        cfg = plan[i].cfg
        bar.set_postfix_str(cfg.describe(), refresh=False)
        try:
            records[i] = run_experiment(cfg, store, force=True, progress=progress, replace_bad=force)
        except Exception as exc:
            if on_error == "raise":
                raise
            failed.append((cfg.describe(), f"{type(exc).__name__}: {exc}" if not isinstance(exc, LotusError) else str(exc)))
            warnings.warn(f"{cfg.describe()} failed: {type(exc).__name__}: {exc}", stacklevel=2)
    bar.close()
    df = records_to_frame(records[i] for i in sorted(records))
    df.attrs["skipped"] = skipped
    df.attrs["failed"] = failed
    df.attrs["stale"] = [p.cfg.describe() for p in plan if p.status == "stale"]
    return df


# ---------------------------------------------------------------------------------------
# From settings (lotus.profiles) to configurations
# ---------------------------------------------------------------------------------------

#: the methods of ``methods: all``, in the paper's column order: the reference rows, then the
#: methods of its Tables 1-2, then the variants. The ``retrain`` method is left out: the
#: ``gold`` row is the same model, trained once and cached.
_PAPER_ORDER = ("original", "gold", "finetune", "neggrad_plus", "random_labeling", "bad_teacher", "scrub", "ssd",
                "unsir", "salun", "lotus", "salun_lotus")


def benchmark_methods(methods="all", *, always: Sequence[str] = ()) -> list[str]:
    """The methods of a run in the paper's column order.

    ``"all"``: the original and gold models and every registered unlearning method except
    ``retrain``; a list is kept (unknown names are an error), with ``always`` added.
    Used by ``lotus run`` and the benchmark chapters (4, 5, 6, 8, 9).
    """
    if isinstance(methods, str) and methods == "all":
        chosen = [m for m in all_methods() if m != "retrain"]
    else:
        chosen = [methods] if isinstance(methods, str) else list(methods)
    chosen = list(dict.fromkeys([*chosen, *always]))
    unknown = sorted(set(chosen) - set(all_methods()))
    if unknown:
        what = f"method {unknown[0]!r}" if len(unknown) == 1 else f"methods {unknown}"
        raise LotusError(f"unknown unlearning {what}; valid: {', '.join(all_methods())}")
    order = {m: i for i, m in enumerate(_PAPER_ORDER)}
    return sorted(chosen, key=lambda m: (order.get(m, len(order)), m))


def method_hparams(method: str, settings: dict) -> dict:
    """The hyper-parameter overrides of ``method`` under resolved ``settings``: the shared
    budget ``unlearn`` (only the names the method has, and only for methods that share it),
    then ``hparams[method]``."""
    if method in PSEUDO_METHODS:
        return {}
    impl = get_method(method)
    shared = dict(settings.get("unlearn") or {}) if impl.shares_budget else {}
    known = impl.default_hparams(settings.get("model"), settings.get("dataset"))
    out = {k: v for k, v in shared.items() if k in known}
    out.update((settings.get("hparams") or {}).get(method) or {})
    return out


def load_kwargs(settings: dict) -> dict:
    """The :func:`lotus.load_splits` options of resolved ``settings``: ``data`` plus the data
    root (``data_root``, ``~`` expanded) when one is set."""
    data = dict(settings.get("data") or {})
    if settings.get("data_root"):
        data["root"] = str(Path(os.path.expanduser(str(settings["data_root"]))))
    return data


def _check_hparams_settings(settings: dict, methods: Sequence[str]) -> None:
    """A typo in ``hparams`` (a method name) or ``unlearn`` (a name no method of the run has)
    is an error naming the valid names, not a setting silently ignored."""
    unknown = sorted(set(settings.get("hparams") or {}) - set(list_methods()))
    if unknown:
        raise LotusError(f"hparams given for unknown method(s) {unknown}; valid: {', '.join(list_methods())}")
    sharing = [m for m in methods if m not in PSEUDO_METHODS and get_method(m).shares_budget]
    shared = set(settings.get("unlearn") or {})
    if not sharing or not shared:
        return
    # a name some method has is a budget for the methods that have it (SSD has no epochs), not a typo
    everyone = [m for m in list_methods() if get_method(m).shares_budget]
    valid = set().union(*(get_method(m).default_hparams(settings.get("model"), settings.get("dataset"))
                          for m in everyone))
    unknown = sorted(shared - valid)
    if unknown:
        who = f"method {sharing[0]!r}" if len(sharing) == 1 else f"methods {', '.join(sharing)}"
        raise LotusError(f"unknown hyper-parameter(s) {unknown} for {who}; valid: {', '.join(sorted(valid))}")


def configs_from_settings(settings: dict, *, methods=None, seeds=None, forget=None) -> list[ExperimentConfig]:
    """One :class:`ExperimentConfig` per (forget set, seed, method) of resolved ``settings``
    (:func:`lotus.profiles.resolve`); ``methods``/``seeds``/``forget`` replace the settings'."""
    data = load_kwargs(settings)
    method_list = benchmark_methods(settings["methods"] if methods is None else methods)
    seed_list = settings["seeds"] if seeds is None else seeds
    forgets = settings["forget"] if forget is None else forget
    common = dict(dataset=settings["dataset"], model=settings["model"], model_kwargs=dict(settings.get("model_kwargs") or {}),
                  train=dict(settings.get("train") or {}), data=data, device=settings.get("device"),
                  eval=dict(settings.get("eval") or {}), cache_dir=settings.get("cache_dir"))
    _check_hparams_settings(settings, method_list)
    hparams = {m: method_hparams(m, settings) for m in method_list}
    return grid(methods=method_list, seeds=seed_list, forget=forgets, hparams=hparams, **common)
