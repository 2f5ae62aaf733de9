"""The numbers the LoTUS paper and its authors published, read from the CSV files in
``lotus/published/``. That folder's ``README.md`` documents every file, column and unit (JSD and
RF-JSD printed x1e4 with the authors' formula, times in minutes, accuracies as fractions) and the
spec section each number comes from; :data:`SOURCES` describes the sources named in the
``table`` columns, :func:`read_published` returns one file as shipped.

Row keys are the package's method names (:func:`lotus.list_methods`) plus ``"original"``, the
gold standard ``"gold"`` and the variant ``"lotus_cifake"`` (``rows.csv``).

>>> from lotus import paper
>>> float(paper.published_table("resnet18-cifar100-10").loc["lotus", "avg_gap"])
0.12
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Iterable

import pandas as pd

from .data import parse_forget_spec
from .methods import get_method
from .metrics import pearson
from .models import model_family
from .utils import LotusError

__all__ = [
    "SOURCES", "SCALES", "PAPER_METHODS", "KNOWN_DIFFERENCES", "read_published", "list_benchmarks",
    "benchmark_info", "published_table", "published_accuracies", "published_pcc", "published_class_unlearning",
    "published_alpha_sweep", "recompute_avg_gap", "recompute_pcc", "method_label", "format_pm", "side_by_side",
    "closest_benchmark",
]

_DIR = Path(__file__).with_name("published")
# the declared column types of the CSV files: text, integers, and float64 for every other column
_TEXT = frozenset({"source", "description", "table", "benchmark", "method", "key", "label", "model", "dataset",
                   "forget", "forget_class", "note", "x", "y", "column"})
_INT = frozenset({"forget_size", "num_classes", "lotus_alpha", "lotus_epochs", "alpha"})


@cache
def _read(name: str) -> pd.DataFrame:
    valid = sorted(p.stem for p in _DIR.glob("*.csv"))
    if name not in valid:
        raise LotusError(f"no published file {name!r}; valid: {', '.join(valid)}")
    df = pd.read_csv(_DIR / f"{name}.csv", dtype=str)
    for col in df.columns:
        if col in _TEXT:
            continue
        try:
            df[col] = df[col].astype("int64") if col in _INT else pd.to_numeric(df[col]).astype("float64")
        except (TypeError, ValueError) as exc:
            raise LotusError(f"published/{name}.csv, column {col!r}: not a number ({exc})") from None
    return df


def read_published(name: str) -> pd.DataFrame:
    """The CSV file ``lotus/published/<name>.csv`` as shipped, rows in file order.

    Columns named in the README as text (``table``, ``benchmark``, ``method``, ...) are strings,
    the integer ones (``forget_size``, ``alpha``, ...) ``int64``, every other column ``float64``
    (an empty cell is ``NaN``); a cell that is not a number raises :class:`LotusError`.
    """
    return _read(name).copy()


#: source key -> description (``sources.csv``)
SOURCES = dict(zip(_read("sources")["source"], _read("sources")["description"]))

#: multiply a package value by this factor to obtain the printed unit (``time_min``: seconds -> minutes)
SCALES = {"jsd": 1e4, "rf_jsd": 1e4, "rf_jsd_class_unlearning": 1.0, "time_min": 1.0 / 60.0}

#: the rows of the final paper's Tables 1-2, in the paper's column order
PAPER_METHODS = ("gold", "finetune", "neggrad_plus", "random_labeling", "bad_teacher", "scrub", "ssd",
                 "unsir", "salun", "lotus")

_ORDER = {m: i for i, m in enumerate(("original",) + PAPER_METHODS + ("lotus_cifake",))}
_ACC_KEYS = ("mia", "acc_forget", "acc_retain", "acc_test")
_ACC_COLUMNS = [f"{k}{s}" for k in _ACC_KEYS for s in ("", "_std", "_gap")] + ["avg_gap"]
_SUMMARY_COLUMNS = ["avg_gap", "jsd", "jsd_std", "rf_jsd", "rf_jsd_std", "time_min", "time_min_std", "table"]
_IMAGENET = "vit-imagenet1k"


def _known_differences() -> pd.DataFrame:
    kd = _read("known_differences").copy()
    summary = _read("summary").set_index(["table", "benchmark", "method"])
    for side in ("published", "notebook"):
        cells = [summary.loc[(t if side == "published" else "notebook", b, m)] for b, m, t in
                 zip(kd["benchmark"], kd["method"], kd["table"])]
        kd[side] = [row[c] for row, c in zip(cells, kd["column"])]
        kd[f"{side}_std"] = [row.get(f"{c}_std", math.nan) for row, c in zip(cells, kd["column"])]
    return kd


#: Every cell where a final-paper or review-supplement table and the authors' notebook disagree
#: (the paper presumably re-ran some experiments after the review; spec 7.1, 7.2): columns
#: ``benchmark``, ``method``, ``column``, ``table`` (``known_differences.csv``) and the two
#: values with their stds, ``published``/``published_std`` and ``notebook``/``notebook_std``.
KNOWN_DIFFERENCES = _known_differences()


def format_pm(mean: float, std: float | None = None, digits: int = 2) -> str:
    """``"mean ± std"`` with ``digits`` decimals (``"—"`` for a missing mean; no ``±`` part when
    ``std`` is missing)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def method_label(method: str) -> str:
    """The display name of a row key: the ``label`` of a registered method
    (``"neggrad_plus"`` -> ``"NegGrad+"``), else its ``rows.csv`` label (``"gold"`` ->
    ``"Gold Std"``); unknown keys are returned unchanged."""
    rows = _row_labels()
    if method in rows:
        return rows[method]
    try:
        return get_method(method).label or method
    except LotusError:
        return method


