"""Internal consistency of the published numbers (lotus/published/*.csv) read by lotus.paper.

The published tables overlap: the notebook's accuracy block holds the gaps whose mean is Avg
Gap, the summary block holds the means the Pearson correlations were computed from, and the
final paper repeats most notebook cells. Cross-checking them catches transcription errors.
"""

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lotus
from lotus import paper
from lotus.data import parse_forget_spec
from lotus.utils import LotusError

ACC_KEYS = ("mia", "acc_forget", "acc_retain", "acc_test")
DATA_DIR = Path(paper.__file__).with_name("published")
CSV_NAMES = sorted(p.stem for p in DATA_DIR.glob("*.csv"))


def _summary_rows(table=None):
    df = paper.read_published("summary")
    return df if table is None else df[df["table"] == table]


NOTEBOOK_BENCHMARKS = list(pd.unique(_summary_rows("notebook")["benchmark"]))


def _close(a, b, tol):
    return abs(float(a) - float(b)) <= tol


def _benchmarks_of(table):
    return list(pd.unique(_summary_rows(table)["benchmark"]))


# ---------------------------------------------------------------------------- the files


def _readme_columns() -> dict[str, list[tuple[str, str]]]:
    """``{file stem: [(column, declared type), ...]}`` from the column tables of the README."""
    out, current = {}, None
    for line in (DATA_DIR / "README.md").read_text().splitlines():
        head = re.match(r"^### `(\w+)\.csv`", line)
        if head:
            current = out.setdefault(head.group(1), [])
        row = re.match(r"^\| `(\w+)` \| (text|int|float) \|", line)
        if row and current is not None:
            current.append((row.group(1), row.group(2)))
    return out


def test_there_are_data_files_and_each_is_documented():
    assert {"benchmarks", "summary", "accuracies", "imagenet", "pcc", "class_unlearning", "alpha_sweep",
            "known_differences", "rows", "sources"} <= set(CSV_NAMES)
    assert set(_readme_columns()) == set(CSV_NAMES)


@pytest.mark.parametrize("name", CSV_NAMES)
def test_csv_loads_with_the_declared_columns_and_dtypes(name):
    declared = _readme_columns()[name]
    df = paper.read_published(name)
    assert list(df.columns) == [c for c, _ in declared]
    assert len(df) > 0
    for col, kind in declared:
        dtype = df[col].dtype
        if kind == "text":
            assert pd.api.types.is_string_dtype(dtype) and df[col].notna().any(), (name, col, dtype)
        elif kind == "int":
            assert dtype == np.int64, (name, col, dtype)
        else:
            assert dtype == np.float64, (name, col, dtype)


@pytest.mark.parametrize("name", CSV_NAMES)
def test_no_printed_plus_minus_strings_remain(name):
    text = (DATA_DIR / f"{name}.csv").read_text(encoding="utf-8")
    assert "±" not in text and "+/-" not in text and "—" not in text


def test_read_published_returns_a_copy_and_names_valid_files():
    df = paper.read_published("alpha_sweep")
    df.loc[0, "avg_gap_5"] = 99.0
    assert paper.read_published("alpha_sweep").loc[0, "avg_gap_5"] != 99.0
    with pytest.raises(LotusError, match="valid: .*summary"):
        paper.read_published("table1")


def test_every_std_is_non_negative():
    for name in CSV_NAMES:
        df = paper.read_published(name)
        for col in [c for c in df.columns if c.endswith("_std") or c.endswith("_gap")]:
            assert (df[col].dropna() >= 0).all(), (name, col)


def test_every_key_is_a_benchmark_or_a_known_row():
    benchmarks = set(paper.list_benchmarks().index)
    rows = set(paper.read_published("rows")["key"])
    known = set(lotus.list_methods()) | rows
    sources = set(paper.SOURCES)
    for name in CSV_NAMES:
        df = paper.read_published(name)
        if "benchmark" in df.columns and name != "benchmarks":
            assert set(df["benchmark"]) - {"all"} <= benchmarks, name
        if "method" in df.columns:
            assert set(df["method"]) <= known, (name, set(df["method"]) - known)
        if "table" in df.columns:
            assert {t.split()[0] for t in df["table"]} <= sources, name
    assert set(paper.KNOWN_DIFFERENCES["benchmark"]) <= benchmarks


