"""The `lotus` command line and the `lotus book` runner."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import lotus
from lotus.book import NotebookError, list_notebooks, notebook_parameters, run_book, stage_book
from lotus.cli import main, parse_assignments, parse_value
from lotus.experiment import load_profile
from lotus.results import ResultsStore
from lotus.utils import LotusError


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------------------
# lotus run / train / list
# ---------------------------------------------------------------------------------------


def test_run_end_to_end_writes_records_and_prints_metrics(tmp_path, capsys):
    results = tmp_path / "res"
    methods = ["original", "retrain"]
    extra = []
    if "finetune" in lotus.list_methods():
        methods.append("finetune")
        extra = ["--set", "finetune.epochs=1"]
    rc, out, err = _run(capsys, "run", "--profile", "tiny", "--method", *methods, "--seeds", "0",
                        "--results", str(results), "--device", "cpu", "-q", *extra)
    assert rc == 0, err
    for word in ("acc_forget", "rf_jsd", "avg_gap", "Avg Gap", *methods):
        assert word in out
    df = ResultsStore(results).records()
    assert sorted(df["method"]) == sorted(methods)
    assert set(df["dataset"]) == {"digits"} and set(df["seed"]) == {0}
    assert all(r["model_kwargs"] == {"width": 16} and r["train_recipe"]["epochs"] == 8 for r in df.to_dict("records"))
    if "finetune" in methods:
        assert df.set_index("method").loc["finetune", "hparams"]["epochs"] == 1
    # the printed table holds the stored numbers
    gold = df.set_index("method").loc["retrain"]
    assert f"{gold['acc_test']:.4f}" in out
    # a second run finds the records and does not re-run them
    rc, out, _ = _run(capsys, "run", "--profile", "tiny", "--method", *methods, "--seeds", "0",
                      "--results", str(results), "--device", "cpu", "-q", *extra)
    assert rc == 0 and f"{len(methods)} already stored" in out
    assert len(ResultsStore(results)) == len(methods)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--profile", "tiny", "--method", "nope"], r"unknown unlearning method 'nope'; valid: .*original"),
        (["run", "--profile", "tiny", "--dataset", "mnist", "--method", "original"], r"unknown dataset 'mnist'; valid: digits"),
        (["run", "--profile", "huge"], r"unknown profile 'huge'; valid: cpu, paper, tiny"),
        (["run", "--profile", "tiny", "--model", "mlp"], r"unknown model 'mlp'; valid: "),
        (["run", "--profile", "tiny", "--set", "alpha"], r"--set expects key=value, got 'alpha'"),
        (["run", "--profile", "tiny", "--method", "original", "--set", "lotus.alpha=2"], r"method 'lotus' is not among"),
        (["run", "--profile", "tiny", "--method", "original", "--train", "epoch=2"], r"unknown TrainRecipe field"),
        (["train", "--profile", "tiny", "--dataset", "svhn"], r"unknown dataset 'svhn'"),
        (["book", "--profile", "huge", "--no-build"], r"unknown profile 'huge'"),
    ],
)
def test_clear_errors_exit_2(capsys, tmp_path, argv, message):
    import re

    rc, out, err = _run(capsys, *argv, *(["--results", str(tmp_path)] if argv[0] == "run" else []))
    assert rc == 2
    assert re.search(message, err), err
    assert "Traceback" not in err + out
    assert len(list(tmp_path.iterdir())) == 0  # nothing ran


def test_unknown_hyper_parameter_names_the_valid_ones(capsys, tmp_path):
    if "lotus" not in lotus.list_methods():
        pytest.skip("lotus not registered yet")
    rc, _, err = _run(capsys, "run", "--profile", "tiny", "--method", "lotus", "--set", "alpah=2",
                      "--results", str(tmp_path))
    assert rc == 2 and "unknown hyper-parameter(s) ['alpah'] for method 'lotus'; valid:" in err and "alpha" in err


def test_help_works_for_a_newcomer(capsys):
    proc = subprocess.run([sys.executable, "-m", "lotus.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for word in ("run", "train", "book", "list", "examples:", "lotus run --profile tiny"):
        assert word in proc.stdout
    for sub, words in (("run", ("--set", "--profile", "--seeds", "pseudo-methods", "examples:")),
                       ("book", ("--only", "--no-build", "--list")),
                       ("train", ("--force",))):
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert all(w in out for w in words), (sub, out)
    rc, out, _ = _run(capsys)  # no command: the help, and a usage error status
    assert rc == 2 and "examples:" in out


def test_list_shows_everything(capsys):
    rc, out, _ = _run(capsys, "list")
    assert rc == 0
    for word in ("digits", "cifar10", "small_cnn", "resnet18", "original", "retrain", "tiny", "cpu", "paper",
                 *lotus.list_methods()):
        assert word in out


def test_train_prints_accuracies(capsys):
    rc, out, err = _run(capsys, "train", "--profile", "tiny", "--seeds", "0", "--device", "cpu", "-q")
    assert rc == 0, err
    assert "original" in out and "gold" in out and "acc_test" in out and ".pt" in out


def test_parse_values():
    assert parse_value("1e-3") == pytest.approx(0.001)
    assert parse_value("3") == 3 and isinstance(parse_value("3"), int)
    assert parse_value("true") is True and parse_value("False") is False
    assert parse_value("none") is None
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("{a: 1}") == {"a": 1}
    assert parse_value("gumbel") == "gumbel"
    assert parse_assignments(["epochs=3", "lr=0.1", "targets=gumbel"], "--set") == {
        "epochs": 3, "lr": 0.1, "targets": "gumbel"}
    with pytest.raises(LotusError, match="key=value"):
        parse_assignments(["=3"], "--train")


# ---------------------------------------------------------------------------------------
# lotus book
# ---------------------------------------------------------------------------------------


def _notebook(path: Path, params: str, body: str):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def book_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    _notebook(repo / "notebooks" / "01_ok.ipynb",
              'dataset = "cifar10"\nseeds = [0]\noutput_dir = "figures/x"\nresults_dir = None\nprofile = "cpu"',
              "import json, os\nos.makedirs(output_dir, exist_ok=True)\n"
              "json.dump({'dataset': dataset, 'seeds': seeds, 'output_dir': output_dir, 'results_dir': results_dir,\n"
              "           'profile': profile, 'cwd': os.getcwd()}, open(os.path.join(output_dir, 'p.json'), 'w'))")
    _notebook(repo / "notebooks" / "02_fail.ipynb", "x = 1\nprofile = None", "y = x + 1\nraise ValueError('broken on purpose')")
    _notebook(repo / "notebooks" / "00_last.ipynb", "z = 1", "z + 1")
    (repo / "notebooks" / "manifest.yml").write_text(
        "notebooks:\n  - notebook: 01_ok.ipynb\n    title: OK\n  - notebook: 02_fail.ipynb\n    title: Fails\n")
    (repo / "notebooks" / "helpers.py").write_text("VALUE = 1\n")
    prof = repo / "mine.yaml"
    prof.write_text("description: test profile\n"
                    "defaults: {dataset: digits, seeds: [0], results_dir: results/runs, undeclared: 1}\n"
                    "notebooks: {01_ok: {seeds: [5]}}\n")
    return repo


def test_book_list_follows_the_manifest(book_repo, capsys):
    assert [p.stem for p in list_notebooks(book_repo)] == ["01_ok", "02_fail", "00_last"]
    rc, out, _ = _run(capsys, "book", "--list", "--repo", str(book_repo))
    assert rc == 0 and out.split() == ["01_ok", "02_fail", "00_last"]
    rc, _, err = _run(capsys, "book", "--list", "--repo", str(book_repo / "nowhere"))
    assert rc == 2 and "no notebooks/ folder" in err


def test_notebook_parameters_are_filtered_and_resolved(book_repo):
    prof = load_profile(book_repo / "mine.yaml")
    nb = book_repo / "notebooks" / "01_ok.ipynb"
    params = notebook_parameters(prof, nb, book_repo)
    assert params == {"dataset": "digits", "seeds": [5], "output_dir": "figures/01_ok",
                      "results_dir": str((book_repo / "results" / "runs").resolve()), "profile": "mine"}


def test_book_executes_with_profile_parameters_and_names_the_failing_cell(book_repo, capsys):
    with pytest.raises(NotebookError) as exc:
        run_book(str(book_repo / "mine.yaml"), repo=book_repo, build=False, keep_going=True, log=print)
    msg = str(exc.value)
    assert "02_fail.ipynb" in msg and "cell 1" in msg and "ValueError: broken on purpose" in msg
    assert "raise ValueError" in msg  # the failing cell's source
    out = capsys.readouterr().out
    assert "01_ok: ok in" in out and "02_fail: FAILED" in out and "00_last: ok" in out
    staged = book_repo / "_build" / "book-src" / "notebooks"
    params = json.loads((staged / "figures" / "01_ok" / "p.json").read_text())
    assert params["dataset"] == "digits" and params["seeds"] == [5] and params["profile"] == "mine"
    assert params["output_dir"] == "figures/01_ok"
    assert Path(params["cwd"]).resolve() == staged.resolve()
    assert (staged / "helpers.py").is_file() and (staged / "02_fail.ipynb").is_file()
    prov = json.loads((book_repo / "_build" / "book-src" / "book-provenance.json").read_text())
    assert prov["profile"] == "mine" and [n["name"] for n in prov["notebooks"]] == ["01_ok", "02_fail", "00_last"]
    # through the CLI: exit status 1 and the same message, without keep-going it stops at the failure
    rc, out, err = _run(capsys, "book", "--profile", str(book_repo / "mine.yaml"), "--repo", str(book_repo),
                        "--only", "02", "--no-build")
    assert rc == 1 and "02_fail.ipynb failed in cell 1" in err and "Traceback" not in err
    rc, _, err = _run(capsys, "book", "--profile", "tiny", "--repo", str(book_repo), "--only", "99", "--no-build")
    assert rc == 2 and "--only '99' matches no notebook" in err


def test_stage_book_copies_config_and_adds_the_footer(book_repo):
    with pytest.raises(LotusError, match="book configuration is missing"):
        stage_book(book_repo, book_repo / "_build" / "book-src", "<p>prov</p>")
    (book_repo / "_config.yml").write_text("title: T\nexecute:\n  execute_notebooks: force\n"
                                           "html:\n  extra_footer: <p>base</p>\n")
    with pytest.raises(LotusError, match="table of contents is missing"):
        stage_book(book_repo, book_repo / "_build" / "book-src", "<p>prov</p>")
    (book_repo / "book").mkdir()
    (book_repo / "book" / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (book_repo / "book" / "intro.md").write_text("# Intro\n")
    (book_repo / "references.bib").write_text("@misc{x, title={x}}\n")
    staging = book_repo / "_build" / "book-src"
    cfg_path = stage_book(book_repo, staging, "<p>prov</p>")
    import yaml

    cfg = yaml.safe_load(cfg_path.read_text())
    assert cfg["title"] == "T" and cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["html"]["extra_footer"].startswith("<p>base</p>") and "<p>prov</p>" in cfg["html"]["extra_footer"]
    assert (staging / "_toc.yml").read_text().startswith("format: jb-book")
    assert (staging / "book" / "intro.md").is_file() and (staging / "references.bib").is_file()
    # the source config is untouched
    assert "force" in (book_repo / "_config.yml").read_text()


def test_book_build_without_config_is_a_clear_error(book_repo, capsys):
    rc, _, err = _run(capsys, "book", "--profile", "tiny", "--repo", str(book_repo), "--no-execute")
    assert rc == 2 and "book configuration is missing" in err and "Traceback" not in err


def test_profile_overrides_match_the_notebooks():
    """Every per-notebook override names an existing notebook and a parameter it declares,
    and the profile name and the figure folder reach every notebook that declares them."""
    from lotus.book import declared_parameters

    repo = Path(__file__).resolve().parents[1]
    notebooks = {p.stem: p for p in (repo / "notebooks").glob("*.ipynb")}
    if not notebooks:
        pytest.skip("no notebooks yet")
    declared = {stem: declared_parameters(p) for stem, p in notebooks.items()}
    for name in ("tiny", "cpu", "paper"):
        prof = load_profile(name)
        for stem, overrides in prof["notebooks"].items():
            assert stem in notebooks, f"profile {name}: no notebook {stem}"
            unknown = set(overrides) - set(declared[stem])
            assert not unknown, f"profile {name}: {stem} does not declare {unknown}"
        for stem, params in declared.items():
            values = notebook_parameters(prof, notebooks[stem], repo, declared=params)
            assert values["output_dir"] == f"figures/{stem}" if "output_dir" in params else True
            if "profile" in params:
                assert values["profile"] == name


def test_profile_settings_and_command_line_overrides():
    from lotus.cli import _base_settings, _method_hparams, build_parser

    prof = load_profile("tiny")
    args = build_parser().parse_args(["run", "--profile", "tiny", "--train", "epochs=3", "--data-root", "/data",
                                      "--data", "max_train_per_class=50", "--download"])
    s = _base_settings(args, prof)
    assert s["dataset"] == "digits" and s["model"] == "small_cnn" and s["model_kwargs"] == {"width": 16}
    assert s["train"]["epochs"] == 3 and s["train"]["batch_size"] == 64  # the profile's other fields stay
    assert s["data"] == {"noise_std": 0.3, "image_size": 16, "max_train_per_class": 50, "root": "/data", "download": True}
    # another model: the profile's model options (width) do not carry over
    args = build_parser().parse_args(["run", "--profile", "tiny", "--model", "resnet18"])
    assert _base_settings(args, prof)["model_kwargs"] == {}
    args = build_parser().parse_args(["run", "--profile", "tiny", "--model", "small_cnn", "--model-arg", "width=8"])
    assert _base_settings(args, prof)["model_kwargs"] == {"width": 8}
    # unscoped --set goes to every real method, scoped to one; profile hparams are the base
    hp = _method_hparams({"epochs": 2, "lotus.alpha": 4}, ["original", "lotus", "finetune"],
                         {"lotus": {"epochs": 5, "lr": 0.1}, "scrub": {"epochs": 1}})
    assert hp == {"original": {}, "lotus": {"epochs": 2, "lr": 0.1, "alpha": 4}, "finetune": {"epochs": 2}}
