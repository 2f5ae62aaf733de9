"""The paper's experiments as named benchmarks (lotus.profiles), and each one's data and model
path run end to end on a small stand-in in the real on-disk layout (lotus.fixtures.write_standin):
Tiny-ImageNet, MUFAC, CIFAKE, ImageNet-1k and CIFAR image folders, with a small CNN or a
narrow ViT in place of ResNet-18 and ViT-B/16, one epoch of everything."""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest
import torch

import lotus
from lotus import paper
from lotus.book.chapter import dict_profile
from lotus.cli import main
from lotus.data import CIFAR10_CLASSES, list_tinyimagenet, load_splits, parse_forget_spec, sort_cifake
from lotus.data.sources import TINYIMAGENET_MEAN
from lotus.experiment import configs_from_settings, run_grid
from lotus.fixtures import MARKER, STANDINS, write_standin
from lotus.models import model_family
from lotus.profiles import (
    benchmark_definition,
    benchmark_table,
    list_benchmarks,
    load_profile,
    published_reference,
    resolve,
)
from lotus.results import ResultsStore
from lotus.utils import LotusError

BENCHMARKS = list_benchmarks("paper")
#: the stand-in of each model family: width-reduced, one epoch
STANDIN_MODELS = {"cnn": ("small_cnn", {"width": 8}),
                  "vit": ("vit_tiny", {"embed_dim": 32, "depth": 1, "num_heads": 2, "patch_size": 8})}
TRAIN = {"epochs": 1, "batch_size": 64, "lr": 0.01, "scheduler": "none", "warmup_epochs": 0, "patience": None}
#: data options the stand-ins need on top of a benchmark's (MUFAC's stand-in images are 16 px)
STANDIN_DATA = {"mufac": {"image_size": 16}}


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    """A data root with a stand-in of every data set of the paper and the sorted CIFAKE folder."""
    root = tmp_path_factory.mktemp("standins")
    for name in STANDINS:
        write_standin(root, name)
    sort_cifake(root / "CIFAKE", root / "cifake")
    return root


def standin_overrides(name: str, root, **more) -> dict:
    """The settings that turn benchmark ``name`` into its stand-in run: the data root, the
    stand-in model of its family, one epoch of training and unlearning, its first seed."""
    s = resolve("paper", benchmark=name)
    model, kwargs = STANDIN_MODELS[model_family(s["model"])]
    return dict(benchmark=name, data_root=str(root), model=model, model_kwargs=kwargs, train=TRAIN,
                unlearn={"epochs": 1}, seeds=s["seeds"][:1], device="cpu",
                data={**s["data"], **STANDIN_DATA.get(s["dataset"], {})}, **more)


# ---------------------------------------------------------------------------------------
# The registry of named benchmarks
# ---------------------------------------------------------------------------------------