@cache
def _row_labels() -> dict[str, str]:
    return dict(zip(_read("rows")["key"], _read("rows")["label"]))


@cache
def _benchmarks() -> pd.DataFrame:
    return _read("benchmarks").set_index("benchmark")


def _check_benchmark(benchmark: str) -> str:
    valid = _benchmarks().index
    if benchmark not in valid:
        raise LotusError(f"unknown benchmark {benchmark!r}; valid: {', '.join(valid)}")
    return benchmark


@cache
def _tables() -> dict[str, tuple[str, ...]]:
    found = pd.concat([_read(n)[["benchmark", "table"]] for n in ("summary", "accuracies", "imagenet", "pcc",
                                                                  "alpha_sweep")])
    return {b: tuple(sorted(set(t))) for b, t in found.groupby("benchmark")["table"]}


def _tables_holding(benchmark: str) -> list[str]:
    return list(_tables().get(benchmark, ()))


def list_benchmarks() -> pd.DataFrame:
    """One row per published benchmark (index: benchmark key such as ``"resnet18-cifar10-10"``).

    Columns: ``label``; ``model``, ``dataset`` and ``forget`` in the package's names (the
    ``forget`` spec is what :func:`lotus.data.load_splits` accepts); ``forget_size`` (the
    forget-set size of the full-size benchmark) and ``num_classes``; the authors' LoTUS
    ``lotus_alpha``, ``lotus_epochs`` and ``lotus_lr``; ``tables``: the tables that hold numbers
    for it (comma-separated, sorted).
    """
    df = _benchmarks().copy()
    df["tables"] = [", ".join(_tables_holding(b)) for b in df.index]
    return df


def benchmark_info(benchmark: str) -> dict:
    """The :func:`list_benchmarks` row of ``benchmark`` as a dict of Python values (``tables`` a list)."""
    row = _benchmarks().loc[[_check_benchmark(benchmark)]].to_dict("records")[0]
    return dict(row, benchmark=benchmark, tables=_tables_holding(benchmark))


def closest_benchmark(dataset: str, model, forget) -> str | None:
    """The published benchmark nearest to a run of ``model`` on ``dataset`` with ``forget``.

    The model family comes from :func:`lotus.models.model_family` (``"vit"`` -> ViT, anything
    else, unknown names included -> ResNet18). The data set is kept when the paper used it
    (``cifar10``, ``cifar100``, ``mufac``, ``tinyimagenet``); any other (digits, an image
    folder) maps to CIFAR-10, the paper's smallest. A forget fraction of at least 0.3 maps to the
    50 % benchmarks, a smaller one to 10 %; ``"count:N"`` maps to the ImageNet-1k protocol; a
    ``"class:..."`` spec has no instance-wise counterpart and returns ``None`` (see
    :func:`published_class_unlearning`).
    """
    kind, value = parse_forget_spec(forget)
    if kind == "class":
        return None
    if kind == "count":
        return _IMAGENET
    family = "vit" if model_family(model) == "vit" else "resnet18"
    ds = str(dataset).lower()
    if ds == "mufac" or kind == "rows":
        return f"{family}-mufac"
    ds = ds if ds in ("cifar10", "cifar100", "tinyimagenet") else "cifar10"
    if kind == "fraction" and value >= 0.3 and ds != "tinyimagenet":
        return f"{family}-{ds}-50"
    return f"{family}-{ds}-10"


