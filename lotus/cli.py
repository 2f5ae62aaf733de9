"""The ``lotus`` command line: run unlearning experiments, train models, build the book,
report results and manage the cache.

Run ``lotus --help`` or ``lotus <command> --help``. One error path: every expected failure
(a bad name or value, a missing or unwritable folder, a corrupt file, a diverging loss)
prints one ``lotus <command>: error: ...`` line and exits with status 2, before any work
starts wherever it can be known then; warnings are one ``lotus <command>: warning: ...``
line each. ``LOTUS_DEBUG=1`` shows the Python traceback instead.

Results (tables, lists) go to stdout; progress and diagnostics are log messages of the
``lotus`` logger on stderr: INFO by default, DEBUG with ``-v``, only warnings and errors
with ``-q`` (which also hides the progress bars).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd

from . import bench, paper
from .book import BookError, list_notebooks, run_book
from .book.runner import project_folder
from .data import decode_cache_entries, list_datasets, remove_decode_cache
from .distributed import init_from_env, shutdown
from .experiment import (
    PSEUDO_METHODS,
    benchmark_methods,
    configs_from_settings,
    load_kwargs,
    plan_grid,
    prepare,
    run_grid,
)
from .methods import get_method, list_methods
from .metrics import SCORE_KEYS, accuracy, score_checkpoint
from .models import list_models, model_info
from .profiles import benchmark_definition, benchmark_table, list_profiles, load_profile, resolve
from .results import FLAGS, ResultsStore, report_table, summarize, write_table
from .train import PARTIAL_SUFFIX
from .tune import CRITERION, hparams_yaml, run_tune
from .utils import VERSION, LotusError, NonFiniteLossError, atomic_write_bytes, cache_dir

__all__ = ["main", "build_parser", "parse_assignments", "parse_value"]

_EPILOG = textwrap.dedent(
    """\
    examples:
      lotus list                                  # data sets, models, methods, profiles
      lotus run --profile tiny --method lotus     # seconds on a laptop CPU (digits, small CNN)
      lotus run --dataset digits --model small_cnn --method lotus finetune --seeds 0 1 2 \\
                --profile tiny --set lotus.alpha=2
      lotus run --profile cpu --method lotus --data-root ~/data     # CIFAR-10 image folders
      lotus list --benchmarks                     # the paper's experiments, with their published numbers
      lotus run --profile paper --benchmark vit-cifar100-10 --device cuda   # one of them
      lotus train --profile tiny --seeds 0 1      # only train/cache the original and gold models
      lotus score --profile tiny --original a.pt --unlearned b.pt   # RF-JSD of saved models, no gold model
      lotus tune --profile cpu                    # the hyper-parameter search behind the profile's hparams
      lotus book --profile tiny                   # execute the notebooks and build the book
      lotus book --list
      lotus -v run --profile tiny --method lotus  # with debug messages; -q: only warnings and errors
      lotus report --format markdown              # tables of the stored results
      lotus cache                                 # what the cache holds; `lotus cache clean`
      lotus bench --quick --profile tiny          # how fast: the speed suite, a table and a JSON

    Results are JSON records under --results (default: the profile's results_dir, taken
    relative to the project folder, i.e. the checkout you are in, else under $LOTUS_CACHE), one
    per (data set, model, method, forget set, seed, hyper-parameters, recipe, data content,
    lotus version); a run that already has a record is skipped unless --force. Trained models
    are cached under $LOTUS_CACHE/checkpoints (default ~/.cache/lotus); an interrupted training
    resumes from its last partial checkpoint. Data sets are read from --data-root, else
    $LOTUS_DATA, else ~/.cache/lotus/data.
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
      lotus run --profile paper --benchmark resnet18-tinyimagenet-10 --data-root ~/data
      lotus run --dataset cifar10 --model resnet18 --method lotus --device cuda --download
      lotus run --profile cpu --method all --dry-run    # what is stored / to run / to train
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
    g.add_argument("--benchmark", metavar="NAME",
                   help="a named benchmark of the profile (`lotus list --benchmarks`); without --profile, "
                        "the paper profile's. The options below change its settings")
    g.add_argument("--dataset", help="digits, cifar10, cifar100, imagefolder, mufac, tinyimagenet, imagenet1k "
                                     "(default: digits)")
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
    _add_verbosity(o, sub=True)


