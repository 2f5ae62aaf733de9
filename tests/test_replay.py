"""Replays of what a new user tried (issue 12): bad values, unwritable folders, corrupt and
non-UTF-8 records, changed data under the same path, duplicate and mixed records, another
lotus version. Each case must give a clear error before any work starts, or a correct result."""

import os
import re
import shutil
import warnings

import pandas as pd
import pytest
import torch

import lotus.experiment as E
import lotus.results as R
import lotus.train as T
from lotus.cli import main
from lotus.experiment import ExperimentConfig, check_splits, load_config_splits, plan_grid, run_experiment, run_grid
from lotus.fixtures import write_image_folder
from lotus.profiles import resolve
from lotus.results import ResultsStore, report_table, summarize, to_latex, to_markdown
from lotus.utils import LotusError, check_writable, resolve_device

# tiny and cheap: 2 training epochs of a width-8 CNN on 16 px digits, 1 unlearning epoch
SMALL = dict(dataset="digits", model="small_cnn", model_kwargs={"width": 8}, device="cpu",
             data={"image_size": 16, "noise_std": 0.3},
             train=dict(epochs=2, batch_size=64, lr=0.05, scheduler="cosine", warmup_epochs=0, patience=None,
                        augment=False))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty $LOTUS_CACHE, so a test can see whether anything was trained."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LOTUS_CACHE", str(cache))
    E.clear_cache()
    E._SPLITS.clear()
    return cache


def _nothing_trained(cache) -> bool:
    ck = cache / "checkpoints"
    return not ck.is_dir() or not any(ck.iterdir())


def _cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------------------
# bad values: one clear line, exit 2, nothing trained
# ---------------------------------------------------------------------------------------

BAD_RUNS = [
    (["--set", "epochs=0"], r"lotus epochs must be an integer >= 1, got 0"),
    (["--set", "epochs=2.7"], r"epochs must be an integer >= 1, got 2\.7"),
    (["--set", "lotus.alpha=nan"], r"lotus alpha must be a finite number in \(0, 100\]"),
    (["--set", "lotus.alpha=1e6"], r"lotus alpha must be .*got 1000000\.0"),
    (["--set", "lotus.alpha=two"], r"lotus alpha must be .*got 'two'"),
    (["--set", "lr=-1"], r"lotus lr must be a finite number > 0, got -1"),
    (["--set", "lr=nan"], r"lotus lr must be a finite number > 0, got nan"),
    (["--set", "weight_decay=-0.1"], r"weight_decay must be a finite number >= 0"),
    (["--set", "retain_fraction=0"], r"retain_fraction must be a finite number in \(0, 1\]"),
    (["--set", "lotus.augment=maybe"], r"augment must be true or false, got 'maybe'"),
    (["--method", "finetune", "--set", "momentum=5"], r"finetune momentum must be a finite number in \[0, 1\)"),
    (["--method", "ssd", "--set", "ssd.alpha=nan"], r"ssd alpha must be a finite number > 0, got nan"),
    (["--method", "scrub", "--set", "scrub.temperature=0"], r"scrub temperature must be a finite number > 0"),
    (["--method", "neggrad_plus", "--set", "neggrad_plus.alpha=2"], r"neggrad_plus alpha must be .*\[0, 1\]"),
    (["--train", "lr=nan"], r"lr must be a finite number > 0, got nan"),
    (["--train", "momentum=5"], r"momentum must be a number in \[0, 1\), got 5"),
    (["--train", "epochs=2.7"], r"epochs must be an int >= 1, got 2\.7"),
    (["--train", "optimizer=foo"], r"unknown optimizer 'foo'"),
    (["--train", "augment=maybe"], r"augment must be true or false"),
    (["--device", "nosuch"], r"unknown device 'nosuch'; valid here: auto, cpu"),
    (["--model-arg", "width=0"], r"model option width of 'small_cnn' must be an int >= 1, got 0"),
    (["--model-arg", "depth=3"], r"unknown option\(s\) \['depth'\] for model 'small_cnn'"),
    (["--data", "max_train_per_class=0"], r"max_train_per_class must be an int >= 1"),
    (["--data", "max_heldout_per_class=1"], r"(is empty|has no image of class).*max_heldout_per_class=1: raise it"),
    (["--forget", "1.5"], r"forget fraction must be in \(0, 1\)"),
    (["--forget", "class:nosuch"], r"nosuch"),
    (["--seeds", "-1"], r"seeds must be an integer >= 0"),
]