def _frame(rows: pd.DataFrame, benchmark: str, source: str, columns: list[str]) -> pd.DataFrame:
    df = rows.set_index("method").reindex(columns=columns)
    df.insert(0, "label", [method_label(m) for m in df.index])
    df.attrs.update(benchmark=benchmark, source=source, label=_benchmarks().loc[benchmark, "label"],
                    scales={"jsd": SCALES["jsd"], "rf_jsd": SCALES["rf_jsd"]})
    return df


def _imagenet(table: str) -> pd.DataFrame:
    im = _read("imagenet")
    return im[im["table"] == table].set_index("method")


_PUBLISHED_SOURCES = ("cvpr2025", "notebook")


def published_table(benchmark: str, source: str = "cvpr2025") -> pd.DataFrame:
    """The published summary numbers of one benchmark, one row per method (index: method key).

    ``source="cvpr2025"`` (default): the final paper (Table 1 or 2 for 10 % forget sets,
    Table 3 for 50 %, completed with the basic methods of the review supplement's Table 5,
    Table 4 for ImageNet-1k), rows in the paper's order. ``source="notebook"``: the authors'
    notebook summary block, which also has RF-JSD for every method and the gold model's RF-JSD.

    Columns: ``label``, ``avg_gap``, ``jsd``/``jsd_std`` and ``rf_jsd``/``rf_jsd_std`` (x1e4,
    authors' formula), ``time_min``/``time_min_std`` (minutes), ``table`` (where the row was
    printed); ImageNet-1k adds ``acc_retain`` and ``mia`` with their stds. Values not published
    are ``NaN``. ``df.attrs`` holds ``benchmark``, ``source``, ``label`` and the ``scales``.
    """
    _check_benchmark(benchmark)
    if source not in _PUBLISHED_SOURCES:
        raise LotusError(f"unknown source {source!r}; valid: {', '.join(_PUBLISHED_SOURCES)}")
    summary = _read("summary")
    notebook = summary["table"] == "notebook"
    if source == "notebook":
        rows = summary[notebook & (summary["benchmark"] == benchmark)]
        if rows.empty:
            raise LotusError(f"the authors' notebook has no summary block for {benchmark!r}; "
                             f"valid: {', '.join(pd.unique(summary.loc[notebook, 'benchmark']))}")
        return _frame(rows, benchmark, source, _SUMMARY_COLUMNS)
    if benchmark == _IMAGENET:
        extra = ["acc_retain", "acc_retain_std", "mia", "mia_std"]
        return _frame(_imagenet("cvpr2025 Table 4").reset_index(), benchmark, source, _SUMMARY_COLUMNS + extra)
    rows = summary[~notebook & (summary["benchmark"] == benchmark)]
    if rows.empty:
        raise LotusError(f"the final paper has no table for {benchmark!r}; try source='notebook'")
    # a 50 % benchmark: Table 3 wins over the rows that the supplement's Table 5 repeats
    repeated = rows["method"].duplicated(keep=False) & rows["table"].str.startswith("review_supplement")
    rows = rows[~repeated].sort_values("method", key=lambda m: m.map(_ORDER), kind="stable")
    return _frame(rows, benchmark, source, _SUMMARY_COLUMNS)