def _add_verbosity(p, *, sub: bool) -> None:
    """``-v/--verbose`` and ``-q/--quiet``: global options of ``lotus`` that every subcommand
    accepts too (``lotus -q run`` = ``lotus run -q``). In a subcommand their default is
    suppressed so that it does not undo the global option."""
    default = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument("--verbose", "-v", action="count", help="debug messages (log level DEBUG)",
                   **(default or {"default": 0}))
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or messages, only warnings and errors",
                   **default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lotus",
        description="LoTUS machine unlearning (CVPR 2025): run unlearning experiments with the paper's "
                    "methods and metrics, and build the executable book.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lotus {VERSION}")
    _add_verbosity(parser, sub=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run unlearning experiments and print their metrics",
                       description="Train (or load from the cache) the original and gold models, unlearn the "
                                   "forget set with each method and seed, evaluate, print the metrics and store "
                                   "one JSON record per run.",
                       epilog=_RUN_EPILOG, formatter_class=_Formatter)
    _add_common(p, methods=True)
    p.add_argument("--results", metavar="DIR",
                   help="results folder (default: the profile's results_dir, relative to the project folder)")
    p.add_argument("--force", action="store_true",
                   help="re-run experiments that already have a record (also those of another lotus version), "
                        "and retrain a corrupt cached model")
    p.add_argument("--dry-run", action="store_true",
                   help="say which runs are stored or to run and which models are cached or to train, then stop")
    p.add_argument("--keep-going", action="store_true",
                   help="when a run fails, go on with the others and list the failures at the end (exit status 1)")
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
    _add_verbosity(p, sub=True)
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("bench", help="measure speed: method overhead, evaluation, cost growth, speed options",
                       description=bench.DESCRIPTION,
                       epilog=bench.EPILOG, formatter_class=_Formatter)
    bench.add_arguments(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("score", help="score an unlearned model file against its original: RF-JSD, accuracies, MIA",
                       description="Retrain-free evaluation (no gold model): load an original and an unlearned model "
                                   "file, the training data with the forget set, and an unseen set D_u; print "
                                   "RF-JSD (the unlearned model on the forget set against the original on D_u), "
                                   "the accuracies and the MIA of both models.",
                       epilog=textwrap.dedent("""\
                           model files: a checkpoint written by `lotus train` (its architecture is recorded), a
                           state dict (give --model: a registered name or package.module:factory, e.g.
                           torchvision.models:resnet18), a TorchScript file (torch.jit.save) or a torch.export
                           program (torch.export.save). Pickled files are read with weights_only=True.

                           examples:
                             lotus train --profile tiny     # prints the paths of its two checkpoints
                             lotus score --profile tiny --original ORIGINAL.pt --unlearned GOLD.pt
                             lotus score --dataset imagefolder --data path=~/mydata --model torchvision.models:resnet18 \\
                                         --original orig.pt --unlearned unl.pt --forget-file forget.txt \\
                                         --unseen ~/mydata/unseen --json
                           """),
                       formatter_class=_Formatter)
    p.add_argument("--original", required=True, metavar="FILE", help="the model before unlearning")
    p.add_argument("--unlearned", required=True, metavar="FILE", help="the model after unlearning")
    p.add_argument("--model", help="architecture of state-dict files: a registered name or package.module:factory")
    p.add_argument("--model-arg", nargs="+", metavar="KEY=VALUE", default=[], help="options of the architecture")
    g = p.add_argument_group("data (default: the profile's, else digits)")
    g.add_argument("--profile", metavar="NAME", help="read dataset, data options and forget set from this profile")
    g.add_argument("--dataset", help="the training data source (lotus list): digits, cifar10, imagefolder, ...")
    g.add_argument("--data", nargs="+", metavar="KEY=VALUE", default=[], help="load_splits options, e.g. image_size=16")
    g.add_argument("--data-root", metavar="DIR", help="data root (default $LOTUS_DATA or ~/.cache/lotus/data)")
    f = g.add_mutually_exclusive_group()
    f.add_argument("--forget", metavar="SPEC", help="forget set: 0.1, count:5, class:cat (default: the profile's)")
    f.add_argument("--forget-file", metavar="FILE",
                   help="forget set as positions in the training set: .txt/.csv (integers), .json, .npy, .pt")
    g.add_argument("--seed", type=int, help="seed of the forget set and the val/test halving (default: the profile's first)")
    g.add_argument("--unseen", metavar="DIR", help="unseen images D_u as <DIR>/<class>/* (default: half the held-out set)")
    o = p.add_argument_group("how")
    o.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: CUDA if available)")
    o.add_argument("--batch-size", type=int, default=512, help="inference batch size (default 512)")
    o.add_argument("--legacy", action="store_true", help="the authors' JSD formula under the plain names")
    o.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("list", help="list data sets, models, unlearning methods, profiles and benchmarks",
                       epilog="examples:\n  lotus list\n  lotus list --benchmarks",
                       formatter_class=_Formatter)
    p.add_argument("--benchmarks", action="store_true",
                   help="list the named benchmarks of a profile with the published numbers they compare with")
    p.add_argument("--profile", default="paper", help="the profile whose benchmarks are listed (default: paper)")
    _add_verbosity(p, sub=True)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("report", help="tables of stored results: summary or raw records, as text, CSV, Markdown, LaTeX",
                       description="Read one or more results folders and print a table: by default the summary "
                                   "(mean ± std over seeds per method, Avg Gap to the gold model, flags); --raw "
                                   "prints one row per record with nested fields flattened (hparams.alpha, "
                                   "train_recipe.epochs, ...). Markdown and LaTeX need no optional package.",
                       epilog=textwrap.dedent("""                           examples:
                             lotus report                                  # the default results folder
                             lotus report results/gpu --format markdown
                             lotus report --where method=lotus hparams.alpha=2 --raw --format csv -o lotus.csv
                             lotus report --profile cpu --format latex
                           """),
                       formatter_class=_Formatter)
    p.add_argument("folders", nargs="*", metavar="FOLDER",
                   help="results folders (default: the profile's results_dir, as `lotus run` uses)")
    p.add_argument("--profile", metavar="NAME", help="take the default results folder from this profile")
    p.add_argument("--where", nargs="+", metavar="FIELD=VALUE", default=[],
                   help="keep records whose field (dotted for nested ones: hparams.alpha) equals the value")
    p.add_argument("--raw", action="store_true", help="one row per record instead of the summary")
    p.add_argument("--by", nargs="+", metavar="FIELD", default=["dataset", "model", "forget"],
                   help="fields that define one benchmark in the summary (default: dataset model forget)")
    p.add_argument("--columns", nargs="+", metavar="COLUMN", help="keep only these columns")
    p.add_argument("--format", default="text", choices=["text", "csv", "markdown", "latex"], help="output format")
    p.add_argument("--output", "-o", metavar="FILE", help="write the table to FILE (default: standard output)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("cache", help="what the cache holds (checkpoints, decoded images, results); clean it",
                       description="`lotus cache` (or `lotus cache list`) lists the cache under $LOTUS_CACHE with "
                                   "sizes. `lotus cache clean` removes temporary files left by interrupted writes "
                                   "(older than --older-than minutes); --resumable also removes partial training "
                                   "checkpoints, --decoded the decoded-image cache, --checkpoints every trained "
                                   "model, --all all of these. Results are never removed.",
                       formatter_class=_Formatter)
    p.add_argument("action", nargs="?", default="list", choices=["list", "clean"])
    p.add_argument("--cache-dir", metavar="DIR", help="checkpoint folder (default $LOTUS_CACHE/checkpoints)")
    p.add_argument("--resumable", action="store_true", help="clean: also partial checkpoints of interrupted trainings")
    p.add_argument("--decoded", action="store_true", help="clean: also the decoded-image cache")
    p.add_argument("--checkpoints", action="store_true", help="clean: also every cached trained model")
    p.add_argument("--all", dest="everything", action="store_true", help="clean: all of the above")
    p.add_argument("--older-than", type=float, default=60.0, metavar="MINUTES",
                   help="clean: temporary files at least this old (default 60; another process may be writing "
                        "a newer one)")
    p.add_argument("--dry-run", action="store_true", help="clean: list what would be removed")
    p.set_defaults(func=cmd_cache)
    return parser


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------