@pytest.mark.parametrize("extra, message", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_values_fail_before_any_training(capsys, tmp_path, fresh_cache, extra, message):
    rc, out, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(tmp_path / "res"), *extra)
    assert rc == 2, out + err
    lines = [ln for ln in err.splitlines() if ln.startswith("lotus run: error:")]
    assert len(lines) == 1 and re.search(message, lines[0]), err
    assert "Traceback" not in err and "lower the learning rate" not in err
    assert _nothing_trained(fresh_cache) and not (tmp_path / "res").exists()


def test_devices_this_machine_lacks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LotusError, match="CUDA is not available; valid here: auto, cpu"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(LotusError, match=r"'cuda:3' does not exist: this machine has 1 CUDA device"):
        resolve_device("cuda:3")
    if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        with pytest.raises(LotusError, match="MPS is not available"):
            resolve_device("mps")


def test_a_profile_with_text_seeds_or_epochs(capsys, tmp_path, fresh_cache):
    prof = tmp_path / "seeds.yaml"
    prof.write_text("extends: tiny\nsettings:\n  seeds: [a]\n")
    rc, _, err = _cli(capsys, "run", "--profile", str(prof), "-q", "--results", str(tmp_path / "r"))
    assert rc == 2 and "setting seeds must be an integer >= 0 or a list of them" in err and str(prof) in err
    prof.write_text("extends: tiny\nsettings:\n  unlearn: {epochs: three}\n")
    rc, _, err = _cli(capsys, "run", "--profile", str(prof), "-q", "--results", str(tmp_path / "r"))
    assert rc == 2 and "lotus epochs must be an integer >= 1, got 'three'" in err
    # YAML reads 1e-3 as text: the message says so
    prof.write_text("extends: tiny\nsettings:\n  hparams: {lotus: {lr: 1e-3}}\n")
    rc, _, err = _cli(capsys, "run", "--profile", str(prof), "-q", "--results", str(tmp_path / "r"))
    assert rc == 2 and "write 1.0e-3" in err
    assert _nothing_trained(fresh_cache)


def test_the_python_api_rejects_bad_values_before_training(fresh_cache, digits_splits):
    model = lotus_model()
    for bad in ({"epochs": 0}, {"alpha": float("nan")}, {"lr": "fast"}, {"batch_size": -3}):
        with pytest.raises(LotusError):
            E.unlearn(model, digits_splits, "lotus", device="cpu", **bad)
    with pytest.raises(LotusError, match="alpha must be"):
        run_experiment(ExperimentConfig(method="lotus", hparams={"alpha": float("nan")}, **SMALL))
    assert _nothing_trained(fresh_cache)


def lotus_model():
    """A fresh small model: enough for the checks that happen before any training."""
    from lotus.models import create_model

    return create_model("small_cnn", 10, width=8)


def test_temperature_zero_is_named_not_blamed_on_the_learning_rate(digits_splits):
    for method in ("scrub", "bad_teacher"):
        with pytest.raises(LotusError, match=f"{method} temperature must be a finite number > 0, got 0"):
            E.unlearn(lotus_model(), digits_splits, method, device="cpu", temperature=0)


# ---------------------------------------------------------------------------------------
# folders: checked before the work, named in the message
# ---------------------------------------------------------------------------------------


def test_a_file_in_the_way_of_the_results_or_the_cache(capsys, tmp_path, fresh_cache):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(blocker))
    assert rc == 2 and f"results folder {blocker} is a file" in err
    rc, _, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(blocker / "sub"))
    assert rc == 2 and str(blocker) in err
    rc, _, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(tmp_path / "r"),
                      "--cache-dir", str(blocker))
    assert rc == 2 and f"checkpoint cache {blocker} is a file" in err
    assert _nothing_trained(fresh_cache) and not (tmp_path / "r").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_results_folder(capsys, tmp_path, fresh_cache):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, _, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(ro))
    finally:
        ro.chmod(0o755)
    assert rc == 2 and f"results folder {ro} is not writable" in err
    assert _nothing_trained(fresh_cache)


def test_check_writable_names_the_folder(tmp_path, monkeypatch):
    assert check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b"

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", denied)
    with pytest.raises(LotusError, match=f"the results folder {tmp_path} is not writable"):
        check_writable(tmp_path, "results folder")


# ---------------------------------------------------------------------------------------
# the store: corrupt, non-UTF-8, duplicated, mixed records
# ---------------------------------------------------------------------------------------


