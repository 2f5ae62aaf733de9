#!/usr/bin/env python3
"""Run every named benchmark of the paper profile with its real model on small stand-ins.

The tests run each benchmark's data path with a small CNN or a narrow ViT; this script runs
the models the benchmarks name (ResNet-18, ViT-B/16 at 224 px) on stand-ins in the real
on-disk layouts (:func:`lotus.fixtures.write_standin`), one epoch of training and of
unlearning each: a smoke test for a GPU machine before the real runs, in a few minutes.
ViT-B/16 starts from scratch when its pre-trained weights are not in the Hugging Face cache
(and says so). The ImageNet-1k benchmark runs as the large-scale chapter runs it: the model
as created is the original, no gold model.

    python scripts/check_benchmarks.py                          # every benchmark, CUDA if available
    python scripts/check_benchmarks.py --benchmarks vit-mufac resnet18-tinyimagenet-10 --methods all

Exit status 1 when a benchmark fails (its traceback is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lotus  # noqa: E402
from lotus.data import sort_cifake  # noqa: E402
from lotus.experiment import configs_from_settings, load_kwargs, method_hparams, run_grid  # noqa: E402
from lotus.fixtures import STANDINS, write_standin  # noqa: E402
from lotus.profiles import benchmark_definition, list_benchmarks, resolve  # noqa: E402
from lotus.results import ResultsStore  # noqa: E402
from lotus.utils import LotusError, resolve_device  # noqa: E402

#: one epoch of training, no warm-up or early stopping
TRAIN = {"epochs": 1, "scheduler": "none", "warmup_epochs": 0, "patience": None}
COLUMNS = ["method", "acc_forget", "acc_retain", "acc_test", "mia", "rf_jsd", "avg_gap", "unlearn_seconds"]


def vit_kwargs() -> dict:
    """``{}`` when ViT-B/16's pre-trained weights load, else ``{"pretrained": False}``."""
    try:
        lotus.create_model("vit_b16", 10)
        return {}
    except LotusError as exc:
        print(f"ViT-B/16 from scratch (no pre-trained weights: {str(exc)[:100]}...)")
        return {"pretrained": False}


def run_one(name: str, root: Path, device, methods, vit: dict, store: ResultsStore) -> None:
    bench = resolve("paper", benchmark=name)
    kw = vit if bench["model"] == "vit_b16" else {}
    if benchmark_definition(name).get("pretrained_original"):  # the large-scale chapter's protocol
        s = resolve("paper", "09_large_scale", benchmark=name, data_root=str(root), model_kwargs=kw,
                    seeds=bench["seeds"][:1], unlearn={"epochs": 1})
        seed = s["seeds"][0]
        splits = lotus.load_splits(s["dataset"], forget=s["forget"], seed=seed, **load_kwargs(s))
        original = lotus.create_model(s["model"], splits.num_classes, **kw).to(device)
        chosen = lotus.experiment.benchmark_methods(s["methods"] if methods == "default" else methods)
        print(splits)
        for m in [m for m in chosen if m not in ("original", "gold")] or ["lotus"]:
            net, rep = lotus.unlearn(original, splits, m, device=device, seed=seed, **method_hparams(m, s))
            scores = lotus.evaluate(net, splits, original=original, device=device)
            print(f"  {m:<16} acc_forget {scores['acc_forget']:.3f}  rf_jsd {scores['rf_jsd']:.2e}  "
                  f"{rep.seconds:.2f} s")
        return
    s = resolve("paper", benchmark=name, data_root=str(root), model_kwargs=kw, train=TRAIN, unlearn={"epochs": 1},
                seeds=bench["seeds"][:1], device=str(device))
    chosen = ["original", "gold", "lotus"] if methods == "default" else methods
    df = run_grid(configs_from_settings(s, methods=chosen), store, progress=False)
    print(df["sizes"].iloc[0])
    print(df[COLUMNS].round(4).to_string(index=False))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmarks", nargs="+", default=None, help="names (default: every benchmark of the paper profile)")
    p.add_argument("--methods", nargs="+", default=None,
                   help="methods of each run, or `all` (default: original gold lotus)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA if available)")
    p.add_argument("--root", default=None, help="where the stand-ins are written (default: a temporary folder)")
    args = p.parse_args(argv)
    names = args.benchmarks or list_benchmarks("paper")
    unknown = [n for n in names if n not in list_benchmarks("paper")]
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; valid: {', '.join(list_benchmarks('paper'))}")
    methods = "default" if args.methods is None else ("all" if args.methods == ["all"] else args.methods)
    device = resolve_device(args.device)
    work = Path(args.root or tempfile.mkdtemp(prefix="lotus-standins-"))
    os.environ.setdefault("LOTUS_CACHE", str(work / "cache"))
    t0 = time.time()
    for name in STANDINS:
        write_standin(work, name)
    if not (work / "cifake").is_dir():
        sort_cifake(work / "CIFAKE", work / "cifake")
    print(f"lotus {lotus.__version__} on {device}; stand-ins in {work} ({time.time() - t0:.1f} s)")
    vit = vit_kwargs()
    store = ResultsStore(work / "runs")
    failed = []
    for name in names:
        t = time.time()
        print(f"\n=== {name}", flush=True)
        try:
            run_one(name, work, device, methods, vit, store)
            print(f"ok in {time.time() - t:.1f} s", flush=True)
        except Exception:  # noqa: BLE001 - every benchmark is tried; the failures are listed at the end
            traceback.print_exc()
            failed.append(name)
    print(f"\n{len(names) - len(failed)} of {len(names)} benchmarks ran in {time.time() - t0:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
