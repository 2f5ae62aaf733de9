"""A small JSON results store and the summary tables of the paper.

Every finished experiment (one data set, model, method, forget set and seed) becomes one
JSON *record* in a folder, written atomically (a half-written file is never visible), and
named after a hash of everything that determines the result (:func:`record_key`): data
set, model and its kwargs, method and its resolved hyper-parameters, forget specification,
seed, training recipe, data kwargs and evaluation kwargs, plus a fingerprint of the data's
content, the global numeric settings and the lotus version. Re-running the same experiment
therefore finds its record and skips it, and an interrupted grid resumes where it stopped.
Provenance that does not change the numbers (commit, host, thread count, date) is stored
but not keyed; a record of the same configuration made by another lotus version is found by
:meth:`ResultsStore.other_version` and reported (:func:`stale_note`).

>>> store = ResultsStore("results/runs")
>>> df = store.records(dataset="digits", method=["lotus", "gold"])
>>> summarize(df)                     # mean +- std over seeds per method, Avg Gap of the means
>>> format_summary(summarize(df))     # the same, as "0.93 ± 0.01" strings

:func:`summarize` computes Avg Gap as the paper does (spec 4.6): per method, each metric is
averaged over the seeds first; the gap is ``|mean(method) - mean(gold)|`` for MIA, forget,
retain and test accuracy, and Avg Gap is the mean of these four gaps -- a gap of means, not
a mean of per-seed gaps. It groups records by everything that identifies a configuration
except the seed, counts a copied record once, and refuses to average records whose settings
differ.

:func:`report_table` (``lotus report``) turns any store into a table, summarised or raw
(:func:`flatten_records`), and :func:`write_table` writes it as text, CSV, Markdown or LaTeX
with no optional dependency.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import json
import math
import os
import platform
import subprocess
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
import torch

from .data import canonical_forget
from .metrics import AVG_GAP_KEYS
from .utils import VERSION, LotusError, atomic_write_json, resolve_device, stable_hash, to_plain

# (the version is read through the module, ``_version()``, so a test can stand in another one)

__all__ = [
    "ResultsStore",
    "record_key",
    "KEY_FIELDS",
    "METRICS",
    "summarize",
    "format_summary",
    "provenance",
    "git_commit",
    "git_dirty",
    "device_name",
    "config_key",
    "stale_note",
    "FLAGS",
    "CONFIG_COLUMNS",
    "flatten_records",
    "report_table",
    "write_table",
    "to_markdown",
    "to_latex",
]

#: fields of a record that identify the experiment (hashed into its key): the configuration,
#: the fingerprint of the data's content, the global numeric settings and the lotus version
KEY_FIELDS = ("dataset", "model", "model_kwargs", "method", "hparams", "forget", "seed", "train_recipe", "data", "eval",
              "data_fingerprint", "numerics", "lotus_version")

#: what a record's ``flags`` mean (:func:`lotus.experiment.sanity_flags`); a flagged record's
#: numbers cannot be read as a benchmark result
FLAGS = {
    "original_near_chance": "the original model is near chance accuracy on its own training data: the benchmark "
                            "is broken (train longer or fix the recipe)",
    "gold_near_chance": "the gold model is near chance accuracy on its training data (the retain set): the gaps "
                        "are measured to a broken reference",
    "near_chance": "the method left the model near chance accuracy on the retain set: it destroyed the model, "
                   "whatever its Avg Gap",
    "nothing_to_unlearn": "the original model is already within 0.01 Avg Gap of the gold model: there is no gap a "
                          "method could close, so a small Avg Gap means nothing (train longer, or a data set the "
                          "model memorises)",
}

#: record fields that identify a configuration apart from its seed: :func:`summarize` groups
#: by them (the data enter by their seed-independent ``source_fingerprint``)
CONFIG_COLUMNS = ("dataset", "model", "model_kwargs", "method", "hparams", "forget", "train_recipe", "data", "eval",
                  "numerics", "source_fingerprint")

#: metric columns of a record, in display order
METRICS = ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd", "rf_jsd", "jsd_legacy", "rf_jsd_legacy",
           "avg_gap", "unlearn_seconds")

#: columns every record has (the DataFrame of an empty store still has them)
RECORD_COLUMNS = (
    "key", "dataset", "model", "method", "forget", "seed", *METRICS,
    "epochs", "hparams", "train_recipe", "model_kwargs", "data", "eval", "history", "flags", "stale",
    "lotus_version", "git_commit", "device", "device_name", "torch_version", "created",
)

_DEFAULT_SUMMARY_METRICS = ("mia", "acc_forget", "acc_retain", "acc_test", "acc_val", "jsd", "rf_jsd", "unlearn_seconds")


# ---------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------


def git_commit(path: str | None = None) -> str | None:
    """The commit of the code: ``$LOTUS_GIT_COMMIT`` if set (for machines without git or a
    checkout), else ``git rev-parse HEAD`` of the repository holding ``path`` (default: this
    package), else ``None`` (e.g. a wheel install)."""
    env = os.environ.get("LOTUS_GIT_COMMIT", "").strip()
    if env:
        return env
    return _git_rev_parse(str(path) if path else None)


@functools.lru_cache(maxsize=None)
def _git_rev_parse(path: str | None) -> str | None:
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) >= 7 else None


@functools.lru_cache(maxsize=None)
def git_dirty(path: str | None = None) -> bool | None:
    """Whether the checkout holding ``path`` has uncommitted changes (``None`` if unknown)."""
    if os.environ.get("LOTUS_GIT_COMMIT", "").strip():
        return None
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device=None) -> str:
    """A human-readable name of ``device``: the GPU name for CUDA, else the CPU model."""
    import torch

    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev)
    if dev is not None and dev.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return _cpu_name()


def provenance(device=None) -> dict:
    """Where and with what a result was produced.

    Returns ``{"lotus_version", "git_commit", "git_dirty", "device", "device_name",
    "torch_version", "cuda_version", "python_version", "platform", "host", "threads"}``;
    ``device`` defaults to the one :func:`lotus.utils.resolve_device` picks. Only the version
    enters a record's key; the rest is stored to be read.
    """
    dev = resolve_device(device)
    return {
        "lotus_version": _version(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "device": str(dev),
        "device_name": device_name(dev),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "python_version": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": platform.node(),
        "threads": torch.get_num_threads(),
    }


def _version() -> str:
    return VERSION


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------


def record_key(identity: dict) -> str:
    """The 16-hex-digit key of an experiment from its identifying fields (:data:`KEY_FIELDS`).

    Missing fields count as empty; fields outside :data:`KEY_FIELDS` are ignored, so a full
    record and the identity it was made from give the same key.
    """
    return stable_hash(_key_fields(identity, KEY_FIELDS))


def config_key(identity: dict) -> str:
    """Like :func:`record_key` without the lotus version: records that share it describe the
    same configuration on the same data with the same numerics, made by different versions."""
    return stable_hash(_key_fields(identity, tuple(k for k in KEY_FIELDS if k != "lotus_version")))


def _key_fields(identity: dict, fields: tuple) -> dict:
    ident = {k: identity.get(k) for k in fields}
    for k in ("model_kwargs", "hparams", "train_recipe", "data", "eval", "numerics"):
        if k in ident:
            ident[k] = ident[k] or {}
    ident["forget"] = str(ident["forget"])
    try:
        ident["seed"] = int(ident["seed"]) if ident["seed"] is not None else None
    except (TypeError, ValueError):
        raise LotusError(f"a record's seed must be an integer, got {ident['seed']!r}") from None
    try:
        return to_plain(ident)
    except TypeError as exc:
        raise LotusError(f"a record's identifying fields must be plain data: {exc}") from None


def stale_note(record: dict) -> str:
    """``"stored by lotus 0.1.0 at abc1234; rerun with --force"``: what is said of a record
    of the same configuration made by another lotus version when it is reused."""
    commit = str(record.get("git_commit") or "")[:7] or "an unknown commit"
    return (f"stored by lotus {record.get('lotus_version') or 'unknown'} at {commit} (this is lotus {_version()}); "
            "rerun with --force to replace it")


def _safe_name(s: Any) -> str:
    return "".join(c if (c.isalnum() or c in "._") else "_" for c in str(s))[:40]


class ResultsStore:
    """One JSON file per experiment under ``root`` (created on first write).

    Files are named ``<dataset>-<model>-<method>-<key>.json``; the key is :func:`record_key`
    of the record. ``get`` accepts a key, a record/identity dict, or any object with a
    ``key()`` method (an :class:`~lotus.experiment.ExperimentConfig`).
    """

    def __init__(self, root: str | os.PathLike = "results/runs"):
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r}, records={len(self)})"

    def __len__(self) -> int:
        return len(self._files())

    # -- keys and paths ------------------------------------------------------------------

    @staticmethod
    def key_of(item) -> str:
        """The key of ``item``: a key string, a dict (record or identity) or a config."""
        if isinstance(item, str):
            if len(item) != 16 or any(c not in "0123456789abcdef" for c in item):
                raise LotusError(f"not a record key: {item!r} (expected 16 hex digits)")
            return item
        if isinstance(item, dict):
            return item["key"] if "key" in item else record_key(item)
        if hasattr(item, "key") and callable(item.key):
            return item.key()
        raise LotusError(f"cannot derive a record key from {type(item).__name__}")

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*.json") if not p.name.startswith("."))

    def path_of(self, key: str) -> Path | None:
        """The file holding ``key``, or ``None``."""
        if not self.root.is_dir():
            return None
        hits = sorted(self.root.glob(f"*{key}.json"))
        return hits[0] if hits else None

    # -- read / write --------------------------------------------------------------------

    def __contains__(self, item) -> bool:
        return self.get(item) is not None

    def get(self, item) -> dict | None:
        """The stored record of ``item`` (see :meth:`key_of`), or ``None`` if absent.

        An unreadable file (e.g. edited by hand) is reported with a warning and treated
        as absent, so the experiment runs again and overwrites it.
        """
        key = self.key_of(item)
        path = self.path_of(key)
        if path is None:
            return None
        rec = self._read(path)
        if rec is None or rec.get("key") != key:
            return None
        return rec

    def put(self, record: dict) -> Path:
        """Write ``record`` atomically; it must hold the identifying fields. Returns the path.

        ``record["key"]`` is (re)computed from the identifying fields; an existing record
        with the same key is replaced.
        """
        missing = [k for k in ("dataset", "model", "method", "forget", "seed") if k not in record]
        if missing:
            raise LotusError(f"a results record needs the fields {missing}")
        try:
            record = to_plain(dict(record))
        except TypeError as exc:
            raise LotusError(f"a results record must hold plain data: {exc}") from None
        key = record_key(record)
        if "key" in record and record["key"] != key:
            raise LotusError(f"record key {record['key']!r} does not match its fields (expected {key!r})")
        record["key"] = key
        name = f"{_safe_name(record['dataset'])}-{_safe_name(record['model'])}-{_safe_name(record['method'])}-{key}.json"
        old = self.path_of(key)
        path = atomic_write_json(self.root / name, record)
        if old is not None and old != path:
            old.unlink(missing_ok=True)
        self.remove_temporary()
        return path

    def remove_temporary(self, older_than: float = 3600.0) -> int:
        """Delete the hidden temporary files (``.*.tmp``) that interrupted writes left in the
        folder, if at least ``older_than`` seconds old (a newer one may be another process's
        write in progress); returns how many. :meth:`put` calls it."""
        import time

        n, cutoff = 0, time.time() - older_than
        for tmp in self.root.glob(".*.tmp") if self.root.is_dir() else []:
            try:
                if tmp.stat().st_mtime <= cutoff:
                    tmp.unlink()
                    n += 1
            except OSError:
                continue
        return n

    def other_version(self, identity: dict) -> dict | None:
        """The newest stored record of the same configuration, data and numerics as
        ``identity`` (same :func:`config_key`) made by another lotus version, or ``None``."""
        want, key = config_key(identity), record_key(identity)
        found = [r for r in self._same_prefix(identity) if r.get("config_key") == want and r.get("key") != key]
        return max(found, key=lambda r: str(r.get("created") or "")) if found else None

    def remove_other_versions(self, record: dict) -> int:
        """Delete the records of ``record``'s configuration made by other lotus versions (after
        a re-run replaced them); returns how many."""
        want, n = record.get("config_key"), 0
        if not want:
            return 0
        for path in self._prefix_files(record):
            rec = self._read(path, quiet=True)
            if rec is not None and rec.get("config_key") == want and rec.get("key") != record.get("key"):
                path.unlink(missing_ok=True)
                n += 1
        return n

    def _prefix_files(self, identity: dict) -> list[Path]:
        if not self.root.is_dir():
            return []
        prefix = f"{_safe_name(identity.get('dataset'))}-{_safe_name(identity.get('model'))}-{_safe_name(identity.get('method'))}-"
        return sorted(self.root.glob(f"{prefix}*.json"))

    def _same_prefix(self, identity: dict) -> list[dict]:
        recs = (self._read(p, quiet=True) for p in self._prefix_files(identity))
        return [r for r in recs if r is not None]

    def _read(self, path: Path, quiet: bool = False) -> dict | None:
        try:
            with open(path, encoding="utf-8") as fh:
                rec = json.load(fh)
        except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
            if not quiet:
                warnings.warn(f"ignoring unreadable results file {path}: {type(exc).__name__}: {exc}", stacklevel=3)
            return None
        if not isinstance(rec, dict) or "key" not in rec:
            if not quiet:
                warnings.warn(f"ignoring results file {path}: not a lotus record", stacklevel=3)
            return None
        return rec

    def iter_records(self) -> Iterable[dict]:
        for path in self._files():
            rec = self._read(path)
            if rec is not None:
                yield rec

    def records(self, **filters) -> pd.DataFrame:
        """All records as a DataFrame (one row per run), optionally filtered.

        ``filters``: ``column=value`` keeps rows equal to ``value``; ``column=[v1, v2]`` keeps
        rows whose value is one of them. ``forget`` compares as text (``0.1`` == ``"0.1"``).
        Example: ``store.records(dataset="cifar10", method=["lotus", "gold"])``.
        """
        rows = list(self.iter_records())
        df = pd.DataFrame(rows)
        for col in RECORD_COLUMNS:
            if col not in df.columns:
                df[col] = pd.Series(dtype=object if col not in METRICS else float)
        for name, want in filters.items():
            if name not in df.columns:
                raise LotusError(f"unknown record field {name!r}; valid: {', '.join(sorted(df.columns))}")
            values = list(want) if isinstance(want, (list, tuple, set)) else [want]
            col = df[name]
            if name == "forget":
                col, values = col.astype(str), [canonical_forget(v) for v in values]
            df = df[col.isin(values)]
        sort = [c for c in ("dataset", "model", "forget", "method", "seed") if c in df.columns]
        if len(df):
            df = df.sort_values(sort, key=lambda s: s.astype(str), kind="stable")
        return df.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------


def summarize(
    df: pd.DataFrame,
    gold_method: str = "gold",
    by: Sequence[str] = ("dataset", "model", "forget"),
    *,
    metrics: Sequence[str] = _DEFAULT_SUMMARY_METRICS,
    gap_keys: Sequence[str] = AVG_GAP_KEYS,
    decimals: int | None = None,
    formatted: bool = False,
) -> pd.DataFrame:
    """Mean and standard deviation over seeds per method, and the paper's Avg Gap.

    Parameters
    ----------
    df : records (e.g. :meth:`ResultsStore.records`), one row per (method, seed, ...).
    gold_method : the gold standard the gaps are measured to (``"gold"``).
    by : columns that define one benchmark (a separate gold standard per group).
    metrics : metric columns to aggregate.
    gap_keys : the metrics entering Avg Gap (MIA, forget, retain and test accuracy).
    decimals : round the seed means to this many decimals *before* taking the gaps, as the
        authors' notebook does (``2``); ``None`` (default) uses the unrounded means.
    formatted : return :func:`format_summary` of the table instead.

    Returns
    -------
    A DataFrame indexed by ``(*by, "method")`` with columns ``<metric>_mean``,
    ``<metric>_std`` (sample std, ``ddof=1``; NaN for a single seed), ``n_seeds``,
    ``avg_gap`` = mean over ``gap_keys`` of ``|mean(method) - mean(gold)|`` (NaN when the
    group has no gold-standard rows) and ``flags`` (the :data:`FLAGS` of the group's
    records, comma-separated; empty when none). The gold method comes first in each group,
    then the original model, then the others in order of appearance.

    What is averaged: records are grouped by every field of :data:`CONFIG_COLUMNS` the frame
    has (the configuration except its seed). A record present twice (same ``key``, e.g. a
    copied file) counts once. A :class:`LotusError` names the fields when records of one
    method in one group differ in any other setting (e.g. two values of alpha: filter them, or
    add the field to ``by``), when the methods of one group were run with different training
    recipes, data or numerics, when one seed has two different records, or when a metric
    holds something other than a number. A metric missing in one seed's record (``null``)
    makes its mean NaN rather than a mean over fewer seeds.
    """
    if df is None or len(df) == 0:
        raise LotusError("no records to summarise (the results store is empty or the filters matched nothing)")
    by = [b for b in by if b in df.columns]
    needed = ["method", *metrics, *gap_keys]
    missing = sorted({c for c in needed if c not in df.columns})
    if missing:
        raise LotusError(f"records lack the column(s) {missing}")
    data = df.copy()
    if "key" in data.columns:
        keyed = data["key"].notna()
        data = pd.concat([data[keyed].drop_duplicates("key"), data[~keyed]])
    for col in by:
        data[col] = data[col].map(_text_of)
    cols = list(dict.fromkeys([*metrics, *gap_keys]))
    for c in cols:
        data[c] = _numeric_metric(data, c)
    keys = [*by, "method"]
    _check_configurations(data, by)
    grouped = data.groupby(keys, sort=False, dropna=False)
    means = grouped[cols].mean(skipna=False) if _pandas_skipna_ok() else grouped[cols].agg(
        lambda s: s.mean(skipna=False))
    stds = grouped[cols].std(ddof=1)
    n = grouped.size().rename("n_seeds")
    table = pd.concat([means.add_suffix("_mean")[[f"{m}_mean" for m in metrics]],
                       stds.add_suffix("_std")[[f"{m}_std" for m in metrics]], n], axis=1)
    # interleave mean/std per metric for readability
    order = [c for m in metrics for c in (f"{m}_mean", f"{m}_std")] + ["n_seeds"]
    table = table[order]
    gap_means = means[list(gap_keys)]
    if decimals is not None:
        gap_means = gap_means.round(decimals)
    gaps = []
    for idx in table.index:
        group = idx[:-1] if by else ()
        gold_idx = (*group, gold_method) if by else gold_method
        if gold_idx in gap_means.index:
            diff = (gap_means.loc[idx] - gap_means.loc[gold_idx]).abs()
            gaps.append(float(diff.mean()))
        else:
            gaps.append(math.nan)
    table["avg_gap"] = gaps
    if "flags" in data.columns:
        flags = grouped["flags"].agg(lambda s: ", ".join(sorted({f for v in s for f in (v if isinstance(v, list) else [])})))
        table["flags"] = flags.reindex(table.index).fillna("")
    else:
        table["flags"] = ""
    table = _order_methods(table, gold_method)
    return format_summary(table) if formatted else table


def _pandas_skipna_ok() -> bool:
    """Whether ``GroupBy.mean`` takes ``skipna`` (pandas >= 3)."""
    import inspect

    return "skipna" in inspect.signature(pd.core.groupby.DataFrameGroupBy.mean).parameters


def _text_of(value) -> str:
    """A hashable, canonical text of a record field (dicts and lists as sorted JSON)."""
    if isinstance(value, (dict, list)):
        return json.dumps(to_plain(value), sort_keys=True)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _numeric_metric(data: pd.DataFrame, col: str) -> pd.Series:
    """``data[col]`` as floats; ``None``/NaN stay NaN, anything else that is not a number
    (text, a list) is a :class:`LotusError` naming the record."""
    raw = data[col]
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna() & raw.notna() & ~raw.map(lambda v: isinstance(v, float) and math.isnan(v))
    if bad.any():
        row = data[bad].iloc[0]
        who = row.get("key") if "key" in data.columns else None
        raise LotusError(f"record {who or '(no key)'} ({row.get('method')}, seed {row.get('seed')}) has a "
                         f"non-numeric {col}: {raw[bad].iloc[0]!r}; fix or remove that file")
    return num.astype(float)


def _check_configurations(data: pd.DataFrame, by: list[str]) -> None:
    """Refuse to average records whose settings differ (see :func:`summarize`)."""
    present = [c for c in CONFIG_COLUMNS if c in data.columns and c not in by and c != "method"]
    if not present:
        return
    texts = pd.DataFrame({c: data[c].map(_text_of) for c in present}, index=data.index)
    where = lambda g: " / ".join(str(v) for v in g) if isinstance(g, tuple) else str(g)  # noqa: E731
    keys = [*by, "method"]
    for group, idx in data.groupby(keys, sort=False, dropna=False).groups.items():
        sub = texts.loc[idx]
        differ = [c for c in present if sub[c].nunique(dropna=False) > 1]
        if differ:
            c = differ[0]
            values = list(dict.fromkeys(sub[c]))[:3]
            raise LotusError(
                f"records of {where(group)} differ in {', '.join(differ)} ({c}: {' vs '.join(values)}); "
                f"summarize averages only records of one configuration: filter them (e.g. `lotus report --where "
                f"{c}.NAME=VALUE`) or add {c!r} to by")
        if "seed" in data.columns:
            seeds = data.loc[idx, "seed"]
            dup = seeds[seeds.duplicated()]
            if len(dup):
                keys_of = list(data.loc[idx][seeds == dup.iloc[0]].get("key", pd.Series(dtype=object)))
                raise LotusError(f"records of {where(group)} hold seed {dup.iloc[0]} twice (keys {keys_of}; made by "
                                 "other lotus versions or from other data?): remove one of them")
    # the methods of one benchmark share the gold model: same recipe, data and numerics
    shared = [c for c in ("model_kwargs", "train_recipe", "data", "eval", "numerics", "source_fingerprint")
              if c in present]
    if not shared:
        return
    groups = data.groupby(by, sort=False, dropna=False).groups.items() if by else [((), data.index)]
    for group, idx in groups:
        sub = texts.loc[idx]
        differ = [c for c in shared if sub[c].nunique(dropna=False) > 1]
        if differ:
            c = differ[0]
            raise LotusError(f"the methods of {where(group) or 'these records'} were run with different {', '.join(differ)} "
                             f"({c}: {' vs '.join(list(dict.fromkeys(sub[c]))[:2])}), so their gaps to one gold model "
                             f"mean nothing: filter them or add {c!r} to by")


def _order_methods(table: pd.DataFrame, gold_method: str) -> pd.DataFrame:
    methods = list(table.index.get_level_values("method"))
    rank = {gold_method: 0, "original": 1}
    first_seen = {m: i for i, m in reversed(list(enumerate(methods)))}
    pos = [(rank.get(m, 2), first_seen[m]) for m in methods]
    group_cols = [n for n in table.index.names if n != "method"]
    if group_cols:
        groups = table.index.droplevel("method")
        gorder = {g: i for i, g in reversed(list(enumerate(groups)))}
        keyed = [(gorder[g], *p) for g, p in zip(groups, pos)]
    else:
        keyed = pos
    order = sorted(range(len(methods)), key=lambda i: keyed[i])
    return table.iloc[order]


def _fmt(mean: float, std: float, decimals: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def format_summary(
    table: pd.DataFrame,
    *,
    decimals: int = 2,
    scale: dict | None = None,
    rename: dict | None = None,
) -> pd.DataFrame:
    """A display view of :func:`summarize`: one ``"0.93 ± 0.01"`` string column per metric.

    ``scale`` multiplies metrics before formatting (default: JSD and RF-JSD x 1e4 as in the
    paper's tables; time in minutes); ``rename`` maps metric names to column titles.
    Avg Gap is shown with 4 decimals.
    """
    scale = {"jsd": 1e4, "rf_jsd": 1e4, "unlearn_seconds": 1 / 60} if scale is None else scale
    titles = {
        "mia": "MIA", "acc_forget": "Forget acc", "acc_retain": "Retain acc", "acc_test": "Test acc",
        "acc_val": "Val acc", "jsd": "JSD ×1e4", "rf_jsd": "RF-JSD ×1e4", "unlearn_seconds": "Time (min)",
    }
    titles.update(rename or {})
    metrics = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        f = scale.get(m, 1.0)
        out[titles.get(m, m)] = [
            _fmt(mu * f if mu == mu else mu, sd * f if sd == sd else sd, decimals)
            for mu, sd in zip(table[f"{m}_mean"], table[f"{m}_std"])
        ]
    if "avg_gap" in table.columns:
        out["Avg Gap"] = ["–" if g != g else f"{g:.4f}" for g in table["avg_gap"]]
    if "n_seeds" in table.columns:
        out["seeds"] = table["n_seeds"].astype(int)
    if "flags" in table.columns and table["flags"].astype(bool).any():
        out["flags"] = ["⚠ " + f if f else "" for f in table["flags"]]
    return out


def records_to_frame(records: Iterable[dict]) -> pd.DataFrame:
    """A DataFrame of records in the layout of :meth:`ResultsStore.records`."""
    df = pd.DataFrame(list(records))
    for col in RECORD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object if col not in METRICS else float)
    return df


# ---------------------------------------------------------------------------------------
# Reports (``lotus report``): flattened records, and tables as text, CSV, Markdown, LaTeX
# ---------------------------------------------------------------------------------------

#: columns of the raw view that are too long to be useful in a table
_BULKY = ("history", "extra", "train.original.history", "train.gold.history")


def flatten_records(df: pd.DataFrame, *, drop_bulky: bool = True) -> pd.DataFrame:
    """One row per record with nested fields flattened into dotted columns
    (``hparams.alpha``, ``train_recipe.epochs``, ``sizes.forget``, ``gold.mia``...); lists
    (e.g. ``flags``) become comma-separated text. ``drop_bulky`` drops per-epoch histories."""
    rows = []
    for rec in df.to_dict("records"):
        flat: dict = {}

        def walk(prefix, value):
            if isinstance(value, dict) and value:
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
            elif isinstance(value, dict):
                flat[prefix] = ""
            elif isinstance(value, (list, tuple)):
                flat[prefix] = ", ".join(_text_of(v) for v in value) if all(
                    not isinstance(v, (dict, list)) for v in value) else json.dumps(to_plain(list(value)))
            else:
                flat[prefix] = value

        for k, v in rec.items():
            walk(str(k), v)
        rows.append(flat)
    out = pd.DataFrame(rows)
    if drop_bulky:
        out = out[[c for c in out.columns if c not in _BULKY and not c.endswith(".history")]]
    return out


def _filter_flat(flat: pd.DataFrame, where: dict) -> pd.DataFrame:
    """Rows of ``flat`` whose dotted field equals the given text (any of several values)."""
    for name, want in (where or {}).items():
        if name not in flat.columns:
            close = [c for c in flat.columns if c.split(".")[-1] == name.split(".")[-1]]
            raise LotusError(f"unknown record field {name!r}" + (f"; did you mean {', '.join(close[:5])}?" if close else
                             f"; fields: {', '.join(sorted(flat.columns)[:40])}"))
        values = want if isinstance(want, (list, tuple, set)) else [want]
        if name == "forget":
            values = [canonical_forget(v) for v in values]
        texts = {_text_of(v) for v in values}
        # numbers compare as numbers ("2" matches 2.0), everything else as text
        col = flat[name]
        num = pd.to_numeric(col, errors="coerce")
        wanted = pd.to_numeric(pd.Series(list(values)), errors="coerce").dropna().tolist()
        keep = col.map(_text_of).isin(texts) | (num.isin(wanted) if wanted else False)
        flat = flat[keep]
    return flat


def report_table(df: pd.DataFrame, *, where: dict | None = None, raw: bool = False, columns: Sequence[str] | None = None,
                 by: Sequence[str] = ("dataset", "model", "forget"), gold_method: str = "gold") -> pd.DataFrame:
    """The table ``lotus report`` prints for the records ``df`` (:meth:`ResultsStore.records`).

    ``where``: ``{field: value}`` filters on any field, nested ones dotted
    (``{"method": "lotus", "hparams.alpha": 2}``; a list of values keeps any of them).
    ``raw``: one row per record (:func:`flatten_records`), else the :func:`summarize` table
    formatted as ``mean ± std`` (:func:`format_summary`) with the index as columns.
    ``columns``: keep only these columns (raw: dotted names).
    """
    if df is None or len(df) == 0:
        raise LotusError("no records (the results folder is empty or holds no lotus record)")
    flat = flatten_records(df, drop_bulky=raw)
    if where:
        flat = _filter_flat(flat, where)
        df = df.loc[flat.index]
    if len(df) == 0:
        raise LotusError(f"no record matches {where}")
    if raw:
        table = flat.reset_index(drop=True)
        first = [c for c in ("dataset", "model", "forget", "method", "seed", *METRICS) if c in table.columns]
        table = table[first + [c for c in table.columns if c not in first]]
    else:
        table = format_summary(summarize(df.reset_index(drop=True), gold_method=gold_method, by=by)).reset_index()
    if columns:
        unknown = [c for c in columns if c not in table.columns]
        if unknown:
            raise LotusError(f"unknown column(s) {unknown}; valid: {', '.join(map(str, table.columns))}")
        table = table[list(columns)]
    return table


def _cell(value, floatfmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, floatfmt)
    return str(value)


def to_markdown(table: pd.DataFrame, *, floatfmt: str = ".4f") -> str:
    """A GitHub-flavoured Markdown table of ``table`` (its columns; the index is not
    written), numbers right-aligned. Needs no optional dependency (pandas' ``to_markdown``
    needs ``tabulate``)."""
    cols = [str(c) for c in table.columns]
    rows = [[_cell(v, floatfmt).replace("|", "\\|").replace("\n", " ") for v in r] for r in table.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c]) for c in table.columns]
    widths = [max([len(c), 3, *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric)) + " |"
    return "\n".join([line(cols), rule, *(line(r) for r in rows)]) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$",
                  "×": r"$\times$", "⚠": "(!)", "–": "--"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: pd.DataFrame, *, floatfmt: str = ".4f", caption: str | None = None) -> str:
    """A ``tabular`` (booktabs rules) of ``table``, text escaped for LaTeX; needs no optional
    dependency (pandas' ``to_latex`` needs ``jinja2``)."""
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c]) for c in table.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    out = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
           " & ".join(_latex_escape(str(c)) for c in table.columns) + r" \\", "\\midrule"]
    for r in table.itertuples(index=False):
        out.append(" & ".join(_latex_escape(_cell(v, floatfmt)) for v in r) + r" \\")
    out += ["\\bottomrule", "\\end{tabular}"]
    if caption:
        out = ["\\begin{table}", "\\centering", f"\\caption{{{_latex_escape(caption)}}}", *out, "\\end{table}"]
    return "\n".join(out) + "\n"


def write_table(table: pd.DataFrame, fmt: str = "text", *, floatfmt: str = ".4f") -> str:
    """``table`` as ``"text"`` (aligned columns), ``"csv"``, ``"markdown"`` or ``"latex"``."""
    if fmt == "text":
        with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 60,
                               "display.max_rows", None):
            return table.to_string(index=False, float_format=lambda v: format(v, floatfmt)) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        table.to_csv(buf, index=False)
        return buf.getvalue()
    if fmt in ("markdown", "md"):
        return to_markdown(table, floatfmt=floatfmt)
    if fmt in ("latex", "tex"):
        return to_latex(table, floatfmt=floatfmt)
    raise LotusError(f"unknown table format {fmt!r}; valid: text, csv, markdown, latex")