def test_accuracies_are_fractions_except_the_documented_percent_row():
    acc = paper.read_published("accuracies")
    percent = (acc["benchmark"] == "resnet18-tinyimagenet-10") & (acc["method"] == "original")
    assert percent.sum() == 1
    values = acc[list(ACC_KEYS)]
    assert values[~percent].stack().dropna().between(0, 1).all()
    assert (values[percent].stack() > 50).all()  # logged in percent by an older code version
    im = paper.read_published("imagenet")[["acc_retain", "mia", "acc_test", "acc_forget"]].stack().dropna()
    assert im.between(0, 1).all()


# ---------------------------------------------------------------------------- Avg Gap


@pytest.mark.parametrize("benchmark", NOTEBOOK_BENCHMARKS)
def test_avg_gap_is_mean_of_the_four_printed_gaps(benchmark):
    acc = paper.published_accuracies(benchmark).drop(index="original")
    assert len(acc) >= 9
    for method, row in acc.iterrows():
        gaps = [row[f"{k}_gap"] for k in ACC_KEYS]
        assert all(np.isfinite(gaps)), (benchmark, method)
        # Avg Gap is printed to 4 decimals, the gaps to 2: the mean of four 2-dp numbers is exact at 4 dp
        assert _close(np.mean(gaps), row["avg_gap"], 5e-5), (benchmark, method, gaps, row["avg_gap"])


@pytest.mark.parametrize("benchmark", NOTEBOOK_BENCHMARKS)
def test_each_gap_is_distance_to_gold_mean(benchmark):
    acc = paper.published_accuracies(benchmark)
    gold = acc.loc["gold"]
    for method, row in acc.drop(index="original").iterrows():
        for k in ACC_KEYS:
            assert _close(abs(row[k] - gold[k]), row[f"{k}_gap"], 0.005 + 1e-9), (benchmark, method, k)
    assert all(acc.loc["gold", [f"{k}_gap" for k in ACC_KEYS]] == 0)
    assert acc.loc["original", [f"{k}_gap" for k in ACC_KEYS] + ["avg_gap"]].isna().all()


@pytest.mark.parametrize("benchmark", NOTEBOOK_BENCHMARKS)
def test_recomputed_avg_gap_matches_published(benchmark):
    ours = paper.recompute_avg_gap(benchmark)
    published = paper.published_accuracies(benchmark)["avg_gap"].drop(index="original")
    pd.testing.assert_series_equal(ours.sort_index(), published.sort_index(), check_names=False, atol=5e-5, rtol=0)


def test_avg_gaps_are_multiples_of_a_quarter_hundredth():
    for b in NOTEBOOK_BENCHMARKS:
        for v in paper.published_table(b, source="notebook")["avg_gap"]:
            assert _close(round(v * 400), v * 400, 1e-6), (b, v)


@pytest.mark.parametrize("benchmark", NOTEBOOK_BENCHMARKS)
def test_summary_and_accuracy_blocks_agree_on_avg_gap(benchmark):
    summary = paper.published_table(benchmark, source="notebook")["avg_gap"]
    acc = paper.published_accuracies(benchmark)["avg_gap"].drop(index="original")
    # the accuracy block of Tiny-ImageNet has no SalUn rows; otherwise both blocks list the same methods
    extra = {"salun", "salun_lotus"} if benchmark == "resnet18-tinyimagenet-10" else set()
    assert set(summary.index) == set(acc.index) | extra
    for m in acc.index:
        assert summary[m] == acc[m], (benchmark, m)


def test_review_supplement_table4_avg_gaps_equal_notebook():
    acc = paper.read_published("accuracies")
    table4 = acc[acc["table"] == "review_supplement Table 4"]
    assert len(table4) == 6 * 8
    assert table4[[c for c in acc.columns if c.startswith(("mia", "acc_"))]].isna().all().all()
    for _, row in table4.iterrows():
        assert row["avg_gap"] == paper.published_accuracies(row["benchmark"]).loc[row["method"], "avg_gap"], \
            (row["benchmark"], row["method"])


def test_supplement_table5_repeats_the_lotus_rows_of_table3():
    s = paper.read_published("summary")
    cols = ["avg_gap", "jsd", "jsd_std", "time_min", "time_min_std"]
    t5 = s[(s["table"] == "review_supplement Table 5") & (s["method"] == "lotus")].set_index("benchmark")[cols]
    t3 = s[(s["table"] == "cvpr2025 Table 3") & (s["method"] == "lotus")].set_index("benchmark")[cols]
    assert len(t5) == 4
    pd.testing.assert_frame_equal(t5.sort_index(), t3.sort_index())


