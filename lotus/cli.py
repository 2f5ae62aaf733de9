"""The ``lotus`` command line: run unlearning experiments, train models, build the book.

Run ``lotus --help`` or ``lotus <command> --help``. Every command prints a clear message and
exits with status 2 on a bad name or option (unknown data set, method, profile...).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import pandas as pd

from .book import BookError, list_notebooks, run_book
from .data import list_datasets
from .experiment import PSEUDO_METHODS, benchmark_methods, configs_from_settings, prepare, run_grid
from .methods import get_method, list_methods
from .metrics import accuracy
from .models import list_models, model_info
from .profiles import list_profiles, load_profile, resolve
from .results import ResultsStore, summarize
from .tune import CRITERION, hparams_yaml, run_tune
from .utils import VERSION, LotusError, NonFiniteLossError, cache_dir

__all__ = ["main", "build_parser", "parse_assignments", "parse_value"]

_EPILOG = textwrap.dedent(
    """\
    examples:
      lotus list                                  # data sets, models, methods, profiles
      lotus run --profile tiny --method lotus     # seconds on a laptop CPU (digits, small CNN)
      lotus run --dataset digits --model small_cnn --method lotus finetune --seeds 0 1 2 \\
                --profile tiny --set lotus.alpha=2
      lotus run --profile cpu --method lotus --data-root ~/data     # CIFAR-10 image folders
      lotus train --profile tiny --seeds 0 1      # only train/cache the original and gold models
      lotus tune --profile cpu                    # the hyper-parameter search behind the profile's hparams
      lotus book --profile tiny                   # execute the notebooks and build the book
      lotus book --list

    Results are JSON records under --results (default results/runs), one per (data set, model,
    method, forget set, seed, hyper-parameters, recipe); a run that already has a record is
    skipped unless --force. Trained models are cached under $LOTUS_CACHE/checkpoints
    (default ~/.cache/lotus). Data sets are read from --data-root, else $LOTUS_DATA, else
    ~/.cache/lotus/data.
    """
)

_RUN_EPILOG = textwrap.dedent(
    """\
    How settings combine: the profile's `settings` give the defaults (see `lotus list` and
    lotus/profiles/), the options given here override them. --set gives a hyper-parameter to
    every method of the run that has it (`--set epochs=3`: the shared budget) or to one
    method (`--set lotus.alpha=2`); --train overrides fields
    of the training recipe (epochs, batch_size, lr, optimizer, scheduler, warmup_epochs,
    patience, augment, amp, channels_last); --data passes options to lotus.load_splits
    (max_train_per_class, forget_rule, unseen, ...); --model-arg passes model options
    (width for small_cnn, pretrained for vit_b16).

    The pseudo-methods `original` (the model before unlearning) and `gold` (the gold
    standard, trained on the retain set only and cached) need no unlearning and are cheap;
    `all` runs every method of the paper's benchmark tables. (The method `retrain` really
    retrains a fresh model on the retain set, timed.)

    examples:
      lotus run --profile tiny --method lotus
      lotus run --dataset digits --model small_cnn --model-arg width=16 --method lotus \\
                --train epochs=8 batch_size=64 --seeds 0 1 2
      lotus run --profile cpu --method original gold lotus --forget 0.1 0.5
      lotus run --dataset cifar10 --model resnet18 --method lotus --device cuda --download
    """
)


# ---------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------


def parse_value(text: str):
    """Turn a command-line value into a Python value: ``true``/``false`` -> bool,
    ``none``/``null`` -> None, ints, floats (``1e-3`` too), ``[1, 2]`` / ``{a: 1}`` (YAML),
    anything else stays text."""
    s = text.strip()
    low = s.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null", "~"):
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    if s[:1] in "[{":
        import yaml

        try:
            return yaml.safe_load(s)
        except yaml.YAMLError as exc:
            raise LotusError(f"cannot parse value {text!r}: {exc}") from None
    return s


def parse_assignments(items, what: str) -> dict:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; a malformed item is a clear error."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise LotusError(f"{what} expects key=value, got {item!r}")
        k, _, v = item.partition("=")
        k = k.strip()
        if not k:
            raise LotusError(f"{what} expects key=value, got {item!r}")
        out[k] = parse_value(v)
    return out


def _split_sets(assignments: dict) -> tuple[dict, dict]:
    """``--set`` assignments as (shared budget, per-method overrides): ``alpha=2`` is shared
    by every method of the run that has it, ``lotus.alpha=2`` belongs to one method."""
    shared: dict = {}
    per_method: dict = {}
    for k, v in assignments.items():
        if "." in k:
            m, _, name = k.partition(".")
            per_method.setdefault(m, {})[name] = v
        else:
            shared[k] = v
    return shared, per_method


def _as_list(v):
    if v is None:
        return None
    return list(v) if isinstance(v, (list, tuple)) else [v]


# ---------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _add_common(p: argparse.ArgumentParser, *, methods: bool) -> None:
    g = p.add_argument_group("what to run (default: the profile's run section)")
    g.add_argument("--profile", metavar="NAME",
                   help="tiny, cpu, paper, or a path to a profile .yaml (default: none, i.e. the paper's "
                        "training recipe for the model, no subsampling)")
    g.add_argument("--dataset", help="digits, cifar10, cifar100, imagefolder, mufac (default: digits)")
    g.add_argument("--model", help="small_cnn, resnet18, vit_tiny, vit_b16 (default: small_cnn)")
    g.add_argument("--model-arg", nargs="+", metavar="KEY=VALUE", default=[], help="create_model options, e.g. width=16")
    if methods:
        g.add_argument("--method", "--methods", dest="methods", nargs="+", metavar="METHOD",
                       help="unlearning method(s), see `lotus list`, or `all` (default: the profile's). Pseudo-methods: original, gold")
    g.add_argument("--forget", nargs="+", metavar="SPEC",
                   help="forget set: a per-class fraction (0.1), count:5, class:cat; several for a grid (default: 0.1)")
    g.add_argument("--seeds", "--seed", dest="seeds", nargs="+", type=int, metavar="N", help="seeds, one run each (default: 0)")
    if methods:
        g.add_argument("--set", dest="sets", nargs="+", metavar="[METHOD.]KEY=VALUE", default=[],
                       help="method hyper-parameters, e.g. alpha=2 or lotus.alpha=2")
    g.add_argument("--train", dest="train", nargs="+", metavar="KEY=VALUE", default=[],
                   help="training recipe overrides, e.g. epochs=8 lr=0.05")
    g.add_argument("--data", dest="data", nargs="+", metavar="KEY=VALUE", default=[],
                   help="load_splits options, e.g. max_train_per_class=1000")
    o = p.add_argument_group("where and how")
    o.add_argument("--data-root", metavar="DIR", help="data root (default $LOTUS_DATA or ~/.cache/lotus/data)")
    o.add_argument("--download", action="store_true", help="download CIFAR through torchvision if missing")
    o.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: CUDA if available)")
    o.add_argument("--cache-dir", metavar="DIR", help="checkpoint cache (default $LOTUS_CACHE/checkpoints)")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lotus",
        description="LoTUS machine unlearning (CVPR 2025): run unlearning experiments with the paper's "
                    "methods and metrics, and build the executable book.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lotus {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run unlearning experiments and print their metrics",
                       description="Train (or load from the cache) the original and gold models, unlearn the "
                                   "forget set with each method and seed, evaluate, print the metrics and store "
                                   "one JSON record per run.",
                       epilog=_RUN_EPILOG, formatter_class=_Formatter)
    _add_common(p, methods=True)
    p.add_argument("--results", metavar="DIR", help="results folder (default: profile's results_dir or results/runs)")
    p.add_argument("--force", action="store_true", help="re-run experiments that already have a record")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("train", help="train (or load cached) original and gold models, print their accuracy",
                       description="Train the original model (forget + retain) and the gold standard (retain only) "
                                   "for each seed, cache their checkpoints and print their accuracies.",
                       epilog="example:\n  lotus train --profile cpu --seeds 0 1 --data-root ~/data",
                       formatter_class=_Formatter)
    _add_common(p, methods=False)
    p.add_argument("--force", action="store_true", help="retrain even if cached checkpoints exist")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="search each method's hyper-parameters on the profile's tuning seed",
                       description="Run the hyper-parameter search of a profile's `tune` section: every "
                                   "combination of its grid, per method, on the tuning seed (not one of the "
                                   "reported seeds), under the settings of its chapter (forget set, shared "
                                   "budget). Stores every record, prints them and the best setting per method: "
                                   "the lowest Avg Gap to the gold model among the settings that keep test "
                                   "accuracy within max_test_drop of the original model's.",
                       epilog=textwrap.dedent("""\
                           examples:
                             lotus tune --profile tiny
                             lotus tune --profile cpu --methods lotus ssd
                           """),
                       formatter_class=_Formatter)
    p.add_argument("--profile", default="cpu", help="tiny, cpu, or a path to a profile .yaml (default: cpu)")
    p.add_argument("--methods", nargs="+", metavar="METHOD", help="search only these methods of the grid")
    p.add_argument("--seed", type=int, help="the tuning seed (default: the profile's tune.seed)")
    p.add_argument("--results", metavar="DIR", help="results folder (default: the profile's results_dir)")
    p.add_argument("--force", action="store_true", help="re-run settings that already have a record")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("book", help="execute the notebooks with a profile and build the Jupyter Book",
                       description="Execute every notebook of notebooks/ with papermill (parameters from the "
                                   "profile) into _build/book-src/, then build the HTML site into _build/html/.",
                       epilog=textwrap.dedent("""\
                           examples:
                             lotus book --profile tiny                 # a quick smoke build
                             lotus book --profile cpu                  # the published CPU book
                             lotus book --only 02 04_benchmark --no-build
                             lotus book --list
                           """),
                       formatter_class=_Formatter)
    p.add_argument("--profile", default="cpu", help="tiny, cpu, paper, or a path to a profile .yaml (default: cpu)")
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="execute only these notebooks (name or number prefix)")
    p.add_argument("--no-build", dest="build", action="store_false", help="execute the notebooks but do not build the site")
    p.add_argument("--no-execute", dest="execute", action="store_false",
                   help="build from the notebooks already executed in _build/book-src")
    p.add_argument("--force", action="store_true",
                   help="start from a clean _build/book-src and pass force=True to notebooks that accept it")
    p.add_argument("--keep-going", action="store_true", help="execute the remaining notebooks after a failure")
    p.add_argument("--list", dest="list_only", action="store_true", help="list the notebooks in execution order and exit")
    p.add_argument("--repo", metavar="DIR", help="project folder holding notebooks/ (default: the current folder)")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("list", help="list data sets, models, unlearning methods and profiles",
                       formatter_class=_Formatter)
    p.set_defaults(func=cmd_list)
    return parser


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------


def _settings(args, *, methods: bool) -> dict:
    """The profile's settings (lotus.profiles.resolve) with the command-line options applied."""
    base = resolve(args.profile or None)
    o: dict = {}
    if args.dataset:
        o["dataset"] = args.dataset
    if args.model:
        o["model"] = args.model
    same_data = o.get("dataset", base["dataset"]) == base["dataset"]
    same_model = o.get("model", base["model"]) == base["model"]
    data = parse_assignments(args.data, "--data")
    if args.download:
        data["download"] = True
    if data:
        o["data"] = {**(base["data"] if same_data else {}), **data}
    model_kwargs = parse_assignments(args.model_arg, "--model-arg")
    if model_kwargs:
        o["model_kwargs"] = {**(base["model_kwargs"] if same_model else {}), **model_kwargs}
    train = parse_assignments(args.train, "--train")
    if train:
        o["train"] = {**base["train"], **train}
    for name, value in (("data_root", args.data_root), ("device", args.device), ("cache_dir", args.cache_dir),
                        ("seeds", args.seeds), ("forget", args.forget)):
        if value is not None:
            o[name] = value
    per_method: dict = {}
    if methods:
        if args.methods:
            o["methods"] = "all" if args.methods == ["all"] else args.methods
        if args.results:
            o["results_dir"] = args.results
        shared, per_method = _split_sets(parse_assignments(args.sets, "--set"))
        if shared:
            o["unlearn"] = shared
        if per_method:
            o["hparams"] = per_method
    settings = resolve(args.profile or None, **o)
    stray = sorted(set(per_method) - set(benchmark_methods(settings["methods"])))
    if stray:
        raise LotusError(f"--set {stray[0]}.<name>=...: method {stray[0]!r} is not among the methods of this run "
                         f"({', '.join(benchmark_methods(settings['methods']))})")
    return settings