def test_every_published_experiment_is_a_named_benchmark():
    refs = {name: published_reference(name) for name in BENCHMARKS}
    keyed = [r["published"] for r in refs.values() if r["published"] != "class_unlearning"]
    assert set(keyed) == set(paper.list_benchmarks().index)  # every published benchmark
    # ... each once with the paper's own LoTUS row, the CIFAR-10 ones also with the synthetic D_u
    plain = [r["published"] for r in refs.values() if r["row"] == "lotus" and r["published"] != "class_unlearning"]
    assert sorted(plain) == sorted(paper.list_benchmarks().index)
    assert sorted(r["published"] for r in refs.values() if r["row"] == "lotus_cifake") == [
        "resnet18-cifar10-10", "vit-cifar10-10"]
    # the class-unlearning benchmarks are the settings of the authors' class notebook
    pub = paper.published_class_unlearning()
    settings = [(resolve("paper", benchmark=n)["dataset"], parse_forget_spec(resolve("paper", benchmark=n)["forget"])[1])
                for n, r in refs.items() if r["published"] == "class_unlearning"]
    assert sorted(settings) == sorted(set(zip(pub["dataset"], pub["forget_class"])))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_matches_the_published_setting_it_names(name):
    s = resolve("paper", benchmark=name)
    ref = published_reference(name)
    assert s["benchmark"] == name and s["seeds"] == [3407, 13, 12] and s["train"] == {}  # the model's recipe
    for cfg in configs_from_settings(s):
        cfg.validate()
    if ref["published"] == "class_unlearning":
        kind, cls = parse_forget_spec(s["forget"])
        detail = paper.published_class_unlearning(s["dataset"], cls).set_index("method")
        assert kind == "class" and s["model"] == "resnet18" and ref["value"] == detail.loc["lotus", "avg_gap"]
        assert paper.closest_benchmark(s["dataset"], s["model"], s["forget"]) is None
        return
    info = paper.benchmark_info(ref["published"])
    assert (s["dataset"], s["model"], lotus.data.canonical_forget(s["forget"])) == (
        info["dataset"], info["model"], lotus.data.canonical_forget(info["forget"]))
    # the number it is compared with is the published table's, and the table it was printed in
    table = paper.published_table(ref["published"])
    assert ref["table"] == table.loc[ref["row"], "table"] and ref["table"] in info["tables"]
    assert ref["value"] == table.loc[ref["row"], ref["metric"]]
    # the chapters find the same published benchmark from the settings, with the stand-in models too
    for model in (s["model"], STANDIN_MODELS[model_family(s["model"])][0]):
        assert paper.closest_benchmark(s["dataset"], model, s["forget"]) == ref["published"]


def test_the_synthetic_unseen_set_is_the_only_difference_of_the_cifake_benchmarks():
    for model in ("resnet18", "vit"):
        real = resolve("paper", benchmark=f"{model}-cifar10-10")
        fake = resolve("paper", benchmark=f"{model}-cifar10-10-cifake")
        assert fake["data"] == {**real["data"], "unseen": "cifake"}
        assert {k: v for k, v in fake.items() if k not in ("data", "benchmark", "methods")} == {
            k: v for k, v in real.items() if k not in ("data", "benchmark", "methods")}
        assert fake["methods"] == ["original", "gold", "lotus"]  # the paper ran only LoTUS with it


def test_benchmark_settings_come_after_the_chapter_and_before_the_overrides():
    s = resolve("paper", "05_forget_50", benchmark="vit-cifar100-10")
    assert s["forget"] == 0.1 and s["model"] == "vit_b16" and s["compare_forget"] == 0.1  # chose 10 % explicitly
    s = resolve("paper", "08_class_unlearning", benchmark="resnet18-cifar100-class-beaver", seeds=[1])
    assert s["forget"] == "class:beaver" and s["dataset"] == "cifar100" and s["seeds"] == [1]
    assert resolve("paper", benchmark="resnet18-mufac", model="small_cnn")["model"] == "small_cnn"
    # a new data set drops the profile's data options (CIFAR's download), the benchmark's own stay
    assert resolve("paper", benchmark="resnet18-mufac")["data"] == {}
    assert resolve("paper", benchmark="vit-cifar10-10-cifake")["data"] == {"download": True, "unseen": "cifake"}
    # chapter parameters of a benchmark reach the chapter that has them, and no other
    s = resolve("paper", "09_large_scale", benchmark="vit-imagenet1k")
    assert s["pretrained_original"] is True and s["make_fixture"] is False and s["dataset"] == "imagenet1k"
    assert s["data"] == {"retain_per_class": 45, "num_workers": 8}
    assert "pretrained_original" not in resolve("paper", "04_benchmark", benchmark="vit-imagenet1k")
    assert "pretrained_original" not in resolve("paper", benchmark="vit-imagenet1k")
    # without a benchmark nothing changes
    assert resolve("paper", benchmark=None) == resolve("paper")