def test_gold_rows_are_zero():
    for b in paper.list_benchmarks().index:
        df = paper.published_table(b)
        if "gold" in df.index:
            assert df.loc["gold", "avg_gap"] == 0 and df.loc["gold", "jsd"] == 0
    for b in NOTEBOOK_BENCHMARKS:
        df = paper.published_table(b, source="notebook")
        assert df.loc["gold", "avg_gap"] == 0 and df.loc["gold", "jsd"] == 0
        assert df.loc["gold", "rf_jsd"] > 0  # the gold model's own RF-JSD is not 0 (spec 4.4)


# ---------------------------------------------------------------------------- PCC


@pytest.mark.parametrize("benchmark", NOTEBOOK_BENCHMARKS)
def test_notebook_pcc_lines_reproduce_from_summary_means(benchmark):
    pcc = paper.published_pcc("notebook").loc[benchmark]
    for (x, y), (rc, pc) in {("jsd", "rf_jsd"): ("pcc", "p_value"), ("avg_gap", "rf_jsd"): ("pcc_gap_rf", "p_gap_rf"),
                             ("avg_gap", "jsd"): ("pcc_gap_jsd", "p_gap_jsd")}.items():
        r, p = paper.recompute_pcc(benchmark, x=x, y=y)
        assert _close(r, pcc[rc], 0.005 + 1e-9), (benchmark, x, y, r, pcc[rc])
        assert _close(p, pcc[pc], 0.00005 + 1e-9), (benchmark, x, y, p, pcc[pc])


def test_supplement_table6_is_notebook_pcc_without_synthetic_point():
    table6 = paper.published_pcc("review_supplement")
    assert len(table6) == 10 and "resnet18-tinyimagenet-10" not in table6.index
    assert list(table6.columns) == ["label", "pcc", "p_value"]
    for b, row in table6.iterrows():
        r, p = paper.recompute_pcc(b, exclude=("lotus_cifake",))
        assert _close(r, row["pcc"], 0.005 + 1e-9), (b, r, row["pcc"])
        assert _close(p, row["p_value"], 0.00005 + 1e-9), (b, p, row["p_value"])


def test_supplement_table6_summary_row():
    table6 = paper.published_pcc("review_supplement")
    mean, std = table6.attrs["summary"]["pcc"]
    assert round(table6["pcc"].mean(), 2) == mean
    assert round(table6["pcc"].std(ddof=0), 2) == std == round(table6["pcc"].std(ddof=1), 2)
    p_mean, p_std = table6.attrs["summary"]["p_value"]
    assert round(table6["p_value"].mean(), 4) == p_mean
    # the printed p-value std (0.0016) was computed from unrounded p-values; the rounded ones give
    # 0.0012-0.0013, so only its order of magnitude can be checked
    assert 0.0005 < p_std < 0.005
    assert "summary" not in paper.published_pcc("notebook").attrs


# ---------------------------------------------------------------------------- paper vs notebook


def test_final_paper_differs_from_notebook_only_where_documented():
    found = set()
    for b in paper.list_benchmarks().index:
        if b not in NOTEBOOK_BENCHMARKS:
            continue
        pub = paper.published_table(b)
        nb = paper.published_table(b, source="notebook")
        for m in pub.index:
            if m not in nb.index:
                continue
            for col in ("avg_gap", "jsd", "jsd_std", "time_min", "time_min_std"):
                if not _close(pub.loc[m, col], nb.loc[m, col], 1e-9):
                    found.add((b, m, col.replace("_std", "")))
    kd = paper.KNOWN_DIFFERENCES
    documented = set(zip(kd["benchmark"], kd["method"], kd["column"]))
    assert len(documented) == len(kd) == 8
    assert found == documented


def test_documented_differences_hold_the_printed_values():
    for _, d in paper.KNOWN_DIFFERENCES.iterrows():
        pub = paper.published_table(d["benchmark"]).loc[d["method"]]
        nb = paper.published_table(d["benchmark"], source="notebook").loc[d["method"]]
        assert pub["table"] == d["table"]
        std = f"{d['column']}_std"
        assert (d["published"], d["notebook"]) == (pub[d["column"]], nb[d["column"]])
        if d["column"] == "avg_gap":
            assert math.isnan(d["published_std"]) and math.isnan(d["notebook_std"])
        else:
            assert (d["published_std"], d["notebook_std"]) == (pub[std], nb[std])
        assert d["published"] != d["notebook"] or d["published_std"] != d["notebook_std"]