def _rec(method="lotus", seed=0, **changes):
    rec = {"dataset": "digits", "model": "small_cnn", "model_kwargs": {"width": 16}, "method": method,
           "hparams": {"alpha": 2} if method == "lotus" else {}, "forget": "0.1", "seed": seed,
           "train_recipe": {"epochs": 8}, "data": {}, "eval": {}, "data_fingerprint": f"fp{seed}",
           "source_fingerprint": "src", "numerics": {"default_dtype": "torch.float32"}, "lotus_version": "0.1.0",
           "acc_forget": 0.9, "acc_retain": 0.95, "acc_test": 0.9, "acc_val": 0.9, "mia": 0.5, "jsd": 0.01,
           "rf_jsd": 0.01, "avg_gap": 0.05, "unlearn_seconds": 1.0, "flags": []}
    rec.update(changes)
    return rec


def test_corrupt_and_non_utf8_files_are_skipped_with_a_warning(tmp_path):
    store = ResultsStore(tmp_path)
    path = store.put(_rec())
    (tmp_path / "broken.json").write_text('{"key": ')
    (tmp_path / "latin1.json").write_bytes(b'{"note": "caf\xe9"}')
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.warns(UserWarning) as caught:
        df = store.records()
    assert len(df) == 1 and len(caught) == 3
    assert any("UnicodeDecodeError" in str(w.message) for w in caught)
    # the stored record itself, made unreadable, counts as absent: the run is repeated
    path.write_bytes(b"\xff\xfe not json")
    with pytest.warns(UserWarning, match="unreadable"):
        assert store.get(_rec()) is None


def test_lotus_report_reads_a_store_with_a_non_utf8_file(capsys, tmp_path):
    store = ResultsStore(tmp_path)
    for m in ("gold", "lotus"):
        store.put(_rec(m))
    (tmp_path / "notes.json").write_bytes(b"\xff\xfe garbage")
    rc, out, err = _cli(capsys, "report", str(tmp_path), "--format", "markdown")
    assert rc == 0 and "| lotus" in out and "lotus report: warning: ignoring unreadable results file" in err


def test_a_copied_record_counts_once(tmp_path):
    store = ResultsStore(tmp_path)
    for m in ("gold", "lotus"):
        store.put(_rec(m))
    src = next(tmp_path.glob("*lotus-*.json"))
    shutil.copy(src, tmp_path / f"copy-of-{src.name}")
    table = summarize(store.records())
    assert table.xs("lotus", level="method")["n_seeds"].iloc[0] == 1


def test_records_with_other_settings_are_not_averaged(tmp_path):
    store = ResultsStore(tmp_path)
    store.put(_rec("gold"))
    store.put(_rec("lotus", acc_test=0.9))
    store.put(_rec("lotus", hparams={"alpha": 4}, acc_test=0.5))
    with pytest.raises(LotusError, match=r"differ in hparams \(hparams: \{\"alpha\": 2\} vs \{\"alpha\": 4\}\)"):
        summarize(store.records())
    # grouped by the setting, they are two rows, one seed each
    table = summarize(store.records(), by=("dataset", "model", "forget", "hparams"))
    assert list(table.xs("lotus", level="method")["n_seeds"]) == [1, 1]
    # methods run with another training recipe than the gold model are refused too
    store.put(_rec("original", train_recipe={"epochs": 9}))
    with pytest.raises(LotusError, match="different train_recipe"):
        summarize(store.records(method=["gold", "original"]))


def test_one_seed_twice_and_broken_metrics_are_refused():
    df = pd.DataFrame([_rec("gold", key="a" * 16), _rec("lotus", key="b" * 16), _rec("lotus", key="c" * 16)])
    with pytest.raises(LotusError, match="hold seed 0 twice"):
        summarize(df)
    df = pd.DataFrame([_rec("gold", key="a" * 16), _rec("lotus", acc_test="n/a", key="b" * 16)])
    with pytest.raises(LotusError, match="non-numeric acc_test: 'n/a'"):
        summarize(df)
    # a metric missing in one seed gives NaN, not a mean over fewer seeds
    df = pd.DataFrame([_rec("gold", key="a" * 16), _rec("lotus", key="b" * 16),
                       _rec("lotus", seed=1, acc_test=None, key="c" * 16), _rec("gold", seed=1, key="d" * 16)])
    row = summarize(df).xs("lotus", level="method").iloc[0]
    assert row["n_seeds"] == 2 and pd.isna(row["acc_test_mean"])