def _settings(args, *, methods: bool) -> dict:
    """The profile's settings (lotus.profiles.resolve) with the command-line options applied."""
    profile = args.profile or ("paper" if args.benchmark else None)
    o: dict = {}
    if args.benchmark:
        o["benchmark"] = args.benchmark
        if benchmark_definition(args.benchmark, profile).get("pretrained_original"):
            raise LotusError(
                f"benchmark {args.benchmark!r} uses the pre-trained model as the original and has no gold model; "
                f"`lotus {args.command}` trains both. Run it in the large-scale chapter: put "
                f"`chapters: {{09_large_scale: {{benchmark: {args.benchmark}}}}}` in a profile that extends "
                f"{profile} and run `lotus book --profile <that file> --only 09_large_scale`")
    base = resolve(profile, **o)
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
    settings = resolve(profile, **o)
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


def results_root(value) -> Path:
    """The results folder of a ``results_dir`` setting: ``None`` -> ``$LOTUS_CACHE/results``;
    a relative path is taken relative to the project folder (:func:`project_folder`), or
    to ``$LOTUS_CACHE`` outside any project, never to the folder the command starts in."""
    if value is None:
        return cache_dir() / "results"
    path = Path(str(value)).expanduser()
    if path.is_absolute():
        return path
    return (project_folder() or cache_dir()) / path