def published_accuracies(benchmark: str) -> pd.DataFrame:
    """The accuracies behind Avg Gap (review supplement Table 4 = the notebook's accuracy block).

    Index: method key (``"original"`` and ``"gold"`` included). Columns, for each of ``mia``,
    ``acc_forget``, ``acc_retain``, ``acc_test``: the seed mean, ``<name>_std`` and
    ``<name>_gap`` (the printed absolute gap to the gold model, ``NaN`` for the original model);
    then ``avg_gap``. ImageNet-1k has no gold model: retain accuracy and MIA come from the final
    paper's Table 4, forget and test accuracy from the authors' ImageNet notebook, gaps are
    ``NaN``. Note: the Tiny-ImageNet ``"original"`` row was logged in percent.
    """
    _check_benchmark(benchmark)
    if benchmark == _IMAGENET:
        extra = _imagenet("imagenet_notebook")[["acc_test", "acc_test_std", "acc_forget", "acc_forget_std"]]
        rows = _imagenet("cvpr2025 Table 4").drop(columns=extra.columns).join(extra)
        return _frame(rows.reset_index(), benchmark, "cvpr2025 Table 4 + imagenet_notebook", _ACC_COLUMNS)
    acc = _read("accuracies")
    notebook = acc["table"] == "notebook"
    rows = acc[notebook & (acc["benchmark"] == benchmark)]
    if rows.empty:
        valid = list(pd.unique(acc.loc[notebook, "benchmark"])) + [_IMAGENET]
        raise LotusError(f"no published accuracies for {benchmark!r}; valid: {', '.join(valid)}")
    return _frame(rows, benchmark, "notebook (= review_supplement Table 4)", _ACC_COLUMNS)


_PCC_COLUMNS = {("jsd", "rf_jsd"): ("pcc", "p_value"), ("avg_gap", "rf_jsd"): ("pcc_gap_rf", "p_gap_rf"),
                ("avg_gap", "jsd"): ("pcc_gap_jsd", "p_gap_jsd")}


def published_pcc(source: str = "review_supplement") -> pd.DataFrame:
    """Published Pearson correlations between RF-JSD and JSD, one row per benchmark.

    ``source="review_supplement"``: Table 6 (ten benchmarks; columns ``label``, ``pcc``,
    ``p_value``); its printed "Mean ± Std" row is ``df.attrs["summary"]``, a dict
    ``{"pcc": (mean, std), "p_value": (mean, std)}``. ``source="notebook"``: the three
    correlations the notebook printed for each of its eleven benchmarks, computed over the method
    means of the summary block with the gold model included: ``pcc``/``p_value`` (JSD vs
    RF-JSD), ``pcc_gap_rf``/``p_gap_rf`` (Avg Gap vs RF-JSD), ``pcc_gap_jsd``/``p_gap_jsd``
    (Avg Gap vs JSD). The review table left out the synthetic-D_u LoTUS point that the notebook
    includes for the two CIFAR-10 10 % benchmarks.
    """
    pcc = _read("pcc")
    table = {"review_supplement": "review_supplement Table 6", "notebook": "notebook"}.get(source)
    if table is None:
        raise LotusError(f"unknown source {source!r}; valid: review_supplement, notebook")
    rows = pcc[pcc["table"] == table]
    summary = rows[rows["benchmark"] == "all"]
    rows = rows[rows["benchmark"] != "all"]
    df = pd.DataFrame(index=pd.Index(pd.unique(rows["benchmark"]), name="benchmark"))
    df["label"] = [_benchmarks().loc[b, "label"] for b in df.index]
    for (x, y), (r_col, p_col) in _PCC_COLUMNS.items():
        line = rows[(rows["x"] == x) & (rows["y"] == y)].set_index("benchmark")
        if not line.empty:
            df[r_col], df[p_col] = line["pcc"], line["p_value"]
    df.attrs["source"] = source
    if not summary.empty:
        s = summary.iloc[0]
        df.attrs["summary"] = {c: (float(s[c]), float(s[f"{c}_std"])) for c in ("pcc", "p_value")}
    return df