def _print_table(df, columns, out=None) -> None:
    out = out or sys.stdout
    view = df[[c for c in columns if c in df.columns]].copy()
    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.float_format", lambda v: f"{v:.4f}"):
        print(view.to_string(index=False), file=out)


def cmd_run(args) -> int:
    settings = _settings(args, methods=True)
    store = ResultsStore(settings["results_dir"] or cache_dir() / "results")
    cfgs = configs_from_settings(settings)
    methods = list(dict.fromkeys(c.method for c in cfgs))
    seeds = list(dict.fromkeys(c.seed for c in cfgs))
    df = run_grid(cfgs, store, force=args.force, progress=not args.quiet)
    print()
    _print_table(df, ["method", "forget", "seed", "acc_forget", "acc_retain", "acc_test", "mia", "jsd", "rf_jsd",
                      "avg_gap", "unlearn_seconds"])
    if len(seeds) > 1 or len(methods) > 1:
        # Avg Gap of the seed means needs the gold standard's rows: evaluating the cached gold
        # model costs one inference pass (and is skipped when already stored).
        gold_cfgs = [c.replace(method="gold", hparams={}) for c in cfgs if c.method != "gold"]
        gold_cfgs = list({c.key(): c for c in gold_cfgs}.values())
        gold = run_grid(gold_cfgs, store, progress=False) if gold_cfgs else None
        full = pd.concat([df, gold], ignore_index=True) if gold is not None else df
        full = full.drop_duplicates("key")
        print("\nmean ± std over seeds (JSD and RF-JSD x 1e4, time in minutes; Avg Gap to 'gold'):")
        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(summarize(full, formatted=True).to_string())
    skipped = df.attrs.get("skipped", 0)
    note = f" ({skipped} already stored, not re-run; --force re-runs)" if skipped else ""
    print(f"\n{len(df)} record(s) in {store.root}{note}")
    return 0