def test_flags_reach_the_summary():
    df = pd.DataFrame([_rec("gold", key="a" * 16), _rec("lotus", key="b" * 16, flags=["near_chance"])])
    table = summarize(df)
    assert table.xs("lotus", level="method")["flags"].iloc[0] == "near_chance"
    assert table.xs("gold", level="method")["flags"].iloc[0] == ""
    view = summarize(df, formatted=True)
    assert view.xs("lotus", level="method")["flags"].iloc[0] == "⚠ near_chance"


def test_report_tables_without_optional_packages(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "tabulate", None)  # import tabulate -> ImportError
    monkeypatch.setitem(sys.modules, "jinja2", None)
    store = ResultsStore(tmp_path)
    for m in ("gold", "original", "lotus"):
        store.put(_rec(m))
    df = store.records()
    md = to_markdown(report_table(df))
    lines = md.splitlines()
    assert lines[0].startswith("| dataset") and set(lines[1]) <= set("|-: ") and len(lines) == 5
    tex = to_latex(report_table(df))
    assert tex.startswith("\\begin{tabular}") and "small\\_cnn" in tex and "$\\pm$" not in tex.split("\\midrule")[0]
    raw = report_table(df, raw=True, where={"method": "lotus", "hparams.alpha": 2})
    assert len(raw) == 1 and raw["hparams.alpha"].iloc[0] == 2
    with pytest.raises(LotusError, match="unknown record field 'alpha'; did you mean hparams.alpha"):
        report_table(df, raw=True, where={"alpha": 2})


# ---------------------------------------------------------------------------------------
# keys: the data's content, the version, the numerics
# ---------------------------------------------------------------------------------------


def _folder(path, drop=()):
    root = write_image_folder(path, source="digits", train_per_class=12, val_per_class=6, image_size=16, overwrite=True)
    for c in drop:
        shutil.rmtree(root / "train" / str(c))
        shutil.rmtree(root / "val" / str(c))
    return root


def test_changed_data_under_the_same_path_is_run_again(tmp_path, fresh_cache):
    path = tmp_path / "folder"
    cfg = ExperimentConfig(dataset="imagefolder", model="small_cnn", model_kwargs={"width": 8}, method="original",
                           data={"path": str(path)}, train=SMALL["train"], device="cpu")
    store = ResultsStore(tmp_path / "res")
    _folder(path, drop=[9])
    first = run_experiment(cfg, store)
    E._SPLITS.clear()
    E.clear_cache()
    _folder(path)  # the same path, now 10 classes
    second = run_experiment(cfg, store)
    assert second["key"] != first["key"] and second["data_fingerprint"] != first["data_fingerprint"]
    assert second["sizes"]["test"] + second["sizes"]["val"] > first["sizes"]["test"] + first["sizes"]["val"]
    assert len(store) == 2


def test_the_same_data_elsewhere_has_the_same_fingerprint(tmp_path, fresh_cache):
    a, b = _folder(tmp_path / "a"), tmp_path / "b"
    shutil.copytree(a, b)
    fp = []
    for root in (a, b):
        E._SPLITS.clear()
        cfg = ExperimentConfig(dataset="imagefolder", model="small_cnn", method="original", data={"path": str(root)})
        fp.append(E.data_fingerprint(load_config_splits(cfg)))
    assert fp[0] == fp[1]


def test_a_record_of_another_version_is_reported_and_force_replaces_it(tmp_path, fresh_cache, monkeypatch):
    store = ResultsStore(tmp_path)
    cfg = ExperimentConfig(method="original", **SMALL)
    for mod in (E, R, T):
        monkeypatch.setattr(mod, "VERSION", "0.0.1")
    old = run_experiment(cfg, store)
    monkeypatch.undo()
    E.clear_cache()
    with pytest.warns(UserWarning, match=r"stored by lotus 0\.0\.1 at .*rerun with --force"):
        df = run_grid([cfg], store, progress=False)
    assert df["key"].iloc[0] == old["key"] and "0.0.1" in df["stale"].iloc[0]
    assert [p.status for p in plan_grid([cfg], store)] == ["stale"]
    new = run_grid([cfg], store, progress=False, force=True)
    assert new["key"].iloc[0] != old["key"] and len(store) == 1  # the stale record was replaced
    assert pd.isna(new["stale"].iloc[0])