def published_class_unlearning(dataset: str | None = None, forget_class: str | None = None) -> pd.DataFrame:
    """ResNet18 class-unlearning results of the authors' class notebook (spec 7.9).

    One row per (dataset, forgotten class, method) with columns ``dataset``, ``forget_class``,
    ``method``, ``label``, ``avg_gap``, ``jsd``/``jsd_std`` (x1e4), ``time_min``, ``rf_jsd``
    (**unscaled**: with a single forgotten class the authors' 1/k factor is 1), ``mia`` and
    ``note``. Baselines were published with Avg Gap and JSD only. Filter with ``dataset``
    (``"cifar10"``, ``"cifar100"``, ``"tinyimagenet"``) and ``forget_class``.
    """
    df = _read("class_unlearning").drop(columns="table")
    df.insert(3, "label", [method_label(m) for m in df["method"]])
    for col, value in (("dataset", dataset), ("forget_class", forget_class)):
        if value is not None:
            valid = sorted(set(df[col]))
            if value not in valid:
                raise LotusError(f"no class-unlearning results for {col.replace('forget_', '')} {value!r}; "
                                 f"valid: {', '.join(valid)}")
            df = df[df[col] == value]
    df = df.reset_index(drop=True)
    df.attrs.update(source="class_notebook", scales={"jsd": SCALES["jsd"], "rf_jsd": SCALES["rf_jsd_class_unlearning"]})
    return df


def published_alpha_sweep(benchmark: str | None = None) -> pd.DataFrame:
    """The authors' grid search over LoTUS's alpha (columns ``benchmark``, ``alpha``,
    ``avg_gap_5``), sorted as printed (best first). Their tuning Avg Gap averages **five** gaps
    (MIA, forget, retain, test *and* val accuracy), unlike the paper's four-term Avg Gap."""
    df = _read("alpha_sweep")[["benchmark", "alpha", "avg_gap_5"]]
    if benchmark is not None:
        if benchmark not in set(df["benchmark"]):
            raise LotusError(f"no alpha sweep for {benchmark!r}; valid: {', '.join(pd.unique(df['benchmark']))}")
        df = df[df["benchmark"] == benchmark]
    return df.reset_index(drop=True)


def recompute_avg_gap(benchmark: str) -> pd.Series:
    """Avg Gap recomputed from the published accuracy means (the authors' "gap of means"):
    for each method, the mean over MIA, forget, retain and test accuracy of
    ``|method mean - gold mean|``, rounded to 4 decimals. Index: method (the original model is left out)."""
    acc = published_accuracies(benchmark)
    if "gold" not in acc.index:
        raise LotusError(f"{benchmark!r} has no gold model, so it has no Avg Gap")
    gold = acc.loc["gold", list(_ACC_KEYS)]
    body = acc.drop(index="original", errors="ignore")[list(_ACC_KEYS)]
    return (body - gold).abs().mean(axis=1).round(4).rename("avg_gap")


def recompute_pcc(benchmark: str, *, x: str = "jsd", y: str = "rf_jsd",
                  exclude: Iterable[str] = ()) -> tuple[float, float]:
    """Pearson ``(r, p)`` between two columns of the notebook summary block of ``benchmark``,
    over its method means (gold included), leaving out the methods in ``exclude``.

    With the defaults this reproduces the notebook's "JSD vs RF-JSD" line; the review
    supplement's Table 6 corresponds to ``exclude=("lotus_cifake",)``.
    """
    for col in (x, y):
        if col not in ("avg_gap", "jsd", "rf_jsd", "time_min"):
            raise LotusError(f"unknown column {col!r}; valid: avg_gap, jsd, rf_jsd, time_min")
    df = published_table(benchmark, source="notebook").drop(index=list(exclude), errors="ignore")
    return pearson(df[x].to_numpy(), df[y].to_numpy())


def side_by_side(ours: pd.DataFrame, published: pd.DataFrame, columns: Iterable[str],
                 names: tuple[str, str] = ("ours", "paper")) -> pd.DataFrame:
    """Join two method-indexed tables into one with two-level columns ``(metric, source)``.

    ``ours`` and ``published`` are indexed by method key; every name in ``columns`` must exist in
    at least one of them (missing cells become ``NaN``). Rows: the union of methods, ours first.
    """
    columns = list(columns)
    for col in columns:
        if col not in ours.columns and col not in published.columns:
            raise LotusError(f"column {col!r} is in neither table; ours has {list(ours.columns)}, "
                             f"the published table has {list(published.columns)}")
    index = list(ours.index) + [m for m in published.index if m not in ours.index]
    data = {}
    for col in columns:
        for name, df in zip(names, (ours, published)):
            data[(col, name)] = df[col].reindex(index) if col in df.columns else pd.Series(math.nan, index=index)
    out = pd.DataFrame(data, index=index)
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["metric", "source"])
    out.index.name = "method"
    return out