def _store_of(args, settings) -> ResultsStore:
    if getattr(args, "results", None):
        return ResultsStore(Path(args.results).expanduser())
    return ResultsStore(results_root(settings.get("results_dir")))


def _print_plan(plan) -> None:
    """What `lotus run --dry-run` prints: every configuration, then every model it needs."""
    print("runs:")
    for item in plan:
        note = f"  ({item.record['stale']})" if item.status == "stale" else ""
        print(f"  {item.status:<8} {item.cfg.describe()}  [{item.key}]{note}")
    models = {}
    for item in plan:
        for kind, state, epochs, path in item.models:
            models.setdefault(str(path) if path is not None else f"{kind}-{id(item)}", (kind, state, epochs, item.cfg))
    print("models:")
    if not models:
        print("  (none needed: every run is stored)")
    for path, (kind, state, epochs, cfg) in models.items():
        what = "cached" if state == "cached" else f"{state} ({epochs} epochs)"
        print(f"  {what:<24} {kind} {cfg.model} on {cfg.dataset}, seed {cfg.seed}, forget {cfg.forget}  {path}")
    counts = {s: sum(p.status == s for p in plan) for s in ("stored", "stale", "to run")}
    trains = sum(v[1] != "cached" for v in models.values())
    print(f"\n{counts['stored']} stored, {counts['stale']} of another lotus version (reused; --force re-runs), "
          f"{counts['to run']} to run; {trains} model(s) to train. Nothing was run (--dry-run).")


def _print_flags(df) -> None:
    if "flags" not in df.columns:
        return
    seen = {}
    for method, seed, flags in zip(df["method"], df["seed"], df["flags"]):
        for f in flags if isinstance(flags, list) else []:
            seen.setdefault(f, []).append(f"{method}/seed {seed}")
    for f, who in seen.items():
        print(f"warning: {f} ({', '.join(who[:6])}{', ...' if len(who) > 6 else ''}): {FLAGS.get(f, '')}")