def test_numerics_enter_the_key(fresh_cache):
    cfg = ExperimentConfig(method="original", **SMALL)
    key = cfg.key()
    torch.backends.cudnn.benchmark = not torch.backends.cudnn.benchmark
    try:
        assert cfg.key() != key
    finally:
        torch.backends.cudnn.benchmark = not torch.backends.cudnn.benchmark
    assert cfg.key() == key
    assert cfg.replace(train={**SMALL["train"], "amp": True}).key() != key


# ---------------------------------------------------------------------------------------
# sanity gate, misleading cases, plan, keep-going
# ---------------------------------------------------------------------------------------


def test_an_original_at_chance_is_flagged(tmp_path, fresh_cache, capsys):
    rc, out, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(tmp_path / "r"),
                        "--model-arg", "width=8", "--train", "epochs=1", "lr=1e-6",
                        "--method", "original", "gold", "lotus", "--set", "epochs=1")
    assert rc == 0, err
    df = ResultsStore(tmp_path / "r").records()
    assert all("original_near_chance" in f for f in df["flags"])
    assert "warning: original_near_chance" in out and "near chance" in out
    summary = out.split("mean ± std over seeds")[1]
    assert re.search(r"⚠ [a-z_, ]*original_near_chance", summary)  # in the summary table


def test_sanity_flags_rules(digits_splits):
    good = {"acc_retain": 1.0, "acc_forget": 1.0, "acc_test": 0.9, "mia": 0.8}
    gold = {"acc_retain": 1.0, "acc_forget": 0.9, "acc_test": 0.9, "mia": 0.6}
    assert E.sanity_flags(good, good, gold, digits_splits, "lotus") == []
    dead = dict(good, acc_retain=0.11)
    assert E.sanity_flags(dead, good, gold, digits_splits, "lotus") == ["near_chance"]
    assert E.sanity_flags(good, dead, gold, digits_splits, "lotus")[0] == "original_near_chance"
    assert E.sanity_flags(good, gold, gold, digits_splits, "lotus") == ["nothing_to_unlearn"]


def test_forget_3_means_class_3_on_the_command_line_as_in_the_api(capsys, tmp_path, fresh_cache):
    from lotus.data import load_splits

    assert load_splits("digits", forget="3").forget_spec == "class:3"
    rc, out, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(tmp_path / "r"),
                        "--forget", "3", "--method", "original", "--dry-run")
    assert rc == 0 and "forget=3" in out
    assert load_config_splits(ExperimentConfig(forget="3", **SMALL)).forget_spec == "class:3"
    rc, _, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--dataset", "cifar10", "--data-root",
                      str(tmp_path / "none"), "--forget", "3", "--method", "original")
    assert rc == 2 and "image_size" not in err and "noise_std" not in err


def test_dry_run_lists_runs_and_models_and_runs_nothing(capsys, tmp_path, fresh_cache):
    rc, out, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(tmp_path / "r"),
                        "--method", "original", "lotus", "--dry-run")
    assert rc == 0, err
    epochs = resolve("tiny")["train"]["epochs"]
    assert out.count("to run") >= 2 and f"to train ({epochs} epochs)" in out and "original small_cnn" in out
    assert _nothing_trained(fresh_cache) and not (tmp_path / "r").exists()


def test_keep_going_reports_the_failure_and_keeps_the_others(capsys, tmp_path, fresh_cache):
    rc, out, err = _cli(capsys, "run", "--profile", "tiny", "-q", "--results", str(tmp_path / "r"),
                        "--model-arg", "width=8", "--train", "epochs=2", "--method", "finetune", "lotus",
                        "--set", "epochs=1", "finetune.lr=1e6", "--keep-going")
    assert rc == 1
    assert "lotus run: error: 1 run(s) failed (--keep-going)" in err and "non-finite loss" in err
    methods = list(ResultsStore(tmp_path / "r").records()["method"])
    assert "lotus" in methods and "finetune" not in methods  # (gold: stored for the summary's Avg Gap)


def test_a_corrupt_checkpoint_names_a_remedy_that_works(capsys, tmp_path, fresh_cache):
    args = ["run", "--profile", "tiny", "-q", "--model-arg", "width=8", "--train", "epochs=1", "--method", "original"]
    assert _cli(capsys, *args, "--results", str(tmp_path / "a"))[0] == 0
    ckpt = next((fresh_cache / "checkpoints").glob("*original*.pt"))
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    E.clear_cache()
    rc, _, err = _cli(capsys, *args, "--results", str(tmp_path / "b"))
    assert rc == 2 and "corrupt checkpoint" in err and "lotus run --force" in err
    rc, _, err = _cli(capsys, *args, "--results", str(tmp_path / "b"), "--force")
    assert rc == 0, err
    T.load_checkpoint(ckpt)  # retrained and readable