# ---------------------------------------------------------------------------- method lists and labels


def test_method_lists_per_table():
    for b in _benchmarks_of("cvpr2025 Table 1"):
        assert tuple(paper.published_table(b).index) == paper.PAPER_METHODS
    for b in _benchmarks_of("cvpr2025 Table 2"):
        assert tuple(paper.published_table(b).index) == paper.PAPER_METHODS + ("lotus_cifake",)
    assert len(_benchmarks_of("cvpr2025 Table 1")) == 6 and len(_benchmarks_of("cvpr2025 Table 2")) == 2
    assert set(_benchmarks_of("cvpr2025 Table 3")) == set(_benchmarks_of("review_supplement Table 5"))
    for b in _benchmarks_of("cvpr2025 Table 3"):
        df = paper.published_table(b)
        assert tuple(df.index) == paper.PAPER_METHODS[1:]
        assert set(df[df["table"] == "review_supplement Table 5"].index) == {"finetune", "neggrad_plus",
                                                                              "random_labeling"}
    imagenet = paper.published_table("vit-imagenet1k")
    assert tuple(imagenet.index) == ("original",) + paper.PAPER_METHODS[1:]
    for b in NOTEBOOK_BENCHMARKS:
        nb = paper.published_table(b, source="notebook")
        assert {"gold", "lotus", "scrub", "ssd", "unsir", "bad_teacher"} <= set(nb.index)
        assert "original" in paper.published_accuracies(b).index
    assert set(paper.published_table("resnet18-tinyimagenet-10", source="notebook").index) >= {"salun", "salun_lotus"}


def test_every_row_key_has_a_label():
    keys = set()
    for b in paper.list_benchmarks().index:
        keys |= set(paper.published_table(b).index)
    for b in NOTEBOOK_BENCHMARKS:
        keys |= set(paper.published_table(b, source="notebook").index)
    for b in NOTEBOOK_BENCHMARKS + ["vit-imagenet1k"]:
        keys |= set(paper.published_accuracies(b).index)
    keys |= set(paper.published_class_unlearning()["method"])
    for k in keys:
        assert paper.method_label(k) != k and paper.method_label(k), k
    assert paper.method_label("neggrad_plus") == "NegGrad+" and paper.method_label("xyz") == "xyz"
    assert paper.method_label("gold") == "Gold Std" and paper.method_label("original") == "Original"
    assert paper.method_label("lotus_cifake") == "LoTUS (synthetic D_u)"
    df = paper.published_table("resnet18-cifar10-10")
    assert list(df["label"]) == [paper.method_label(m) for m in df.index]


def test_labels_come_from_the_method_classes():
    from lotus.methods import get_method

    for name in lotus.list_methods():
        assert get_method(name).label, f"method {name!r} has no label"
        assert paper.method_label(name) == get_method(name).label
    assert paper.method_label("retrain") == "Retrain"  # the registered method, not the gold row


def test_registered_methods_cover_the_paper_rows():
    registered = set(lotus.list_methods())
    rows = set(paper.read_published("rows")["key"])
    assert paper.PAPER_METHODS[0] == "gold" and "gold" in rows
    assert set(paper.PAPER_METHODS) - rows <= registered
    assert not rows & registered


# ---------------------------------------------------------------------------- known values