def cmd_run(args) -> int:
    settings = _settings(args, methods=True)
    store = _store_of(args, settings)
    cfgs = configs_from_settings(settings)
    methods = list(dict.fromkeys(c.method for c in cfgs))
    seeds = list(dict.fromkeys(c.seed for c in cfgs))
    if args.dry_run:
        _print_plan(plan_grid(cfgs, store, force=args.force))
        return 0
    df = run_grid(cfgs, store, force=args.force, progress=not args.quiet,
                  on_error="skip" if args.keep_going else "raise")
    failed = df.attrs.get("failed", [])
    if len(df) == 0:
        for what, msg in failed:
            print(f"lotus run: error: {what}: {msg}", file=sys.stderr)
        return 1 if failed else 0
    print()
    _print_table(df, ["method", "forget", "seed", "acc_forget", "acc_retain", "acc_test", "mia", "jsd", "rf_jsd",
                      "avg_gap", "unlearn_seconds"])
    if len(seeds) > 1 or len(methods) > 1:
        # Avg Gap of the seed means needs the gold standard's rows: evaluating the cached gold
        # model costs one inference pass (and is skipped when already stored).
        gold_cfgs = [c.replace(method="gold", hparams={}) for c in cfgs if c.method != "gold"]
        gold_cfgs = list({c.key(): c for c in gold_cfgs}.values())
        gold = None
        if gold_cfgs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a stale gold record is reported by its own run
                gold = run_grid(gold_cfgs, store, progress=False, on_error="skip")
        full = pd.concat([df, gold], ignore_index=True) if gold is not None else df
        full = full.drop_duplicates("key")
        print("\nmean ± std over seeds (JSD and RF-JSD x 1e4, time in minutes; Avg Gap to 'gold'):")
        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(summarize(full, formatted=True).to_string())
    _print_flags(df)
    stale = df.attrs.get("stale", [])
    if stale:
        print(f"warning: {len(stale)} record(s) made by another lotus version were reused (their `stale` field "
              "says which); rerun with --force to replace them")
    skipped = df.attrs.get("skipped", 0)
    note = f" ({skipped} already stored, not re-run; --force re-runs)" if skipped else ""
    print(f"\n{len(df)} record(s) in {store.root}{note}")
    if failed:
        print(f"lotus run: error: {len(failed)} run(s) failed (--keep-going):", file=sys.stderr)
        for what, msg in failed:
            print(f"  {what}: {msg}", file=sys.stderr)
        return 1
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


def cmd_score(args) -> int:
    o: dict = {}
    if args.dataset:
        o["dataset"] = args.dataset
    data = parse_assignments(args.data, "--data")
    if data:
        base = resolve(args.profile or None)
        same = o.get("dataset", base["dataset"]) == base["dataset"]
        o["data"] = {**(base["data"] if same else {}), **data}
    if args.data_root:
        o["data_root"] = args.data_root
    settings = resolve(args.profile or None, **o)
    forget = args.forget_file or args.forget
    if forget is None:
        forget = settings["forget"][0] if isinstance(settings["forget"], list) else settings["forget"]
    seed = args.seed if args.seed is not None else int(settings["seeds"][0])
    res = score_checkpoint(args.original, args.unlearned, settings["dataset"], forget=forget, unseen=args.unseen,
                           seed=seed, model=args.model, model_kwargs=parse_assignments(args.model_arg, "--model-arg"),
                           device=args.device or settings.get("device"), batch_size=args.batch_size,
                           legacy=args.legacy, **load_kwargs(settings))
    if args.json:
        print(json.dumps(res, indent=2, sort_keys=True))
        return 0
    sizes = ", ".join(f"{k} {v}" for k, v in res["sizes"].items())
    print(f"{res['dataset']}, forget {res['forget']}, seed {res['seed']} ({sizes}); D_u: {res['unseen']}\n")
    table = pd.DataFrame([{"model": name, **res[name]} for name in ("original", "unlearned")])
    _print_table(table, ["model", *SCORE_KEYS])
    print("\nrf_jsd: JS divergence (nats) between the class means of each model's predictions on the forget set "
          "and the original model's on D_u; lower is closer to never having seen the forget set.")


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
                          force=args.force, keep_going=args.keep_going, repo=args.repo, kernel=args.kernel,
                          progress=False if args.quiet else None)
    except BookError as exc:
        print(f"lotus book: error: {exc}", file=sys.stderr)
        return 1
    return 0 if report.ok else 1