def test_resolved_settings_keep_their_benchmark_and_overrides_when_resolved_again():
    s = resolve("paper", benchmark="resnet18-mufac", model="small_cnn", seeds=[3])
    again = resolve(dict_profile(s), forget="rows:10")
    assert again["model"] == "small_cnn" and again["seeds"] == [3] and again["forget"] == "rows:10"
    assert again["benchmark"] == "resnet18-mufac"
    with pytest.raises(LotusError, match="cannot change the benchmark of resolved settings"):
        resolve(dict_profile(s), benchmark="vit-mufac")


def test_unknown_or_malformed_benchmarks_are_clear_errors(tmp_path):
    with pytest.raises(LotusError, match=r"unknown benchmark 'resnet18-svhn' in profile 'paper'; valid: "
                                         r"resnet18-tinyimagenet-10, vit-tinyimagenet-10"):
        resolve("paper", benchmark="resnet18-svhn")
    with pytest.raises(LotusError, match=r"unknown benchmark 'vit-mufac' in profile 'cpu'; valid: none"):
        resolve("cpu", benchmark="vit-mufac")
    with pytest.raises(LotusError, match="needs a profile that defines it"):
        resolve(None, benchmark="vit-mufac")

    def profile(text):
        path = tmp_path / "mine.yaml"
        path.write_text("extends: paper\n" + text)
        return path

    # a profile that extends paper inherits its benchmarks, changes one and adds its own
    mine = load_profile(profile("benchmarks:\n  vit-mufac: {seeds: [0]}\n"
                                "  own: {dataset: digits, model: small_cnn, forget: 0.2}\n"
                                "chapters:\n  04_benchmark: {benchmark: own}\n"))
    assert list_benchmarks(mine)[-1] == "own" and len(list_benchmarks(mine)) == len(BENCHMARKS) + 1
    assert resolve(mine, benchmark="vit-mufac")["seeds"] == [0]
    assert resolve(mine, benchmark="vit-mufac")["dataset"] == "mufac"  # merged with the inherited entry
    assert resolve(mine, "04_benchmark")["forget"] == 0.2 and resolve(mine, "04_benchmark")["benchmark"] == "own"
    assert published_reference("own", mine)["published"] is None and benchmark_definition("own", mine)["forget"] == 0.2
    for text, message in [
        ("benchmarks:\n  b: {dataset: digits, colour: red}\n", r"benchmark 'b': unknown entries \['colour'\]"),
        ("benchmarks:\n  b: {published: resnet18-svhn-10}\n", "published 'resnet18-svhn-10' is not a published benchmark"),
        ("benchmarks:\n  b: {row: lotus_cifake}\n", "'row' names a row of a published benchmark table"),
        ("benchmarks:\n  b: [1, 2]\n", "benchmark 'b' must map settings to values"),
        ("settings: {benchmark: nowhere}\n", "settings names benchmark 'nowhere', which the profile does not define"),
        ("benchmarks:\n  b: {benchmark: vit-mufac}\n", r"unknown entries \['benchmark'\]"),
    ]:
        with pytest.raises(LotusError, match=message):
            load_profile(profile(text))
    with pytest.raises(LotusError, match="has no row 'salun_lotus'"):
        published_reference("b", load_profile(profile("benchmarks:\n  b: {published: vit-mufac, row: salun_lotus}\n")))


def test_list_benchmarks_shows_each_with_its_published_number(capsys):
    rc = main(["list", "--benchmarks"])
    out = capsys.readouterr().out
    assert rc == 0
    table = benchmark_table("paper")
    assert list(table.index) == BENCHMARKS
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in BENCHMARKS}
    assert set(lines) == set(BENCHMARKS)
    for name, row in table.iterrows():
        assert row["table"] in lines[name] and f"{row['value']:.4f}" in lines[name], name
    assert "D_u: cifake" in lines["resnet18-cifar10-10-cifake"] and "LoTUS (synthetic D_u)" in lines["vit-cifar10-10-cifake"]
    assert "RF-JSD" in lines["vit-imagenet1k"] and "class_notebook" in lines["resnet18-tinyimagenet-class-pizza"]
    assert "3407, 13, 12" in out
    assert main(["list", "--benchmarks", "--profile", "cpu"]) == 0
    assert "defines no benchmark" in capsys.readouterr().out


