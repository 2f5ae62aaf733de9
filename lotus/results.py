"""A small JSON results store and the summary tables of the paper.

Every finished experiment (one data set, model, method, forget set and seed) becomes one
JSON *record* in a folder, written atomically (a half-written file is never visible), and
named after a hash of everything that determines the result (:func:`record_key`): data
set, model and its kwargs, method and its resolved hyper-parameters, forget specification,
seed, training recipe, data kwargs and evaluation kwargs. Re-running the same experiment
therefore finds its record and skips it, and an interrupted grid resumes where it stopped.

>>> store = ResultsStore("results/runs")
>>> df = store.records(dataset="digits", method=["lotus", "gold"])
>>> summarize(df)                     # mean +- std over seeds per method, Avg Gap of the means
>>> format_summary(summarize(df))     # the same, as "0.93 ± 0.01" strings

:func:`summarize` computes Avg Gap as the paper does (spec 4.6): per method, each metric is
averaged over the seeds first; the gap is ``|mean(method) - mean(gold)|`` for MIA, forget,
retain and test accuracy, and Avg Gap is the mean of these four gaps -- a gap of means, not
a mean of per-seed gaps.
"""

from __future__ import annotations

import datetime as _dt
import functools
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
]

#: fields of a record that identify the experiment (hashed into its key)
KEY_FIELDS = ("dataset", "model", "model_kwargs", "method", "hparams", "forget", "seed", "train_recipe", "data", "eval")

#: metric columns of a record, in display order
METRICS = ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd", "rf_jsd", "jsd_legacy", "rf_jsd_legacy",
           "avg_gap", "unlearn_seconds")

#: columns every record has (the DataFrame of an empty store still has them)
RECORD_COLUMNS = (
    "key", "dataset", "model", "method", "forget", "seed", *METRICS,
    "epochs", "hparams", "train_recipe", "model_kwargs", "data", "eval", "history",
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
    "torch_version", "python_version", "platform"}``; ``device`` defaults to the one
    :func:`lotus.utils.resolve_device` picks.
    """
    dev = resolve_device(device)
    return {
        "lotus_version": VERSION,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "device": str(dev),
        "device_name": device_name(dev),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


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
    ident = {k: identity.get(k) for k in KEY_FIELDS}
    for k in ("model_kwargs", "hparams", "train_recipe", "data", "eval"):
        ident[k] = ident[k] or {}
    ident["forget"] = str(ident["forget"])
    ident["seed"] = int(ident["seed"]) if ident["seed"] is not None else None
    return stable_hash(ident)


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
        record = to_plain(dict(record))
        key = record_key(record)
        if "key" in record and record["key"] != key:
            raise LotusError(f"record key {record['key']!r} does not match its fields (expected {key!r})")
        record["key"] = key
        name = f"{_safe_name(record['dataset'])}-{_safe_name(record['model'])}-{_safe_name(record['method'])}-{key}.json"
        old = self.path_of(key)
        path = atomic_write_json(self.root / name, record)
        if old is not None and old != path:
            old.unlink(missing_ok=True)
        return path

    def _read(self, path: Path) -> dict | None:
        try:
            with open(path, encoding="utf-8") as fh:
                rec = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            warnings.warn(f"ignoring unreadable results file {path}: {exc}", stacklevel=3)
            return None
        if not isinstance(rec, dict) or "key" not in rec:
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
    ``<metric>_std`` (sample std, ``ddof=1``; NaN for a single seed), ``n_seeds`` and
    ``avg_gap`` = mean over ``gap_keys`` of ``|mean(method) - mean(gold)|`` (NaN when the
    group has no gold-standard rows). The gold method comes first in each group, then the
    original model, then the others in order of appearance.
    """
    if df is None or len(df) == 0:
        raise LotusError("no records to summarise (the results store is empty or the filters matched nothing)")
    by = [b for b in by if b in df.columns]
    needed = ["method", *metrics, *gap_keys]
    missing = sorted({c for c in needed if c not in df.columns})
    if missing:
        raise LotusError(f"records lack the column(s) {missing}")
    data = df.copy()
    if "forget" in data.columns:
        data["forget"] = data["forget"].astype(str)
    cols = list(dict.fromkeys([*metrics, *gap_keys]))
    data[cols] = data[cols].apply(pd.to_numeric, errors="coerce")
    keys = [*by, "method"]
    grouped = data.groupby(keys, sort=False, dropna=False)
    means = grouped[cols].mean()
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
    table = _order_methods(table, gold_method)
    return format_summary(table) if formatted else table


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
    return out


def records_to_frame(records: Iterable[dict]) -> pd.DataFrame:
    """A DataFrame of records in the layout of :meth:`ResultsStore.records`."""
    df = pd.DataFrame(list(records))
    for col in RECORD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object if col not in METRICS else float)
    return df