def cmd_report(args) -> int:
    if args.folders:
        folders = [Path(f).expanduser() for f in args.folders]
    else:
        folders = [results_root(resolve(args.profile or None)["results_dir"])]
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        raise LotusError(f"no results folder {missing[0]}" + ("" if args.folders else
                         " (the default one; name a folder, e.g. `lotus report results/gpu`)"))
    frames = [ResultsStore(f).records() for f in folders]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise LotusError(f"no lotus record in {', '.join(map(str, folders))}")
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    where = parse_assignments(args.where, "--where")
    table = report_table(df, where=where, raw=args.raw, columns=args.columns, by=args.by)
    text = write_table(table, args.format)
    if args.output:
        atomic_write_bytes(Path(args.output).expanduser(), text.encode("utf-8"))
        print(f"{len(table)} row(s) written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


def cmd_cache(args) -> int:
    root = cache_dir()
    ckpt = Path(args.cache_dir).expanduser() if args.cache_dir else root / "checkpoints"
    results = root / "results"
    finals = [p for p in _files(ckpt, "*.pt") if not p.name.startswith(".")]
    partials = _files(ckpt, f"*{PARTIAL_SUFFIX}")
    temps = [p for d in (ckpt, results) for p in _files(d, ".*.tmp")]
    decoded = decode_cache_entries()
    records = [p for p in _files(results, "*.json") if not p.name.startswith(".")]

    def total(paths):
        return sum(p.stat().st_size for p in paths if p.exists())

    if args.action == "list":
        print(f"cache: {root}")
        print(f"  checkpoints  {len(finals):>5} trained model(s)   {_size(total(finals)):>10}   {ckpt}")
        print(f"  resumable    {len(partials):>5} partial training(s) {_size(total(partials)):>8}   (resumed by the next run)")
        dec_temp = [e for e in decoded if e.partial]
        dec = [e for e in decoded if not e.partial]
        print(f"  decoded      {len(dec):>5} image cache(s)     {_size(sum(e.size_bytes for e in dec)):>10}   "
              f"{root / 'decoded'}")
        for e in dec:
            what = f"{e.images} images of {e.image_size} px" if e.images else "size unknown"
            print(f"      {e.tag:<28} {what:<28} {_size(e.size_bytes):>10}")
        print(f"  results      {len(records):>5} record(s)          {_size(total(records)):>10}   {results}")
        n_tmp = len(temps) + len(dec_temp)
        print(f"  temporary    {n_tmp:>5} file(s) of interrupted writes {_size(total(temps) + sum(e.size_bytes for e in dec_temp))}")
        all_bytes = total(finals) + total(partials) + sum(e.size_bytes for e in decoded) + total(records) + total(temps)
        print(f"  total                                 {_size(all_bytes):>10}")
        print("`lotus cache clean` removes the temporary files; see `lotus cache clean --help`.")
        return 0
    cutoff = time.time() - 60.0 * max(0.0, args.older_than)
    doomed = [p for p in temps if p.stat().st_mtime <= cutoff]
    doomed_dec = [e for e in decoded if e.partial and e.modified <= cutoff]
    if args.resumable or args.everything:
        doomed += partials
    if args.checkpoints or args.everything:
        doomed += finals + [p for p in partials if p not in doomed]
    if args.decoded or args.everything:
        doomed_dec = decoded
    freed = sum(p.stat().st_size for p in doomed if p.exists()) + sum(e.size_bytes for e in doomed_dec)
    verb = "would remove" if args.dry_run else "removed"
    for p in doomed:
        if args.dry_run:
            print(f"  {p}")
        else:
            p.unlink(missing_ok=True)
    if doomed_dec:
        if args.dry_run:
            for e in doomed_dec:
                print(f"  {e.path}")
        else:
            remove_decode_cache(doomed_dec)
    print(f"lotus cache: {verb} {len(doomed) + len(doomed_dec)} file(s), {_size(freed)}")
    return 0


def cmd_bench(args) -> int:
    print(bench.final_report(*bench.run_from_args(args)))
    return 0


def cmd_list(args) -> int:
    if args.benchmarks:
        return _list_benchmarks(args.profile)
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
    print("benchmarks: the paper's experiments, see `lotus list --benchmarks`")
    return 0


#: how `lotus list --benchmarks` names a published metric
_METRIC_TEXT = {"avg_gap": "Avg Gap", "rf_jsd": "RF-JSD x1e4"}


def _list_benchmarks(profile: str) -> int:
    table = benchmark_table(profile)
    if table.empty:
        print(f"profile {profile!r} defines no benchmark (the paper profile does: lotus list --benchmarks)")
        return 0
    view = pd.DataFrame({
        "model": table["model"],
        "dataset": [d + (f", D_u: {u}" if isinstance(u, str) else "") for d, u in zip(table["dataset"], table["unseen"])],
        "forget": table["forget"],
        "published": table["published"].fillna("-"),
        "table": table["table"].fillna("-"),
        "paper's number": [f"{paper.method_label(r)} {_METRIC_TEXT.get(m, m)} {v:.4f}" if v is not None and v == v
                           else "-" for r, m, v in zip(table["row"], table["metric"], table["value"])],
    }, index=table.index)
    print(f"benchmarks of profile {profile!r} (run one: lotus run --profile {profile} --benchmark NAME):\n")
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 60):
        print(view.to_string())
    seeds = sorted(set(table["seeds"]))
    recipes = sorted(set(table["model"] + ": " + table["recipe"]))
    print(f"\nseeds: {'; '.join(seeds)}; training recipes: {'; '.join(recipes)}")
    print("the published tables: lotus.paper.published_table(<published key>) and "
          "lotus.paper.published_class_unlearning(); data layouts: book/install.md")
    return 0


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