def test_a_chapter_picks_a_benchmark_by_parameter():
    ch = lotus.book.chapter("paper", "04_benchmark", benchmark="vit-cifar10-10-cifake", model="vit_tiny")
    assert ch.benchmark == "vit-cifar10-10-cifake" and ch["data"]["unseen"] == "cifake"
    assert ch.published_benchmark == "vit-cifar10-10" and ch.reference["row"] == "lotus_cifake"
    # what chapter 04 computes from the settings gives the same key
    assert paper.closest_benchmark(ch["dataset"], ch["model"], ch["forget"]) == ch.published_benchmark
    ch = lotus.book.chapter("paper", "08_class_unlearning", benchmark="resnet18-tinyimagenet-class-pizza")
    assert ch.published_benchmark is None and ch.reference["table"] == "class_notebook"
    ch = lotus.book.chapter("paper", "04_benchmark", dataset="cifar100")
    assert ch.benchmark is None and ch.reference is None and ch.published_benchmark == "resnet18-cifar100-10"


# ---------------------------------------------------------------------------------------
# Tiny-ImageNet
# ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny(standins, tmp_path):
    """A private copy of the Tiny-ImageNet stand-in (tests break it)."""
    dest = tmp_path / "tiny-imagenet-200"
    shutil.copytree(standins / "tinyimagenet", dest)
    return dest


def test_tinyimagenet_labels_follow_the_annotations(standins):
    base = standins / "tinyimagenet"
    s = load_splits("tinyimagenet", root=standins, forget=0.1, seed=0)
    wnids = (base / "wnids.txt").read_text().split()
    assert s.classes == ["goldfish", "tabby", "bison", "trolleybus", "pizza"] and s.num_classes == len(wnids)
    assert s.train.image_shape == (3, 64, 64) and s.train.mean == TINYIMAGENET_MEAN
    assert s.train.augment_mode == "crop_flip"
    assert len(s.train) == 50 and len(s.val) + len(s.test) == 10 and len(s.forget) == 5
    # every stand-in image is noise around its class colour: each validation image must be
    # nearest to the colour of the class its annotation names (the authors' loader misaligned them)
    tr_x, tr_y, va_x, va_y, _, _ = list_tinyimagenet(base)
    colour = torch.stack([lotus.data.decode._read_rgb(p).float().mean((1, 2)) for p in tr_x])
    centres = torch.stack([colour[tr_y == c].mean(0) for c in range(len(wnids))])
    for path, label in zip(va_x, va_y.tolist()):
        c = lotus.data.decode._read_rgb(path).float().mean((1, 2))
        assert int(((centres - c) ** 2).sum(1).argmin()) == label, path
    # annotation order is not class order, and the labels agree with the annotation file
    ann = [line.split("\t")[:2] for line in (base / "val" / "val_annotations.txt").read_text().splitlines()]
    assert [os.path.basename(p) for p in va_x] == [f for f, _ in ann]
    assert [wnids[y] for y in va_y.tolist()] == [w for _, w in ann]
    assert s.val.labels.tolist() != sorted(s.val.labels.tolist()) or len(set(va_y.tolist())) == 1


def test_tinyimagenet_class_names_and_folder_names(tiny):
    assert load_splits("tinyimagenet", path=tiny, class_names="wnid").classes[4] == "n07873807"
    s = load_splits("tinyimagenet", root=tiny.parent, forget="class:pizza")  # the zip's folder name
    assert s.forget_spec == "class:pizza" and set(s.forget.labels.tolist()) == {4} and len(s.forget) == 10
    words = tiny / "words.txt"
    words.write_text(words.read_text().replace("bison", "goldfish, another goldfish"))
    assert list_tinyimagenet(tiny)[4][:3] == ["goldfish (n01443537)", "tabby", "goldfish (n02410509)"]
    with pytest.raises(LotusError, match="class_names must be 'words' or 'wnid'"):
        load_splits("tinyimagenet", path=tiny, class_names="names")


