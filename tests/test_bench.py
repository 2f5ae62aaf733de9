"""`lotus bench`: the quick mode completes and writes a valid result (CI), the GPU mode's code
runs (on the CPU, at toy sizes), and the comparisons it reports hold: equal evaluation values,
bit-for-bit equal teacher reuse. No assertion is about how fast anything is."""

import json

import pytest
import torch

from lotus import bench
from lotus.cli import main
from lotus.utils import LotusError


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """`lotus bench --quick --profile tiny`, run once through the command line (on one thread,
    like every test)."""
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    rc = main(["bench", "--quick", "--profile", "tiny", "--threads", "1", "--out", str(out)])
    assert rc == 0
    return out


def test_quick_mode_writes_a_valid_result(quick, capsys):
    result = bench.read_bench(quick)
    json.loads(quick.read_text())  # strict JSON
    assert result["mode"] == "quick" and result["profile"] == "tiny"
    m = result["machine"]
    assert m["torch_version"] == torch.__version__ and m["threads"] >= 1 and m["cpu_count"] >= 1
    sections = result["workloads"][0]["sections"]
    assert set(sections) == {"overhead", "evaluation", "growth", "options", "teacher"}
    assert set(sections["overhead"]["methods"]) == set(bench.MODES["quick"]["methods"])
    for r in sections["overhead"]["methods"].values():
        assert r["seconds"] > 0 and r["bare_seconds"] > 0 and r["ratio"] == pytest.approx(r["seconds"] / r["bare_seconds"])
    assert [r["forget_fraction"] for r in sections["growth"]["rows"]] == bench.MODES["quick"]["growth"]
    sizes = [r["forget_size"] for r in sections["growth"]["rows"]]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert "lotus_seconds_per_1000_forget" in sections["growth"]
    assert set(sections["options"]["options"]) == set(bench.MODES["quick"]["options"])
    rf = result["rf_jsd"]
    assert rf["rows"] == bench.MODES["quick"]["rf_rows"] and rf["classes"] == 1000 and 0 < rf["rf_jsd"] < 1
    assert rf["peak_gb"] > 0
    table = bench.bench_table(result)
    assert {"overhead", "evaluation", "growth", "options", "teacher", "rf_jsd"} <= set(table["section"])
    assert "targets:" in bench.format_report(result)


def test_evaluate_and_the_authors_style_agree(quick):
    ev = bench.read_bench(quick)["workloads"][0]["sections"]["evaluation"]
    assert set(ev["ours"]) == {"acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd_legacy", "rf_jsd_legacy"}
    assert ev["max_abs_difference"] <= 1e-6
    assert ev["forward_seconds"] > 0
    assert ev["speedup_ceiling"] == pytest.approx(ev["authors_style_seconds"] / ev["forward_seconds"])
    assert ev["ours"]["jsd_legacy"] > 0 and ev["ours"]["rf_jsd_legacy"] > 0  # not two zeros agreeing


def test_teacher_reuse_is_bit_for_bit_and_options_keep_the_metrics(quick):
    result = bench.read_bench(quick)
    sections = result["workloads"][0]["sections"]
    assert sections["teacher"]["bit_for_bit_equal"] is True
    opts = sections["options"]["options"]
    today, default = opts["today"], opts["default"]
    assert all(r["speed"]["channels_last"] is False and r["speed"]["teacher_cache"] is False for r in today["runs"])
    assert all(r["speed"]["channels_last"] is True for r in default["runs"])
    # the new defaults change the memory format (values move in the last bits only) and reuse the
    # teacher (bit for bit): seed by seed the metrics agree up to a borderline prediction or two
    for a, b in zip(today["runs"], default["runs"]):
        assert a["seed"] == b["seed"]
        for k, v in a["metrics"].items():
            assert b["metrics"][k] == pytest.approx(v, abs=0.02), k
    by_target = {t["target"]: t for t in result["targets"]}
    assert by_target["evaluation_equal"]["met"] is True


def test_gpu_mode_runs_on_synthetic_data(tmp_path):
    spec = {"model": "small_cnn", "model_kwargs": {"width": 8}, "num_classes": 4, "image_size": 16,
            "train_per_class": 40, "heldout_per_class": 10, "forget": 0.1}
    result = bench.run_bench(mode="gpu", device="cpu", sections=["overhead", "evaluation", "growth", "options", "teacher"],
                             overrides={"workloads": [spec], "repeats": 1, "options": ["today", "default", "batch_256"],
                                        "methods": ["lotus", "finetune"], "eval_caps": None, "teacher_epochs": 2})
    assert result["mode"] == "gpu" and result["profile"] is None
    work = result["workloads"][0]
    assert work["workload"]["trained"] is False and work["workload"]["dataset"] == "synthetic"
    assert work["workload"]["sizes"]["forget"] == 4 * 4
    opts = work["sections"]["options"]["options"]
    assert all(o["runs"][0]["metrics"] is None for o in opts.values())  # untrained: images/s only
    assert work["sections"]["evaluation"]["max_abs_difference"] <= 1e-6
    bench.save_bench(result, tmp_path / "gpu" / "bench-gpu.json")
    assert [r["mode"] for r in bench.stored_results(tmp_path / "gpu")] == ["gpu"]
    assert bench.stored_results(tmp_path / "absent") == []


def test_bad_requests_fail_before_any_work(tmp_path):
    with pytest.raises(LotusError, match="unknown bench mode"):
        bench.run_bench("tiny", mode="slow")
    with pytest.raises(LotusError, match="unknown bench section"):
        bench.run_bench("tiny", mode="quick", sections=["speed"])
    with pytest.raises(LotusError, match="unknown bench size"):
        bench.run_bench("tiny", mode="quick", overrides={"repeat": 2})
    bad = tmp_path / "x.json"
    bad.write_text('{"key": 1}')
    with pytest.raises(LotusError, match="not a lotus bench result"):
        bench.read_bench(bad)
    assert main(["bench", "--quick", "--profile", "tiny", "--only", "nothing"]) == 2


def test_default_outputs():
    assert str(bench.default_output("full", "cpu")) == "results/bench/bench-cpu-full.json"
    assert str(bench.default_output("gpu", None)) == "results/gpu/bench/bench-gpu.json"