class _LogFormatter(logging.Formatter):
    """INFO messages as plain lines; other levels prefixed with the level (and, for DEBUG,
    the module's logger name); warnings and errors also with ``lotus <command>:``, one line."""

    def __init__(self, fmt: str, command: str = ""):
        super().__init__(fmt)
        self.prefix = f"lotus {command}: " if command else ""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno == logging.INFO:
            return text
        if record.levelno == logging.DEBUG:
            return f"debug [{record.name}] {text}"
        return f"{self.prefix}{record.levelname.lower()}: {' '.join(text.split())}"


@contextlib.contextmanager
def logging_to_stderr(verbose: int = 0, quiet: bool = False, command: str = ""):
    """Show the ``lotus`` logger's messages on stderr while the command runs: DEBUG with
    ``verbose``, WARNING and above with ``quiet``, else INFO. Python warnings are shown as
    ``lotus <command>: warning: <message>`` lines on the same stream (with their category and origin when
    ``verbose``). Only the ``lotus`` logger and ``warnings.showwarning`` are touched, never
    the root logger, and both are restored afterwards."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter("%(message)s", command))
    log = logging.getLogger("lotus")
    saved = (log.level, log.propagate, warnings.showwarning)

    def show(message, category, filename, lineno, file=None, line=None):
        where = f" ({category.__name__} from {filename}:{lineno})" if verbose else ""
        log.warning("%s%s", message, where)

    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    warnings.showwarning = show
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
        warnings.showwarning = saved[2]


def _error(command: str, text: str) -> int:
    print(f"lotus {command}: error: {' '.join(str(text).split())}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    """Entry point of the ``lotus`` console script; returns the exit status.

    Expected failures (:class:`LotusError`, a non-finite loss, an operating-system error
    such as a full disk, a missing optional package) print one line and return 2;
    ``LOTUS_DEBUG=1`` re-raises them with their traceback. Ctrl-C returns 130."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    with logging_to_stderr(args.verbose or 0, args.quiet, args.command):
        return _dispatch(args)


#: the commands that run as one job under torchrun (every rank runs them, rank 0 prints and writes)
DISTRIBUTED_COMMANDS = ("run", "train")


@contextlib.contextmanager
def _distributed(args):
    """Under torchrun (``$WORLD_SIZE`` > 1) for ``lotus run`` / ``lotus train``: join the process
    group; ranks other than 0 print nothing to stdout and show no progress bars."""
    if args.command not in DISTRIBUTED_COMMANDS:
        yield
        return
    ctx = init_from_env()
    if not ctx.enabled:
        yield
        return
    try:
        if ctx.is_main:
            yield
        else:
            args.quiet = True
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                yield
    finally:
        shutdown()


def _dispatch(args) -> int:
    debug = os.environ.get("LOTUS_DEBUG", "").strip() not in ("", "0")
    try:
        with _distributed(args):
            return int(args.func(args) or 0)
    except (LotusError, NonFiniteLossError) as exc:
        if debug:
            raise
        return _error(args.command, exc)
    except OSError as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return _error(args.command, f"{exc.strerror or exc}{where}")
    except ImportError as exc:
        if debug or not exc.name or exc.name.split(".")[0] == "lotus":
            raise
        return _error(args.command, f"this needs the package {exc.name!r}, which is not installed "
                                    f"(pip install {exc.name.split('.')[0]})")
    except KeyboardInterrupt:
        print(f"\nlotus {args.command}: interrupted; finished runs are stored and will be skipped next time, "
              "and an interrupted training resumes from its last partial checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