def _edit(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize("breakage, message", [
    (lambda t: shutil.rmtree(t), "Tiny-ImageNet not found"),
    (lambda t: os.remove(t / "wnids.txt"), r"wnids.txt \(the class list\) not found"),
    (lambda t: os.remove(t / "words.txt"), r"words.txt \(class names; or pass class_names='wnid'\) not found"),
    (lambda t: _edit(t / "words.txt", "n07873807", "n99999999"), "words.txt has no name for 1 class"),
    (lambda t: _edit(t / "wnids.txt", "n02410509", "n01443537"), "lists classes twice"),
    (lambda t: shutil.rmtree(t / "train" / "n02410509" / "images"), "training folder of class n02410509 not found"),
    (lambda t: os.remove(t / "val" / "val_annotations.txt"), "val/val_annotations.txt .* not found"),
    (lambda t: _edit(t / "val" / "val_annotations.txt", "\tn07873807\t", "\tn12345678\t"),
     "names class 'n12345678', which wnids.txt does not list"),
    (lambda t: os.remove(t / "val" / "images" / "val_3.JPEG"), "names 'val_3.JPEG', which is missing"),
    (lambda t: open(t / "val" / "val_annotations.txt", "a").write("val_3.JPEG\n"), r"line 11 is not '<file>\\t<wnid>"),
])
def test_tinyimagenet_copy_errors_name_the_problem(tiny, breakage, message):
    breakage(tiny)
    with pytest.raises(LotusError, match=message):
        load_splits("tinyimagenet", path=tiny)


def test_tinyimagenet_missing_under_the_data_root_names_both_folders(tmp_path):
    with pytest.raises(LotusError, match=r"neither .*tinyimagenet nor .*tiny-imagenet-200 exists.*wnids.txt"):
        load_splits("tinyimagenet", root=tmp_path)


# ---------------------------------------------------------------------------------------
# ImageNet-1k, MUFAC, CIFAKE
# ---------------------------------------------------------------------------------------


def test_imagenet1k_protocol_on_its_layout(standins, tmp_path):
    s = load_splits("imagenet1k", root=standins, seed=3407, retain_per_class=45)  # default forget: count:5
    assert s.forget_spec == "count:5" and s.classes == sorted(s.classes) and s.classes[0] == "n01440764"
    assert s.train.image_shape == (3, 224, 224)  # 40x48 images: shorter side to 256, centre crop 224
    assert torch.bincount(s.forget.labels).tolist() == [5] * 4 and torch.bincount(s.retain.labels).tolist() == [3] * 4
    with pytest.raises(LotusError, match=r"ImageNet-1k not found: expected .*imagenet1k/train/<wnid>/\*.JPEG"):
        load_splits("imagenet1k", root=tmp_path)


def test_mufac_standin_has_the_fixed_forget_rows(standins):
    s = load_splits("mufac", root=standins, image_size=16)
    assert s.forget_spec == "rows:1062" and len(s.forget) == 1062 and len(s.retain) == 8 * 134 - 1062
    assert len(s.val) == len(s.test) == 16 and s.classes == list("abcdefgh")


def test_sort_cifake_reads_the_class_from_the_file_name(standins, tmp_path):
    dest = standins / "cifake"
    counts = {c: len(list((dest / c).iterdir())) for c in CIFAR10_CLASSES}
    assert counts == dict.fromkeys(CIFAR10_CLASSES, 2)
    assert sorted(p.name for p in (dest / "airplane").iterdir()) == ["0.jpg", "1.jpg"]
    assert sorted(p.name for p in (dest / "cat").iterdir()) == ["0 (4).jpg", "1 (4).jpg"]
    assert sorted(p.name for p in (dest / "truck").iterdir()) == ["0 (10).jpg", "1 (10).jpg"]
    with pytest.raises(LotusError, match="exists and is not an empty folder"):
        sort_cifake(standins / "CIFAKE", dest)
    with pytest.raises(LotusError, match=r"CIFAKE images not found: .*test/FAKE"):
        sort_cifake(tmp_path / "nowhere", tmp_path / "out")
    bad = tmp_path / "bad"
    (bad / "test" / "FAKE").mkdir(parents=True)
    shutil.copy(dest / "cat" / "0 (4).jpg", bad / "test" / "FAKE" / "5 (11).jpg")
    with pytest.raises(LotusError, match=r"class suffix \(11\) outside 1-10"):
        sort_cifake(bad, tmp_path / "out")


def test_cifake_replaces_the_unseen_set_from_the_data_root(standins, tmp_path):
    s = load_splits("cifar10", root=standins, forget=0.1, seed=0, unseen="cifake")
    assert len(s.val) == 20 and len(s.test) == 20 and s.source["unseen"] == "cifake"  # the held-out set is all test
    assert torch.bincount(s.val.labels).tolist() == [2] * 10
    # a missing unseen folder is reported before the data set is read (this root has no CIFAR-10)
    with pytest.raises(LotusError, match=r"unseen set not found: .*nowhere is not a folder .*lotus.data.sort_cifake"):
        load_splits("cifar10", root=tmp_path, unseen="nowhere")
    with pytest.raises(LotusError, match=r"one folder per class of mufac"):
        load_splits("mufac", root=tmp_path, unseen=tmp_path / "nowhere")


def test_standins_are_reused_and_never_overwrite_a_real_copy(standins, tmp_path):
    marker = json.loads((standins / "tinyimagenet" / MARKER).read_text())
    assert marker["standin"] == "tinyimagenet" and marker["train_per_class"] == 10
    before = (standins / "tinyimagenet" / "wnids.txt").stat().st_mtime_ns
    assert write_standin(standins, "tinyimagenet") == standins / "tinyimagenet"
    assert (standins / "tinyimagenet" / "wnids.txt").stat().st_mtime_ns == before
    (tmp_path / "mufac").mkdir()
    (tmp_path / "mufac" / "custom_train_dataset.csv").write_text("real data")
    with pytest.raises(LotusError, match="is not a lotus fixture"):
        write_standin(tmp_path, "mufac")
    with pytest.raises(LotusError, match="no stand-in for 'svhn'"):
        write_standin(tmp_path, "svhn")


# ---------------------------------------------------------------------------------------
# Every benchmark end to end on its stand-in
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b for b in BENCHMARKS if not benchmark_definition(b).get("pretrained_original")])
def test_benchmark_runs_end_to_end_on_its_standin(name, standins, tmp_path):
    settings = resolve("paper", **standin_overrides(name, standins))
    bench = resolve("paper", benchmark=name)
    cfgs = configs_from_settings(settings, methods=["original", "gold", "lotus"])
    df = run_grid(cfgs, ResultsStore(tmp_path / "runs"), progress=False)
    assert list(df["method"]) == ["original", "gold", "lotus"]
    assert set(df["dataset"]) == {bench["dataset"]} and set(df["seed"]) == {bench["seeds"][0]}
    assert set(df["forget"]) == {lotus.data.canonical_forget(bench["forget"])}
    for col in ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "rf_jsd", "jsd", "avg_gap"):
        assert df[col].map(math.isfinite).all(), col
    lotus_row = df.set_index("method").loc["lotus"]
    assert lotus_row["epochs"] >= 1 and lotus_row["hparams"]["epochs"] == 1
    sizes = lotus_row["sizes"]
    kind, value = parse_forget_spec(bench["forget"])
    if bench["dataset"] == "mufac":
        assert sizes["forget"] == 1062
    elif kind == "class":
        assert lotus_row["extra"]["alpha_used"] == 32.0  # the class-unlearning alpha
        assert sizes["forget"] == STANDINS[bench["dataset"]][1]  # every training image of the class
    else:  # a fraction of every class of the stand-in
        classes = {"cifar10": 10, "cifar100": 100, "tinyimagenet": 5}[bench["dataset"]]
        assert sizes["forget"] == int(value * STANDINS[bench["dataset"]][1]) * classes
    if (bench["data"] or {}).get("unseen"):
        assert lotus_row["data"]["unseen"] == "cifake" and sizes["val"] == 20  # CIFAKE's images are D_u
        assert lotus_row["data_source"]["unseen"] == "cifake"