def cmd_train(args) -> int:
    settings = _settings(args, methods=False)
    rows = []
    for cfg in configs_from_settings(settings, methods=["original"]):
        prep = prepare(cfg.validate(), progress=not args.quiet, force_train=args.force)
        for kind, model in (("original", prep.original), ("gold", prep.gold)):
            info = getattr(model, "lotus_train_info", {}) or {}
            row = {"model": kind, "forget": prep.splits.forget_spec, "seed": cfg.seed}
            for split in ("forget", "retain", "test", "val"):
                row[f"acc_{split}"] = accuracy(model, prep.splits[split], device=prep.device)
            row.update(epochs=info.get("epochs"), train_seconds=info.get("seconds"),
                       cached="yes" if info.get("cached") else "no", checkpoint=info.get("path"))
            rows.append(row)
    df = pd.DataFrame(rows)
    print()
    _print_table(df, ["model", "forget", "seed", "acc_forget", "acc_retain", "acc_test", "acc_val", "epochs",
                      "train_seconds", "cached"])
    print("\ncheckpoints:")
    for p in dict.fromkeys(df["checkpoint"]):
        print(f"  {p}")
    return 0


def cmd_tune(args) -> int:
    import datetime

    store = ResultsStore(args.results) if args.results else None
    result = run_tune(args.profile, store, methods=args.methods, seed=args.seed, force=args.force,
                      progress=not args.quiet)
    plan, rec = result.plan, result.records
    hp_cols = [c for c in rec.columns if c.startswith("hp.")]
    shown = ["method", *hp_cols, "acc_forget", "acc_retain", "acc_test", "mia", "avg_gap", "test_drop",
             "unlearn_seconds"]
    order = rec.assign(_o=rec["method"].map({m: i for i, m in enumerate(["original", "gold", *plan["grid"]])}))
    print(f"\nsearch of profile {args.profile!r}: seed {plan['seed']}, settings of {plan['chapter']} "
          f"(forget {plan['settings']['forget']}, shared budget {plan['settings']['unlearn']}); "
          f"{len(rec)} record(s) in {rec.attrs.get('store')}")
    _print_table(order.sort_values(["_o", "avg_gap"], kind="stable"), shown)
    print(f"\nbest setting per method by {CRITERION}, among the settings whose test accuracy is at most "
          f"{plan['max_test_drop']:g} below the original model's:")
    best = result.best.copy()
    best.insert(0, "setting", [", ".join(f"{k}={v}" for k, v in s.items()) for s in best.pop("setting")])
    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.float_format", lambda v: f"{v:.4f}"):
        print(best.to_string())
    command = f"lotus tune --profile {args.profile}"
    print("\nfor the profile:\n" + hparams_yaml(result, command=command, date=datetime.date.today().isoformat()))
    return 0