def test_known_values():
    t1 = paper.published_table("vit-tinyimagenet-10")
    assert t1.loc["gold", "time_min"] == 228.9 and t1.loc["gold", "time_min_std"] == 6.49
    assert t1.loc["lotus", "avg_gap"] == 0.015 and math.isnan(t1.loc["lotus", "rf_jsd"])
    assert paper.published_table("resnet18-cifar100-10").loc["lotus", "avg_gap"] == 0.12
    c10 = paper.published_table("resnet18-cifar10-10")
    assert c10.loc["lotus_cifake", "avg_gap"] == 0.03 and c10.loc["lotus", "jsd"] == 0.32
    im = paper.published_table("vit-imagenet1k")
    assert im.loc["lotus", "rf_jsd"] == 1.11 and im.loc["original", "rf_jsd"] == 1.22
    assert im.loc["lotus", "time_min"] == 10.72 and math.isnan(im.loc["original", "time_min"])
    assert im.loc["bad_teacher", "rf_jsd_std"] == 3.25 and im["avg_gap"].isna().all()
    assert im.loc["lotus", "mia"] == 0.61 and im.loc["unsir", "acc_retain"] == 0.99
    acc = paper.published_accuracies("vit-imagenet1k")
    assert acc.loc["lotus", "mia"] == 0.61 and acc.loc["lotus", "acc_test"] == 0.80
    assert acc.loc["bad_teacher", "acc_forget"] == 0.76 and acc.loc["bad_teacher", "acc_forget_std"] == 0.21
    assert math.isnan(acc.loc["salun", "acc_test"])  # SalUn is not in the ImageNet notebook
    assert acc[[f"{k}_gap" for k in ACC_KEYS] + ["avg_gap"]].isna().all().all()
    nb = paper.published_table("resnet18-mufac", source="notebook")
    assert nb.loc["gold", "rf_jsd"] == 199.05 and nb.loc["neggrad_plus", "rf_jsd"] == 1546.01
    assert paper.published_pcc().loc["vit-cifar10-10", "pcc"] == 0.92
    t3 = paper.published_table("resnet18-cifar100-50")
    assert t3.loc["salun", "jsd"] == 6.25 and t3.loc["finetune", "time_min"] == 0.26
    acc = paper.published_accuracies("resnet18-cifar10-10")
    assert tuple(acc.loc["finetune", ["mia", "mia_std", "mia_gap"]]) == (0.30, 0.26, 0.46)


def test_class_unlearning_values():
    df = paper.published_class_unlearning()
    settings = df.groupby(["dataset", "forget_class"]).size()
    assert set(settings.index) == {("cifar10", "cat"), ("cifar100", "beaver"), ("cifar100", "rocket"),
                                   ("tinyimagenet", "pizza")}
    lotus_rows = df[df["method"] == "lotus"].set_index("forget_class")
    assert list(lotus_rows["mia"]) == [0.0, 0.0, 0.0, 0.0]
    assert lotus_rows.loc["beaver", "avg_gap"] == 0.12 and lotus_rows.loc["pizza", "avg_gap"] == 0.0925
    assert lotus_rows.loc["cat", "rf_jsd"] == 0.22 and lotus_rows.loc["pizza", "jsd_std"] == 18.68
    gold_mia = df[df["method"] == "gold"].set_index("forget_class")["mia"]
    assert dict(gold_mia) == {"cat": 0.35, "beaver": 0.23, "rocket": 0.18, "pizza": 0.22}
    # every setting has LoTUS and at least seven baselines; no duplicates
    assert not df.duplicated(["dataset", "forget_class", "method"]).any()
    assert (df.groupby("forget_class")["method"].nunique() >= 8).all()
    assert list(df.columns[:4]) == ["dataset", "forget_class", "method", "label"]
    cat = paper.published_class_unlearning("cifar10", "cat")
    assert len(cat) == 9 and set(cat["forget_class"]) == {"cat"}
    with pytest.raises(LotusError, match="valid: cifar10, cifar100, tinyimagenet"):
        paper.published_class_unlearning("mnist")
    with pytest.raises(LotusError, match="class 'dog'; valid: cat"):
        paper.published_class_unlearning("cifar10", "dog")


def test_alpha_sweep_optimum_matches_the_alpha_used():
    info = paper.list_benchmarks()
    for b, grp in paper.published_alpha_sweep().groupby("benchmark"):
        best = grp.sort_values("avg_gap_5", kind="stable").iloc[0]
        assert best["alpha"] == info.loc[b, "lotus_alpha"], b
        assert sorted(grp["alpha"]) == [2, 4, 8, 16]
    assert len(paper.published_alpha_sweep("vit-mufac")) == 4
    with pytest.raises(LotusError, match="no alpha sweep for 'vit-imagenet1k'"):
        paper.published_alpha_sweep("vit-imagenet1k")


# ---------------------------------------------------------------------------- benchmarks and helpers


def test_benchmarks_are_loadable_specs_and_sizes_consistent():
    train_sizes = {"cifar10": 50000, "cifar100": 50000, "tinyimagenet": 100000}
    df = paper.list_benchmarks()
    assert len(df) == 13
    for b, row in df.iterrows():
        kind, value = parse_forget_spec(row["forget"])
        if kind == "fraction":
            assert row["forget_size"] == round(value * train_sizes[row["dataset"]]), b
        elif kind == "count":
            assert row["forget_size"] == value * row["num_classes"], b
        else:
            assert kind == "rows" and row["forget_size"] == value, b
        assert row["tables"], b
    info = paper.benchmark_info("vit-mufac")
    assert info["forget_size"] == 1062 and type(info["forget_size"]) is int and info["model"] == "vit_b16"
    assert "cvpr2025 Table 1" in info["tables"] and "notebook" in info["tables"]
    assert paper.benchmark_info("vit-imagenet1k")["tables"] == ["cvpr2025 Table 4", "imagenet_notebook"]