def test_default_results_folder_is_not_the_current_folder(capsys, tmp_path, fresh_cache, monkeypatch):
    from lotus.cli import results_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOTUS_PROJECT_DIR", raising=False)
    assert results_root("results/runs") == fresh_cache / "results" / "runs"  # outside any project
    (tmp_path / "proj" / "notebooks").mkdir(parents=True)
    (tmp_path / "proj" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "sub")
    assert results_root("results/runs") == tmp_path / "proj" / "results" / "runs"
    assert results_root(None) == fresh_cache / "results"


def test_book_outside_a_checkout_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capsys, "book", "--profile", "tiny", "--no-build")
    assert rc == 2 and "no notebooks/ folder" in err


def test_empty_class_folder_is_refused_before_training(tmp_path, fresh_cache):
    root = _folder(tmp_path / "f")
    for f in (root / "val" / "7").iterdir():
        f.unlink()
    cfg = ExperimentConfig(dataset="imagefolder", model="small_cnn", method="original", data={"path": str(root)},
                           train=SMALL["train"], device="cpu")
    with pytest.raises(LotusError, match=r"no image of class\(es\) \['7'\]"):
        run_experiment(cfg, ResultsStore(tmp_path / "r"))
    assert _nothing_trained(fresh_cache)


def test_check_splits_names_the_cap(digits_splits):
    empty = digits_splits.test.subset([])
    broken = type(digits_splits)(**{**digits_splits.__dict__, "test": empty})
    with pytest.raises(LotusError, match=r"test set of digits .* is empty \(with max_heldout_per_class=1: raise it\)"):
        check_splits(broken, {"max_heldout_per_class": 1})


def test_cache_list_and_clean(capsys, tmp_path, fresh_cache):
    ck = fresh_cache / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "digits-small_cnn-original-0123.pt").write_bytes(b"0" * 2000)
    (ck / "digits-small_cnn-gold-0123.pt.partial").write_bytes(b"0" * 500)
    old_tmp = ck / ".digits-x.pt.abc.tmp"
    old_tmp.write_bytes(b"0" * 100)
    os.utime(old_tmp, (0, 0))
    new_tmp = ck / ".digits-y.pt.abc.tmp"
    new_tmp.write_bytes(b"0" * 100)
    rc, out, _ = _cli(capsys, "cache")
    assert rc == 0 and "1 trained model(s)" in out and "1 partial training(s)" in out and "2.0 kB" in out
    rc, out, _ = _cli(capsys, "cache", "clean")
    assert rc == 0 and not old_tmp.exists() and new_tmp.exists()  # a recent one may be another writer's
    assert (ck / "digits-small_cnn-gold-0123.pt.partial").exists()
    rc, out, _ = _cli(capsys, "cache", "clean", "--all", "--older-than", "0")
    assert rc == 0 and not any(ck.iterdir())


def test_warnings_are_one_line(capsys, tmp_path):
    (tmp_path / "x.json").write_text("[]")
    ResultsStore(tmp_path).put(_rec("gold"))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        rc, out, err = _cli(capsys, "report", str(tmp_path), "--raw", "--format", "csv")
    assert rc == 0 and err.strip().splitlines() == [f"lotus report: warning: ignoring results file {tmp_path / 'x.json'}: "
                                                    "not a lotus record"]


def test_temporary_files_of_killed_writes_are_cleaned(tmp_path):
    old, new = tmp_path / ".digits-x.json.abc.tmp", tmp_path / ".digits-y.json.def.tmp"
    for f in (old, new):
        f.write_text("{")
    os.utime(old, (0, 0))
    ResultsStore(tmp_path).put(_rec())
    assert not old.exists() and new.exists()  # a recent one may be another writer's


def test_a_full_disk_is_named_before_the_work(tmp_path, monkeypatch):
    import shutil as sh

    monkeypatch.setattr(sh, "disk_usage", lambda p: sh._ntuple_diskusage(10**9, 10**9 - 5000, 5000))
    with pytest.raises(LotusError, match=f"the disk of the results folder {tmp_path} is full"):
        check_writable(tmp_path, "results folder", min_free=1_000_000)
    assert check_writable(tmp_path, "results folder") == tmp_path  # no minimum asked