def cmd_book(args) -> int:
    if args.list_only:
        repo = Path(args.repo) if args.repo else None
        for nb in list_notebooks(repo):
            print(nb.stem)
        return 0
    try:
        report = run_book(profile=args.profile, only=args.only, build=args.build, execute=args.execute,
                          force=args.force, keep_going=args.keep_going, repo=args.repo, kernel=args.kernel)
    except BookError as exc:
        print(f"lotus book: error: {exc}", file=sys.stderr)
        return 1
    return 0 if report.ok else 1


def cmd_list(args) -> int:
    print("data sets:  " + ", ".join(list_datasets()))
    print("models:")
    for m in list_models():
        info = model_info(m)
        print(f"  {m:<16} {info.family}: {info.summary}")
    print("methods:")
    for m in list_methods():
        print(f"  {m:<16} {get_method(m).summary}")
    descr = {"original": "pseudo-method: the original model, before unlearning (time 0)",
             "gold": "pseudo-method: the gold standard trained on the retain set (cached; time = its training)"}
    for m in PSEUDO_METHODS:
        print(f"  {m:<16} {descr[m]}")
    print("profiles:")
    for name in list_profiles():
        text = load_profile(name)["description"]
        print(f"  {name:<16} {text.split('. ')[0].rstrip('.')}.")
    return 0


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    """Entry point of the ``lotus`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LotusError as exc:
        print(f"lotus {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except NonFiniteLossError as exc:
        print(f"lotus {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nlotus {args.command}: interrupted; finished runs are stored and will be skipped next time",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