def test_format_pm():
    assert paper.format_pm(0.3, 0.04) == "0.30 ± 0.04"
    assert paper.format_pm(0.1375, None, 4) == "0.1375"
    assert paper.format_pm(0.1375, float("nan"), 4) == "0.1375"
    assert paper.format_pm(float("nan"), 0.1) == "—"


def test_errors_name_the_valid_choices():
    with pytest.raises(LotusError, match="resnet18-cifar10-10"):
        paper.published_table("cifar10")
    with pytest.raises(LotusError, match="valid: cvpr2025, notebook"):
        paper.published_table("vit-mufac", source="arxiv")
    with pytest.raises(LotusError, match="notebook has no summary block"):
        paper.published_table("vit-imagenet1k", source="notebook")
    with pytest.raises(LotusError, match="valid: review_supplement, notebook"):
        paper.published_pcc("paper")
    with pytest.raises(LotusError, match="no gold model"):
        paper.recompute_avg_gap("vit-imagenet1k")
    with pytest.raises(LotusError, match="unknown column 'acc'"):
        paper.recompute_pcc("vit-mufac", x="acc")


def test_side_by_side():
    ours = pd.DataFrame({"avg_gap": [0.0, 0.05], "seconds": [3.0, 1.0]}, index=["gold", "lotus"])
    pub = paper.published_table("resnet18-cifar10-10")
    out = paper.side_by_side(ours, pub, ["avg_gap", "jsd"])
    assert list(out.columns) == [("avg_gap", "ours"), ("avg_gap", "paper"), ("jsd", "ours"), ("jsd", "paper")]
    assert list(out.index[:2]) == ["gold", "lotus"] and "salun" in out.index
    assert out.loc["lotus", ("avg_gap", "ours")] == 0.05 and out.loc["lotus", ("avg_gap", "paper")] == 0.035
    assert out.loc["gold", ("avg_gap", "paper")] == 0.0
    assert out[("jsd", "ours")].isna().all()
    with pytest.raises(LotusError, match="in neither table"):
        paper.side_by_side(ours, pub, ["nope"])


def test_frames_carry_their_source_and_scales():
    df = paper.published_table("vit-cifar100-10")
    assert df.attrs["source"] == "cvpr2025" and df.attrs["scales"] == {"jsd": 1e4, "rf_jsd": 1e4}
    assert df.attrs["label"] == paper.benchmark_info("vit-cifar100-10")["label"]
    assert paper.published_class_unlearning().attrs["scales"]["rf_jsd"] == 1.0
    assert set(paper.SOURCES) == {"cvpr2025", "review_supplement", "notebook", "class_notebook",
                                  "imagenet_notebook", "tuning_notebook"}
    assert paper.SCALES["time_min"] == 1 / 60 and paper.SCALES["rf_jsd_class_unlearning"] == 1.0


def test_closest_benchmark():
    assert paper.closest_benchmark("cifar10", "small_cnn", 0.1) == "resnet18-cifar10-10"
    assert paper.closest_benchmark("digits", "small_cnn", "0.5") == "resnet18-cifar10-50"
    assert paper.closest_benchmark("cifar100", "vit_tiny", 0.5) == "vit-cifar100-50"
    assert paper.closest_benchmark("tinyimagenet", "vit_b16", 0.5) == "vit-tinyimagenet-10"
    assert paper.closest_benchmark("mufac", "resnet18", "rows:1062") == "resnet18-mufac"
    assert paper.closest_benchmark("imagefolder", "vit_b16", "count:5") == "vit-imagenet1k"
    assert paper.closest_benchmark("cifar10", "resnet18", "class:cat") is None
    # the family comes from the model registry, not from the name: unknown names count as CNNs
    assert paper.closest_benchmark("cifar10", "my_vit_lookalike", 0.1) == "resnet18-cifar10-10"
    for ds in ("digits", "cifar10", "cifar100", "mufac"):
        for m in ("small_cnn", "vit_b16"):
            for f in (0.1, 0.5):
                assert paper.closest_benchmark(ds, m, f) in paper.list_benchmarks().index