def test_run_and_train_take_a_benchmark_on_the_command_line(standins, tmp_path, capsys):
    common = ["--benchmark", "resnet18-tinyimagenet-class-pizza", "--data-root", str(standins), "--model", "small_cnn",
              "--model-arg", "width=8", "--train", "epochs=1", "batch_size=64", "scheduler=cosine", "warmup_epochs=0",
              "patience=null", "--seeds", "3407", "--device", "cpu", "-q"]
    rc = main(["run", *common, "--method", "lotus", "--set", "epochs=1", "--results", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rec = ResultsStore(tmp_path / "runs").records()
    rec = rec[rec["method"] == "lotus"].iloc[0]
    assert rec["dataset"] == "tinyimagenet" and rec["forget"] == "class:pizza" and "lotus" in out
    assert main(["train", *common]) == 0 and "class:pizza" in capsys.readouterr().out
    # the large-scale protocol needs the large-scale chapter
    assert main(["run", "--benchmark", "vit-imagenet1k"]) == 2
    assert "large-scale chapter" in capsys.readouterr().err
    assert main(["run", "--benchmark", "vit-cifar10-11"]) == 2
    assert "unknown benchmark 'vit-cifar10-11' in profile 'paper'" in capsys.readouterr().err


def test_vit_b16_without_its_weights_offline_is_a_clear_error(standins, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(lotus.models, "_hub_weights_cached", lambda repo: False)  # whatever this machine caches
    rc = main(["run", "--profile", "paper", "--benchmark", "vit-cifar10-10", "--data-root", str(standins),
               "--method", "lotus", "--seeds", "3407", "--device", "cpu", "-q", "--results", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 2 and "pretrained weights of timm 'vit_base_patch16_224.orig_in21k_ft_in1k'" in err
    assert "pretrained_file" in err and "Traceback" not in err
    assert not list((tmp_path / "runs").glob("**/*.json"))  # nothing ran


@pytest.mark.slow
def test_imagenet_benchmark_runs_in_the_large_scale_chapter(standins, tmp_path):
    """Chapter 9 executed as the book does (papermill), with the ImageNet-1k benchmark on its stand-in."""
    papermill = pytest.importorskip("papermill")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    overrides = standin_overrides("vit-imagenet1k", standins, methods=["lotus"])
    out = tmp_path / "09.ipynb"
    papermill.execute_notebook(os.path.join(repo, "notebooks", "09_large_scale.ipynb"), str(out), cwd=str(tmp_path),
                               parameters={"profile": "paper", "overrides": overrides, "output_dir": str(tmp_path / "fig")},
                               kernel_name="python3", progress_bar=False)
    text = out.read_text()
    assert "imagenet1k from the data root" in text and "pre-trained, used as is" in text
    assert "n_forget" in text and not (tmp_path / "fixtures").exists()
    glued = {}
    for cell in json.loads(text)["cells"]:
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook", {})
            if meta:
                glued[meta["name"]] = o["data"][meta["mime_prefix"] + "text/plain"]
    assert glued["n_forget"] == "20" and glued["n_classes"] == "4"  # five per class of the four stand-in classes
